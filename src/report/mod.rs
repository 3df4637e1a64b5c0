//! Offline reports for many servers: a config file in, a folder of graphs, CSVs, a summary
//! and an `index.html` out.

pub mod config;
pub mod ranges;
pub mod summary;
