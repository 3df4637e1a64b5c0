//! Rendering: a [`Traffic`] and its [`Stats`] become a PNG, drawn locally with plotters.
//!
//! plotters lays the chart out; it draws through our own backend into an in-memory
//! tiny-skia pixmap, so nothing depends on the host's fonts or a display, lines are
//! anti-aliased, and text is cached per glyph. The pixels are then encoded with the `png`
//! crate, which also writes the `tEXt` metadata.
//!
//! - [`chart`]: layout, series, legend (figures from [`Stats`], never from pixels)
//! - `axis`: round rate steps and calendar-aligned time ticks in the display zone
//! - `decimate`: samples to pixel paths, split at gaps, reduced per column when dense
//! - `backend`: the plotters `DrawingBackend` over tiny-skia
//! - `text`, `font`: the embedded DejaVu Sans and its glyph cache
//! - [`png`], [`quantize`], `deflate`: encoding (a deflate for palette rows), palette
//!   images, text chunks
//! - [`sample_data`]: deterministic synthetic traffic for tests, benches and docs

use std::cell::RefCell;
use std::sync::OnceLock;

use plotters::prelude::IntoDrawingArea;

use crate::model::Traffic;
use crate::stats::{Stats, StatsOptions};

pub(crate) mod axis;
pub(crate) mod backend;
pub mod chart;
pub(crate) mod decimate;
pub(crate) mod deflate;
pub(crate) mod font;
pub mod png;
pub mod quantize;
pub mod sample_data;
pub(crate) mod text;

/// Light or dark; both opaque.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Theme {
    /// Light background (the default).
    #[default]
    Light,
    /// Dark background.
    Dark,
}

impl crate::model::Named for Theme {
    const ALL: &'static [Theme] = &[Theme::Light, Theme::Dark];
    const WHAT: &'static str = "theme";
    fn name(self) -> &'static str {
        match self {
            Theme::Light => "light",
            Theme::Dark => "dark",
        }
    }
}

crate::model::from_str_by_name!(Theme);

/// PNG encoder effort.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PngCompression {
    /// Least effort: deflate level 1, about a quarter larger.
    Fast,
    /// Deflate level 2: the balance (see [`png::settings`]).
    #[default]
    Default,
    /// Deflate level 9: the smallest files, about 60 times slower to encode.
    Best,
}

impl crate::model::Named for PngCompression {
    const ALL: &'static [PngCompression] = &[
        PngCompression::Fast,
        PngCompression::Default,
        PngCompression::Best,
    ];
    const WHAT: &'static str = "PNG compression";
    fn name(self) -> &'static str {
        match self {
            PngCompression::Fast => "fast",
            PngCompression::Default => "default",
            PngCompression::Best => "best",
        }
    }
}

crate::model::from_str_by_name!(PngCompression);

/// Everything that shapes one graph.
#[derive(Debug, Clone, PartialEq)]
pub struct RenderOptions {
    /// Image width in pixels (100 to 8000).
    pub width: u32,
    /// Image height in pixels (100 to 8000).
    pub height: u32,
    /// Drawn above the plot; `None` (or empty) draws none.
    pub title: Option<String>,
    /// Text size in pixels.
    pub font_size: f64,
    /// Zone the time axis is labelled in; data stays UTC.
    pub timezone: crate::zone::Zone,
    /// Say the time zone in the header (`Times in ...`).
    pub show_timezone: bool,
    /// Colours.
    pub theme: Theme,
    /// Units and the percentile: the same options the figures were computed with.
    pub stats: StatsOptions,
    /// PNG encoder effort.
    pub png_compression: PngCompression,
    /// Stored in a PNG `tEXt` chunk named `Source` (e.g. `local`, `provider:softlayer`).
    pub source: String,
}

impl Default for RenderOptions {
    fn default() -> Self {
        RenderOptions {
            width: 827,
            height: 273,
            title: None,
            font_size: 11.0,
            timezone: crate::zone::Zone::UTC,
            show_timezone: true,
            theme: Theme::Light,
            stats: StatsOptions::default(),
            png_compression: PngCompression::Default,
            source: "local".to_string(),
        }
    }
}

/// Why a graph could not be drawn.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// The traffic holds no data sets.
    #[error("nothing to draw: the input holds no data sets")]
    NoData,
    /// The size is outside 100 to 8000 pixels a side.
    #[error("graph size {width}x{height} is out of range (each side 100 to 8000 pixels)")]
    BadSize {
        /// Width asked for, in pixels.
        width: u32,
        /// Height asked for, in pixels.
        height: u32,
    },
    /// Drawing failed (the message says what).
    #[error("drawing failed: {0}")]
    Draw(String),
    /// PNG encoding failed.
    #[error("PNG encoding failed: {0}")]
    Encode(String),
}

/// Draws the graph and encodes it as PNG.
pub fn render_png(
    traffic: &Traffic,
    stats: &Stats,
    opts: &RenderOptions,
) -> Result<Vec<u8>, RenderError> {
    validate(traffic, opts)?;
    let mut pixmap = reused_pixmap(opts.width, opts.height)?;
    draw_into(&mut pixmap, traffic, stats, opts)?;
    let text = png::PngText {
        source: opts.source.clone(),
        title: opts.title.clone(),
    };
    let png = png::encode(
        pixmap.width(),
        pixmap.height(),
        quantize::Pixels::Rgba(pixmap.data()),
        quantize_base(opts.theme),
        opts.png_compression,
        &text,
    );
    keep_pixmap(pixmap);
    png
}

