//! A target's provider-drawn graph, for when its raw data cannot be had.
//!
//! The provider's picture carries no numbers we could check, so the row gets the PNG and
//! the source (`provider:softlayer` / `provider:cloudwatch`) but no CSV and no figures.
//! Credentials come from the environment (`SL_USERNAME`/`SL_API_KEY`, `AWS_*`) through the
//! provider clients, which keep them out of every message.

use std::path::{Path, PathBuf};

use crate::model::Period;
use crate::output::write_if_changed;
use crate::provider::cloudwatch::CloudWatchConfig;
use crate::provider::request::ProviderRequest;
use crate::provider::softlayer::{NetworkType, SoftLayerConfig};
use crate::provider::{ProviderError, ProviderImage};
use crate::range::DateRange;
use crate::render::RenderOptions;
use crate::report::config::{FallbackConfig, TargetConfig};
use crate::report::summary::{RowKind, RowStatus, SummaryRow};

/// The parts of the report's settings a provider graph needs.
#[derive(Debug, Clone, Copy)]
pub struct PlanView<'a> {
    pub range: DateRange,
    pub period: Period,
    pub render: &'a RenderOptions,
}

/// The provider request for the target's graph over the report's range.
pub fn provider_request(
    target: &TargetConfig,
    fallback: &FallbackConfig,
    plan: &PlanView<'_>,
) -> Result<ProviderRequest, ProviderError> {
    let look = RenderOptions {
        title: Some(target.name.clone()),
        ..plan.render.clone()
    }
    .provider_look(plan.range);
    Ok(match fallback {
        FallbackConfig::Softlayer {
            hardware_id,
            endpoint,
            private,
        } => {
            let mut config = SoftLayerConfig::from_env()?;
            if let Some(e) = endpoint {
                config = config.with_endpoint(e.clone());
            }
            let network = if *private {
                NetworkType::Private
            } else {
                NetworkType::Public
            };
            ProviderRequest::softlayer_server(config, *hardware_id, network, &look)
        }
        FallbackConfig::Cloudwatch {
            instance_id,
            region,
            endpoint,
        } => {
            let mut config = CloudWatchConfig::from_env(region.clone())?;
            if let Some(e) = endpoint {
                config = config.with_endpoint(e.clone());
            }
            let period = plan.period.seconds() as u32;
            ProviderRequest::cloudwatch_network(config, instance_id.clone(), period, &look)
        }
    })
}

/// Asks the provider for the target's graph over the report's range.
pub async fn provider_image(
    target: &TargetConfig,
    fallback: &FallbackConfig,
    plan: &PlanView<'_>,
) -> Result<ProviderImage, ProviderError> {
    provider_request(target, fallback, plan)?.fetch().await
}

/// Writes `<stem>.png` from the provider and returns the row; a failure names both the
/// fetch's and the provider's reason.
pub async fn write(
    out_dir: &Path,
    stem: &str,
    target: &TargetConfig,
    fallback: &FallbackConfig,
    plan: &PlanView<'_>,
    fetch_error: &str,
) -> (SummaryRow, Vec<PathBuf>) {
    let failed = |why: String| {
        let row = SummaryRow::failed(
            &target.name,
            RowKind::Target,
            format!("{fetch_error}; fallback: {why}"),
        );
        (row, Vec::new())
    };
    let image = match provider_image(target, fallback, plan).await {
        Ok(image) => image,
        Err(e) => return failed(e.to_string()),
    };
    let name = format!("{stem}.png");
    let path = out_dir.join(&name);
    if let Err(e) = write_if_changed(&path, &image.png) {
        return failed(e.to_string());
    }
    let mut row = SummaryRow::failed(&target.name, RowKind::Target, String::new());
    row.status = RowStatus::Ok;
    // Kept on the row (summary's `error` column, a tooltip in index.html): the graph is the
    // provider's because raw data failed, and the reader should know why.
    row.error = Some(fetch_error.to_string());
    row.source = format!("provider:{}", image.provider);
    row.png = Some(name);
    (row, vec![path])
}
