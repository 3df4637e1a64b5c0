//! Compares PNG encodings of the standard graph: RGB vs palette, deflate levels, filters.
//! Prints bytes, median encode time and PSNR. `cargo run --release --example png_compare`

use std::time::Instant;

use trafficgraph::render::chart::palette;
use trafficgraph::render::png::{encode_with, Layout, PngText};
use trafficgraph::render::quantize::{psnr, quantize};
use trafficgraph::render::sample_data::{hourly, Spec};
use trafficgraph::render::{render_rgb, RenderOptions};
use trafficgraph::stats;

fn main() {
    let levels = [
        ("fdeflate", png::DeflateCompression::FdeflateUltraFast),
        ("zlib1", png::DeflateCompression::Level(1)),
        ("zlib2", png::DeflateCompression::Level(2)),
        ("zlib3", png::DeflateCompression::Level(3)),
        ("zlib4", png::DeflateCompression::Level(4)),
        ("zlib6", png::DeflateCompression::Level(6)),
        ("zlib9", png::DeflateCompression::Level(9)),
    ];
    let filters = [
        ("adaptive", png::Filter::Adaptive),
        ("none", png::Filter::NoFilter),
        ("sub", png::Filter::Sub),
        ("up", png::Filter::Up),
    ];
    for points in [500, 8_760] {
        let traffic = hourly(&Spec {
            points,
            ..Spec::default()
        });
        let opts = RenderOptions {
            title: Some(format!("{points} hourly points")),
            ..RenderOptions::default()
        };
        let st = stats::compute(&traffic, &opts.stats);
        let (w, h, rgb) = render_rgb(&traffic, &st, &opts).unwrap();
        let base = palette(opts.theme).quantize_base();
        let q = quantize(&rgb, &base);
        println!(
            "{points} points: palette {} colours, exact {}, PSNR {:.1} dB",
            q.palette.len(),
            q.exact,
            psnr(&rgb, &q.to_rgb())
        );
        for layout in [Layout::Indexed] {
            for (ln, level) in levels {
                for (fname, filter) in filters {
                    let text = PngText::default();
                    let mut times = Vec::new();
                    let mut size = 0;
                    for _ in 0..15 {
                        let t = Instant::now();
                        let png =
                            encode_with(w, h, &rgb, layout, &base, level, filter, &text).unwrap();
                        times.push(t.elapsed().as_secs_f64() * 1e3);
                        size = png.len();
                    }
                    times.sort_by(f64::total_cmp);
                    println!(
                        "  {:<8} {:<9} {:<9} {:>7} B  {:>6.2} ms",
                        format!("{layout:?}"),
                        ln,
                        fname,
                        size,
                        times[times.len() / 2]
                    );
                }
            }
        }
    }
}
