//! The chart layout, drawn with plotters on any [`DrawingBackend`]: title row, plot with
//! calendar-aligned grid, series, percentile line, and an rrdtool-style legend whose
//! figures all come from [`Stats`] (computed from raw samples), never from what was drawn.
//!
//! ```text
//! +--------------------------------------------------------------+
//! |                 Title                          Times in UTC  |
//! |  800 Mb/s |------------------------------------------------- |
//! |           |   plot (receive area, transmit line, 95th line)  |
//! |    0 b/s  +-------------------------------------------------- |
//! |            Mon 04    Tue 05    Wed 06 ...                     |
//! |  [#] Receive   Max: ..  Avg: ..  Min: ..  Last: ..  Total: .. |
//! |  [-] 95th percentile (max of in/out): 502 Mb/s                |
//! +--------------------------------------------------------------+
//! ```
//!
//! Series are drawn as steps centred on their periods (each sample covers `[t, t + step)`),
//! so a gap in the data is a gap in the drawing and a lone sample is one step wide.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::axis::{self, RateTicks, Ticked, TimeTicks};
use super::decimate::{self, Run, Sample};
use super::font::FAMILY;
use super::{RenderError, RenderOptions, Theme};
use crate::model::{Scope, Series, Traffic};
use crate::stats::{self, SeriesStats, Stats};
use crate::units;

/// Colours of one theme.
#[derive(Debug, Clone, Copy)]
pub struct Palette {
    /// Background around the plot (title, axes, legend).
    pub canvas: RGBColor,
    /// Background of the plotting area.
    pub plot: RGBColor,
    /// Grid lines.
    pub grid: RGBColor,
    /// Axis lines.
    pub axis: RGBColor,
    /// Title, tick labels and legend text.
    pub text: RGBColor,
    /// The header note (time zone, decimation), quieter than `text`.
    pub dim: RGBColor,
    /// The receive series.
    pub receive: RGBColor,
    /// The transmit series.
    pub transmit: RGBColor,
    /// The total series (receive plus transmit as the provider computed it).
    pub total: RGBColor,
    /// The percentile line.
    pub percentile: RGBColor,
    /// For per-IP series, drawn as lines; no red (the percentile's colour).
    pub extra: [RGBColor; 8],
}

/// MRTG conventions: receive green, transmit blue, percentile red.
pub fn palette(theme: Theme) -> Palette {
    match theme {
        Theme::Light => Palette {
            canvas: RGBColor(242, 242, 242),
            plot: RGBColor(255, 255, 255),
            grid: RGBColor(221, 221, 221),
            axis: RGBColor(110, 110, 110),
            text: RGBColor(34, 34, 34),
            dim: RGBColor(96, 96, 96),
            receive: RGBColor(0, 204, 0),
            transmit: RGBColor(0, 0, 255),
            total: RGBColor(0, 150, 136),
            percentile: RGBColor(255, 0, 0),
            extra: [
                RGBColor(31, 119, 180),
                RGBColor(255, 127, 14),
                RGBColor(44, 160, 44),
                RGBColor(148, 103, 189),
                RGBColor(140, 86, 75),
                RGBColor(227, 119, 194),
                RGBColor(127, 127, 127),
                RGBColor(23, 190, 207),
            ],
        },
        Theme::Dark => Palette {
            canvas: RGBColor(24, 25, 28),
            plot: RGBColor(33, 35, 39),
            grid: RGBColor(62, 65, 72),
            axis: RGBColor(150, 150, 150),
            text: RGBColor(230, 230, 230),
            dim: RGBColor(170, 170, 170),
            receive: RGBColor(46, 190, 46),
            transmit: RGBColor(100, 165, 255),
            total: RGBColor(0, 190, 175),
            percentile: RGBColor(255, 85, 85),
            extra: [
                RGBColor(90, 170, 230),
                RGBColor(255, 160, 60),
                RGBColor(110, 210, 110),
                RGBColor(190, 150, 230),
                RGBColor(200, 150, 130),
                RGBColor(240, 150, 210),
                RGBColor(180, 180, 180),
                RGBColor(60, 215, 230),
            ],
        },
    }
}

impl Palette {
    /// The fixed part of a palette-PNG palette for this theme: every colour, foregrounds
    /// blended over the backgrounds they are drawn on (anti-aliased edges and text).
    pub fn quantize_base(&self) -> Vec<super::quantize::Rgb> {
        let c = |c: RGBColor| [c.0, c.1, c.2];
        let envelope = tint(self.receive, self.plot, 0.5);
        let mut colors = vec![
            c(self.canvas),
            c(self.plot),
            c(self.grid),
            c(self.axis),
            c(self.text),
            c(self.dim),
            c(self.receive),
            c(self.transmit),
            c(self.total),
            c(self.percentile),
            c(envelope),
        ];
        colors.extend(self.extra.iter().map(|x| c(*x)));
        colors.extend(self.extra.iter().map(|x| c(shade(*x))));
        let fgs = [
            self.text,
            self.transmit,
            self.receive,
            self.percentile,
            self.total,
        ]
        .map(c);
        let bgs = [self.canvas, self.plot, self.receive, self.grid].map(c);
        super::quantize::base_palette(&colors, &fgs, &bgs)
    }
}

/// How one series is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mark {
    Area,
    Line,
}

/// One series as it will be drawn and listed in the legend.
pub(crate) struct Plotted<'a> {
    pub series: &'a Series,
    pub title: String,
    pub color: RGBColor,
    pub mark: Mark,
    /// Raw value × factor = display unit per second.
    pub factor: f64,
    pub stats: Option<&'a SeriesStats>,
}

