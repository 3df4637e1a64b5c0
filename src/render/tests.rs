//! Pixel-level tests of whole graphs: PNGs are decoded with the `image` crate and checked
//! for real content at places computed from the chart's own [`chart::Frame`].

use chrono::{DateTime, Duration, TimeZone, Utc};
use image::{Rgb, RgbImage};
use plotters::style::RGBColor;

use super::chart::{palette, Frame};
use super::*;
use crate::model::{Point, Scope, Series};
use crate::stats;
use crate::units::ValueUnit;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2015, 5, 5, 0, 0, 0).unwrap()
}

/// Hourly series from `t0`; `None` leaves the hour out.
fn series(scope: Scope, values: &[Option<f64>]) -> Series {
    let points = values
        .iter()
        .enumerate()
        .filter_map(|(i, v)| {
            v.map(|value| Point {
                time: t0() + Duration::hours(i as i64),
                value,
                count: None,
            })
        })
        .collect();
    Series::new(scope, points)
}

fn all(values: impl IntoIterator<Item = f64>) -> Vec<Option<f64>> {
    values.into_iter().map(Some).collect()
}

/// Raw values are bits per second, so what is drawn is what the test wrote.
fn opts() -> RenderOptions {
    RenderOptions {
        title: Some("Test graph".into()),
        stats: StatsOptions {
            value_unit: ValueUnit::BitsPerSecond,
            ..StatsOptions::default()
        },
        ..RenderOptions::default()
    }
}

fn secs(hours: f64) -> f64 {
    t0().timestamp() as f64 + hours * 3600.0
}

/// Renders to PNG, decodes it, and returns the pixels with the chart's frame.
fn render(traffic: &Traffic, opts: &RenderOptions) -> (RgbImage, Frame) {
    let stats = stats::compute(traffic, &opts.stats);
    let png = render_png(traffic, &stats, opts).unwrap();
    let decoded = image::load_from_memory_with_format(&png, image::ImageFormat::Png).unwrap();
    assert_eq!(decoded.color(), image::ColorType::Rgb8, "opaque RGB");
    let (_, _, _, frame) = render_frame(traffic, &stats, opts).unwrap();
    (decoded.to_rgb8(), frame)
}

fn near(p: &Rgb<u8>, c: RGBColor, tol: i32) -> bool {
    let d = |a: u8, b: u8| (i32::from(a) - i32::from(b)).abs() <= tol;
    d(p[0], c.0) && d(p[1], c.1) && d(p[2], c.2)
}

/// Whether any of rows `row-1..=row+1` at column `x` has colour `c`.
fn has_near_row(img: &RgbImage, x: i32, row: i32, c: RGBColor) -> bool {
    (row - 1..=row + 1).any(|y| near(img.get_pixel(x as u32, y as u32), c, 40))
}

fn luminance(p: &Rgb<u8>) -> f64 {
    0.2126 * f64::from(p[0]) + 0.7152 * f64::from(p[1]) + 0.0722 * f64::from(p[2])
}

fn rx_tx(rx: Vec<Option<f64>>, tx: Vec<Option<f64>>) -> Traffic {
    Traffic::new(vec![
        series(Scope::Receive, &rx),
        series(Scope::Transmit, &tx),
    ])
}

fn diurnal(n: usize, peak: f64) -> Vec<Option<f64>> {
    all((0..n).map(|i| peak * (0.55 + 0.45 * (i as f64 / 24.0 * std::f64::consts::TAU).sin())))
}

