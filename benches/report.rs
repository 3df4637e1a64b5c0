//! `trafficgraph report` at scale: N targets (default 1000) × 30 days hourly, receive and
//! transmit, plus one pool of the first ten, against the simulator with 20 ms of latency
//! per request, no cache. Prints wall time, requests made, the latency floor
//! (`ceil(requests / concurrency) × latency`) and the peak RSS (VmHWM) of this process,
//! which also holds the simulator.
//!
//! Run: `cargo bench --bench report -- [TARGETS] [CONCURRENCY] [JOBS]`
//! (defaults 1000, 8, 8: the CLI's defaults).

use std::time::{Duration, Instant};

use trafficgraph::report::{self, ReportJob};
use trafficgraph::sim::{spawn, SimConfig};

const LATENCY: Duration = Duration::from_millis(20);

/// Peak resident set size of this process, in MiB.
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// A server id of letters only: the simulator answers 404 to ids containing `404`.
fn server_id(mut i: usize) -> String {
    let mut id = String::from("srv-");
    loop {
        id.push((b'a' + (i % 26) as u8) as char);
        i /= 26;
        if i == 0 {
            return id;
        }
    }
}

fn main() {
    let numbers: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let targets = numbers.first().copied().unwrap_or(1000);
    let concurrency = numbers.get(1).copied().unwrap_or(8);
    let jobs = numbers.get(2).copied().unwrap_or(8);

    let sim = spawn(SimConfig {
        latency: LATENCY,
        ..SimConfig::default()
    })
    .expect("simulator");
    let dir = tempfile::tempdir().expect("temp dir");
    let mut text = format!(
        "[defaults]\nbase_url = \"{}\"\nrange = \"specified_range\"\n\
         date = 2026-09-01\nend_date = 2026-09-30\n",
        sim.base_url()
    );
    for i in 0..targets {
        text.push_str(&format!(
            "\n[[target]]\nname = \"server-{i:04}\"\naccount = \"acme\"\n\
             server = \"{}\"\nips = [\"10.{}.{}.1\"]\n",
            server_id(i),
            i / 256,
            i % 256
        ));
    }
    let members: Vec<String> = (0..targets.min(10))
        .map(|i| format!("\"server-{i:04}\""))
        .collect();
    text.push_str(&format!(
        "\n[[pool]]\nname = \"pool\"\ntargets = [{}]\n",
        members.join(", ")
    ));
    let config = dir.path().join("report.toml");
    std::fs::write(&config, text).expect("write config");

    let mut job = ReportJob::new(&config, dir.path().join("out"));
    job.fetch.concurrency = concurrency;
    job.jobs = jobs;
    let rss_before = peak_rss_mib();
    let started = Instant::now();
    let outcome = report::run(&job).expect("report");
    let wall = started.elapsed();

    let requests = sim.counters.total();
    let floor = LATENCY * requests.div_ceil(concurrency as u64) as u32;
    println!(
        "report: {targets} targets x 30 days hourly (rx+tx) + 1 pool, latency {LATENCY:?}, \
         concurrency {concurrency}, jobs {jobs}, no cache"
    );
    println!("wall time        {:.2} s", wall.as_secs_f64());
    println!(
        "requests         {requests} ({:.1} per target)",
        requests as f64 / targets as f64
    );
    println!("latency floor    {:.2} s", floor.as_secs_f64());
    println!(
        "failed rows      {} of {}",
        outcome.summary.failed(),
        outcome.summary.rows.len()
    );
    for row in outcome.summary.rows.iter().filter(|r| r.error.is_some()) {
        println!(
            "  {}: {}",
            row.name,
            row.error.as_deref().unwrap_or_default()
        );
    }
    println!("files written    {}", outcome.written.len());
    if let (Some(before), Some(peak)) = (rss_before, peak_rss_mib()) {
        println!("peak RSS (VmHWM) {peak:.1} MiB (before the report: {before:.1} MiB)");
    }
}
