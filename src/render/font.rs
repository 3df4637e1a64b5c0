//! The embedded font. Graphs must render the same on a server with no fonts and no
//! fontconfig, so DejaVu Sans (Bitstream Vera licence, see `assets/fonts/LICENSE`) is
//! compiled into the binary. Our backend draws text with it through [`super::text`]; it is
//! also registered with plotters' `ab_glyph` text path once per process, so plotters'
//! `FontDesc`s name a font that exists (and any plotters backend draws the same face).

use std::sync::OnceLock;

use plotters::style::FontStyle;

use super::RenderError;

/// DejaVu Sans, unmodified.
pub const FONT_BYTES: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");

/// The family name every text style of the chart asks plotters for.
pub const FAMILY: &str = "sans-serif";

/// Registers the embedded font under [`FAMILY`] the first time it is called.
///
/// plotters' `InvalidFont` has no `Debug`, so the outcome is stored as a plain message.
pub fn ensure_registered() -> Result<(), RenderError> {
    static REGISTERED: OnceLock<Result<(), String>> = OnceLock::new();
    REGISTERED
        .get_or_init(|| {
            plotters::style::register_font(FAMILY, FontStyle::Normal, FONT_BYTES)
                .map_err(|_| "the embedded font could not be parsed".to_string())
        })
        .clone()
        .map_err(RenderError::Draw)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_font_registers_and_is_a_truetype_file() {
        assert_eq!(&FONT_BYTES[..4], &[0, 1, 0, 0]); // TrueType sfnt version
        ensure_registered().unwrap();
        ensure_registered().unwrap(); // idempotent
    }
}
