//! [`ProviderRequest`]: one provider graph to ask for, fully specified (credentials,
//! endpoint, what to draw), so the CLI and the report build it once and any caller can run
//! it, async or blocking.

use super::cloudwatch::{self, CloudWatchConfig, MetricWidget};
use super::softlayer::{self, PoolGraphRequest, ServerGraphRequest, SoftLayerConfig};
use super::{ProviderError, ProviderImage, ProviderKind};

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
