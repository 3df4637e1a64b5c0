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

use super::{ProviderError, ProviderImage, ProviderKind};

/// The eight bytes every PNG starts with.
pub const PNG_SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1a, b'\n'];

/// Longest side we decode or resize to: above the largest graph either provider draws
/// (SoftLayer 4000, CloudWatch 2000 pixels).
pub const MAX_SIDE: u32 = 4096;

/// Most memory the decoder may take: a 4000x4000 PNG even at 16 bits per RGBA channel.
/// With [`MAX_SIDE`] this bounds decoding plus resizing to a few hundred MiB, whatever
/// dimensions a (small, highly compressed) body claims.
pub const MAX_DECODE_BYTES: u64 = 128 * 1024 * 1024;

/// Checks `bytes` is a decodable, non-empty PNG; resizes it to `want` (width, height) when
/// given and different; re-encodes it with the `Source` chunk (and `Title` when known).
pub fn finish(
    provider: ProviderKind,
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
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_DECODE_BYTES);
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
            if w == 0 || h == 0 || w > MAX_SIDE || h > MAX_SIDE {
                return Err(ProviderError::InvalidRequest {
                    provider,
                    reason: format!(
                        "requested size {w}x{h} is out of range (each side 1 to {MAX_SIDE})"
                    ),
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
        provider: provider.name(),
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
    provider: ProviderKind,
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
            ProviderKind::SoftLayer,
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
        let img = finish(
            ProviderKind::CloudWatch,
            &sample_png(40, 20),
            Some((80, 30)),
            None,
        )
        .unwrap();
        let back = image::load_from_memory(&img.png).unwrap();
        assert_eq!((back.width(), back.height()), (80, 30));
        assert_eq!((img.width, img.height), (80, 30));
    }

    /// A 69-byte PNG whose header claims 16384x8000 RGBA8 (500 MiB decoded) over a tiny
    /// IDAT: what a hostile or broken answer can claim in a few bytes.
    const CLAIMS_16384X8000: [u8; 69] = [
        0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44,
        0x52, 0x00, 0x00, 0x40, 0x00, 0x00, 0x00, 0x1f, 0x40, 0x08, 0x06, 0x00, 0x00, 0x00, 0x73,
        0x0d, 0x83, 0xb6, 0x00, 0x00, 0x00, 0x0c, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0x60,
        0xa0, 0x0c, 0x00, 0x00, 0x00, 0x40, 0x00, 0x01, 0xb7, 0x34, 0x7c, 0xef, 0x00, 0x00, 0x00,
        0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
    ];

    #[test]
    fn huge_declared_dimensions_are_refused_before_allocating() {
        // Found with the `png_finish` fuzz target run with -malloc_limit_mb=128: a ~500 KB
        // zlib bomb declaring 16384x8000 passed the old 16384-pixel side limit and the
        // default 512 MiB budget, and was decoded (a 500 MiB allocation) then resized.
        let e = finish(
            ProviderKind::SoftLayer,
            &CLAIMS_16384X8000,
            Some((800, 300)),
            None,
        )
        .unwrap_err();
        let msg = e.to_string();
        assert!(matches!(e, ProviderError::NotPng { .. }), "{msg}");
        assert!(msg.to_ascii_lowercase().contains("limit"), "{msg}");
        // Nor may a caller ask for a resize past the same bound.
        let e = finish(
            ProviderKind::SoftLayer,
            &sample_png(4, 4),
            Some((MAX_SIDE + 1, 1)),
            None,
        )
        .unwrap_err();
        assert!(matches!(e, ProviderError::InvalidRequest { .. }), "{e}");
    }

    #[test]
    fn rejects_empty_html_and_truncated() {
        let e = finish(ProviderKind::SoftLayer, b"", None, None).unwrap_err();
        assert!(e.to_string().contains("empty"), "{e}");
        let e = finish(
            ProviderKind::SoftLayer,
            b"<!DOCTYPE html><html><body>502</body></html>",
            None,
            None,
        )
        .unwrap_err();
        assert!(e.to_string().contains("HTML page"), "{e}");
        let png = sample_png(10, 10);
        let e = finish(ProviderKind::SoftLayer, &png[..png.len() / 2], None, None).unwrap_err();
        assert!(matches!(e, ProviderError::NotPng { .. }), "{e}");
    }
}