/// Receive as an area and transmit as a line; a lone series (of any scope) as an area;
/// total beside receive/transmit, and any per-IP series, as lines.
pub(crate) fn plan<'a>(
    traffic: &'a Traffic,
    stats: &'a Stats,
    opts: &RenderOptions,
) -> Vec<Plotted<'a>> {
    let pal = palette(opts.theme);
    let drawn: Vec<&Series> = traffic.series.iter().filter(|s| !s.is_empty()).collect();
    let labelled = drawn.iter().any(|s| !s.label.is_empty());
    let has_receive = drawn.iter().any(|s| s.scope == Scope::Receive);
    // Per-IP colours follow the IPs' order in the data (all series, empty ones too), so an
    // IP keeps its colour whatever the others hold; transmit is a darker shade of it.
    let ips = ip_labels(traffic);
    let mut out: Vec<Plotted> = drawn
        .iter()
        .map(|s| {
            let (color, mark) = if labelled {
                let i = ips.iter().position(|l| *l == s.label).unwrap_or(0);
                let base = pal.extra[i % pal.extra.len()];
                match s.scope {
                    Scope::Transmit => (shade(base), Mark::Line),
                    _ => (base, Mark::Line),
                }
            } else {
                match s.scope {
                    Scope::Receive => (pal.receive, Mark::Area),
                    Scope::Transmit if !has_receive => (pal.transmit, Mark::Area),
                    Scope::Transmit => (pal.transmit, Mark::Line),
                    Scope::Total if drawn.len() == 1 => (pal.total, Mark::Area),
                    Scope::Total => (pal.total, Mark::Line),
                }
            };
            Plotted {
                series: s,
                title: series_title(s),
                color,
                mark,
                factor: stats::rate_factor(s, &opts.stats),
                stats: stats
                    .series
                    .iter()
                    .find(|x| x.name == s.name() && x.scope == s.scope),
            }
        })
        .collect();
    // Areas first so lines stay visible on top of them.
    out.sort_by_key(|p| p.mark == Mark::Line);
    out
}

/// The distinct per-IP labels, in the order the series come.
pub fn ip_labels(traffic: &Traffic) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::new();
    for s in &traffic.series {
        if !s.label.is_empty() && !out.contains(&s.label.as_str()) {
            out.push(&s.label);
        }
    }
    out
}

/// The transmit colour of a per-IP series: its receive colour darkened.
pub fn shade(c: RGBColor) -> RGBColor {
    tint(c, RGBColor(0, 0, 0), 0.3)
}

fn series_title(s: &Series) -> String {
    let scope = match s.scope {
        Scope::Receive => "Receive",
        Scope::Transmit => "Transmit",
        Scope::Total => "Total",
    };
    if s.label.is_empty() {
        scope.to_string()
    } else {
        format!("{scope} {}", s.label)
    }
}

/// Pixel sizes derived from the font size.
#[derive(Debug, Clone, Copy)]
struct Layout {
    fs: f64,
    pad: i32,
    title_h: i32,
    x_label_h: i32,
    y_label_w: i32,
    line_h: i32,
    legend_h: i32,
    legend: LegendMode,
    right: i32,
    plot_h: i32,
}

fn px(v: f64) -> i32 {
    v.round() as i32
}

fn font(size: f64) -> FontDesc<'static> {
    FontDesc::new(FontFamily::Name(FAMILY), size, FontStyle::Normal)
}

fn text_style(size: f64, color: RGBColor, h: HPos, v: VPos) -> TextStyle<'static> {
    TextStyle {
        font: font(size),
        color: color.to_backend_color(),
        pos: Pos::new(h, v),
    }
}

fn draw_err<E: std::fmt::Display>(e: E) -> RenderError {
    RenderError::Draw(e.to_string())
}

fn text_width<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    text: &str,
    style: &TextStyle,
) -> Result<i32, RenderError> {
    let (w, _) = root.estimate_text_size(text, style).map_err(draw_err)?;
    Ok(w as i32)
}

/// Where the plot landed: its pixel rectangle and the value ranges it spans, so callers
/// (tests, decimation) can map data to pixels the way the chart did.
#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    /// Columns `x.start..x.end` of the plotting area.
    pub x: std::ops::Range<i32>,
    /// Rows `y.start..y.end` of the plotting area.
    pub y: std::ops::Range<i32>,
    /// UTC seconds at the left and right edge.
    pub t: (f64, f64),
    /// Rate at the top edge (the bottom is 0).
    pub y_max: f64,
    /// Columns the title was drawn in (`None` when not drawn).
    pub title_x: Option<std::ops::Range<i32>>,
    /// Columns the header note (time zone, decimation) was drawn in (`None` when not drawn).
    pub note_x: Option<std::ops::Range<i32>>,
    /// How much of the legend there was room for.
    pub legend: LegendMode,
}

/// The full legend (figures per series), a compact one-line legend (names and the
/// percentile only) when the graph is too short for it, or none, said in the header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LegendMode {
    /// A row of figures per series.
    Full,
    /// One line: series names and the percentile only.
    Compact,
    /// No legend; the header says so.
    Omitted,
}

impl Frame {
    /// Column of time `t` (UTC seconds).
    pub fn col(&self, t: f64) -> i32 {
        let f = (t - self.t.0) / (self.t.1 - self.t.0);
        (f64::from(self.x.start) + f * f64::from(self.x.end - 1 - self.x.start)).round() as i32
    }

    /// Row of rate `v`.
    pub fn row(&self, v: f64) -> i32 {
        let f = v / self.y_max;
        (f64::from(self.y.end - 1) - f * f64::from(self.y.end - 1 - self.y.start)).round() as i32
    }
}

