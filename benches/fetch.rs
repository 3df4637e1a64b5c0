//! Fetch throughput against the simulator: a 2-year hourly fetch of receive and transmit
//! (74 chunked requests) with 50 ms of simulated latency per request, at concurrency 1, 4
//! and 8. The floor is what latency alone allows: `ceil(requests / concurrency) × latency`.
//!
//! Run: `cargo bench --bench fetch`

use std::time::{Duration, Instant};

use trafficgraph::fetch::{fetch, FetchOptions};
use trafficgraph::model::Scope;
use trafficgraph::range::{parse_date, DateRange};
use trafficgraph::sim::{spawn, SimConfig};

const LATENCY: Duration = Duration::from_millis(50);
const RUNS: usize = 3;

fn main() {
    let range = DateRange::new(
        parse_date("2023-01-01").unwrap(),
        parse_date("2024-12-31").unwrap(),
    )
    .unwrap();
    println!(
        "2-year hourly fetch (receive + transmit), {LATENCY:?} latency, median of {RUNS} runs"
    );
    println!(
        "{:>11} {:>8} {:>10} {:>10} {:>7}",
        "concurrency", "requests", "wall ms", "floor ms", "ratio"
    );
    for concurrency in [1usize, 4, 8] {
        let mut times = Vec::new();
        let mut requests = 0;
        for _ in 0..RUNS {
            let sim = spawn(SimConfig {
                latency: LATENCY,
                ..SimConfig::default()
            })
            .expect("simulator");
            let mut opts = FetchOptions::new(
                sim.base_url(),
                "bench",
                "srv-1",
                vec!["10.0.0.1".to_string()],
                range,
            );
            opts.scopes = vec![Scope::Receive, Scope::Transmit];
            opts.settings.concurrency = concurrency;
            let started = Instant::now();
            let fetched = fetch(&opts).expect("fetch");
            times.push(started.elapsed());
            requests = sim.counters.total();
            assert_eq!(fetched.summary.requests, requests);
        }
        times.sort();
        let wall = times[RUNS / 2];
        let floor = LATENCY * requests.div_ceil(concurrency as u64) as u32;
        println!(
            "{:>11} {:>8} {:>10.1} {:>10.1} {:>6.2}x",
            concurrency,
            requests,
            wall.as_secs_f64() * 1e3,
            floor.as_secs_f64() * 1e3,
            wall.as_secs_f64() / floor.as_secs_f64()
        );
    }
}
