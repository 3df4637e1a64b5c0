//! Provider-drawn graphs: the fallback when raw traffic statistics cannot be had.
//!
//! Some providers can draw a bandwidth graph themselves (SoftLayer's
//! `getBandwidthGraph`/`getBandwidthImage`, CloudWatch's `GetMetricWidgetImage`). We cannot
//! compute statistics from such a picture, so it is only a fallback: the CLI asks for one
//! when the raw data fails or when the user insists.
//!
//! Whatever the provider sends, the caller only ever gets a [`ProviderImage`] holding a PNG
//! that we decoded ourselves, resized to the size asked for, and re-encoded with a `Source`
//! text chunk saying where it came from ([`image`]). An HTML error page, bad base64 or an
//! empty body is a [`ProviderError`], never a file on disk.
//!
//! Both providers also still serve the raw counters behind those graphs
//! (SoftLayer `getBandwidthData`, CloudWatch `GetMetricStatistics`). Their calls here are
//! the pure provider layer: one request, parsed faithfully into [`crate::validate::Row`]s
//! in UTC; chunking, caching and the validation rules are the fetch engine's.
//!
//! Credentials travel in [`Secret`], whose `Debug` and `Display` both print `<redacted>`
//! (only [`Secret::expose`] gives the value, and it is not `Serialize`), so they cannot end
//! up in logs, errors or outputs by accident.
//!
//! - [`softlayer`]: REST client for the server and bandwidth-pool graphs and the raw counters;
//! - [`cloudwatch`]: Query-protocol client for `GetMetricWidgetImage` and
//!   `GetMetricStatistics`, SigV4-signed;
//! - [`image`]: PNG validation, resizing and re-encoding;
//! - [`sim`]: a loopback server answering both providers' calls, for tests and demos;
//! - `xml`: the element tree AWS answers are read into (quick-xml underneath).

pub mod cloudwatch;
pub mod image;
pub mod request;
pub mod sim;
pub mod softlayer;
pub(crate) mod xml;

use std::fmt;
use std::time::Duration;

use crate::http::{self, BodyError, RedirectRefused};

/// Which provider draws the fallback graph (`--provider softlayer|cloudwatch`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderKind {
    /// IBM Cloud (SoftLayer) `getBandwidthGraph`/`getBandwidthImage`.
    SoftLayer,
    /// AWS CloudWatch `GetMetricWidgetImage`.
    CloudWatch,
}

impl ProviderKind {
    /// The name used on the command line and in the `Source` chunk.
    pub fn name(self) -> &'static str {
        crate::model::Named::name(self)
    }
}

impl crate::model::Named for ProviderKind {
    const ALL: &'static [ProviderKind] = &[ProviderKind::SoftLayer, ProviderKind::CloudWatch];
    const WHAT: &'static str = "provider";
    fn name(self) -> &'static str {
        match self {
            ProviderKind::SoftLayer => "softlayer",
            ProviderKind::CloudWatch => "cloudwatch",
        }
    }
}

crate::model::display_by_name!(ProviderKind);
crate::model::from_str_by_name!(ProviderKind);

/// A graph drawn by a provider, validated and re-encoded as PNG.
#[derive(Clone, PartialEq, Eq)]
pub struct ProviderImage {
    /// PNG bytes with a `tEXt` chunk `Source` = `provider:<name>`.
    pub png: Vec<u8>,
    /// Pixels across (the size asked for).
    pub width: u32,
    /// Pixels down (the size asked for).
    pub height: u32,
    /// `"softlayer"` or `"cloudwatch"`.
    pub provider: &'static str,
    /// The title the provider gave the graph, when it gave one.
    pub title: Option<String>,
}

impl fmt::Debug for ProviderImage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProviderImage")
            .field("png", &format_args!("{} bytes", self.png.len()))
            .field("width", &self.width)
            .field("height", &self.height)
            .field("provider", &self.provider)
            .field("title", &self.title)
            .finish()
    }
}

pub use crate::secret::Secret;