#[test]
fn title_and_zone_rows_hold_text_only_when_asked() {
    let traffic = rx_tx(diurnal(48, 100e6), diurnal(48, 40e6));
    let pal = palette(Theme::Light);
    let inked = |img: &RgbImage, xs: std::ops::Range<u32>| {
        let rows = 0..(opts().font_size * 2.0) as u32;
        rows.flat_map(|y| xs.clone().map(move |x| (x, y)))
            .filter(|&(x, y)| !near(img.get_pixel(x, y), pal.canvas, 16))
            .count()
    };
    let (img, _) = render(&traffic, &opts());
    let w = img.width();
    assert!(
        inked(&img, w / 2 - 40..w / 2 + 40) > 60,
        "title drawn centred"
    );
    assert!(inked(&img, w - 90..w) > 60, "time zone drawn at the right");
    let bare = RenderOptions {
        title: None,
        show_timezone: false,
        ..opts()
    };
    let (img, _) = render(&traffic, &bare);
    assert_eq!(inked(&img, 0..w), 0, "no title, no zone: blank top rows");
}

#[test]
fn receive_is_an_area_and_transmit_a_line_above_nothing() {
    let traffic = rx_tx(all(vec![100e6; 48]), all(vec![40e6; 48]));
    let pal = palette(Theme::Light);
    let (img, f) = render(&traffic, &opts());
    let x = f.col(secs(10.5));
    assert!(
        has_near_row(&img, x, f.row(70e6), pal.receive),
        "area fill above the line"
    );
    assert!(
        has_near_row(&img, x, f.row(20e6), pal.receive),
        "area fill below the line"
    );
    assert!(
        has_near_row(&img, x, f.row(40e6), pal.transmit),
        "transmit line"
    );
    let above = f.row(100e6) - 3;
    assert!(above > f.y.start);
    for y in f.y.start..above {
        let p = img.get_pixel(x as u32, y as u32);
        assert!(
            !near(p, pal.receive, 60) && !near(p, pal.transmit, 60),
            "row {y}"
        );
    }
}

#[test]
fn a_twelve_hour_hole_is_a_gap_and_a_lone_sample_still_shows() {
    let mut rx = all(vec![100e6; 48]);
    let mut tx = all(vec![40e6; 48]);
    for h in 18..30 {
        rx[h] = None;
        tx[h] = None;
    }
    rx[40] = Some(60e6);
    for h in [39, 41] {
        rx[h] = None;
    }
    let traffic = rx_tx(rx, tx);
    let pal = palette(Theme::Light);
    let (img, f) = render(&traffic, &opts());
    // Data ends at 18:00 (the 17:00 sample's period) and resumes at 30:00.
    let cols = f.col(secs(18.0)) + 2..f.col(secs(30.0)) - 1;
    assert!(cols.len() > 100, "the hole spans many columns");
    for x in cols {
        for y in f.y.clone() {
            let p = img.get_pixel(x as u32, y as u32);
            assert!(
                !near(p, pal.receive, 60) && !near(p, pal.transmit, 60),
                "series colour at ({x}, {y}) inside the gap"
            );
        }
    }
    let lone = f.col(secs(40.5));
    assert!(
        has_near_row(&img, lone, f.row(30e6), pal.receive),
        "lone sample drawn"
    );
    let beside = f.col(secs(39.5));
    assert!(
        !has_near_row(&img, beside, f.row(30e6), pal.receive),
        "its neighbours are gaps"
    );
}

#[test]
fn percentile_line_is_red_across_the_plot() {
    let traffic = rx_tx(diurnal(48, 100e6), diurnal(48, 40e6));
    let o = opts();
    let stats = stats::compute(&traffic, &o.stats);
    let pct = stats.percentile.as_ref().unwrap().value;
    let pal = palette(Theme::Light);
    let (img, f) = render(&traffic, &o);
    let red_in_row = |y: i32| {
        f.x.clone()
            .filter(|&x| near(img.get_pixel(x as u32, y as u32), pal.percentile, 30))
            .count()
    };
    let best = (f.row(pct) - 1..=f.row(pct) + 1)
        .map(red_in_row)
        .max()
        .unwrap();
    assert!(
        best as f64 > 0.95 * f.x.len() as f64,
        "{best} of {}",
        f.x.len()
    );
    assert!(red_in_row(f.row(pct) - 10) < 10, "only on its own row");
}

