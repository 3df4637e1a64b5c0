//! Where traffic comes from: saved files ([`file`](mod@file)) or the Hostway HTTP API ([`hostway`],
//! orchestrated by [`crate::fetch`], with its [`cache`]). [`load`] is the one entry point
//! commands use, whatever the source.

pub mod cache;
pub mod file;
pub mod hostway;

use crate::fetch::{FetchError, FetchOptions};
use crate::model::Traffic;

/// A validated source of traffic.
#[derive(Debug, Clone)]
pub enum Source {
    /// `--input` files.
    Files(Vec<file::InputSpec>),
    /// The Hostway API (`--base-url` and the other fetch flags).
    Http(Box<FetchOptions>),
}

/// Why traffic could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error(transparent)]
    Input(#[from] file::InputError),
    #[error(transparent)]
    Fetch(#[from] FetchError),
}

/// Loads the traffic of a source, and what the fetch did when it was fetched.
pub fn load(source: &Source) -> Result<(Traffic, Option<crate::FetchReport>), SourceError> {
    match source {
        Source::Files(specs) => Ok((file::read_inputs(specs)?, None)),
        Source::Http(opts) => {
            let fetched = crate::fetch::fetch(opts)?;
            let report = crate::FetchReport::from(&fetched);
            Ok((fetched.traffic, Some(report)))
        }
    }
}
