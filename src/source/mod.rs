//! Where traffic comes from: saved files ([`file`]); later the HTTP client and its cache.

pub mod file;
