//! PNG validation for provider images.
//!
//! A provider answer is trusted for nothing: proxies and outages return HTML pages with a
//! 200, base64 fields can hold anything, and the size drawn may not be the size asked for.
//! So every image is decoded here, rejected unless it is a real, non-empty PNG, resized to
//! the requested size when it differs, and re-encoded with a `tEXt` chunk
//! `Source` = `provider:<name>` so the file itself says it was not drawn from raw data.

use std::io::Cursor;

use image::imageops::FilterType;
use image::{DynamicImage, ImageFormat, ImageReader};

use super::{ProviderError, ProviderImage};

/// The eight bytes every PNG starts with.
pub const PNG_SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1a, b'\n'];

/// Checks `bytes` is a decodable, non-empty PNG; resizes it to `want` (width, height) when
/// given and different; re-encodes it with the `Source` chunk (and `Title` when known).
pub fn finish(
    provider: &'static str,
    bytes: &[u8],
    want: Option<(u32, u32)>,
    title: Option<String>,
) -> Result<ProviderImage, ProviderError> {
    let not_png = |reason: String| ProviderError::NotPng { provider, reason };
    if bytes.is_empty() {
        return Err(not_png("the image is empty (0 bytes)".into()));
    }
    if !bytes.starts_with(&PNG_SIGNATURE) {
        return Err(not_png(describe_non_png(bytes)));
    }
    let mut reader = ImageReader::with_format(Cursor::new(bytes), ImageFormat::Png);
    // Bounded memory whatever dimensions the header claims.
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(16_384);
    limits.max_image_height = Some(16_384);
    reader.limits(limits);
    let decoded = reader.decode().map_err(|e| {
        not_png(format!(
            "PNG decoding failed: {}",
            super::one_line(&e.to_string())
        ))
    })?;
    if decoded.width() == 0 || decoded.height() == 0 {
        return Err(not_png("the image has no pixels".into()));
    }
    let img = match want {
        Some((w, h)) if (w, h) != (decoded.width(), decoded.height()) => {
            if w == 0 || h == 0 {
                return Err(ProviderError::InvalidRequest {
                    provider,
                    reason: format!("requested size {w}x{h} has no pixels"),
                });
            }
            decoded.resize_exact(w, h, FilterType::Lanczos3)
        }
        _ => decoded,
    };
    let (width, height) = (img.width(), img.height());
    let png = encode(provider, img, title.as_deref())?;
    Ok(ProviderImage {
        png,
        width,
        height,
        provider,
        title,
    })
}

/// A short, safe description of what came instead of a PNG.
fn describe_non_png(bytes: &[u8]) -> String {
    let head = String::from_utf8_lossy(&bytes[..bytes.len().min(512)]).to_ascii_lowercase();
    let trimmed = head.trim_start();
    if trimmed.starts_with("<!doctype html")
        || trimmed.starts_with("<html")
        || head.contains("<body")
    {
        "got an HTML page instead of a PNG (an error page from the provider or a proxy?)".into()
    } else if trimmed.starts_with('<') {
        "got XML/markup instead of a PNG".into()
    } else if trimmed.starts_with('{') {
        "got JSON instead of a PNG".into()
    } else {
        format!(
            "got {} bytes that do not start with the PNG signature",
            bytes.len()
        )
    }
}

fn encode(
    provider: &'static str,
    img: DynamicImage,
    title: Option<&str>,
) -> Result<Vec<u8>, ProviderError> {
    let enc_err = |e: png::EncodingError| ProviderError::Encode {
        provider,
        reason: e.to_string(),
    };
    let rgba = img.into_rgba8();
    let (w, h) = rgba.dimensions();
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, w, h);
    encoder.set_color(png::ColorType::Rgba);
    encoder.set_depth(png::BitDepth::Eight);
    encoder
        .add_text_chunk("Source".into(), format!("provider:{provider}"))
        .map_err(enc_err)?;
    if let Some(t) = title {
        // tEXt holds Latin-1 only; keep the title when it fits, skip it otherwise.
        if t.chars().all(|c| (c as u32) < 256 && !c.is_control()) && !t.is_empty() {
            encoder
                .add_text_chunk("Title".into(), t.to_string())
                .map_err(enc_err)?;
        }
    }
    let mut writer = encoder.write_header().map_err(enc_err)?;
    writer.write_image_data(rgba.as_raw()).map_err(enc_err)?;
    writer.finish().map_err(enc_err)?;
    Ok(out)
}

/// The `tEXt` chunks of a PNG, as (keyword, text); for tests and callers that inspect.
pub fn text_chunks(png_bytes: &[u8]) -> Result<Vec<(String, String)>, png::DecodingError> {
    let decoder = png::Decoder::new(Cursor::new(png_bytes));
    let reader = decoder.read_info()?;
    Ok(reader
        .info()
        .uncompressed_latin1_text
        .iter()
        .map(|t| (t.keyword.clone(), t.text.clone()))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_png(w: u32, h: u32) -> Vec<u8> {
        let img = image::RgbaImage::from_fn(w, h, |x, y| image::Rgba([x as u8, y as u8, 90, 255]));
        let mut out = Cursor::new(Vec::new());
        img.write_to(&mut out, ImageFormat::Png).unwrap();
        out.into_inner()
    }

    #[test]
    fn keeps_size_and_adds_source() {
        let img = finish(
            "softlayer",
            &sample_png(40, 20),
            Some((40, 20)),
            Some("t".into()),
        )
        .unwrap();
        assert_eq!((img.width, img.height), (40, 20));
        let chunks = text_chunks(&img.png).unwrap();
        assert!(chunks.contains(&("Source".into(), "provider:softlayer".into())));
        assert!(chunks.contains(&("Title".into(), "t".into())));
        let back = image::load_from_memory(&img.png).unwrap();
        assert_eq!((back.width(), back.height()), (40, 20));
    }

    #[test]
    fn resizes_to_requested() {
        let img = finish("cloudwatch", &sample_png(40, 20), Some((80, 30)), None).unwrap();
        let back = image::load_from_memory(&img.png).unwrap();
        assert_eq!((back.width(), back.height()), (80, 30));
        assert_eq!((img.width, img.height), (80, 30));
    }

    #[test]
    fn rejects_empty_html_and_truncated() {
        let e = finish("softlayer", b"", None, None).unwrap_err();
        assert!(e.to_string().contains("empty"), "{e}");
        let e = finish(
            "softlayer",
            b"<!DOCTYPE html><html><body>502</body></html>",
            None,
            None,
        )
        .unwrap_err();
        assert!(e.to_string().contains("HTML page"), "{e}");
        let png = sample_png(10, 10);
        let e = finish("softlayer", &png[..png.len() / 2], None, None).unwrap_err();
        assert!(matches!(e, ProviderError::NotPng { .. }), "{e}");
    }
}
