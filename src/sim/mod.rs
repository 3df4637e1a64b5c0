//! A Hostway-compatible traffic statistics server on loopback, so the HTTP client, its
//! range splitting, retries and cache are tested (and demonstrated) against a real HTTP
//! server without a network or an account.
//!
//! It serves `GET /accounts/{a}/dedicatedServers/{s}/ipAddresses/{ip}/statistics/traffic`
//! with the deterministic traffic of [`value`] (see `data` for the model and units), and
//! behaves like the documented API where clients trip up:
//!
//! - more than `limit` data sets asked → 403 with the seed's `overLimit` body;
//! - `startDate` before the server's creation date → 400 with the seed's `badRequest` body
//!   (`"X is less than minimum value Y"`); creation dates are per server id
//!   ([`SimConfig::created`]), else [`SimConfig::default_created`];
//! - an expected `Authorization` value configured and not matched → 401;
//! - an account, server or ip id containing `missing` or `404` → 404; containing
//!   `forbidden` → 403 without `overLimit`; every other id exists;
//! - a server id containing `flaky` → its first [`FLAKY_FAILURES`] requests are answered
//!   with the fault status, so one target of many can be made to need retries;
//! - `Accept: text/csv` → a `count,date,values` CSV body, JSON otherwise;
//! - data sets that have not started yet (after now) are not returned; missing hours have
//!   no row.
//!
//! Faults for testing clients: a fixed latency per request, a fraction of requests answered
//! 503 or another status such as 429 (drawn from `seed` and the request number, optionally
//! with `Retry-After`), and "every request after the first N fails", both changeable while
//! it runs. [`Counters`] count requests per status and the
//! largest number of data sets any request asked for.

pub(crate) mod data;
pub(crate) mod demo;
mod server;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::NaiveDate;

pub use data::{series, value};

/// How the simulator behaves.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Address to bind; must be a loopback address (`127.0.0.1:0` picks a free port).
    pub listen: SocketAddr,
    /// Most data sets one response may hold.
    pub limit: u32,
    /// Delay before every answer.
    pub latency: Duration,
    /// Fraction of requests answered with `fail_status`, in [0, 1].
    pub fail_rate: f64,
    /// Status of injected faults: 503 (default) or e.g. 429.
    pub fail_status: u16,
    /// When set, every request after the first N is answered with `fail_status`.
    pub fail_after: Option<u64>,
    /// `Retry-After` seconds sent with every injected fault, if any.
    pub retry_after: Option<u64>,
    /// Seed of the fault injection.
    pub seed: u64,
    /// The `Authorization` value every request must carry, if any.
    pub auth: Option<crate::source::hostway::Secret>,
    /// Creation date of servers not in `created`.
    pub default_created: NaiveDate,
    /// Creation dates per server id.
    pub created: Vec<(String, NaiveDate)>,
    /// Also answer the SoftLayer REST calls (under `/rest/v3.1/`) and CloudWatch's
    /// `GetMetricWidgetImage` (`POST /`), so the provider fallback runs on loopback too.
    pub providers: Option<crate::provider::sim::ProviderSimConfig>,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            limit: crate::range::DEFAULT_LIMIT,
            latency: Duration::ZERO,
            fail_rate: 0.0,
            fail_status: 503,
            fail_after: None,
            retry_after: None,
            seed: 0,
            auth: None,
            default_created: NaiveDate::from_ymd_opt(2010, 1, 1).expect("valid date"),
            created: Vec::new(),
            providers: None,
        }
    }
}

impl SimConfig {
    /// The creation date of a server id.
    pub fn created(&self, server: &str) -> NaiveDate {
        self.created
            .iter()
            .find(|(s, _)| s == server)
            .map_or(self.default_created, |(_, d)| *d)
    }
}

/// Request counters, shared with the running server.
#[derive(Debug, Default)]
pub struct Counters {
    total: AtomicU64,
    max_sets_asked: AtomicU64,
    by_status: Mutex<BTreeMap<u16, u64>>,
}

impl Counters {
    /// Requests received.
    pub fn total(&self) -> u64 {
        self.total.load(Ordering::SeqCst)
    }

    /// Requests answered with `status`.
    pub fn status(&self, status: u16) -> u64 {
        self.statuses().get(&status).copied().unwrap_or(0)
    }

    /// Requests answered, per status.
    pub fn statuses(&self) -> BTreeMap<u16, u64> {
        self.by_status.lock().expect("counter lock").clone()
    }

    /// The most data sets a single well-formed request asked for.
    pub fn max_sets_asked(&self) -> u64 {
        self.max_sets_asked.load(Ordering::SeqCst)
    }

    /// Sets every counter back to zero.
    pub fn reset(&self) {
        self.total.store(0, Ordering::SeqCst);
        self.max_sets_asked.store(0, Ordering::SeqCst);
        self.by_status.lock().expect("counter lock").clear();
    }

    fn begin(&self) -> u64 {
        self.total.fetch_add(1, Ordering::SeqCst) + 1
    }

    fn asked(&self, sets: u64) {
        self.max_sets_asked.fetch_max(sets, Ordering::SeqCst);
    }

    fn answered(&self, status: u16) {
        *self
            .by_status
            .lock()
            .expect("counter lock")
            .entry(status)
            .or_default() += 1;
    }
}

