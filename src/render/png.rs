//! PNG encoding with the `png` crate (not `image`), because the file carries `tEXt` chunks
//! saying what made it (`Software`), where the data came from (`Source`) and the `Title`.

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

/// Encoder settings per effort level. `Fast` is fdeflate with the adaptive filter;
/// `Default` and `Best` are zlib levels.
fn settings(c: PngCompression) -> (png::Compression, png::Filter) {
    match c {
        PngCompression::Fast => (png::Compression::Fast, png::Filter::Adaptive),
        PngCompression::Default => (png::Compression::Balanced, png::Filter::Adaptive),
        PngCompression::Best => (png::Compression::High, png::Filter::Adaptive),
    }
}

/// Encodes an 8-bit RGB buffer (`width * height * 3` bytes).
pub fn encode_rgb(
    width: u32,
    height: u32,
    rgb: &[u8],
    compression: PngCompression,
    text: &PngText,
) -> Result<Vec<u8>, RenderError> {
    let err = |e: png::EncodingError| RenderError::Encode(e.to_string());
    let mut out = Vec::with_capacity(rgb.len() / 8);
    let mut enc = png::Encoder::new(&mut out, width, height);
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    let (level, filter) = settings(compression);
    enc.set_compression(level);
    enc.set_filter(filter);
    add_text(&mut enc, text).map_err(err)?;
    let mut writer = enc.write_header().map_err(err)?;
    writer.write_image_data(rgb).map_err(err)?;
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
            let bytes = encode_rgb(4, 3, &rgb, c, &text).unwrap();
            let dec = png::Decoder::new(std::io::Cursor::new(&bytes));
            let mut reader = dec.read_info().unwrap();
            let mut buf = vec![0; reader.output_buffer_size().unwrap()];
            reader.next_frame(&mut buf).unwrap();
            assert_eq!(&buf[..rgb.len()], &rgb[..]);
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