/// Draws the whole graph on `root`, which must be `opts.width` × `opts.height`.
pub(crate) fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    traffic: &Traffic,
    stats: &Stats,
    opts: &RenderOptions,
) -> Result<Frame, RenderError> {
    let pal = palette(opts.theme);
    let plotted = plan(traffic, stats, opts);
    let span = x_range(traffic).ok_or(RenderError::NoData)?;
    let mut lay = layout(
        opts,
        legend_rows(&plotted) + usize::from(stats.percentile.is_some()),
    );
    let axes = axes(root, &plotted, stats, opts, span, &mut lay, &pal)?;

    let (_, rest) = root.split_vertically(lay.title_h);
    let rest_h = opts.height as i32 - lay.title_h;
    let (plot_area, legend_area) = rest.split_vertically(rest_h - lay.legend_h);
    let chart = build_chart(&plot_area, &lay, &axes)?;
    // The canvas everywhere but under the plot, whose opaque fill comes first in
    // `draw_plot` (covering it in canvas first was ~40% of the fills' writes).
    let (x, y) = chart.plotting_area().get_pixel_range();
    fill_around(root, (x.start, x.end), (y.start, y.end), pal.canvas)?;
    let (title_x, note_x) = draw_header(root, opts, &pal, &lay)?;
    let mut frame = draw_plot(&plot_area, chart, &plotted, stats, &pal, &lay, &axes)?;
    let per_ip = plotted.iter().any(|p| !p.series.label.is_empty());
    match lay.legend {
        LegendMode::Full if per_ip => draw_ip_legend(
            &legend_area,
            traffic,
            &plotted,
            stats,
            &pal,
            &lay,
            axes.suffix,
        )?,
        LegendMode::Full => draw_legend(&legend_area, &plotted, stats, &pal, &lay, axes.suffix)?,
        LegendMode::Compact => {
            draw_compact_legend(&legend_area, &plotted, stats, &pal, &lay, axes.suffix)?
        }
        LegendMode::Omitted => {}
    }
    frame.title_x = title_x;
    frame.note_x = note_x;
    frame.legend = lay.legend;
    Ok(frame)
}

/// Vertical sizes from the font size. When the plot would be too short for the full legend,
/// the legend shrinks to one line of names; when even that does not fit it is left out and
/// the header says so.
fn layout(opts: &RenderOptions, legend_lines: usize) -> Layout {
    let fs = opts.font_size;
    let mut lay = Layout {
        fs,
        pad: px(fs * 0.8),
        title_h: px(fs * 2.3),
        x_label_h: px(fs * 1.9),
        y_label_w: 0,
        line_h: px(fs * 1.55),
        legend_h: 0,
        legend: LegendMode::Full,
        right: px(fs * 2.2),
        plot_h: 0,
    };
    lay.legend_h = legend_lines as i32 * lay.line_h + lay.pad / 2;
    let plot_h = |l: &Layout| opts.height as i32 - l.title_h - l.x_label_h - l.legend_h - l.pad / 2;
    if plot_h(&lay) < px(fs * 4.0) {
        lay.legend = LegendMode::Compact;
        lay.legend_h = lay.line_h + lay.pad / 2;
        if plot_h(&lay) < px(fs * 3.0) {
            // Not enough room: the plot matters more than the legend.
            lay.legend = LegendMode::Omitted;
            lay.legend_h = 0;
        }
    }
    lay.plot_h = plot_h(&lay);
    lay
}

/// Both axes: value range and ticks. Sets `lay.y_label_w` from the widest rate label.
fn axes<'s, DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    plotted: &[Plotted],
    stats: &Stats,
    opts: &'s RenderOptions,
    span: (i64, i64),
    lay: &mut Layout,
    pal: &Palette,
) -> Result<Axes<'s>, RenderError> {
    let data_max = plotted
        .iter()
        .map(series_max)
        .chain(stats.percentile.as_ref().map(|p| p.value))
        .fold(0.0, f64::max);
    let fs = lay.fs;
    let rate = axis::rate_ticks(data_max, ((lay.plot_h as f64 / (fs * 2.2)) as usize).max(2));
    let suffix = opts.stats.unit.rate_suffix();
    let label_style = text_style(fs, pal.text, HPos::Right, VPos::Center);
    let mut y_label_w = 0;
    for t in &rate.ticks {
        let label = units::format_si_axis(*t, rate.step, suffix);
        y_label_w = y_label_w.max(text_width(root, &label, &label_style)?);
    }
    lay.y_label_w = y_label_w + lay.pad + px(fs * 0.5);
    let plot_w = opts.width as i32 - lay.y_label_w - lay.right;
    let mut time = axis::time_ticks(span.0, span.1, opts.timezone, plot_w as f64, fs);
    drop_clipped_labels(root, &mut time, span, plot_w, lay, pal)?;
    let time_labels = spaced_labels(root, &time, span, plot_w, lay, pal)?;
    Ok(Axes {
        span,
        rate,
        time,
        time_labels,
        suffix,
    })
}

/// The largest finite rate of a series, at least 0: the axis follows the data, not the
/// figures shown. It comes from the series' statistics (gathered from the same samples in
/// the same pass as the legend's figures) when they are this series', else every sample
/// is scanned, in four lanes so the loop vectorizes. A non-finite rate counts as 0, which
/// cannot raise a maximum that starts at 0.
fn series_max(p: &Plotted) -> f64 {
    if let Some(s) = p.stats.filter(|s| s.samples == p.series.len()) {
        return s.peak_rate;
    }
    let f = p.factor;
    let rate = |v: f64| {
        let r = v * f;
        if r.is_finite() {
            r
        } else {
            0.0
        }
    };
    let mut m = [0.0f64; 4];
    let chunks = p.series.values().chunks_exact(4);
    let rest = chunks.remainder();
    for c in chunks {
        for k in 0..4 {
            let r = rate(c[k]);
            m[k] = if r > m[k] { r } else { m[k] };
        }
    }
    for x in rest {
        let r = rate(*x);
        m[0] = if r > m[0] { r } else { m[0] };
    }
    m.into_iter().fold(0.0, f64::max)
}

/// What the plot spans and where its ticks go.
struct Axes<'s> {
    /// UTC seconds at the left and right edge.
    span: (i64, i64),
    rate: RateTicks,
    time: TimeTicks,
    /// One label per time tick; empty where it would overlap the one before.
    time_labels: Vec<String>,
    /// `b/s` or `B/s`.
    suffix: &'s str,
}

/// Drops ticks near the right edge whose centred label would run off the image.
fn drop_clipped_labels<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    ticks: &mut TimeTicks,
    (start, end): (i64, i64),
    plot_w: i32,
    lay: &Layout,
    pal: &Palette,
) -> Result<(), RenderError> {
    let style = text_style(lay.fs, pal.text, HPos::Center, VPos::Top);
    let mut keep = Vec::with_capacity(ticks.ticks.len());
    let labels = ticks.labels();
    for (&t, label) in ticks.ticks.iter().zip(&labels) {
        let from_end = (end - t) as f64 / (end - start).max(1) as f64 * f64::from(plot_w);
        let half = f64::from(text_width(root, label, &style)?) / 2.0;
        if from_end + f64::from(lay.right) >= half + 1.0 {
            keep.push(t);
        }
    }
    ticks.ticks = keep;
    Ok(())
}

