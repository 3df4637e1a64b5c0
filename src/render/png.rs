//! PNG encoding with the `png` crate (not `image`), because the file carries `tEXt` chunks
//! saying what made it (`Software`), where the data came from (`Source`) and the `Title`.

use super::quantize::{quantize, Rgb};
use super::{PngCompression, RenderError};

/// Text chunks written into every graph.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PngText {
    pub source: String,
    pub title: Option<String>,
}

/// The `Software` chunk value.
pub fn software() -> String {
    format!("trafficgraph {}", env!("CARGO_PKG_VERSION"))
}

/// Encoder settings per effort level, chosen by measurement (`cargo run --release
/// --example png_compare`: the 827x273 graph at 500 and 8 760 points, 2-core machine,
/// medians of 15; encode time includes quantizing, ~0.6 ms):
///
/// | layout  | deflate             | filter   | bytes (500 / 8 760) | encode      |           |
/// |---------|---------------------|----------|---------------------|-------------|-----------|
/// | palette | fdeflate            | adaptive | ~31 / ~31 KB        | ~0.95 ms    | `fast`    |
/// | palette | zlib-rs level 1     | none     | ~29 / ~32 KB        | ~0.95 ms    |           |
/// | palette | zlib-rs level 2     | none     | ~22 / ~24 KB        | ~1.1-1.4 ms | `default` |
/// | palette | zlib-rs level 4     | none     | ~21 / ~21 KB        | ~1.6 ms     |           |
/// | palette | zlib-rs level 6     | none     | ~19 / ~19 KB        | ~6 ms       |           |
/// | palette | zlib-rs level 9     | none     | ~18 / ~19 KB        | ~25-30 ms   | `best`    |
///
/// Level 2 costs about what fdeflate does and stays well under rrdtool's ~32 KB for the
/// same graph; levels 5 and up switch zlib to lazy matching and cost 4x for 10% fewer
/// bytes. The palette wins at every speed: it is exact when the frame has at most 256
/// colours and otherwise ~58 dB PSNR (invisible); RGB + fdeflate is 2.3x the bytes, so it
/// is not offered. Palette + fdeflate *without* a filter stores the data uncompressed
/// (~227 KB), hence adaptive there; with zlib, no filter compresses palette data best.
pub fn settings(c: PngCompression) -> (Layout, png::DeflateCompression, png::Filter) {
    match c {
        PngCompression::Fast => (
            Layout::Indexed,
            png::DeflateCompression::FdeflateUltraFast,
            png::Filter::Adaptive,
        ),
        PngCompression::Default => (
            Layout::Indexed,
            png::DeflateCompression::Level(2),
            png::Filter::NoFilter,
        ),
        PngCompression::Best => (
            Layout::Indexed,
            png::DeflateCompression::Level(9),
            png::Filter::NoFilter,
        ),
    }
}

/// Encodes an 8-bit RGB buffer (`width * height * 3` bytes) at effort `compression`;
/// `base` is the fixed part of the palette (see [`super::quantize::base_palette`]).
pub fn encode(
    width: u32,
    height: u32,
    rgb: &[u8],
    base: &[Rgb],
    compression: PngCompression,
    text: &PngText,
) -> Result<Vec<u8>, RenderError> {
    let (layout, level, filter) = settings(compression);
    encode_with(width, height, rgb, layout, base, level, filter, text)
}

/// How the pixels are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    Rgb,
    /// Palette of at most 256 colours (see [`super::quantize`]).
    Indexed,
}

/// Encodes `rgb` as `layout` with explicit deflate level and filter (for comparisons).
#[allow(clippy::too_many_arguments)]
pub fn encode_with(
    width: u32,
    height: u32,
    rgb: &[u8],
    layout: Layout,
    base: &[Rgb],
    level: png::DeflateCompression,
    filter: png::Filter,
    text: &PngText,
) -> Result<Vec<u8>, RenderError> {
    let err = |e: png::EncodingError| RenderError::Encode(e.to_string());
    let indexed = (layout == Layout::Indexed).then(|| quantize(rgb, base));
    let mut out = Vec::with_capacity(rgb.len() / 8);
    let mut enc = png::Encoder::new(&mut out, width, height);
    enc.set_depth(png::BitDepth::Eight);
    match &indexed {
        Some(q) => {
            enc.set_color(png::ColorType::Indexed);
            enc.set_palette(q.palette.concat());
        }
        None => enc.set_color(png::ColorType::Rgb),
    }
    enc.set_deflate_compression(level);
    enc.set_filter(filter);
    add_text(&mut enc, text).map_err(err)?;
    let mut writer = enc.write_header().map_err(err)?;
    let data = indexed.as_ref().map_or(rgb, |q| &q.indices[..]);
    writer.write_image_data(data).map_err(err)?;
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
            let bytes = encode(4, 3, &rgb, &[], c, &text).unwrap();
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
