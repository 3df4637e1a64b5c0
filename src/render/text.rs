//! Text through a glyph cache of our own, on ab_glyph and the embedded font.
//!
//! plotters' `ab_glyph` path rasterizes every glyph of every label on every frame, drops each
//! glyph's left bearing (uneven spacing) and rounds positions toward zero (a decimal point
//! sits a pixel high). Here glyphs are positioned at their true fractional pen position
//! (quantized to a quarter pixel for the cache key), keep their bearings, sit on one
//! integer baseline, and are rasterized once per thread per (glyph, size, quarter-pixel
//! phase).

use std::cell::RefCell;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::OnceLock;

use ab_glyph::{Font, FontRef, GlyphId, PxScale, ScaleFont};

use super::font::FONT_BYTES;

/// Quarter-pixel horizontal phases a glyph is rasterized at.
const PHASES: f32 = 4.0;

fn font() -> &'static FontRef<'static> {
    static FONT: OnceLock<FontRef<'static>> = OnceLock::new();
    FONT.get_or_init(|| FontRef::try_from_slice(FONT_BYTES).expect("embedded font parses"))
}

/// A rasterized glyph: coverage rows and where the top-left pixel sits relative to the
/// integer pen position on the baseline.
#[derive(Debug)]
struct Bitmap {
    left: i32,
    top: i32,
    width: usize,
    coverage: Vec<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Key {
    glyph: u16,
    size_bits: u32,
    phase: u8,
}

thread_local! {
    static CACHE: RefCell<HashMap<Key, Option<Bitmap>, BuildHasherDefault<KeyHasher>>> =
        RefCell::new(HashMap::default());
}

/// A multiply-rotate hash of the few small integers of a [`Key`] (the scheme of rustc's
/// FxHasher): the cache is looked up once per glyph drawn, and SipHash, built to resist
/// chosen keys that a font's glyph ids and sizes cannot be, cost more than the lookup.
#[derive(Default)]
struct KeyHasher(u64);

impl KeyHasher {
    #[inline]
    fn add(&mut self, v: u64) {
        self.0 = (self.0.rotate_left(5) ^ v).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.add(u64::from(b));
        }
    }

    fn write_u8(&mut self, v: u8) {
        self.add(u64::from(v));
    }

    fn write_u16(&mut self, v: u16) {
        self.add(u64::from(v));
    }

    fn write_u32(&mut self, v: u32) {
        self.add(u64::from(v));
    }
}

/// Vertical metrics of a size, in pixels (descent is negative).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Metrics {
    pub ascent: f32,
    pub descent: f32,
}

pub fn metrics(size: f32) -> Metrics {
    let f = font().as_scaled(PxScale::from(size));
    Metrics {
        ascent: f.ascent(),
        descent: f.descent(),
    }
}

/// Glyph ids, unscaled advances and (lazily) unscaled kerning of ASCII characters: the
/// font's cmap and kern tables are binary searches, and chart text is almost all ASCII.
struct Ascii {
    glyph: [GlyphId; 128],
    advance: [f32; 128],
    /// Kerning of each pair `128 * first + second`; NaN until looked up.
    kern: Vec<f32>,
}

impl Ascii {
    fn new() -> Ascii {
        let f = font();
        let glyph: [GlyphId; 128] = std::array::from_fn(|c| f.glyph_id(char::from(c as u8)));
        Ascii {
            glyph,
            advance: glyph.map(|id| f.h_advance_unscaled(id)),
            kern: vec![f32::NAN; 128 * 128],
        }
    }
}

thread_local! {
    static ASCII: RefCell<Ascii> = RefCell::new(Ascii::new());
}

/// Glyphs of `text` with their pen positions (pixels from the start, kerned), and the
/// advance width of the whole text.
fn layout(text: &str, size: f32) -> (Vec<(GlyphId, f32)>, f32) {
    let f = font();
    let scale = f.as_scaled(PxScale::from(size)).h_scale_factor();
    let mut out = Vec::with_capacity(text.len());
    let mut pen = 0.0f32;
    ASCII.with_borrow_mut(|ascii| {
        let mut prev: Option<(char, GlyphId)> = None;
        for c in text.chars() {
            let (id, advance) = if c.is_ascii() {
                (ascii.glyph[c as usize], ascii.advance[c as usize])
            } else {
                let id = f.glyph_id(c);
                (id, f.h_advance_unscaled(id))
            };
            if let Some((p, p_id)) = prev {
                let kern = if p.is_ascii() && c.is_ascii() {
                    let k = &mut ascii.kern[128 * p as usize + c as usize];
                    if k.is_nan() {
                        *k = f.kern_unscaled(p_id, id);
                    }
                    *k
                } else {
                    f.kern_unscaled(p_id, id)
                };
                pen += scale * kern;
            }
            out.push((id, pen));
            pen += scale * advance;
            prev = Some((c, id));
        }
    });
    (out, pen)
}