/// The time labels, each left empty (its grid line stays) where it would overlap the
/// last one shown: a dated label is wider than the others.
fn spaced_labels<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    ticks: &TimeTicks,
    (start, end): (i64, i64),
    plot_w: i32,
    lay: &Layout,
    pal: &Palette,
) -> Result<Vec<String>, RenderError> {
    let style = text_style(lay.fs, pal.text, HPos::Center, VPos::Top);
    let gap = lay.fs * 0.6;
    let mut last_right = f64::NEG_INFINITY;
    let mut out = Vec::with_capacity(ticks.ticks.len());
    for (&t, label) in ticks.ticks.iter().zip(ticks.labels()) {
        let x = (t - start) as f64 / (end - start).max(1) as f64 * f64::from(plot_w);
        let half = f64::from(text_width(root, &label, &style)?) / 2.0;
        if x - half >= last_right + gap {
            last_right = x + half;
            out.push(label);
        } else {
            out.push(String::new());
        }
    }
    Ok(out)
}

/// First sample time to the end of the last sample's period (UTC seconds).
fn x_range(traffic: &Traffic) -> Option<(i64, i64)> {
    let (a, b) = traffic.span()?;
    Some((a.timestamp(), b.timestamp() + traffic.step_seconds()))
}

/// Title (centred, or left when the note is in the way, shortened with an ellipsis when
/// still too long) and the time-zone note at the right; they never overlap. Returns the
/// columns each was drawn in.
#[allow(clippy::type_complexity)]
fn draw_header<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    opts: &RenderOptions,
    pal: &Palette,
    lay: &Layout,
) -> Result<(Option<std::ops::Range<i32>>, Option<std::ops::Range<i32>>), RenderError> {
    let w = opts.width as i32;
    let mid_y = lay.title_h / 2 + 1;
    let mut note_x = None;
    let mut notes = Vec::new();
    if lay.legend == LegendMode::Omitted {
        notes.push("no room for the legend".to_string());
    }
    if opts.show_timezone {
        notes.push(format!("Times in {}", opts.timezone.name()));
    }
    let note = notes.join(" · ");
    let mut tz_w = 0;
    if !note.is_empty() {
        let style = text_style(lay.fs * 0.9, pal.dim, HPos::Right, VPos::Center);
        tz_w = text_width(root, &note, &style)?;
        root.draw_text(&note, &style, (w - lay.pad, mid_y))
            .map_err(draw_err)?;
        note_x = Some(w - lay.pad - tz_w..w - lay.pad);
    }
    let mut title_x = None;
    if let Some(title) = opts.title.as_deref().filter(|t| !t.is_empty()) {
        let style = text_style(lay.fs * 1.25, pal.text, HPos::Center, VPos::Center);
        let room_right = if tz_w > 0 {
            w - lay.pad - tz_w - lay.pad
        } else {
            w - lay.pad
        };
        let title_w = text_width(root, title, &style)?;
        if w / 2 + title_w / 2 < room_right && w / 2 - title_w / 2 >= lay.pad {
            root.draw_text(title, &style, (w / 2, mid_y))
                .map_err(draw_err)?;
            title_x = Some(w / 2 - title_w / 2..w / 2 + title_w / 2 + 1);
        } else {
            let style = text_style(lay.fs * 1.25, pal.text, HPos::Left, VPos::Center);
            let room = room_right - lay.pad;
            let fitted = fit_text(title, room, |t| text_width(root, t, &style))?;
            if let Some((text, width)) = fitted {
                root.draw_text(&text, &style, (lay.pad, mid_y))
                    .map_err(draw_err)?;
                title_x = Some(lay.pad..lay.pad + width);
            }
        }
    }
    Ok((title_x, note_x))
}

/// `text` as it is when it is at most `room` pixels wide, else its longest prefix that
/// fits with an ellipsis after it; `None` when not even one character does.
fn fit_text(
    text: &str,
    room: i32,
    width: impl Fn(&str) -> Result<i32, RenderError>,
) -> Result<Option<(String, i32)>, RenderError> {
    let w = width(text)?;
    if w <= room {
        return Ok(Some((text.to_string(), w)));
    }
    let chars: Vec<char> = text.chars().collect();
    // Binary search on the number of characters kept.
    let (mut lo, mut hi) = (0usize, chars.len());
    let mut best = None;
    while lo < hi {
        let mid = (lo + hi).div_ceil(2);
        let candidate = format!("{}…", chars[..mid].iter().collect::<String>().trim_end());
        let cw = width(&candidate)?;
        if cw <= room {
            best = Some((candidate, cw));
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    Ok(best.filter(|(t, _)| t.chars().count() > 1))
}

/// The chart of the plot `area`: margins, label areas and coordinates (nothing drawn).
fn build_chart<'a, DB: DrawingBackend>(
    area: &'a DrawingArea<DB, Shift>,
    lay: &Layout,
    axes: &Axes,
) -> Result<ChartContext<'a, DB, Cartesian2d<Ticked, Ticked>>, RenderError> {
    let (start, end) = axes.span;
    let x = Ticked::new(
        start as f64,
        end as f64,
        axes.time.ticks.iter().map(|t| *t as f64).collect(),
    );
    let y = Ticked::new(0.0, axes.rate.max, axes.rate.ticks.clone());
    ChartBuilder::on(area)
        .margin_top(px(lay.fs * 0.7))
        .margin_right(lay.right)
        .margin_left(lay.pad)
        .x_label_area_size(lay.x_label_h)
        .y_label_area_size(lay.y_label_w - lay.pad)
        .build_cartesian_2d(x, y)
        .map_err(draw_err)
}

