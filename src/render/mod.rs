//! Rendering: a [`Traffic`] and its [`Stats`] become a PNG, drawn locally with plotters.
//!
//! (Interface only in this commit; the chart itself lands next.)

use std::str::FromStr;

use chrono::FixedOffset;

use crate::model::Traffic;
use crate::stats::{Stats, StatsOptions};

/// Light or dark; both opaque.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Theme {
    #[default]
    Light,
    Dark,
}

impl FromStr for Theme {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "light" => Ok(Theme::Light),
            "dark" => Ok(Theme::Dark),
            other => Err(format!("unknown theme '{other}' (expected light or dark)")),
        }
    }
}

/// PNG encoder effort.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PngCompression {
    Fast,
    #[default]
    Default,
    Best,
}

impl FromStr for PngCompression {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "fast" => Ok(PngCompression::Fast),
            "default" => Ok(PngCompression::Default),
            "best" => Ok(PngCompression::Best),
            other => Err(format!(
                "unknown PNG compression '{other}' (expected fast, default or best)"
            )),
        }
    }
}

/// Everything that shapes one graph.
#[derive(Debug, Clone, PartialEq)]
pub struct RenderOptions {
    pub width: u32,
    pub height: u32,
    pub title: Option<String>,
    /// Text size in pixels.
    pub font_size: f64,
    /// Zone the time axis is labelled in; data stays UTC.
    pub timezone: FixedOffset,
    pub show_timezone: bool,
    pub theme: Theme,
    pub stats: StatsOptions,
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
            timezone: FixedOffset::east_opt(0).expect("UTC"),
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
    #[error("nothing to draw: the input holds no data sets")]
    NoData,
    #[error("graph size {width}x{height} is out of range (each side 100 to 8000 pixels)")]
    BadSize { width: u32, height: u32 },
    #[error("drawing failed: {0}")]
    Draw(String),
    #[error("PNG encoding failed: {0}")]
    Encode(String),
}

/// Draws the graph and encodes it as PNG.
pub fn render_png(
    traffic: &Traffic,
    stats: &Stats,
    opts: &RenderOptions,
) -> Result<Vec<u8>, RenderError> {
    let _ = (traffic, stats, opts);
    Err(RenderError::Draw("renderer not built yet".into()))
}
