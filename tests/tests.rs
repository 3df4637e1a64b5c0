//! One integration-test binary (modules below) so the 2-core CI links the crate once.
//!
//! - `fixtures_gen`: the recipe of `fixtures/` and the check that the files match it;
//! - `export`: CSV/JSON export through the CLI, round trips, stdout;
//! - `errors`: every malformed input gets one clear line naming file and place, a non-zero
//!   exit, and no output file;
//! - `fallback`: `render --fallback` switching to provider graphs only when it should;
//! - `fetch`: the Hostway client against the simulator on loopback (limits, min date, auth,
//!   faults, resume from cache, CSV bodies, per-IP);
//! - `hardening`: credentials never leak (every command, success and failure, --verbose),
//!   and a fetch killed at any point resumes to the same bytes;
//! - `hostile`: a lying, truncating, silent or flooding server ends in an error naming the
//!   chunk, never a wrong value; unbounded ranges, sizes and configs are refused up front;
//! - `http_policy`: redirects refused to another origin and in loops, `Retry-After` in both
//!   forms, and a server asking to wait too long, against raw HTTP servers on loopback;
//! - `layout`: the library's modules depend on each other one way only (no import cycle),
//!   and none names the binary's flags or clap, or prints;
//! - `messages`: the first hour's mistakes (no credential, a base URL without scheme, a
//!   range in the future, a missing output directory, a PNG to a terminal) each get one
//!   line saying what to fix, a non-zero exit and nothing written;
//! - `properties`: proptest invariants (export/import identity, order-free statistics);
//! - `render`: PNGs through the CLI, decoded and inspected, and `--stats json` figures;
//! - `provider`: SoftLayer/CloudWatch image clients against the loopback provider simulator,
//!   and SigV4 against a published vector and an independent computation;
//! - `provider_raw`: SoftLayer `getBandwidthData` and CloudWatch `GetMetricStatistics` against
//!   the simulator, value for value, with the services' traps (plain dates, 1,440 points,
//!   retention, shuffled points) and credential errors;
//! - `raw_sources`: `--source softlayer|cloudwatch` through the CLI against the provider
//!   simulator: value for value in UTC, exact figures, 1,440-point chunks, retention,
//!   `--offline` with no request, credential failures in one line with nothing written;
//! - `report`: `trafficgraph report` with 50 targets and 2 pools against the simulator,
//!   figures re-computed from the CSVs, an offline re-run, index.html in headless Chromium;
//! - `trust`: a server that twists each answer (rows outside the range or for another
//!   chunk's hour, contradicting duplicates, negative, absurd or off-grid values, empty or
//!   HTML bodies, a creation date after the range) is refused with the chunk, row and rule,
//!   nothing written or cached, and exact figures from the honest server afterwards; old
//!   cache entries are used when they pass and refused with how to refresh when not.

mod util;

mod errors;
mod export;
mod fallback;
mod fetch;
mod fixtures_gen;
mod hardening;
mod hostile;
mod http_policy;
mod layout;
mod messages;
mod properties;
mod provider;
mod provider_raw;
mod raw_sources;
mod render;
mod report;
mod trust;