/// Fills `root` with `color` except the pixels `x.0..=x.1` × `y.0..=y.1` (what a filled
/// area's `fill` covers of its pixel range `x.0..x.1` × `y.0..y.1`: plotters hands the
/// backend the range's ends as the rectangle's inclusive corner).
fn fill_around<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    x: (i32, i32),
    y: (i32, i32),
    color: RGBColor,
) -> Result<(), RenderError> {
    let (w, h) = root.dim_in_pixel();
    let (w, h) = (w as i32, h as i32);
    let (x0, x1) = (x.0.clamp(0, w), (x.1 + 1).clamp(0, w));
    let (y0, y1) = (y.0.clamp(0, h), (y.1 + 1).clamp(0, h));
    if x0 >= x1 || y0 >= y1 {
        return root.fill(&color).map_err(draw_err);
    }
    // Bands above and below the plot, then beside it; each `[a, b)` in pixels.
    let bands = [
        ((0, 0), (w, y0)),
        ((0, y1), (w, h)),
        ((0, y0), (x0, y1)),
        ((x1, y0), (w, y1)),
    ];
    for ((ax, ay), (bx, by)) in bands {
        if ax < bx && ay < by {
            root.draw(&Rectangle::new(
                [(ax, ay), (bx - 1, by - 1)],
                color.filled(),
            ))
            .map_err(draw_err)?;
        }
    }
    Ok(())
}

/// The plot in `area`, charted by `chart` (from [`build_chart`] on `area`).
fn draw_plot<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    mut chart: ChartContext<'_, DB, Cartesian2d<Ticked, Ticked>>,
    plotted: &[Plotted],
    stats: &Stats,
    pal: &Palette,
    lay: &Layout,
    axes: &Axes,
) -> Result<Frame, RenderError> {
    let (start, end) = axes.span;
    chart.plotting_area().fill(&pal.plot).map_err(draw_err)?;
    draw_grid(&mut chart, pal, lay, axes)?;

    let map = |t: f64, v: f64| chart.backend_coord(&(t, v.clamp(0.0, axes.rate.max)));
    let baseline = map(start as f64, 0.0).1;
    let columns = chart.plotting_area().get_pixel_range().0.len();
    for p in plotted {
        let rollup = p.stats.and_then(|s| s.rollup.as_deref());
        for run in decimate::runs(p.series, p.factor, columns, rollup, &map) {
            draw_run(area, &run, p, baseline, pal)?;
        }
    }
    if let Some(pct) = &stats.percentile {
        let base = area.get_base_pixel();
        let (x0, y0) = map(start as f64, pct.value);
        let (x1, _) = map(end as f64, pct.value);
        area.draw(&PathElement::new(
            vec![(x0 - base.0, y0 - base.1), (x1 - base.0, y0 - base.1)],
            pal.percentile.stroke_width(1),
        ))
        .map_err(draw_err)?;
    }
    let (x_px, y_px) = chart.plotting_area().get_pixel_range();
    Ok(Frame {
        x: x_px,
        y: y_px,
        t: (start as f64, end as f64),
        y_max: axes.rate.max,
        title_x: None,
        note_x: None,
        legend: lay.legend,
    })
}

/// Grid lines at the ticks, axes and tick labels (plotters' mesh, our ticks and labels).
fn draw_grid<DB: DrawingBackend>(
    chart: &mut ChartContext<DB, Cartesian2d<Ticked, Ticked>>,
    pal: &Palette,
    lay: &Layout,
    axes: &Axes,
) -> Result<(), RenderError> {
    let x_fmt = |v: &f64| {
        let t = *v as i64;
        axes.time
            .ticks
            .iter()
            .position(|x| *x == t)
            .map_or_else(|| axes.time.label(t), |i| axes.time_labels[i].clone())
    };
    let y_fmt = |v: &f64| units::format_si_axis(*v, axes.rate.step, axes.suffix);
    chart
        .configure_mesh()
        .bold_line_style(pal.grid)
        .axis_style(pal.axis)
        .set_all_tick_mark_size(px(lay.fs * 0.3))
        .x_labels(axes.time.ticks.len() + 1)
        .y_labels(axes.rate.ticks.len() + 1)
        .x_label_style(text_style(lay.fs, pal.text, HPos::Center, VPos::Top))
        .y_label_style(text_style(lay.fs, pal.text, HPos::Right, VPos::Center))
        .x_label_formatter(&x_fmt)
        .y_label_formatter(&y_fmt)
        .draw()
        .map_err(draw_err)
}

/// One unbroken run: filled down to `baseline` for an area, stroked for a line.
///
/// A decimated area is filled to each column's mean, with the column's min-max envelope
/// behind it in a lighter tint, so a one-hour spike in a year of data stays visible without
/// the fill overstating the traffic.
fn draw_run<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    run: &Run,
    p: &Plotted,
    baseline: i32,
    pal: &Palette,
) -> Result<(), RenderError> {
    let base = area.get_base_pixel();
    let rel = |path: &[Sample]| -> Vec<(i32, i32)> {
        path.iter().map(|s| (s.x - base.0, s.y - base.1)).collect()
    };
    let stroke = |path: &[Sample], color: RGBColor| {
        area.draw(&PathElement::new(rel(path), color.stroke_width(1)))
            .map_err(draw_err)
    };
    let spans = |color: RGBColor| -> Result<(), RenderError> {
        area.draw(&Spans {
            spans: &run.spans,
            base,
            style: color.filled(),
        })
        .map_err(draw_err)
    };
    match (p.mark, run.decimated) {
        (Mark::Line, false) => return stroke(&run.line, p.color),
        (Mark::Line, true) => return spans(p.color),
        (Mark::Area, true) => spans(tint(p.color, pal.plot, 0.5))?,
        (Mark::Area, false) => {}
    }
    let (first, last) = match (run.mean.first(), run.mean.last()) {
        (Some(a), Some(b)) => (a.x, b.x),
        _ => return Ok(()),
    };
    let mut poly = Vec::with_capacity(run.mean.len() + 2);
    poly.push((first - base.0, baseline - base.1));
    poly.extend(rel(&run.mean));
    poly.push((last - base.0, baseline - base.1));
    area.draw(&Polygon::new(poly, p.color.filled()))
        .map_err(draw_err)?;
    stroke(&run.mean, p.color)
}