#[test]
fn dark_theme_is_dark_and_opaque_and_light_is_light() {
    let traffic = rx_tx(diurnal(48, 100e6), diurnal(48, 40e6));
    let dark = RenderOptions {
        theme: Theme::Dark,
        ..opts()
    };
    let (img, _) = render(&traffic, &dark); // render() asserts opaque RGB
    assert!(luminance(img.get_pixel(0, 0)) < 40.0);
    let mean = img.pixels().map(luminance).sum::<f64>() / img.pixels().len() as f64;
    assert!(mean < 90.0, "mean luminance {mean}");
    // Text must stand out: many light grey pixels.
    let pal = palette(Theme::Dark);
    let bright = img.pixels().filter(|p| near(p, pal.text, 40)).count();
    assert!(bright > 300, "{bright} text pixels");
    let (light, _) = render(&traffic, &opts());
    assert!(luminance(light.get_pixel(0, 0)) > 200.0);
}

#[test]
fn png_carries_software_source_and_title_text() {
    let traffic = rx_tx(diurnal(24, 100e6), diurnal(24, 40e6));
    let o = RenderOptions {
        source: "provider:hostway".into(),
        ..opts()
    };
    let stats = stats::compute(&traffic, &o.stats);
    let bytes = render_png(&traffic, &stats, &o).unwrap();
    let reader = ::png::Decoder::new(std::io::Cursor::new(bytes))
        .read_info()
        .unwrap();
    let text: Vec<(&str, &str)> = reader
        .info()
        .uncompressed_latin1_text
        .iter()
        .map(|t| (t.keyword.as_str(), t.text.as_str()))
        .collect();
    let version = format!("trafficgraph {}", env!("CARGO_PKG_VERSION"));
    assert!(text.contains(&("Software", version.as_str())));
    assert!(text.contains(&("Source", "provider:hostway")));
    assert!(text.contains(&("Title", "Test graph")));
}

#[test]
fn empty_input_and_bad_sizes_are_refused() {
    let empty = Traffic::new(vec![series(Scope::Receive, &[])]);
    let stats = stats::compute(&empty, &opts().stats);
    assert!(matches!(
        render_png(&empty, &stats, &opts()),
        Err(RenderError::NoData)
    ));
    let traffic = rx_tx(diurnal(24, 1e6), diurnal(24, 1e6));
    let stats = stats::compute(&traffic, &opts().stats);
    for (width, height) in [(99, 273), (827, 8001)] {
        let o = RenderOptions {
            width,
            height,
            ..opts()
        };
        assert!(matches!(
            render_png(&traffic, &stats, &o),
            Err(RenderError::BadSize { .. })
        ));
    }
}

#[test]
fn legend_figures_come_from_the_stats_given() {
    let traffic = rx_tx(diurnal(48, 100e6), diurnal(48, 40e6));
    let o = opts();
    let stats = stats::compute(&traffic, &o.stats);
    let mut other = stats.clone();
    other.series[0].max *= 3.0;
    let (w, _, a, f) = render_frame(&traffic, &stats, &o).unwrap();
    let (_, _, b, _) = render_frame(&traffic, &other, &o).unwrap();
    let changed: Vec<usize> = (0..a.len() / 3)
        .filter(|i| a[i * 3..i * 3 + 3] != b[i * 3..i * 3 + 3])
        .map(|i| i / w as usize)
        .collect();
    assert!(!changed.is_empty(), "the legend shows the given max");
    assert!(
        changed.iter().all(|&row| row as i32 > f.y.end + 10),
        "nothing but the legend changes"
    );
}

#[test]
fn many_sizes_and_single_series_render() {
    let total = Traffic::new(vec![series(Scope::Total, &diurnal(24 * 400, 1e9))]);
    for (w, h) in [(100, 100), (400, 150), (1600, 600)] {
        let o = RenderOptions {
            width: w,
            height: h,
            ..opts()
        };
        let (img, f) = render(&total, &o);
        assert_eq!((img.width(), img.height()), (w, h));
        assert!(f.x.start < f.x.end && f.y.start < f.y.end);
    }
}

