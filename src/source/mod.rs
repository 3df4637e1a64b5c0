//! Where traffic comes from: saved files ([`file`](mod@file)) or the Hostway HTTP API ([`hostway`],
//! orchestrated by `crate::fetch`, with its [`cache`]). `crate::job::load` is the one entry
//! point commands use, whatever the source; it lives beside the jobs so that this module
//! does not depend on the fetch that depends on it.

pub mod cache;
pub mod file;
pub mod hostway;