/// A decimated run's column spans as one plotters element: each span is the filled
/// one-pixel-wide [`Rectangle`] it used to be drawn as (the same points, mapped and clipped
/// by the area, and the same `draw_rect` call on the backend, in the same order), but the
/// area is entered once a run instead of once a column, and the style is made once (the
/// per-rectangle plotters path was 6% of an 8 760-point graph).
struct Spans<'a> {
    spans: &'a [decimate::Span],
    /// The area's base pixel: the spans are in backend pixels, the area's points are not.
    base: (i32, i32),
    style: ShapeStyle,
}

impl<'a> plotters::element::PointCollection<'a, (i32, i32)> for &'a Spans<'a> {
    type Point = (i32, i32);
    type IntoIter = SpanPoints<'a>;

    fn point_iter(self) -> SpanPoints<'a> {
        SpanPoints {
            spans: self.spans.iter(),
            base: self.base,
            bottom: None,
        }
    }
}

/// Each span's top, then its bottom, relative to the area.
struct SpanPoints<'a> {
    spans: std::slice::Iter<'a, decimate::Span>,
    base: (i32, i32),
    /// The bottom of the span whose top came last.
    bottom: Option<(i32, i32)>,
}

impl Iterator for SpanPoints<'_> {
    type Item = (i32, i32);

    fn next(&mut self) -> Option<(i32, i32)> {
        if let Some(p) = self.bottom.take() {
            return Some(p);
        }
        let s = self.spans.next()?;
        let x = s.x - self.base.0;
        self.bottom = Some((x, s.bottom - self.base.1));
        Some((x, s.top - self.base.1))
    }
}

impl<DB: DrawingBackend> plotters::element::Drawable<DB> for Spans<'_> {
    /// Pairs of points as [`Rectangle`]'s `draw` takes them (corners ordered, no margin).
    fn draw<I: Iterator<Item = (i32, i32)>>(
        &self,
        mut points: I,
        backend: &mut DB,
        _: (u32, u32),
    ) -> Result<(), plotters_backend::DrawingErrorKind<DB::ErrorType>> {
        while let (Some(a), Some(b)) = (points.next(), points.next()) {
            let (a, b) = ((a.0.min(b.0), a.1.min(b.1)), (a.0.max(b.0), a.1.max(b.1)));
            backend.draw_rect(a, b, &self.style, self.style.filled)?;
        }
        Ok(())
    }
}

/// `a` blended toward `b` by `f` (0 = a, 1 = b).
pub fn tint(a: RGBColor, b: RGBColor, f: f64) -> RGBColor {
    let mix = |x: u8, y: u8| (f64::from(x) * (1.0 - f) + f64::from(y) * f).round() as u8;
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

/// "95th", "99.9th", "1st", "2nd", "3rd", "11th".
pub fn ordinal(p: f64) -> String {
    let text = format!("{p}");
    let suffix = if p.fract() != 0.0 {
        "th"
    } else {
        let n = p as i64;
        match (n % 10, n % 100) {
            (_, 11..=13) => "th",
            (1, _) => "st",
            (2, _) => "nd",
            (3, _) => "rd",
            _ => "th",
        }
    };
    format!("{text}{suffix}")
}

fn percentile_basis(of: &str) -> &str {
    match of {
        "max" => "max of in/out",
        "sum" => "sum of in+out",
        "receive" => "in",
        "transmit" => "out",
        other => other,
    }
}

/// Label and value text of one legend figure.
type Cell = (&'static str, String);

fn figures(s: Option<&SeriesStats>, suffix: &str) -> Vec<Cell> {
    let f = |v: Option<f64>| si_or_dash(v, suffix);
    let b = |v: Option<f64>| si_or_dash(v, "B");
    vec![
        ("Max:", f(s.map(|s| s.max))),
        ("Avg:", f(s.map(|s| s.avg))),
        ("Min:", f(s.map(|s| s.min))),
        ("Last:", f(s.map(|s| s.last))),
        ("Total:", b(s.map(|s| s.total_bytes))),
    ]
}

/// A legend figure: `v` in SI units of `suffix`, or `-` when unknown.
fn si_or_dash(v: Option<f64>, suffix: &str) -> String {
    v.map_or_else(|| "-".to_string(), |v| units::format_si(v, suffix))
}

/// The vertical centre of legend line `row` (from 0).
fn legend_row_y(lay: &Layout, row: usize) -> i32 {
    lay.line_h * row as i32 + lay.line_h / 2 + lay.pad / 4
}

/// The width of the widest of `texts` in `style`.
fn widest<'a, DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    texts: impl IntoIterator<Item = &'a str>,
    style: &TextStyle,
) -> Result<i32, RenderError> {
    let mut w = 0;
    for text in texts {
        w = w.max(text_width(area, text, style)?);
    }
    Ok(w)
}

/// The legend's last line: the percentile's swatch at `x0`, then `text` after `gap`.
fn draw_percentile_line<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    pal: &Palette,
    style: &TextStyle,
    (x0, cy): (i32, i32),
    swatch: i32,
    gap: i32,
    text: &str,
) -> Result<(), RenderError> {
    draw_swatch(area, Mark::Line, pal.percentile, (x0, cy), swatch)?;
    area.draw_text(text, style, (x0 + swatch + gap, cy))
        .map_err(draw_err)
}

/// Legend lines the series take: one per series, or one per IP for per-IP series.
fn legend_rows(plotted: &[Plotted]) -> usize {
    let mut ips: Vec<&str> = Vec::new();
    for p in plotted {
        if !p.series.label.is_empty() && !ips.contains(&p.series.label.as_str()) {
            ips.push(&p.series.label);
        }
    }
    if ips.is_empty() {
        plotted.len()
    } else {
        ips.len()
    }
}