/// The fixed part of the palette of `theme` (see [`chart::Palette::quantize_base`]),
/// built once per process.
fn quantize_base(theme: Theme) -> &'static [quantize::Rgb] {
    static LIGHT: OnceLock<Vec<quantize::Rgb>> = OnceLock::new();
    static DARK: OnceLock<Vec<quantize::Rgb>> = OnceLock::new();
    let cell = match theme {
        Theme::Light => &LIGHT,
        Theme::Dark => &DARK,
    };
    cell.get_or_init(|| chart::palette(theme).quantize_base())
}

thread_local! {
    /// The pixmap of this thread's last PNG, for the next one of the same size: the chart
    /// paints every pixel, so it needs no clearing, and a fresh one costs a zeroed
    /// allocation of the whole frame.
    static PIXMAP: RefCell<Option<tiny_skia::Pixmap>> = const { RefCell::new(None) };
}

/// Frames up to this many pixels are kept for reuse (16 MiB); larger ones are freed.
const KEEP_PIXELS: u64 = 1 << 22;

/// This thread's kept pixmap when it is `w` × `h`, else a new one (contents undefined).
fn reused_pixmap(w: u32, h: u32) -> Result<tiny_skia::Pixmap, RenderError> {
    match PIXMAP.take() {
        Some(p) if (p.width(), p.height()) == (w, h) => Ok(p),
        _ => new_pixmap(w, h),
    }
}

fn keep_pixmap(pixmap: tiny_skia::Pixmap) {
    if u64::from(pixmap.width()) * u64::from(pixmap.height()) <= KEEP_PIXELS {
        PIXMAP.set(Some(pixmap));
    }
}

fn new_pixmap(w: u32, h: u32) -> Result<tiny_skia::Pixmap, RenderError> {
    tiny_skia::Pixmap::new(w, h)
        .ok_or_else(|| RenderError::Draw(format!("cannot allocate {w}x{h} pixels")))
}

/// Draws the graph into an 8-bit RGB buffer (`width * height * 3` bytes, rows top down).
pub fn render_rgb(
    traffic: &Traffic,
    stats: &Stats,
    opts: &RenderOptions,
) -> Result<(u32, u32, Vec<u8>), RenderError> {
    render_frame(traffic, stats, opts).map(|(w, h, rgb, _)| (w, h, rgb))
}

/// [`render_rgb`] plus where the plot landed, for callers that inspect pixels.
pub(crate) fn render_frame(
    traffic: &Traffic,
    stats: &Stats,
    opts: &RenderOptions,
) -> Result<(u32, u32, Vec<u8>, chart::Frame), RenderError> {
    let (pixmap, frame) = draw(traffic, stats, opts)?;
    Ok((
        pixmap.width(),
        pixmap.height(),
        backend::into_rgb(&pixmap),
        frame,
    ))
}

/// Draws the graph into a new pixmap (premultiplied RGBA, every pixel opaque).
fn draw(
    traffic: &Traffic,
    stats: &Stats,
    opts: &RenderOptions,
) -> Result<(tiny_skia::Pixmap, chart::Frame), RenderError> {
    validate(traffic, opts)?;
    let mut pixmap = new_pixmap(opts.width, opts.height)?;
    let frame = draw_into(&mut pixmap, traffic, stats, opts)?;
    Ok((pixmap, frame))
}

/// Draws the graph over every pixel of `pixmap`, which is `opts.width` × `opts.height`.
fn draw_into(
    pixmap: &mut tiny_skia::Pixmap,
    traffic: &Traffic,
    stats: &Stats,
    opts: &RenderOptions,
) -> Result<chart::Frame, RenderError> {
    font::ensure_registered()?;
    let root = backend::SkiaBackend::new(pixmap).into_drawing_area();
    chart::draw(&root, traffic, stats, opts)
}

impl RenderOptions {
    /// What a provider's picture of the same graph over `range` should follow.
    pub fn provider_look(
        &self,
        range: crate::range::DateRange,
    ) -> crate::provider::request::GraphLook {
        crate::provider::request::GraphLook {
            range,
            width: self.width,
            height: self.height,
            font_size: self.font_size,
            title: self.title.clone(),
            show_timezone: self.show_timezone,
            zone: self.timezone,
        }
    }
}

/// Pixels a side a graph may have: the one size rule of the flags, reports and renderer.
pub const SIZE_RANGE: std::ops::RangeInclusive<u32> = 100..=8000;

/// Refuses a graph size outside [`SIZE_RANGE`].
pub fn check_size(width: u32, height: u32) -> Result<(), RenderError> {
    if SIZE_RANGE.contains(&width) && SIZE_RANGE.contains(&height) {
        Ok(())
    } else {
        Err(RenderError::BadSize { width, height })
    }
}

/// Refuses what cannot make a graph before any drawing starts.
fn validate(traffic: &Traffic, opts: &RenderOptions) -> Result<(), RenderError> {
    check_size(opts.width, opts.height)?;
    if traffic.is_empty() {
        return Err(RenderError::NoData);
    }
    Ok(())
}

#[cfg(test)]
mod tests;
