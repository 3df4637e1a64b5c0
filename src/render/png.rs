//! PNG encoding with the `png` crate (not `image`), because the file carries `tEXt` chunks
//! saying what made it (`Software`), where the data came from (`Source`) and the `Title`.

use std::cell::RefCell;

use super::deflate;
use super::quantize::{quantize, quantize_rows, Pixels, Rgb};
use super::{PngCompression, RenderError};

/// Text chunks written into every graph.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PngText {
    /// The `Source` chunk: where the data came from (`local`, `provider:softlayer`).
    pub source: String,
    /// The `Title` chunk, when the graph has a title.
    pub title: Option<String>,
}

/// The `Software` chunk value.
pub fn software() -> String {
    format!("trafficgraph {}", env!("CARGO_PKG_VERSION"))
}

/// Encoder settings per effort level, chosen by measurement (`cargo run --release
/// --example png_compare`: the 827x273 graph at 500 and 8 760 points; see its output in
/// `docs/bench-table.md`). Palette data with no row filter compresses best:
///
/// | effort            | deflate                          | bytes (500 / 8 760) | time, alone   |
/// |-------------------|----------------------------------|---------------------|---------------|
/// | `fast`, `default` | row runs (`deflate`)       | ~24 / ~11 KB        | ~0.13 / 0.08 ms |
/// |                   | row runs + 4-byte hash search    | ~21 / ~10 KB        | ~0.15 / 0.09 ms |
/// |                   | zlib-rs level 1                  | ~28 / ~18 KB        | ~0.15 / 0.11 ms |
/// |                   | zlib-rs level 2 (the old default) | ~20 / ~12 KB       | ~0.23 / 0.16 ms |
/// | `best`            | zlib-rs level 9                  | ~17 / ~9 KB         | ~25-30 ms     |
///
/// The row-run encoder only looks for repeats of the row above and runs of one colour,
/// which is most of a chart: faster than any zlib level, smaller than level 1, within
/// ~20% of level 2 at 500 points and smaller than it on dense graphs; ~0.8x rrdtool's PNG
/// at 500 points. Its hash search between runs brings it to level 2's bytes, but costs
/// ~0.1 ms a graph in place (its table and branches are cold after drawing), so it is
/// not the default. zlib levels 5 and up switch to lazy matching and cost 4x or more
/// for 10-20% fewer bytes; the RLE strategy and the Sub/Up filters were larger at the
/// same speed. The palette wins at every speed: it is exact when the frame has at most
/// 256 colours and otherwise ~58 dB PSNR (invisible); RGB is 2-3x the bytes.
pub fn settings(c: PngCompression) -> (Layout, Compressor, RowFilter) {
    match c {
        PngCompression::Fast | PngCompression::Default => (
            Layout::Indexed,
            Compressor::Runs { search: false },
            RowFilter::None,
        ),
        PngCompression::Best => (Layout::Indexed, Compressor::Zlib(9), RowFilter::None),
    }
}

/// The deflate encoder of the image data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compressor {
    /// Runs of the row above and of one colour (`super::deflate`).
    Runs {
        /// Also match the bytes between runs by a 4-byte hash (smaller, slower).
        search: bool,
    },
    /// zlib-rs at this level (1-9).
    Zlib(i32),
}

/// Encodes opaque `pixels` at effort `compression`; `base` is the fixed part of the
/// palette (see [`super::quantize::base_palette`]).
pub fn encode(
    width: u32,
    height: u32,
    pixels: Pixels,
    base: &[Rgb],
    compression: PngCompression,
    text: &PngText,
) -> Result<Vec<u8>, RenderError> {
    let (layout, compressor, filter) = settings(compression);
    encode_with(
        width, height, pixels, layout, base, compressor, filter, text,
    )
}

/// How the pixels are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// 8-bit RGB, three bytes a pixel.
    Rgb,
    /// Palette of at most 256 colours (see [`super::quantize`]).
    Indexed,
}

/// The PNG row filter applied to every row (adaptive filtering is not offered: on palette
/// data no filter is both the fastest and the smallest).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowFilter {
    /// No filter (the fastest, and the smallest on palette data).
    None,
    /// Each byte minus the one a pixel to its left.
    Sub,
    /// Each byte minus the one above it.
    Up,
}

