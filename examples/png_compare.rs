//! Compares PNG encodings of the standard graph: palette vs RGB, deflate levels and row
//! filters, the row-run encoder. Prints bytes and the median encode time (quantizing
//! included).
//! `cargo run --release --example png_compare`

use std::time::Instant;

use trafficgraph::render::chart::palette;
use trafficgraph::render::png::{encode_with, Compressor, Layout, PngText, RowFilter};
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
            let compressors = [
                Compressor::Runs { search: false },
                Compressor::Runs { search: true },
                Compressor::Zlib(1),
                Compressor::Zlib(2),
                Compressor::Zlib(3),
                Compressor::Zlib(4),
                Compressor::Zlib(6),
                Compressor::Zlib(9),
            ];
            for compressor in compressors {
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
                            compressor,
                            filter,
                            &text,
                        )
                        .unwrap();
                        times.push(t.elapsed().as_secs_f64() * 1e3);
                        size = png.len();
                    }
                    times.sort_by(f64::total_cmp);
                    println!(
                        "  {:<8} {:<8} {:<5} {:>7} B  {:>6.2} ms",
                        format!("{layout:?}"),
                        match compressor {
                            Compressor::Runs { search: false } => "runs".to_string(),
                            Compressor::Runs { search: true } => "runs+hash".to_string(),
                            Compressor::Zlib(l) => format!("zlib{l}"),
                        },
                        fname,
                        size,
                        times[times.len() / 2]
                    );
                }
            }
        }
    }
}
