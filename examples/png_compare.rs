//! Compares PNG encodings of the standard graph: palette vs RGB, deflate levels and row
//! filters. Prints bytes and the median encode time (quantizing included).
//! `cargo run --release --example png_compare`

use std::time::Instant;

use trafficgraph::render::chart::palette;
use trafficgraph::render::png::{encode_with, Layout, PngText, RowFilter};
use trafficgraph::render::quantize::{psnr, quantize, Pixels};
use trafficgraph::render::sample_data::{hourly, Spec};
use trafficgraph::render::{render_rgb, RenderOptions};
use trafficgraph::stats;

fn main() {
    let filters = [
        ("none", RowFilter::None),
        ("sub", RowFilter::Sub),
        ("up", RowFilter::Up),
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
        let q = quantize(Pixels::Rgb(&rgb), w as usize, &base);
        println!(
            "{points} points: palette {} colours, exact {}, PSNR {:.1} dB",
            q.palette.len(),
            q.exact,
            psnr(&rgb, &q.to_rgb())
        );
        for layout in [Layout::Indexed, Layout::Rgb] {
            for level in [1, 2, 3, 4, 6, 9] {
                for (fname, filter) in filters {
                    let text = PngText::default();
                    let mut times = Vec::new();
                    let mut size = 0;
                    for _ in 0..15 {
                        let t = Instant::now();
                        let png = encode_with(
                            w,
                            h,
                            Pixels::Rgb(&rgb),
                            layout,
                            &base,
                            level,
                            filter,
                            &text,
                        )
                        .unwrap();
                        times.push(t.elapsed().as_secs_f64() * 1e3);
                        size = png.len();
                    }
                    times.sort_by(f64::total_cmp);
                    println!(
                        "  {:<8} zlib{:<2} {:<5} {:>7} B  {:>6.2} ms",
                        format!("{layout:?}"),
                        level,
                        fname,
                        size,
                        times[times.len() / 2]
                    );
                }
            }
        }
    }
}