/// Requests to a `flaky` server answered with the fault status before it behaves.
pub const FLAKY_FAILURES: u64 = 2;

/// Fault settings that can change while the server runs.
#[derive(Debug)]
struct Faults {
    fail_rate_bits: AtomicU64,
    fail_after: AtomicU64,
    /// Requests seen per `flaky` server id.
    flaky_seen: Mutex<BTreeMap<String, u64>>,
}

impl Faults {
    fn new(fail_rate: f64, fail_after: Option<u64>) -> Faults {
        Faults {
            fail_rate_bits: AtomicU64::new(fail_rate.to_bits()),
            fail_after: AtomicU64::new(fail_after.unwrap_or(u64::MAX)),
            flaky_seen: Mutex::new(BTreeMap::new()),
        }
    }

    /// True while a `flaky` server is still within its first failing requests.
    fn flaky(&self, server: &str) -> bool {
        if !server.contains("flaky") {
            return false;
        }
        let mut seen = self.flaky_seen.lock().expect("flaky lock");
        let n = seen.entry(server.to_string()).or_default();
        *n += 1;
        *n <= FLAKY_FAILURES
    }

    fn fail_rate(&self) -> f64 {
        f64::from_bits(self.fail_rate_bits.load(Ordering::SeqCst))
    }

    fn fail_after(&self) -> u64 {
        self.fail_after.load(Ordering::SeqCst)
    }
}

/// Why the simulator could not start.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The address asked for is not a loopback one.
    #[error("the simulator only listens on loopback; {0} is not a loopback address")]
    NotLoopback(SocketAddr),
    /// The listening socket could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The failure rate is outside 0 to 1.
    #[error("--fail-rate {0} out of range (0 to 1)")]
    FailRate(f64),
    /// The failure status is not 400 to 599.
    #[error("--fail-status {0} is not an HTTP error status (400 to 599)")]
    FailStatus(u16),
}

/// A running simulator. It stops when [`SimHandle::shutdown`] is called or it is dropped.
#[derive(Debug)]
pub struct SimHandle {
    /// The address it listens on.
    pub addr: SocketAddr,
    /// Its request counters.
    pub counters: Arc<Counters>,
    faults: Arc<Faults>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl SimHandle {
    /// `http://127.0.0.1:PORT`, the base URL to give the client.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Changes the fraction of requests answered 503.
    pub fn set_fail_rate(&self, rate: f64) {
        self.faults
            .fail_rate_bits
            .store(rate.to_bits(), Ordering::SeqCst);
    }

    /// Makes every request after the first `n` (counted since start or the last counter
    /// reset) fail with 503, or none with `None`.
    pub fn set_fail_after(&self, n: Option<u64>) {
        self.faults
            .fail_after
            .store(n.unwrap_or(u64::MAX), Ordering::SeqCst);
    }

    /// Stops the server and waits for it to finish.
    pub fn shutdown(mut self) {
        self.stop_now();
    }

    fn stop_now(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        self.stop_now();
    }
}

/// Starts the simulator on its own thread (with its own runtime), so it serves the same way
/// whether the caller is synchronous or async.
pub fn spawn(config: SimConfig) -> Result<SimHandle, SimError> {
    if !config.listen.ip().is_loopback() {
        return Err(SimError::NotLoopback(config.listen));
    }
    if !(0.0..=1.0).contains(&config.fail_rate) {
        return Err(SimError::FailRate(config.fail_rate));
    }
    if !(400..=599).contains(&config.fail_status) {
        return Err(SimError::FailStatus(config.fail_status));
    }
    let listen = config.listen;
    let providers = config.providers.clone();
    let bind_err = |source| SimError::Bind {
        addr: listen,
        source,
    };
    let listener = std::net::TcpListener::bind(config.listen).map_err(bind_err)?;
    listener.set_nonblocking(true).map_err(bind_err)?;
    let addr = listener.local_addr().map_err(bind_err)?;
    let counters = Arc::new(Counters::default());
    let faults = Arc::new(Faults::new(config.fail_rate, config.fail_after));
    let state = server::State {
        config: Arc::new(config),
        counters: counters.clone(),
        faults: faults.clone(),
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    // Answers are built on every core, as a real provider serves clients in parallel: one
    // thread would queue 8 concurrent answers of ~1 ms each behind one another, and a
    // client's latency figures would measure the simulator.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(
            std::thread::available_parallelism()
                .map_or(2, |n| n.get())
                .clamp(2, 8),
        )
        .thread_name("trafficgraph-sim")
        .enable_all()
        .build()
        .map_err(bind_err)?;
    let listener = {
        let _guard = runtime.enter();
        tokio::net::TcpListener::from_std(listener).map_err(bind_err)?
    };
    let thread = std::thread::Builder::new()
        .name("trafficgraph-sim".into())
        .spawn(move || {
            runtime.block_on(async move {
                let mut app = server::router(state);
                if let Some(providers) = providers {
                    app = app.merge(crate::provider::sim::router(providers));
                }
                let _ = axum::serve(listener, app)
                    .with_graceful_shutdown(async {
                        let _ = stopped.await;
                    })
                    .await;
            });
        })
        .map_err(bind_err)?;
    Ok(SimHandle {
        addr,
        counters,
        faults,
        stop: Some(stop),
        thread: Some(thread),
    })
}