/// Pixels of `a` and `b` differing by more than 48 in any channel.
fn differing(a: &RgbImage, b: &RgbImage) -> usize {
    a.pixels()
        .zip(b.pixels())
        .filter(|(p, q)| (0..3).any(|c| (i32::from(p[c]) - i32::from(q[c])).abs() > 48))
        .count()
}

#[test]
fn golden_image_matches() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/graph.png");
    let mut rx = diurnal(24 * 7, 400e6);
    rx[100] = Some(900e6);
    for v in rx.iter_mut().skip(60).take(10) {
        *v = None;
    }
    let traffic = rx_tx(rx, diurnal(24 * 7, 150e6));
    let o = RenderOptions {
        title: Some("Golden: one week, spike and gap".into()),
        ..opts()
    };
    let stats = stats::compute(&traffic, &o.stats);
    let png = render_png(&traffic, &stats, &o).unwrap();
    if std::env::var_os("TRAFFICGRAPH_BLESS").is_some() {
        std::fs::write(&path, &png).unwrap();
    }
    let golden = std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; run with TRAFFICGRAPH_BLESS=1 to create it",
            path.display()
        )
    });
    let want = image::load_from_memory(&golden).unwrap().to_rgb8();
    let got = image::load_from_memory(&png).unwrap().to_rgb8();
    assert_eq!(want.dimensions(), got.dimensions());
    let bad = differing(&want, &got);
    let limit = (want.pixels().len() as f64 * 0.005) as usize;
    assert!(bad <= limit, "{bad} pixels differ (limit {limit})");
}

#[test]
fn a_one_hour_spike_in_a_year_reaches_its_height() {
    let mut rx = all(vec![100e6; 8760]);
    rx[4321] = Some(5e9);
    let traffic = rx_tx(rx, all(vec![40e6; 8760]));
    let pal = palette(Theme::Light);
    let envelope = chart::tint(pal.receive, pal.plot, 0.5);
    let (img, f) = render(&traffic, &opts());
    let x = f.col(secs(4321.5));
    let top = f.row(5e9);
    let greenish = |x: i32, y: i32| {
        let p = img.get_pixel(x as u32, y as u32);
        near(p, envelope, 40) || near(p, pal.receive, 40)
    };
    let hit = (x - 1..=x + 1).any(|x| (top - 1..=top + 1).any(|y| greenish(x, y)));
    assert!(hit, "spike top at ({x}, {top})");
    assert!(
        !(x - 1..=x + 1).any(|x| greenish(x, top - 4)),
        "and no higher"
    );
    // Away from the spike the fill stays at 100 Mb/s.
    let calm = f.col(secs(1000.5));
    assert!(!greenish(calm, f.row(1e9)));
}

#[test]
fn every_png_level_is_a_faithful_palette_and_smaller_with_effort() {
    let traffic = Traffic::new(
        crate::render::sample_data::hourly(&crate::render::sample_data::Spec::default()).series,
    );
    let o = opts();
    let stats = stats::compute(&traffic, &o.stats);
    let (_, _, rgb) = render_rgb(&traffic, &stats, &o).unwrap();
    let decode = |c: PngCompression| {
        let o = RenderOptions {
            png_compression: c,
            ..o.clone()
        };
        let png = render_png(&traffic, &stats, &o).unwrap();
        let info = ::png::Decoder::new(std::io::Cursor::new(&png))
            .read_info()
            .unwrap()
            .info()
            .color_type;
        let pixels = image::load_from_memory(&png).unwrap().to_rgb8().into_raw();
        (info, pixels, png.len())
    };
    let mut lens = Vec::new();
    for level in [
        PngCompression::Fast,
        PngCompression::Default,
        PngCompression::Best,
    ] {
        let (kind, pixels, len) = decode(level);
        assert_eq!(kind, ::png::ColorType::Indexed, "{level:?}");
        let db = quantize::psnr(&rgb, &pixels);
        assert!(db > 45.0, "{level:?}: PSNR {db:.1} dB");
        lens.push(len);
    }
    // `fast` and `default` are both the row-run encoder; `best` is zlib level 9.
    assert!(lens[0] == lens[1] && lens[1] > lens[2], "{lens:?}");
}