/// Why a provider graph could not be had. Each message is one line saying what to check;
/// none carries a credential (URLs never hold any: they travel in headers).
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// No credential was given for the provider.
    #[error("{provider}: no credentials: {hint}")]
    MissingCredentials {
        /// The provider asked.
        provider: ProviderKind,
        /// Which flags or environment variables supply it.
        hint: &'static str,
    },
    /// The provider refused the credentials (401/403 or its own auth error).
    #[error("{provider} rejected the credentials ({detail}): check {check}")]
    Auth {
        /// The provider asked.
        provider: ProviderKind,
        /// What the provider said, on one line.
        detail: String,
        /// What the user should check (the key, its permissions).
        check: &'static str,
    },
    /// The API says the method no longer exists.
    #[error(
        "{provider} no longer offers {method} (the API says it is not a valid method): \
         this graph cannot be had from the provider; use the raw traffic data instead"
    )]
    Deprecated {
        /// The provider asked.
        provider: ProviderKind,
        /// The method asked for, `Service::method`.
        method: String,
    },
    /// Any other error status from the API.
    #[error("{provider} API error from {url}: HTTP {status}{}: {message}", code_suffix(.code))]
    Api {
        /// The provider asked.
        provider: ProviderKind,
        /// The request URL (it holds no credential).
        url: String,
        /// The HTTP status.
        status: u16,
        /// The provider's error code (an exception or AWS error name), when it gave one.
        code: Option<String>,
        /// The provider's message, on one line and cut short.
        message: String,
    },
    /// The request could not be made or got no answer (connection, TLS, timeout, or the
    /// HTTP client could not be built); worth another attempt.
    #[error("{provider}: request to {url} failed: {reason}; check the endpoint and the network")]
    Transport {
        /// The provider asked.
        provider: ProviderKind,
        /// The request URL (`-` when no HTTP client could be built).
        url: String,
        /// What the HTTP client said.
        reason: String,
    },
    /// A redirect to another origin, a loop or too long a chain (see [`crate::http`]).
    #[error("{provider}: {refused}")]
    Redirect {
        /// The provider asked.
        provider: ProviderKind,
        /// Why the redirect was refused.
        refused: RedirectRefused,
    },
    /// A successful status whose body is not what the API documents.
    #[error("{provider}: unexpected answer from {url}: {what}")]
    BadResponse {
        /// The provider asked.
        provider: ProviderKind,
        /// The request URL.
        url: String,
        /// What is wrong with the body.
        what: String,
    },
    /// The image sent does not decode as a PNG of sane size.
    #[error("{provider}: the returned image is not a usable PNG: {reason}")]
    NotPng {
        /// The provider asked.
        provider: ProviderKind,
        /// Why it was refused.
        reason: String,
    },
    /// The request is refused before it is sent (e.g. a range that ends before it starts).
    #[error("{provider}: invalid request: {reason}")]
    InvalidRequest {
        /// The provider asked.
        provider: ProviderKind,
        /// What is wrong with it.
        reason: String,
    },
    /// SigV4 signing failed (CloudWatch).
    #[error("{provider}: could not sign the request: {reason}")]
    Signing {
        /// The provider asked.
        provider: ProviderKind,
        /// The signer's error.
        reason: String,
    },
    /// Re-encoding the checked image as PNG failed.
    #[error("{provider}: could not encode the PNG: {reason}")]
    Encode {
        /// The provider asked.
        provider: ProviderKind,
        /// The encoder's error.
        reason: String,
    },
}

impl ProviderError {
    /// Worth another attempt: a connection that failed, throttling (429) or a server error
    /// (5xx). Refusals of the request or the credentials are final.
    pub fn is_retryable(&self) -> bool {
        match self {
            ProviderError::Transport { .. } => true,
            ProviderError::Api { status, .. } => *status == 429 || *status >= 500,
            _ => false,
        }
    }
}

fn code_suffix(code: &Option<String>) -> String {
    code.as_deref().map(|c| format!(" {c}")).unwrap_or_default()
}

/// Longest provider message we quote in an error; the rest is cut so errors stay one line.
const MAX_QUOTED: usize = 300;

/// A provider's message made fit for a one-line error: whitespace runs collapsed, cut short.
pub(crate) fn one_line(text: &str) -> String {
    let joined = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if joined.chars().count() <= MAX_QUOTED {
        joined
    } else {
        let cut: String = joined.chars().take(MAX_QUOTED).collect();
        format!("{cut}...")
    }
}

/// The HTTP client both providers use: [`crate::http::client`] (rustls with ring, our
/// redirect policy) with a minute per call, taken from `clients` on the first call.
pub(crate) fn http_client(clients: &http::Clients) -> http::LazyClient {
    http::LazyClient::new(clients, Duration::from_secs(60), None)
}

/// The lazy client's `reqwest::Client`, built now if this is the first call.
pub(crate) fn built(
    provider: ProviderKind,
    http: &http::LazyClient,
) -> Result<&reqwest::Client, ProviderError> {
    http.get().map_err(|e| ProviderError::Transport {
        provider,
        url: "-".into(),
        reason: e.to_string(),
    })
}

/// Reads a response body, refusing more than [`http::MAX_BODY_BYTES`].
pub(crate) async fn read_body(
    provider: ProviderKind,
    url: &str,
    resp: reqwest::Response,
) -> Result<Vec<u8>, ProviderError> {
    http::read_body(resp).await.map_err(|e| match e {
        BodyError::Transport(e) => transport(provider, url, e),
        BodyError::TooLarge => ProviderError::BadResponse {
            provider,
            url: url.to_string(),
            what: format!("answer larger than {} bytes", http::MAX_BODY_BYTES),
        },
    })
}

/// Turns a reqwest failure into a [`ProviderError`] naming the URL we called: a refused
/// redirect is [`ProviderError::Redirect`], anything else [`ProviderError::Transport`].
pub(crate) fn transport(provider: ProviderKind, url: &str, err: reqwest::Error) -> ProviderError {
    if let Some(refused) = http::refused_redirect(&err) {
        return ProviderError::Redirect {
            provider,
            refused: refused.clone(),
        };
    }
    ProviderError::Transport {
        provider,
        url: url.to_string(),
        reason: one_line(&http::error_chain(&err.without_url())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_debug_is_redacted() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s:?}"), "<redacted>");
        assert_eq!(s.expose(), "hunter2");
    }

    #[test]
    fn one_line_collapses_and_cuts() {
        assert_eq!(one_line(" a\n b\t c "), "a b c");
        let long = "x".repeat(1000);
        assert_eq!(one_line(&long).len(), MAX_QUOTED + 3);
    }
}