/// Rows of `bpp`-byte pixels, each prefixed with its filter byte, as PNG's IDAT stream
/// wants them before deflate.
fn filter_rows(data: &[u8], row_len: usize, bpp: usize, filter: RowFilter) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + data.len() / row_len.max(1) + 1);
    let mut prev: Option<&[u8]> = None;
    for row in data.chunks_exact(row_len) {
        match (filter, prev) {
            (RowFilter::None, _) | (RowFilter::Up, None) => {
                out.push(if filter == RowFilter::Up { 2 } else { 0 });
                out.extend_from_slice(row);
            }
            (RowFilter::Sub, _) => {
                out.push(1);
                out.extend_from_slice(&row[..bpp]);
                out.extend(row[bpp..].iter().zip(row).map(|(a, b)| a.wrapping_sub(*b)));
            }
            (RowFilter::Up, Some(p)) => {
                out.push(2);
                out.extend(row.iter().zip(p).map(|(a, b)| a.wrapping_sub(*b)));
            }
        }
        prev = Some(row);
    }
    out
}

/// Buffers reused from frame to frame on a thread: a fresh deflate state alone allocates
/// and clears some 300 KiB, and the rows and the zlib stream are each about a frame.
#[derive(Default)]
struct Scratch {
    rows: Vec<u8>,
    /// The deflate state and the level it was made for.
    deflate: Option<(i32, zlib_rs::Deflate)>,
    /// The row-run encoder's masks and tokens.
    runs: deflate::Scratch,
    zlib: Vec<u8>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::default();
}

/// Buffers larger than this (a huge frame's) are not kept.
const KEEP_BYTES: usize = 1 << 22;

/// zlib stream of `data` at `level` (zlib-rs, one call: the whole frame is in memory),
/// written to the start of `out` (grown as needed, never shrunk: it stays initialized);
/// returns its length.
fn zlib(
    data: &[u8],
    level: i32,
    state: &mut Option<(i32, zlib_rs::Deflate)>,
    out: &mut Vec<u8>,
) -> Result<usize, RenderError> {
    let z = match state {
        Some((l, z)) if *l == level => {
            z.reset();
            z
        }
        _ => {
            let config = zlib_rs::DeflateConfig::new(level);
            &mut state
                .insert((level, zlib_rs::Deflate::new_with_config(config)))
                .1
        }
    };
    let bound = zlib_rs::compress_bound(data.len());
    if out.len() < bound {
        out.resize(bound, 0);
    }
    match z.compress(data, out, zlib_rs::DeflateFlush::Finish) {
        Ok(zlib_rs::Status::StreamEnd) => Ok(z.total_out() as usize),
        other => {
            *state = None;
            Err(RenderError::Encode(format!("deflate failed: {other:?}")))
        }
    }
}

/// Encodes `pixels` as `layout` with an explicit deflate encoder and row filter (for
/// comparisons). The `png` crate writes the header, palette and text chunks; the image
/// data is filtered and deflated here in one call, which is where the time goes, so the
/// encoder is under our control.
#[allow(clippy::too_many_arguments)]
pub fn encode_with(
    width: u32,
    height: u32,
    pixels: Pixels,
    layout: Layout,
    base: &[Rgb],
    compressor: Compressor,
    filter: RowFilter,
    text: &PngText,
) -> Result<Vec<u8>, RenderError> {
    if pixels.len() != width as usize * height as usize {
        return Err(RenderError::Encode(format!(
            "{} pixels for a {width}x{height} image",
            pixels.len()
        )));
    }
    SCRATCH.with_borrow_mut(|scratch| {
        let result = image_data(
            pixels,
            width as usize,
            layout,
            base,
            compressor,
            filter,
            scratch,
        )
        .and_then(|(palette, n)| {
            write_png(width, height, palette.as_deref(), &scratch.zlib[..n], text)
        });
        let held = [
            scratch.rows.capacity(),
            scratch.zlib.capacity(),
            scratch.runs.capacity(),
        ];
        if held.into_iter().max().unwrap_or(0) > KEEP_BYTES {
            *scratch = Scratch::default();
        }
        result
    })
}