#[test]
fn resolving_periods_keeps_every_step() {
    let mut traffic = rx_tx(all(vec![1.0; 5]), all(vec![1.0; 5]));
    let five_min = Series::new(
        Scope::Total,
        (0..3)
            .map(|i| Point {
                time: t0() + Duration::minutes(5 * i),
                value: 1.0,
                count: None,
            })
            .collect(),
    );
    traffic.series.push(five_min);
    let before: Vec<i64> = traffic.series.iter().map(Series::step_seconds).collect();
    traffic.resolve_periods();
    let after: Vec<i64> = traffic.series.iter().map(Series::step_seconds).collect();
    assert_eq!(before, after);
    assert_eq!(before, vec![3600, 3600, 300]);
    assert_eq!(
        traffic.series[0].origin.period,
        Some(crate::model::Period::Hourly)
    );
    assert_eq!(
        traffic.series[2].origin.period, None,
        "no 5-minute period exists"
    );
}

/// Dense series (hundreds of samples per column) are decimated from the rollups the
/// statistics pass gathered: the picture is the one the samples themselves give, and a
/// one-hour spike among 300 000 hours still reaches its height.
#[test]
fn graphs_from_rollups_equal_graphs_from_samples() {
    let n = 300_000;
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let mut noise = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x % 20_000_000) as f64
    };
    let mut rx: Vec<Option<f64>> = (0..n).map(|_| Some(80e6 + noise())).collect();
    let tx: Vec<Option<f64>> = (0..n).map(|_| Some(30e6 + noise())).collect();
    rx[123_457] = Some(2e9);
    for (name, traffic) in [
        ("grid", rx_tx(rx.clone(), tx.clone())),
        ("gaps", {
            // The same outage in both (same timestamps, off the grid).
            let (mut r, mut t) = (rx.clone(), tx.clone());
            for i in 50_000..50_300 {
                (r[i], t[i]) = (None, None);
            }
            rx_tx(r, t)
        }),
    ] {
        let o = opts();
        let with = stats::compute(&traffic, &o.stats);
        assert!(
            with.series.iter().all(|s| s.rollup.is_some()),
            "{name}: rollups gathered"
        );
        let mut without = with.clone();
        for s in &mut without.series {
            s.rollup = None;
        }
        let (_, _, a, f) = render_frame(&traffic, &with, &o).unwrap();
        let (_, _, b, _) = render_frame(&traffic, &without, &o).unwrap();
        assert!(a == b, "{name}: the same pixels with and without rollups");
        let img = RgbImage::from_raw(o.width, o.height, a).unwrap();
        let pal = palette(Theme::Light);
        let envelope = chart::tint(pal.receive, pal.plot, 0.5);
        let (x, top) = (f.col(secs(123_457.5)), f.row(2e9));
        let hit = (x - 1..=x + 1).any(|x| {
            (top - 1..=top + 1).any(|y| {
                let p = img.get_pixel(x as u32, y as u32);
                near(p, envelope, 40) || near(p, pal.receive, 40)
            })
        });
        assert!(hit, "{name}: spike top at ({x}, {top})");
    }
}