/// The per-IP legend: one line per IP in its colour (receive solid, transmit darker), with
/// each direction's maximum and average, then the percentile, which is of all IPs summed
/// (what the server is billed on), as the line says.
fn draw_ip_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    traffic: &Traffic,
    plotted: &[Plotted],
    stats: &Stats,
    pal: &Palette,
    lay: &Layout,
    suffix: &str,
) -> Result<(), RenderError> {
    let fs = lay.fs;
    let left = text_style(fs, pal.text, HPos::Left, VPos::Center);
    let swatch = px(fs * 1.1);
    let gap = px(fs * 0.5);
    let col_gap = px(fs * 1.4);
    let x0 = lay.pad + px(fs * 0.5);
    let end = area.dim_in_pixel().0 as i32 - lay.pad;
    let ips: Vec<&str> = ip_labels(traffic)
        .into_iter()
        .filter(|ip| plotted.iter().any(|p| p.series.label == *ip))
        .collect();
    let name_w = widest(area, ips.iter().copied(), &left)?;
    let f = |v: Option<f64>| si_or_dash(v, suffix);
    for (row, ip) in ips.iter().enumerate() {
        let cy = legend_row_y(lay, row);
        let mut x = x0;
        for scope in [Scope::Receive, Scope::Transmit, Scope::Total] {
            if let Some(p) = plotted
                .iter()
                .find(|p| p.series.label == *ip && p.series.scope == scope)
            {
                draw_swatch(area, p.mark, p.color, (x, cy), swatch)?;
                x += swatch + gap / 2;
            }
        }
        x = x0 + 2 * (swatch + gap / 2) + gap;
        area.draw_text(ip, &left, (x, cy)).map_err(draw_err)?;
        x += name_w;
        for p in plotted.iter().filter(|p| p.series.label == *ip) {
            let dir = match p.series.scope {
                Scope::Receive => "In",
                Scope::Transmit => "Out",
                Scope::Total => "Total",
            };
            let text = format!(
                "{dir} max: {}  avg: {}",
                f(p.stats.map(|s| s.max)),
                f(p.stats.map(|s| s.avg))
            );
            let w = text_width(area, &text, &left)?;
            if x + col_gap + w > end {
                break;
            }
            x += col_gap;
            area.draw_text(&text, &left, (x, cy)).map_err(draw_err)?;
            x += w;
        }
    }
    if let Some(pct) = &stats.percentile {
        let text = format!(
            "{} percentile ({}, all {} IPs summed): {}",
            ordinal(pct.p),
            percentile_basis(&pct.of),
            ips.len(),
            units::format_si(pct.value, suffix)
        );
        let at = (x0, legend_row_y(lay, ips.len()));
        draw_percentile_line(area, pal, &left, at, swatch, gap, &text)?;
    }
    Ok(())
}

/// One line for a short graph: each series' swatch and name, then the percentile's value.
fn draw_compact_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    plotted: &[Plotted],
    stats: &Stats,
    pal: &Palette,
    lay: &Layout,
    suffix: &str,
) -> Result<(), RenderError> {
    let fs = lay.fs;
    let left = text_style(fs, pal.text, HPos::Left, VPos::Center);
    let swatch = px(fs * 1.1);
    let gap = px(fs * 0.4);
    let item_gap = px(fs * 1.0);
    let cy = legend_row_y(lay, 0);
    let end = area.dim_in_pixel().0 as i32 - lay.pad;
    let mut x = lay.pad + px(fs * 0.5);
    let mut items: Vec<(Mark, RGBColor, String)> = plotted
        .iter()
        .map(|p| (p.mark, p.color, p.title.clone()))
        .collect();
    if let Some(pct) = &stats.percentile {
        items.push((
            Mark::Line,
            pal.percentile,
            format!(
                "{}: {}",
                ordinal(pct.p),
                units::format_si(pct.value, suffix)
            ),
        ));
    }
    for (mark, color, text) in items {
        let w = swatch + gap + text_width(area, &text, &left)?;
        if x + w > end {
            // Say that more series were left out rather than end as if there were none.
            area.draw_text("…", &left, (x, cy)).map_err(draw_err)?;
            break;
        }
        draw_swatch(area, mark, color, (x, cy), swatch)?;
        area.draw_text(&text, &left, (x + swatch + gap, cy))
            .map_err(draw_err)?;
        x += w + item_gap;
    }
    Ok(())
}

fn draw_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    plotted: &[Plotted],
    stats: &Stats,
    pal: &Palette,
    lay: &Layout,
    suffix: &str,
) -> Result<(), RenderError> {
    let fs = lay.fs;
    let left = text_style(fs, pal.text, HPos::Left, VPos::Center);
    let right = text_style(fs, pal.text, HPos::Right, VPos::Center);
    let swatch = px(fs * 1.1);
    let gap = px(fs * 0.6);
    let col_gap = px(fs * 1.4);
    let rows: Vec<Vec<Cell>> = plotted.iter().map(|p| figures(p.stats, suffix)).collect();
    let name_w = widest(area, plotted.iter().map(|p| p.title.as_str()), &left)?;
    // Per column: widest label and widest value.
    let n_cols = rows.first().map_or(0, Vec::len);
    let mut cols = vec![(0, 0); n_cols];
    for row in &rows {
        for (c, (label, value)) in row.iter().enumerate() {
            cols[c].0 = cols[c].0.max(text_width(area, label, &left)?);
            cols[c].1 = cols[c].1.max(text_width(area, value, &left)?);
        }
    }
    let x0 = lay.pad + px(fs * 0.5);
    let avail = area.dim_in_pixel().0 as i32 - x0 - lay.pad;
    let space = px(fs * 0.35);
    let width_of = |n: usize| -> i32 {
        swatch
            + gap
            + name_w
            + cols[..n]
                .iter()
                .map(|c| col_gap + c.0 + space + c.1)
                .sum::<i32>()
    };
    // Narrow graphs drop trailing figures (Total, Last, Min) rather than overlap.
    let mut shown = n_cols;
    while shown > 2 && width_of(shown) > avail {
        shown -= 1;
    }
    for (i, (p, row)) in plotted.iter().zip(&rows).enumerate() {
        let cy = legend_row_y(lay, i);
        draw_swatch(area, p.mark, p.color, (x0, cy), swatch)?;
        let mut x = x0 + swatch + gap;
        area.draw_text(&p.title, &left, (x, cy)).map_err(draw_err)?;
        x += name_w;
        for (c, (label, value)) in row.iter().take(shown).enumerate() {
            x += col_gap;
            area.draw_text(label, &left, (x, cy)).map_err(draw_err)?;
            x += cols[c].0 + space + cols[c].1;
            area.draw_text(value, &right, (x, cy)).map_err(draw_err)?;
        }
    }
    if let Some(pct) = &stats.percentile {
        let text = format!(
            "{} percentile ({}): {}",
            ordinal(pct.p),
            percentile_basis(&pct.of),
            units::format_si(pct.value, suffix)
        );
        let at = (x0, legend_row_y(lay, plotted.len()));
        draw_percentile_line(area, pal, &left, at, swatch, gap, &text)?;
    }
    Ok(())
}