/// The image's rows, quantized (for [`Layout::Indexed`]), filtered and deflated into
/// `scratch.zlib`: the palette, if any, and the length of the zlib stream.
fn image_data(
    pixels: Pixels,
    w: usize,
    layout: Layout,
    base: &[Rgb],
    compressor: Compressor,
    filter: RowFilter,
    scratch: &mut Scratch,
) -> Result<(Option<Vec<Rgb>>, usize), RenderError> {
    let palette = match (layout, filter) {
        // The usual case: indices straight into the rows, after each row's filter byte.
        (Layout::Indexed, RowFilter::None) => {
            Some(quantize_rows(pixels, w, base, 1, &mut scratch.rows).0)
        }
        (Layout::Indexed, _) => {
            let q = quantize(pixels, w, base);
            scratch.rows = filter_rows(&q.indices, w, 1, filter);
            Some(q.palette)
        }
        (Layout::Rgb, _) => {
            scratch.rows = filter_rows(&pixels.to_rgb(), w * 3, 3, filter);
            None
        }
    };
    let n = match compressor {
        Compressor::Runs { search } => {
            let stride = 1 + w * if layout == Layout::Rgb { 3 } else { 1 };
            let (rows, runs, out) = (&scratch.rows, &mut scratch.runs, &mut scratch.zlib);
            deflate::zlib(rows, stride, search, runs, out)
        }
        Compressor::Zlib(level) => zlib(
            &scratch.rows,
            level,
            &mut scratch.deflate,
            &mut scratch.zlib,
        )?,
    };
    Ok((palette, n))
}

/// The PNG file around the zlib stream `idat`: header, palette, text chunks.
fn write_png(
    width: u32,
    height: u32,
    palette: Option<&[Rgb]>,
    idat: &[u8],
    text: &PngText,
) -> Result<Vec<u8>, RenderError> {
    let err = |e: png::EncodingError| RenderError::Encode(e.to_string());
    let mut out = Vec::with_capacity(idat.len() + 1024);
    let mut enc = png::Encoder::new(&mut out, width, height);
    enc.set_depth(png::BitDepth::Eight);
    match palette {
        Some(p) => {
            enc.set_color(png::ColorType::Indexed);
            enc.set_palette(p.concat());
        }
        None => enc.set_color(png::ColorType::Rgb),
    }
    add_text(&mut enc, text).map_err(err)?;
    let mut writer = enc.write_header().map_err(err)?;
    writer.write_chunk(png::chunk::IDAT, idat).map_err(err)?;
    writer.finish().map_err(err)?;
    Ok(out)
}

/// `tEXt` is Latin-1; anything else in a title is replaced rather than failing the graph.
fn latin1(s: &str) -> String {
    s.chars()
        .map(|c| {
            if (c as u32) < 256 && c != '\0' {
                c
            } else {
                '?'
            }
        })
        .collect()
}

fn add_text<W: std::io::Write>(
    enc: &mut png::Encoder<'_, W>,
    text: &PngText,
) -> Result<(), png::EncodingError> {
    enc.add_text_chunk("Software".into(), software())?;
    enc.add_text_chunk("Source".into(), latin1(&text.source))?;
    if let Some(t) = text.title.as_deref().filter(|t| !t.is_empty()) {
        enc.add_text_chunk("Title".into(), latin1(t))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_text_chunks_and_pixels() {
        let rgb: Vec<u8> = (0..4 * 3 * 3).map(|i| (i * 7) as u8).collect();
        let text = PngText {
            source: "local".into(),
            title: Some("Server 1 — eth0".into()),
        };
        for c in [
            PngCompression::Fast,
            PngCompression::Default,
            PngCompression::Best,
        ] {
            let bytes = encode(4, 3, Pixels::Rgb(&rgb), &[], c, &text).unwrap();
            let dec = png::Decoder::new(std::io::Cursor::new(&bytes));
            let mut reader = dec.read_info().unwrap();
            let mut buf = vec![0; reader.output_buffer_size().unwrap()];
            let frame = reader.next_frame(&mut buf).unwrap();
            let pixels: Vec<u8> = match frame.color_type {
                png::ColorType::Rgb => buf[..rgb.len()].to_vec(),
                png::ColorType::Indexed => {
                    let pal = reader.info().palette.as_ref().unwrap();
                    buf[..12]
                        .iter()
                        .flat_map(|&i| pal[usize::from(i) * 3..usize::from(i) * 3 + 3].to_vec())
                        .collect()
                }
                other => panic!("unexpected {other:?}"),
            };
            assert_eq!(pixels, rgb, "{c:?}: few colours stay exact");
            let chunks: Vec<(String, String)> = reader
                .info()
                .uncompressed_latin1_text
                .iter()
                .map(|t| (t.keyword.clone(), t.text.clone()))
                .collect();
            assert!(chunks.contains(&("Software".into(), software())));
            assert!(chunks.contains(&("Source".into(), "local".into())));
            assert!(chunks.contains(&("Title".into(), "Server 1 ? eth0".into())));
        }
    }
}