#[test]
fn a_long_title_is_shortened_and_never_meets_the_zone_note() {
    let traffic = rx_tx(diurnal(48, 100e6), diurnal(48, 40e6));
    let long = "web-01.example.net eth0 public uplink, customer ACME Corporation, \
                October billing review with every detail anyone could want";
    for width in [300, 500, 827] {
        let o = RenderOptions {
            width,
            title: Some(long.into()),
            timezone: crate::zone::Zone::parse("America/Chicago").unwrap(),
            ..opts()
        };
        let stats = stats::compute(&traffic, &o.stats);
        let (_, _, _, f) = render_frame(&traffic, &stats, &o).unwrap();
        let (title, note) = (
            f.title_x.expect("title drawn"),
            f.note_x.expect("note drawn"),
        );
        assert!(
            title.start >= 0 && note.end <= width as i32,
            "{width}: inside the image"
        );
        assert!(
            title.end < note.start,
            "{width}: title {title:?} runs into the note {note:?}"
        );
    }
    // The ink agrees: nothing between the title's end and the note's start at 300 px.
    let o = RenderOptions {
        width: 300,
        title: Some(long.into()),
        ..opts()
    };
    let (img, f) = render(&traffic, &o);
    let (title, note) = (f.title_x.unwrap(), f.note_x.unwrap());
    let pal = palette(Theme::Light);
    for x in title.end + 1..note.start - 1 {
        for y in 0..(o.font_size * 2.0) as u32 {
            assert!(
                near(img.get_pixel(x as u32, y), pal.canvas, 16),
                "ink at {x},{y}"
            );
        }
    }
}

#[test]
fn small_graphs_keep_a_compact_legend_or_say_it_is_left_out() {
    let traffic = rx_tx(diurnal(48, 100e6), diurnal(48, 40e6));
    let frame = |w: u32, h: u32| {
        let o = RenderOptions {
            width: w,
            height: h,
            ..opts()
        };
        let stats = stats::compute(&traffic, &o.stats);
        render_frame(&traffic, &stats, &o).unwrap().3
    };
    assert_eq!(frame(827, 273).legend, chart::LegendMode::Full);
    let small = frame(300, 120);
    assert_eq!(small.legend, chart::LegendMode::Compact);
    // The y axis fits the data: the peak fills most of the plot's height.
    assert!(
        small.y_max <= 100e6 * 1.25,
        "y axis to {} for a 100M peak",
        small.y_max
    );
    let tiny = frame(300, 100);
    assert_ne!(tiny.legend, chart::LegendMode::Full);
    let huge_font = RenderOptions {
        width: 300,
        height: 100,
        font_size: 16.0,
        ..opts()
    };
    let stats = stats::compute(&traffic, &huge_font.stats);
    let f = render_frame(&traffic, &stats, &huge_font).unwrap().3;
    assert_eq!(f.legend, chart::LegendMode::Omitted);
    // The header says so, at the right, where the zone note goes.
    assert!(f.note_x.is_some());
}

#[test]
fn per_ip_series_keep_their_colours_and_a_legend_line_each() {
    let ips = ["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5"];
    let make = |empty: Option<&str>| {
        let mut v = Vec::new();
        for (i, ip) in ips.iter().enumerate() {
            for scope in [Scope::Receive, Scope::Transmit] {
                let values = if Some(*ip) == empty {
                    Vec::new()
                } else {
                    diurnal(48, 10e6 * (i + 1) as f64)
                };
                let mut s = series(scope, &values);
                s.label = ip.to_string();
                v.push(s);
            }
        }
        Traffic::new(v)
    };
    let colours = |t: &Traffic| {
        let stats = stats::compute(t, &opts().stats);
        chart::plan(t, &stats, &opts())
            .iter()
            .map(|p| ((p.series.label.clone(), p.series.scope), p.color))
            .collect::<std::collections::HashMap<_, _>>()
    };
    let full = make(None);
    let all = colours(&full);
    let distinct: std::collections::HashSet<_> = all.values().map(|c| (c.0, c.1, c.2)).collect();
    assert_eq!(distinct.len(), 10, "ten series, ten colours");
    // An IP with no data does not shift the others' colours.
    let gap = colours(&make(Some("10.0.0.2")));
    for ((ip, scope), c) in &gap {
        assert_eq!(all[&(ip.clone(), *scope)], *c, "{ip} {scope:?}");
    }
    let stats = stats::compute(&full, &opts().stats);
    let f = render_frame(&full, &stats, &opts()).unwrap().3;
    assert_eq!(f.legend, chart::LegendMode::Full, "one line per IP fits");
}