/// Advance width of `text`.
pub fn width(text: &str, size: f32) -> f32 {
    layout(text, size).1
}

/// Calls `plot(x, y, coverage)` for every inked pixel of `text` with its pen starting at
/// `x` and its baseline on row `baseline` (as the backend drew text before
/// [`draw_rows`]; its test oracle now).
#[cfg(test)]
pub fn draw(text: &str, size: f32, x: f32, baseline: i32, mut plot: impl FnMut(i32, i32, u8)) {
    draw_rows(text, size, x, baseline, |x0, y, row| {
        for (x, &c) in (x0..).zip(row) {
            if c > 0 {
                plot(x, y, c);
            }
        }
    });
}

/// Calls `row(x, y, coverage)` for every pixel row of every glyph of `text` (its pen
/// starting at `x`, its baseline on row `baseline`): `coverage[i]` is pixel `x + i` of
/// row `y`, zero where the glyph leaves it blank. The rows come in the order
/// [`draw`] visits their pixels.
pub fn draw_rows(
    text: &str,
    size: f32,
    x: f32,
    baseline: i32,
    mut row: impl FnMut(i32, i32, &[u8]),
) {
    CACHE.with(|cache| {
        let mut cache = cache.borrow_mut();
        for (id, pen) in layout(text, size).0 {
            let at = x + pen;
            let whole = at.floor();
            let phase = ((at - whole) * PHASES).round() as u8;
            let (whole, phase) = if phase as f32 >= PHASES {
                (whole + 1.0, 0)
            } else {
                (whole, phase)
            };
            let key = Key {
                glyph: id.0,
                size_bits: size.to_bits(),
                phase,
            };
            let bitmap = cache
                .entry(key)
                .or_insert_with(|| rasterize(id, size, f32::from(phase) / PHASES));
            if let Some(b) = bitmap {
                let ox = whole as i32 + b.left;
                let oy = baseline + b.top;
                for (y, coverage) in (oy..).zip(b.coverage.chunks_exact(b.width.max(1))) {
                    row(ox, y, coverage);
                }
            }
        }
    });
}

/// Glyph coverage in sixteenths (0, 15, …, 255), as the chart's lines: finer than the eye
/// resolves at text sizes, and it keeps the number of distinct colours small, so the
/// frame's palette PNG is exact (see [`super::quantize`]).
fn coverage_level(c: f32) -> u8 {
    let level = (c.clamp(0.0, 1.0) * 16.0).round() as u32;
    (level * 255 / 16) as u8
}

fn rasterize(id: GlyphId, size: f32, phase: f32) -> Option<Bitmap> {
    let glyph = id.with_scale_and_position(PxScale::from(size), ab_glyph::point(phase, 0.0));
    let outlined = font().outline_glyph(glyph)?;
    let bounds = outlined.px_bounds();
    let width = bounds.width() as usize;
    let height = bounds.height() as usize;
    let mut coverage = vec![0u8; width * height];
    outlined.draw(|x, y, c| {
        if let Some(px) = coverage.get_mut(y as usize * width + x as usize) {
            *px = coverage_level(c);
        }
    });
    Some(Bitmap {
        left: bounds.min.x as i32,
        top: bounds.min.y as i32,
        width,
        coverage,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ink(text: &str) -> Vec<(i32, i32, u8)> {
        let mut out = Vec::new();
        draw(text, 11.0, 0.0, 20, |x, y, c| out.push((x, y, c)));
        out
    }

    #[test]
    fn decimal_point_sits_on_the_baseline_like_the_digits() {
        let bottom = |text: &str| ink(text).iter().filter(|p| p.2 > 128).map(|p| p.1).max();
        assert_eq!(bottom("."), bottom("0"));
        assert_eq!(bottom("1.5"), bottom("15"));
    }

    #[test]
    fn widths_grow_with_text_and_cached_drawing_repeats_exactly() {
        assert!(width("100 Mb/s", 11.0) > width("10 Mb/s", 11.0));
        assert!(width("", 11.0) == 0.0);
        assert_eq!(ink("Max: 755 Mb/s"), ink("Max: 755 Mb/s"));
        assert!(ink("Max").len() > 20);
    }
}
