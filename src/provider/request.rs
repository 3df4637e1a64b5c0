//! [`ProviderRequest`]: one provider graph to ask for, fully specified (credentials,
//! endpoint, what to draw), so the CLI and the report build it once and any caller can run
//! it, async or blocking.

use chrono::{DateTime, Days, Utc};

use super::cloudwatch::{self, offset_hhmm, CloudWatchConfig, MetricWidget, NetworkWidget};
use super::softlayer::{self, NetworkType, PoolGraphRequest, ServerGraphRequest, SoftLayerConfig};
use super::{ProviderError, ProviderImage, ProviderKind};
use crate::range::DateRange;
use crate::zone::Zone;

/// What a provider's picture of a server follows of ours: its days, size and text.
/// The command line and reports fill it from their graph options
/// (`RenderOptions::provider_look`), so both ask providers for the same picture.
#[derive(Debug, Clone, PartialEq)]
pub struct GraphLook {
    /// The UTC days drawn, whole: from the first's midnight to the end of the last.
    pub range: DateRange,
    /// Width in pixels asked for.
    pub width: u32,
    /// Height in pixels asked for.
    pub height: u32,
    /// Text size in pixels (SoftLayer draws whole pixels).
    pub font_size: f64,
    /// Title (CloudWatch draws it; SoftLayer has none).
    pub title: Option<String>,
    /// Whether SoftLayer prints its time zone on the graph.
    pub show_timezone: bool,
    /// The zone whose offset at the start CloudWatch draws the time axis in.
    pub zone: Zone,
}

impl GraphLook {
    /// The instants drawn: the first day's midnight to the midnight after the last day.
    pub fn span(&self) -> (DateTime<Utc>, DateTime<Utc>) {
        let midnight = |d: chrono::NaiveDate| d.and_hms_opt(0, 0, 0).expect("midnight").and_utc();
        (
            midnight(self.range.start),
            midnight(self.range.end + Days::new(1)),
        )
    }
}

/// A provider graph to fetch.
#[derive(Debug, Clone)]
pub enum ProviderRequest {
    /// SoftLayer `getBandwidthGraph` of a hardware server.
    SoftLayerServer {
        /// Credentials and endpoint.
        config: SoftLayerConfig,
        /// The hardware (server) id.
        hardware_id: u64,
        /// What to draw: range, network, size.
        graph: ServerGraphRequest,
    },
    /// SoftLayer `getBandwidthImage` of a bandwidth pool (allotment).
    SoftLayerPool {
        /// Credentials and endpoint.
        config: SoftLayerConfig,
        /// The bandwidth allotment (pool) id.
        allotment_id: u64,
        /// What to draw: network, range, size.
        graph: PoolGraphRequest,
    },
    /// CloudWatch `GetMetricWidgetImage`.
    CloudWatch {
        /// Region, credentials and endpoint.
        config: CloudWatchConfig,
        /// The `MetricWidget` to draw.
        widget: MetricWidget,
    },
}

impl ProviderRequest {
    /// SoftLayer's graph of hardware server `hardware_id`'s `network`, looking like `look`.
    pub fn softlayer_server(
        config: SoftLayerConfig,
        hardware_id: u64,
        network: NetworkType,
        look: &GraphLook,
    ) -> ProviderRequest {
        let (start, end) = look.span();
        ProviderRequest::SoftLayerServer {
            config,
            hardware_id,
            graph: ServerGraphRequest {
                start,
                end,
                network,
                font_size: look.font_size.round() as u32,
                width: look.width,
                height: look.height,
                hide_time_zone: !look.show_timezone,
            },
        }
    }

    /// CloudWatch's graph of instance `instance_id`'s network in and out, one point per
    /// `period` seconds, looking like `look`.
    pub fn cloudwatch_network(
        config: CloudWatchConfig,
        instance_id: String,
        period: u32,
        look: &GraphLook,
    ) -> ProviderRequest {
        let (start, end) = look.span();
        let widget = MetricWidget::network(&NetworkWidget {
            instance_id,
            start,
            end,
            width: look.width,
            height: look.height,
            title: look.title.clone(),
            // CloudWatch takes one offset: the one in force when the range starts.
            timezone: offset_hhmm(look.zone.fixed_at(start.timestamp())),
            period,
        });
        ProviderRequest::CloudWatch { config, widget }
    }

    /// `softlayer` or `cloudwatch`.
    pub fn provider(&self) -> ProviderKind {
        match self {
            ProviderRequest::SoftLayerServer { .. } | ProviderRequest::SoftLayerPool { .. } => {
                ProviderKind::SoftLayer
            }
            ProviderRequest::CloudWatch { .. } => ProviderKind::CloudWatch,
        }
    }

    /// Asks the provider for the image.
    pub async fn fetch(&self) -> Result<ProviderImage, ProviderError> {
        match self {
            ProviderRequest::SoftLayerServer {
                config,
                hardware_id,
                graph,
            } => {
                softlayer::Client::new(config.clone())?
                    .server_graph(*hardware_id, graph)
                    .await
            }
            ProviderRequest::SoftLayerPool {
                config,
                allotment_id,
                graph,
            } => {
                softlayer::Client::new(config.clone())?
                    .pool_graph(*allotment_id, graph)
                    .await
            }
            ProviderRequest::CloudWatch { config, widget } => {
                cloudwatch::Client::new(config.clone())?
                    .metric_widget_image(widget)
                    .await
            }
        }
    }

    /// [`ProviderRequest::fetch`] on a runtime of its own, for synchronous callers.
    pub fn fetch_blocking(&self) -> Result<ProviderImage, ProviderError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| ProviderError::Transport {
                provider: self.provider(),
                url: String::new(),
                reason: format!("cannot start the async runtime: {e}"),
            })?;
        runtime.block_on(self.fetch())
    }
}
