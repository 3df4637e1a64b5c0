//! Render through the CLI: the PNG is decoded and inspected, and `--stats json` gives the
//! figures a person computes by hand from the raw samples.

use crate::util::{fixture, run_in, scratch, stderr, stdout};

fn arg(name: &str) -> String {
    fixture(name).to_string_lossy().into_owned()
}

#[test]
fn stats_json_matches_hand_computed_figures() {
    let dir = scratch();
    // 1000, 3000, 2000, (03:00 missing), 4000 bytes/s.
    let o = run_in(
        dir.path(),
        &[
            "render",
            "-i",
            &arg("hostway-small-receive.json"),
            "-o",
            "g.png",
            "--stats",
            "json",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let s: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("stats JSON");
    assert_eq!(s["unit"], "bits/s");
    let r = &s["series"][0];
    assert_eq!(r["scope"], "receive");
    assert_eq!(r["samples"], 4);
    assert_eq!(r["max"], 32_000.0);
    assert_eq!(r["min"], 8_000.0);
    assert_eq!(r["avg"], 20_000.0);
    assert_eq!(r["last"], 32_000.0);
    assert_eq!(r["total_bytes"], 36_000_000.0);
    assert_eq!(r["coverage"], 0.8);
    assert_eq!(r["max_at"], "2015-05-05T04:00:00Z");
    // Nearest rank: ceil(0.95 * 4) = 4th of 8000, 16000, 24000, 32000.
    assert_eq!(s["percentile"]["value"], 32_000.0);
    assert_eq!(s["percentile"]["method"], "nearest-rank");
    assert!(dir.path().join("g.png").exists());
}

#[test]
fn percentile_basis_and_units_follow_flags() {
    let dir = scratch();
    let base = [
        "render",
        "-i",
        &arg("hostway-30d-hourly-receive.json"),
        "-i",
        &arg("hostway-30d-hourly-transmit.json"),
        "-o",
        "g.png",
        "--stats",
        "json",
    ];
    let get = |extra: &[&str]| -> serde_json::Value {
        let args: Vec<&str> = base.iter().copied().chain(extra.iter().copied()).collect();
        let o = run_in(dir.path(), &args);
        assert!(o.status.success(), "{}", stderr(&o));
        serde_json::from_str(&stdout(&o)).unwrap()
    };
    let bits = get(&[]);
    let bytes = get(&["--unit", "bytes"]);
    let rx = get(&["--percentile-of", "receive"]);
    let sum = get(&["--percentile-of", "sum", "--percentile", "50"]);
    let pb = bits["percentile"]["value"].as_f64().unwrap();
    assert_eq!(bits["percentile"]["of"], "max");
    assert_eq!(pb / 8.0, bytes["percentile"]["value"].as_f64().unwrap());
    assert_eq!(rx["percentile"]["of"], "receive");
    assert!(
        rx["percentile"]["value"].as_f64().unwrap() < pb,
        "receive is the smaller side"
    );
    assert_eq!(sum["percentile"]["p"], 50.0);
    // The spike (hour 331, x6.5) is the maximum of both series, from raw samples.
    assert_eq!(bits["series"][0]["max_at"], "2015-05-14T19:00:00Z");
    assert_eq!(bits["series"][0]["samples"], 720 - 6);
    assert_eq!(bits["series"][1]["samples"], 720 - 7);
}

#[test]
fn png_is_real_and_has_the_requested_size() {
    let dir = scratch();
    let o = run_in(
        dir.path(),
        &[
            "render",
            "-i",
            &arg("hostway-30d-hourly-receive.json"),
            "-i",
            &arg("hostway-30d-hourly-transmit.json"),
            "-o",
            "g.png",
            "--width",
            "640",
            "--height",
            "300",
            "--title",
            "web-01 eth0",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let img = image::open(dir.path().join("g.png"))
        .expect("decodes")
        .to_rgba8();
    assert_eq!(img.dimensions(), (640, 300));
    assert!(img.pixels().all(|p| p[3] == 255), "opaque");
    let distinct: std::collections::HashSet<[u8; 4]> = img.pixels().map(|p| p.0).collect();
    assert!(distinct.len() > 4, "more than a blank canvas");
}

#[test]
fn render_refuses_to_overwrite_with_nothing() {
    let dir = scratch();
    let out = dir.path().join("g.png");
    std::fs::write(&out, b"previous graph").unwrap();
    let o = run_in(
        dir.path(),
        &[
            "render",
            "-i",
            &format!("receive={}", arg("bad/empty.json")),
            "-o",
            "g.png",
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        std::fs::read(&out).unwrap(),
        b"previous graph",
        "old file kept intact"
    );
}

#[test]
fn time_zones_west_of_utc_and_by_name_are_accepted() {
    let dir = scratch();
    let input = format!("receive={}", arg("hostway-2d-hourly-receive.json"));
    let draw = |zone: &[&str], out: &str| {
        let mut args = vec![
            "render", "-i", &input, "-o", out, "--width", "400", "--height", "150",
        ];
        args.extend_from_slice(zone);
        let o = run_in(dir.path(), &args);
        assert!(o.status.success(), "{zone:?}: {}", stderr(&o));
        std::fs::read(dir.path().join(out)).unwrap()
    };
    let utc = draw(&[], "utc.png");
    // `--timezone -0500` (no `=`) is a value, not a flag.
    let west = draw(&["--timezone", "-0500"], "west.png");
    let chicago = draw(&["--timezone", "America/Chicago"], "chicago.png");
    let berlin = draw(&["--timezone", "europe/berlin"], "berlin.png");
    assert_ne!(utc, west, "axis labels move with the zone");
    assert_ne!(west, chicago, "the zone note names the zone");
    assert_ne!(utc, berlin);
}

#[test]
fn a_graph_without_title_is_named_after_its_input() {
    let dir = scratch();
    let input = format!("receive={}", arg("hostway-2d-hourly-receive.json"));
    let o = run_in(dir.path(), &["render", "-i", &input, "-o", "g.png"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let png = std::fs::read(dir.path().join("g.png")).unwrap();
    let needle = b"Title\0hostway-2d-hourly-receive.json";
    assert!(
        png.windows(needle.len()).any(|w| w == needle),
        "the PNG's Title chunk names the file"
    );
    let titled = run_in(
        dir.path(),
        &["render", "-i", &input, "-o", "t.png", "--title", "x"],
    );
    assert!(titled.status.success());
    let png = std::fs::read(dir.path().join("t.png")).unwrap();
    assert!(
        !png.windows(needle.len()).any(|w| w == needle),
        "--title wins"
    );
}