fn draw_swatch<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    mark: Mark,
    color: RGBColor,
    (x, cy): (i32, i32),
    size: i32,
) -> Result<(), RenderError> {
    let half = size * 4 / 10;
    match mark {
        Mark::Area => area.draw(&Rectangle::new(
            [(x, cy - half), (x + size - 1, cy + half)],
            color.filled(),
        )),
        Mark::Line => area.draw(&Rectangle::new(
            [(x, cy - 1), (x + size - 1, cy)],
            color.filled(),
        )),
    }
    .map_err(draw_err)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The one-element [`Spans`] paints what one filled [`Rectangle`] per span did, on a
    /// shifted sub-area with spans reaching past its edges (clipped the same way) and
    /// reversed or one-row spans.
    #[test]
    fn spans_element_paints_what_rectangles_did() {
        use crate::render::backend::SkiaBackend;
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = |m: i32| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x % m as u64) as i32
        };
        let spans: Vec<decimate::Span> = (0..400)
            .map(|_| decimate::Span {
                x: next(140) - 10,
                top: next(100) - 20,
                bottom: next(100) - 20,
            })
            .collect();
        let color = RGBColor(0, 204, 0);
        let paint = |one_element: bool| {
            let mut pixmap = tiny_skia::Pixmap::new(120, 80).unwrap();
            {
                let root = SkiaBackend::new(&mut pixmap).into_drawing_area();
                root.fill(&WHITE).unwrap();
                let area = root.margin(7, 5, 11, 3);
                let base = area.get_base_pixel();
                if one_element {
                    area.draw(&Spans {
                        spans: &spans,
                        base,
                        style: color.filled(),
                    })
                    .unwrap();
                } else {
                    for s in &spans {
                        let (x, top, bottom) = (s.x - base.0, s.top - base.1, s.bottom - base.1);
                        area.draw(&Rectangle::new([(x, top), (x, bottom)], color.filled()))
                            .unwrap();
                    }
                }
            }
            pixmap.data().to_vec()
        };
        assert_eq!(paint(true), paint(false));
    }

    fn series(scope: Scope, label: &str) -> Series {
        let t = chrono::DateTime::from_timestamp(1_430_784_000, 0).unwrap();
        let mut s = Series::new(
            scope,
            vec![crate::model::Point {
                time: t,
                value: 1.0,
                count: None,
            }],
        );
        s.label = label.into();
        s
    }

    fn marks(traffic: &Traffic) -> Vec<(Scope, Mark, RGBColor)> {
        let opts = RenderOptions::default();
        let stats = stats::compute(traffic, &opts.stats);
        plan(traffic, &stats, &opts)
            .iter()
            .map(|p| (p.series.scope, p.mark, p.color))
            .collect()
    }

    #[test]
    fn receive_area_transmit_line_lone_series_area_per_ip_lines() {
        let pal = palette(Theme::Light);
        let t = Traffic::new(vec![
            series(Scope::Transmit, ""),
            series(Scope::Receive, ""),
        ]);
        assert_eq!(
            marks(&t),
            vec![
                (Scope::Receive, Mark::Area, pal.receive),
                (Scope::Transmit, Mark::Line, pal.transmit)
            ]
        );
        let t = Traffic::new(vec![series(Scope::Transmit, "")]);
        assert_eq!(marks(&t), vec![(Scope::Transmit, Mark::Area, pal.transmit)]);
        let t = Traffic::new(vec![
            series(Scope::Receive, "10.0.0.1"),
            series(Scope::Receive, "10.0.0.2"),
        ]);
        let m = marks(&t);
        assert!(m.iter().all(|x| x.1 == Mark::Line));
        assert_ne!(m[0].2, m[1].2, "distinct colours");
    }

    #[test]
    fn peak_from_the_figures_equals_a_scan_of_the_samples() {
        let t0 = chrono::DateTime::from_timestamp(1_430_784_000, 0).unwrap();
        let pts = |k: u32| -> Vec<crate::model::Point> {
            (0..5000)
                .map(|i| crate::model::Point {
                    time: t0 + chrono::Duration::hours(i64::from(i)),
                    value: f64::from((i * k) % 7919) * 1.25,
                    count: None,
                })
                .collect()
        };
        let mut rx = Series::new(Scope::Receive, pts(104_729));
        rx.remove_range(10..300);
        let traffic = Traffic::new(vec![rx, Series::new(Scope::Transmit, pts(7))]);
        let opts = RenderOptions::default();
        let stats = stats::compute(&traffic, &opts.stats);
        for p in plan(&traffic, &stats, &opts) {
            let from_stats = series_max(&p);
            assert!(from_stats > 0.0);
            assert_eq!(from_stats, series_max(&Plotted { stats: None, ..p }));
        }
    }

    #[test]
    fn ordinals() {
        assert_eq!(ordinal(95.0), "95th");
        assert_eq!(ordinal(99.9), "99.9th");
        assert_eq!(ordinal(1.0), "1st");
        assert_eq!(ordinal(2.0), "2nd");
        assert_eq!(ordinal(13.0), "13th");
        assert_eq!(ordinal(33.0), "33rd");
    }
}
