//! A plotters [`DrawingBackend`] over a tiny-skia pixmap, so plotters stays the charting
//! layer while lines and area edges get anti-aliasing (plotters' bitmap backend has none).
//!
//! - Axis-aligned lines and rectangles (background, grid, axes, swatches) are filled as
//!   pixel-aligned rectangles without anti-aliasing: crisp, and much cheaper than AA fills.
//! - Paths (series lines, area edges) are anti-aliased. 1 px lines, all the chart draws,
//!   go through `SkiaBackend::hairline` (Xiaolin Wu's algorithm straight into the
//!   pixmap); wider ones through tiny-skia's stroker. Plotters hands over integer pixel
//!   coordinates meaning pixel *centres*, so tiny-skia paths get +0.5 px per vertex: a
//!   1 px line along a row then covers exactly that row instead of half of two.
//! - Polygons are filled *without* anti-aliasing: the chart strokes every area's top edge
//!   with an anti-aliased line of the same colour, which hides the stair-steps, and
//!   supersampled polygon filling was the most expensive part of a frame.
//! - Text goes through our own glyph cache ([`super::text`]).
//!
//! The pixmap is premultiplied RGBA; the chart paints an opaque background first, so every
//! pixel ends with alpha 255 and the premultiplied RGB *is* the colour: [`into_rgb`] drops
//! alpha.

use std::cell::Cell;

use plotters_backend::text_anchor::{HPos, VPos};
use plotters_backend::{
    BackendColor, BackendCoord, BackendStyle, BackendTextStyle, DrawingBackend, DrawingErrorKind,
};
use tiny_skia::{
    FillRule, LineCap, LineJoin, Paint, PathBuilder, Pixmap, PremultipliedColorU8, Stroke,
    Transform,
};

use super::text;

/// Never produced; the trait wants an error type.
#[derive(Debug, thiserror::Error)]
#[error("tiny-skia backend error")]
pub struct BackendError;

type Result<T = ()> = std::result::Result<T, DrawingErrorKind<BackendError>>;

/// Draws into a borrowed pixmap (so the caller keeps it after plotters drops the backend).
pub struct SkiaBackend<'a> {
    pixmap: &'a mut Pixmap,
    /// Per-pixel coverage of the hairline being drawn (zero between lines) and the pixels
    /// it touched: scratch space, allocated on the first hairline.
    coverage: Vec<u8>,
    touched: Vec<u32>,
}

thread_local! {
    /// The hairline scratch space of this thread's last backend (`coverage` all zero), so
    /// each frame does not allocate and clear its own.
    static SCRATCH: Cell<(Vec<u8>, Vec<u32>)> = const { Cell::new((Vec::new(), Vec::new())) };
}

impl<'a> SkiaBackend<'a> {
    pub fn new(pixmap: &'a mut Pixmap) -> SkiaBackend<'a> {
        let (coverage, touched) = SCRATCH.take();
        SkiaBackend {
            pixmap,
            coverage,
            touched,
        }
    }

    /// Source-over of `color` at `coverage` (0-255) onto one pixel, in integer arithmetic
    /// rounded to nearest (every pixel is opaque, see the module docs).
    #[inline]
    fn blend(&mut self, (x, y): BackendCoord, color: BackendColor, coverage: u8) {
        let (w, h) = (self.pixmap.width() as i32, self.pixmap.height() as i32);
        if x < 0 || y < 0 || x >= w || y >= h {
            return;
        }
        let a = alpha(color, coverage);
        if a == 0 {
            return;
        }
        let i = (y * w + x) as usize * 4;
        over(&mut self.pixmap.data_mut()[i..i + 4], color.rgb, a);
    }

    /// An anti-aliased 1 px polyline through pixel centres (Xiaolin Wu's algorithm: each
    /// step along the major axis covers the two pixels the line passes between, in
    /// proportion to its distance from each). Coverage is rounded to sixteenths: the eye
    /// cannot tell, and a chart then has a few dozen edge colours instead of hundreds, so
    /// its palette PNG stays exact. The whole polyline's coverage is gathered first (the
    /// maximum where segments meet or cross) and composited once, so joins and crossings
    /// are not darkened by a second pass. tiny-skia's hairline does the same geometry
    /// through its raster pipeline per pixel pair, segment by segment, which made the
    /// series lines the costliest part of a 500-point graph.
    fn hairline(&mut self, points: &[BackendCoord], color: BackendColor) {
        let (w, h) = (self.pixmap.width() as i32, self.pixmap.height() as i32);
        let size = (w * h) as usize;
        if self.coverage.len() != size {
            self.coverage = vec![0; size];
        }
        let (coverage, touched) = (&mut self.coverage, &mut self.touched);
        touched.clear();
        let cover = |coverage: &mut [u8], touched: &mut Vec<u32>, x: i32, y: i32, c: u8| {
            if x < 0 || y < 0 || x >= w || y >= h || c == 0 {
                return;
            }
            cover_at(coverage, touched, (y * w + x) as usize, c);
        };
        if let Some(&(x, y)) = points.first() {
            cover(coverage, touched, x, y, 255);
        }
        for seg in points.windows(2) {
            let Some(mut steps) = Steps::of(seg, w, h) else {
                continue;
            };
            let x_major = steps.x_major;
            // A step's two pixels are `near` at `major * along + cell * across` and `far`
            // one `across` further; where both are on the pixmap (nearly every step) they
            // are covered without `cover`'s four bounds tests.
            let (cells, along, across) = if x_major {
                (i64::from(h), 1, i64::from(w))
            } else {
                (i64::from(w), i64::from(w), 1)
            };
            while let Some((major, sixteenths)) = steps.next_step() {
                let (cell, frac) = (sixteenths >> 4, sixteenths & 15);
                let near = (255 * (16 - frac) / 16) as u8;
                let far = (255 * frac / 16) as u8;
                if (0..cells - 1).contains(&cell) {
                    // `major` is on the pixmap (`first..=last`), `near` at least 15.
                    let i = (major * along + cell * across) as usize;
                    cover_at(coverage, touched, i, near);
                    if far != 0 {
                        cover_at(coverage, touched, i + across as usize, far);
                    }
                    continue;
                }
                let clip = |v: i64| v.clamp(-1, i64::from(w.max(h))) as i32;
                let (major, cell) = (clip(major), clip(cell));
                if x_major {
                    cover(coverage, touched, major, cell, near);
                    cover(coverage, touched, major, cell.saturating_add(1), far);
                } else {
                    cover(coverage, touched, cell, major, near);
                    cover(coverage, touched, cell.saturating_add(1), major, far);
                }
            }
        }
        let data = self.pixmap.data_mut();
        let opaque = color.alpha >= 1.0;
        let mut take = |i: u32| {
            let c = std::mem::take(&mut self.coverage[i as usize]);
            (
                if opaque { c } else { alpha(color, c) as u8 },
                4 * i as usize,
            )
        };
        let (r, g, b) = color.rgb;
        // Two pixels a blend (each touched pixel is listed once, so the two differ).
        let mut pairs = self.touched.chunks_exact(2);
        for pair in &mut pairs {
            let ((a0, i0), (a1, i1)) = (take(pair[0]), take(pair[1]));
            let p0 = u32::from_le_bytes(data[i0..i0 + 4].try_into().expect("4 bytes"));
            let p1 = u32::from_le_bytes(data[i1..i1 + 4].try_into().expect("4 bytes"));
            let both = over_pair(u64::from(p0) | u64::from(p1) << 32, a0, a1, [r, g, b, 255]);
            data[i0..i0 + 4].copy_from_slice(&(both as u32).to_le_bytes());
            data[i1..i1 + 4].copy_from_slice(&((both >> 32) as u32).to_le_bytes());
        }
        for &i in pairs.remainder() {
            let (a, i) = take(i);
            over(&mut data[i..i + 4], color.rgb, u32::from(a));
        }
    }

    /// [`Self::hairline`] as first written (every pixel of a step through the bounds-checked
    /// `cover`, each pixel blended alone), kept as the oracle of its proptest. The two share
    /// the segments' geometry ([`Steps`]); what differs is how a step's pixels are covered
    /// and blended.
    #[cfg(test)]
    fn hairline_reference(&mut self, points: &[BackendCoord], color: BackendColor) {
        let (w, h) = (self.pixmap.width() as i32, self.pixmap.height() as i32);
        let size = (w * h) as usize;
        if self.coverage.len() != size {
            self.coverage = vec![0; size];
        }
        let (coverage, touched) = (&mut self.coverage, &mut self.touched);
        touched.clear();
        let mut cover = |x: i32, y: i32, c: u8| {
            if x < 0 || y < 0 || x >= w || y >= h || c == 0 {
                return;
            }
            let i = (y * w + x) as usize;
            let old = coverage[i];
            if old == 0 {
                touched.push(i as u32);
            }
            coverage[i] = old.max(c);
        };
        if let Some(&(x, y)) = points.first() {
            cover(x, y, 255);
        }
        for seg in points.windows(2) {
            let Some(mut steps) = Steps::of(seg, w, h) else {
                continue;
            };
            let x_major = steps.x_major;
            while let Some((major, sixteenths)) = steps.next_step() {
                let (cell, frac) = (sixteenths >> 4, sixteenths & 15);
                let near = (255 * (16 - frac) / 16) as u8;
                let far = (255 * frac / 16) as u8;
                let clip = |v: i64| v.clamp(-1, i64::from(w.max(h))) as i32;
                let (major, cell) = (clip(major), clip(cell));
                if x_major {
                    cover(major, cell, near);
                    cover(major, cell.saturating_add(1), far);
                } else {
                    cover(cell, major, near);
                    cover(cell.saturating_add(1), major, far);
                }
            }
        }
        let data = self.pixmap.data_mut();
        for &i in self.touched.iter() {
            let a = alpha(color, std::mem::take(&mut self.coverage[i as usize]));
            let i = 4 * i as usize;
            over(&mut data[i..i + 4], color.rgb, a);
        }
    }

    /// A closed polygon through the pixel centres of `points`, filled by tiny-skia (winding
    /// rule, no anti-aliasing).
    fn fill_skia(&mut self, points: &[BackendCoord], color: BackendColor) {
        if let Some(p) = path_through(points.iter().copied(), true) {
            self.pixmap.fill_path(
                &p,
                &paint(color, false),
                FillRule::Winding,
                Transform::identity(),
                None,
            );
        }
    }

    /// [`Self::fill_skia`] for an opaque colour and vertices all on the pixmap (the area
    /// under a series): the same pixels, without tiny-skia's edge list (a stable sort of
    /// its edges, a linked list, a raster pipeline call per span). `false`, having drawn
    /// nothing, for any other polygon.
    ///
    /// tiny-skia's scan converter (`scan::path`, unclipped when the path's bounds are
    /// inside the pixmap) makes each edge that spans rows a 16.16 fixed-point `x` at its
    /// first row, stepped by a fixed slope each row, and walks each row's edges in `x`
    /// order: a span starts at the rounded `x` of the edge where the winding count leaves
    /// zero and ends before the rounded `x` where it returns to zero. As the rounded `x`s
    /// come in the same order, pixel `c` of a row is filled exactly when the windings of
    /// the edges whose rounded `x` is at most `c` do not sum to zero, whatever the order of
    /// edges with equal `x`. So each row's crossings are gathered, sorted by rounded `x`
    /// alone, and swept. (Its joining of vertical edges at one `x` keeps those sums.)
    fn fill_inside(&mut self, points: &[BackendCoord], color: BackendColor) -> bool {
        let (w, h) = (self.pixmap.width() as i32, self.pixmap.height() as i32);
        let opaque = (color.alpha.clamp(0.0, 1.0) * 255.0).round() as u8 == 255;
        if !opaque
            || points
                .iter()
                .any(|&(x, y)| !(0..w).contains(&x) || !(0..h).contains(&y))
        {
            return false;
        }
        let (Some(&first), Some(&last)) = (points.first(), points.last()) else {
            return true;
        };
        let flat = |f: fn(&BackendCoord) -> i32| {
            let v = f(&first);
            points.iter().all(|p| f(p) == v)
        };
        if flat(|p| p.0) || flat(|p| p.1) {
            // tiny-skia fills nothing of zero width or height.
            return true;
        }
        let edges: Vec<FillEdge> = points
            .windows(2)
            .map(|s| (s[0], s[1]))
            .chain([(last, first)])
            .filter_map(|(a, b)| FillEdge::new(a, b))
            .collect();
        let (r, g, b) = color.rgb;
        let px = PremultipliedColorU8::from_rgba(r, g, b, 255).expect("opaque is valid");
        scan_fill(edges, w, self.pixmap.pixels_mut(), px);
        true
    }

    /// Blends the glyphs of `s` (see [`text::draw_rows`]) in `color`, a glyph row at a
    /// time: each row clipped to the pixmap once, then every pixel of it blended, blank
    /// ones too (source-over at alpha 0 leaves a pixel exactly as it is, so no test of
    /// the coverage, whose pattern the branch predictor cannot learn, and the row's loop
    /// has no branch). The same pixels as [`Self::text_pixels`], the way it was drawn
    /// before.
    fn text_rows(&mut self, s: &str, size: f32, x: f32, baseline: i32, color: BackendColor) {
        let (w, h) = (self.pixmap.width() as i32, self.pixmap.height() as i32);
        // Alpha of each coverage (`alpha`): the coverage itself for an opaque colour (most
        // text), else a table made once.
        let opaque = color.alpha >= 1.0;
        let table: Option<[u8; 256]> =
            (!opaque).then(|| std::array::from_fn(|c| alpha(color, c as u8) as u8));
        let (r, g, b) = color.rgb;
        let data = self.pixmap.data_mut();
        text::draw_rows(s, size, x, baseline, |x0, y, row| {
            if y < 0 || y >= h || x0 >= w {
                return;
            }
            // Pixels `x0 + skip ..` up to the right edge.
            let skip = (-x0).max(0) as usize;
            if skip >= row.len() {
                return;
            }
            let first = x0.max(0);
            let take = (row.len() - skip).min((w - first) as usize);
            let at = 4 * (y * w + first) as usize;
            let (pixels, coverage) = (&mut data[at..at + 4 * take], &row[skip..skip + take]);
            match &table {
                None => blend_row(pixels, coverage, |c| c, [r, g, b, 255]),
                Some(t) => blend_row(pixels, coverage, |c| t[usize::from(c)], [r, g, b, 255]),
            }
        });
    }

    /// [`Self::text_rows`] as first written, one [`Self::blend`] a pixel: its test oracle.
    #[cfg(test)]
    fn text_pixels(&mut self, s: &str, size: f32, x: f32, baseline: i32, color: BackendColor) {
        text::draw(s, size, x, baseline, |x, y, c| {
            self.blend((x, y), color, c);
        });
    }

    /// Fills pixels `x0..x1` × `y0..y1` (clipped) without anti-aliasing. Written directly
    /// rather than through tiny-skia: a pipeline per grid line or per decimated column
    /// costs more than the pixels.
    fn fill_rect(&mut self, x0: i32, y0: i32, x1: i32, y1: i32, color: BackendColor) {
        let (w, h) = (self.pixmap.width() as i32, self.pixmap.height() as i32);
        let (x0, x1) = (x0.clamp(0, w), x1.clamp(0, w));
        let (y0, y1) = (y0.clamp(0, h), y1.clamp(0, h));
        if x0 >= x1 || y0 >= y1 || color.alpha <= 0.0 {
            return;
        }
        if color.alpha < 1.0 {
            for y in y0..y1 {
                for x in x0..x1 {
                    self.blend((x, y), color, 255);
                }
            }
            return;
        }
        let (r, g, b) = color.rgb;
        let px = PremultipliedColorU8::from_rgba(r, g, b, 255).expect("opaque is valid");
        let pixels = self.pixmap.pixels_mut();
        if x1 - x0 == 1 {
            // A decimated column's span: one pixel per row, a row apart.
            let (start, end) = ((y0 * w + x0) as usize, ((y1 - 1) * w + x1) as usize);
            for p in pixels[start..end].iter_mut().step_by(w as usize) {
                *p = px;
            }
            return;
        }
        for y in y0..y1 {
            pixels[(y * w + x0) as usize..(y * w + x1) as usize].fill(px);
        }
    }
}

impl Drop for SkiaBackend<'_> {
    fn drop(&mut self) {
        // A hairline cut short by a panic may have left coverage behind; a huge frame's
        // scratch is not worth keeping.
        if !std::thread::panicking() && self.coverage.len() <= 1 << 22 {
            SCRATCH.set((
                std::mem::take(&mut self.coverage),
                std::mem::take(&mut self.touched),
            ));
        }
    }
}

/// One edge of a polygon through pixel centres as tiny-skia's non-anti-aliased scan
/// converter makes it (`LineEdge::new` with no shift): rows `first..=last`, the 16.16 `x`
/// at row `first` and its step a row.
#[derive(Debug, Clone, Copy, Default)]
struct FillEdge {
    first: i32,
    last: i32,
    x: i32,
    dx: i32,
    winding: i32,
}

impl FillEdge {
    /// The edge from pixel centre `a` to `b` (coordinates on a pixmap); `None` when it
    /// spans no row.
    fn new(a: BackendCoord, b: BackendCoord) -> Option<FillEdge> {
        // The centre in 26.6 fixed point: exactly tiny-skia's `(v as f32 + 0.5) * 64`.
        let dot6 = |v: i32| 64 * v + 32;
        let (mut x0, mut y0, mut x1, mut y1) = (dot6(a.0), dot6(a.1), dot6(b.0), dot6(b.1));
        let mut winding = 1;
        if y0 > y1 {
            (x0, x1, y0, y1) = (x1, x0, y1, y0);
            winding = -1;
        }
        let round = |v: i32| (v + 32) >> 6;
        let (top, bottom) = (round(y0), round(y1));
        if top == bottom {
            return None;
        }
        // fdot6::div: (dx << 16) / dy, clamped to i32 (the same as its i32 form when dx
        // fits i16).
        let slope = ((i64::from(x1 - x0) << 16) / i64::from(y1 - y0))
            .clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32;
        let dy = (top << 6) + 32 - y0;
        let x = (x0 + ((i64::from(slope) * i64::from(dy)) >> 16) as i32) << 10;
        Some(FillEdge {
            first: top,
            last: bottom - 1,
            x,
            dx: slope,
            winding,
        })
    }
}

/// Fills the rows `edges` cross (see [`SkiaBackend::fill_inside`]) in `pixels`, `w` a
/// row, with `px`. Every edge's pixels must be on the pixmap.
fn scan_fill(
    edges: Vec<FillEdge>,
    w: i32,
    pixels: &mut [PremultipliedColorU8],
    px: PremultipliedColorU8,
) {
    // By first row (a counting sort: rows are few, edges many).
    let rows = (pixels.len() / w.max(1) as usize) + 1;
    let mut at = vec![0u32; rows + 1];
    for e in &edges {
        at[e.first as usize + 1] += 1;
    }
    for r in 1..at.len() {
        at[r] += at[r - 1];
    }
    let mut sorted = vec![FillEdge::default(); edges.len()];
    for e in edges {
        let slot = &mut at[e.first as usize];
        sorted[*slot as usize] = e;
        *slot += 1;
    }
    let edges = sorted;
    let Some(mut y) = edges.first().map(|e| e.first) else {
        return;
    };
    // The edges crossing row `y`, kept in order of their rounded x (from row to row
    // that order barely changes, so an insertion sort is nearly free), and each one's
    // rounded x on the row.
    let mut active: Vec<(i32, FillEdge)> = Vec::with_capacity(edges.len());
    let mut next = 0;
    while next < edges.len() || !active.is_empty() {
        let step = |e: &mut FillEdge| {
            let x = (e.x + 0x8000) >> 16;
            e.x = e.x.wrapping_add(e.dx);
            x
        };
        for (x, e) in active.iter_mut() {
            *x = step(e);
        }
        for i in 1..active.len() {
            let mut j = i;
            while j > 0 && active[j - 1].0 > active[j].0 {
                active.swap(j - 1, j);
                j -= 1;
            }
        }
        // Edges starting on this row go straight to their place.
        while next < edges.len() && edges[next].first == y {
            let mut e = edges[next];
            let x = step(&mut e);
            active.insert(active.partition_point(|a| a.0 <= x), (x, e));
            next += 1;
        }
        let row = &mut pixels[(y * w) as usize..((y + 1) * w) as usize];
        let (mut sum, mut left) = (0, 0);
        for &(x, ref e) in &active {
            if sum == 0 {
                left = x;
            }
            sum += e.winding;
            if sum == 0 && x > left {
                row[left as usize..x as usize].fill(px);
            }
        }
        if sum != 0 && w > left {
            row[left as usize..].fill(px);
        }
        active.retain(|(_, e)| e.last > y);
        y += 1;
        if active.is_empty() && next < edges.len() {
            y = edges[next].first;
        }
    }
}

/// Source-over of `color` onto each RGBA pixel of `pixels` at alpha `alpha(c)`, `c` its
/// byte of `coverage` (as [`over`]: `div255(s a + d (255 - a))` a channel, exact).
#[inline(always)]
fn blend_row(pixels: &mut [u8], coverage: &[u8], alpha: impl Fn(u8) -> u8, color: [u8; 4]) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{
            __m128i, _mm_add_epi16, _mm_loadl_epi64, _mm_mullo_epi16, _mm_packus_epi16,
            _mm_set1_epi16, _mm_set_epi16, _mm_set_epi64x, _mm_setzero_si128, _mm_srli_epi16,
            _mm_storel_epi64, _mm_sub_epi16, _mm_unpacklo_epi8,
        };
        let mut pairs = pixels.chunks_exact_mut(8);
        let mut cover = coverage.chunks_exact(2);
        let [r, g, b, a] = color.map(i16::from);
        // An alpha four times over, as the u16 lanes of one pixel.
        let lanes = |c: u8| i64::from(alpha(c)) * 0x0001_0001_0001_0001;
        // SAFETY: SSE2 is part of x86-64; the loads and stores are unaligned and 8 bytes
        // long, inside the 8-byte chunk `px`.
        unsafe {
            let zero = _mm_setzero_si128();
            let s = _mm_set_epi16(a, b, g, r, a, b, g, r);
            let full = _mm_set1_epi16(255);
            let half = _mm_set1_epi16(128);
            for (px, c) in (&mut pairs).zip(&mut cover) {
                let alpha: __m128i = _mm_set_epi64x(lanes(c[1]), lanes(c[0]));
                let d = _mm_unpacklo_epi8(_mm_loadl_epi64(px.as_ptr().cast()), zero);
                // s a + d (255 - a) <= 255 * 255, then rounded division by 255, in u16.
                let t = _mm_add_epi16(
                    _mm_add_epi16(
                        _mm_mullo_epi16(s, alpha),
                        _mm_mullo_epi16(d, _mm_sub_epi16(full, alpha)),
                    ),
                    half,
                );
                let q = _mm_srli_epi16(_mm_add_epi16(t, _mm_srli_epi16(t, 8)), 8);
                _mm_storel_epi64(px.as_mut_ptr().cast(), _mm_packus_epi16(q, q));
            }
        }
        let done = coverage.len() / 2 * 2;
        for (px, &c) in pixels[4 * done..]
            .chunks_exact_mut(4)
            .zip(&coverage[done..])
        {
            over(px, (color[0], color[1], color[2]), u32::from(alpha(c)));
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    for (px, &c) in pixels.chunks_exact_mut(4).zip(coverage) {
        over(px, (color[0], color[1], color[2]), u32::from(alpha(c)));
    }
}

/// [`over`] of `color` onto two RGBA pixels (`pixels`' low and high four bytes) at alphas
/// `a0` and `a1`, in one SSE2 step of u16 lanes (the same arithmetic and rounding).
#[inline(always)]
fn over_pair(pixels: u64, a0: u8, a1: u8, color: [u8; 4]) -> u64 {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{
            _mm_add_epi16, _mm_cvtsi128_si64, _mm_cvtsi64_si128, _mm_mullo_epi16, _mm_packus_epi16,
            _mm_set1_epi16, _mm_set_epi16, _mm_set_epi64x, _mm_setzero_si128, _mm_srli_epi16,
            _mm_sub_epi16, _mm_unpacklo_epi8,
        };
        let [r, g, b, a] = color.map(i16::from);
        let lanes = |a: u8| i64::from(a) * 0x0001_0001_0001_0001;
        // SAFETY: SSE2 is part of x86-64; register operations only.
        unsafe {
            let s = _mm_set_epi16(a, b, g, r, a, b, g, r);
            let alpha = _mm_set_epi64x(lanes(a1), lanes(a0));
            let d = _mm_unpacklo_epi8(_mm_cvtsi64_si128(pixels as i64), _mm_setzero_si128());
            // s a + d (255 - a) <= 255 * 255, then rounded division by 255, in u16.
            let t = _mm_add_epi16(
                _mm_add_epi16(
                    _mm_mullo_epi16(s, alpha),
                    _mm_mullo_epi16(d, _mm_sub_epi16(_mm_set1_epi16(255), alpha)),
                ),
                _mm_set1_epi16(128),
            );
            let q = _mm_srli_epi16(_mm_add_epi16(t, _mm_srli_epi16(t, 8)), 8);
            _mm_cvtsi128_si64(_mm_packus_epi16(q, q)) as u64
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let mut px = pixels.to_le_bytes();
        let rgb = (color[0], color[1], color[2]);
        over(&mut px[..4], rgb, u32::from(a0));
        over(&mut px[4..], rgb, u32::from(a1));
        u64::from_le_bytes(px)
    }
}

/// Raises pixel `i`'s hairline coverage to `c` (more than zero), listing it in `touched`
/// the first time.
#[inline(always)]
fn cover_at(coverage: &mut [u8], touched: &mut Vec<u32>, i: usize, c: u8) {
    let old = coverage[i];
    if old == 0 {
        touched.push(i as u32);
    }
    coverage[i] = old.max(c);
}

/// The steps of one segment of a hairline ([`SkiaBackend::hairline`]): one pixel along the
/// major axis per step (the start is the previous segment's end), and across it the exact
/// position rounded to sixteenths of a pixel.
struct Steps {
    x_major: bool,
    /// Major coordinate of step 0, and its direction.
    m0: i64,
    sign: i64,
    /// The next step, and the last one whose major coordinate is on the pixmap (a vertex
    /// far off it costs nothing).
    k: i64,
    last: i64,
    /// At step k, sixteenths = floor((32 (minor0 steps + k dminor) + steps) / (2 steps)),
    /// kept as quotient and remainder over `den` and advanced by a constant each step (no
    /// division in the loop).
    q: i64,
    r: i64,
    dq: i64,
    dr: i64,
    den: i64,
}

impl Steps {
    /// The steps of the segment `seg[0]..seg[1]` on a `w` x `h` pixmap; `None` when none of
    /// them is on it.
    #[inline]
    fn of(seg: &[BackendCoord], w: i32, h: i32) -> Option<Steps> {
        let ends = [seg[0].0, seg[0].1, seg[1].0, seg[1].1].map(i64::from);
        // Keep the products below i64 range: cut a wild segment to the pixmap first.
        let [x0, y0, x1, y1] = if ends.iter().any(|v| v.abs() > 1 << 24) {
            clip_segment(ends, w, h)?
        } else {
            ends
        };
        let (dx, dy) = (x1 - x0, y1 - y0);
        let steps = dx.abs().max(dy.abs());
        let x_major = dx.abs() >= dy.abs();
        let (m0, sign, size) = if x_major {
            (x0, dx.signum(), i64::from(w))
        } else {
            (y0, dy.signum(), i64::from(h))
        };
        let (first, last) = match sign {
            1 => (1.max(-m0), steps.min(size - 1 - m0)),
            _ => (1.max(m0 - (size - 1)), steps.min(m0)),
        };
        if first > last {
            return None;
        }
        let (minor0, dminor) = if x_major { (y0, dy) } else { (x0, dx) };
        let den = 2 * steps;
        let num = 32 * (minor0 * steps + first * dminor) + steps;
        Some(Steps {
            x_major,
            m0,
            sign,
            k: first,
            last,
            q: num.div_euclid(den),
            r: num.rem_euclid(den),
            dq: (32 * dminor).div_euclid(den),
            dr: (32 * dminor).rem_euclid(den),
            den,
        })
    }

    /// The next step's major coordinate and position across in sixteenths.
    #[inline(always)]
    fn next_step(&mut self) -> Option<(i64, i64)> {
        if self.k > self.last {
            return None;
        }
        let major = self.m0 + self.k * self.sign;
        let sixteenths = self.q;
        self.k += 1;
        (self.q, self.r) = (self.q + self.dq, self.r + self.dr);
        if self.r >= self.den {
            (self.q, self.r) = (self.q + 1, self.r - self.den);
        }
        Some((major, sixteenths))
    }
}

/// The part of segment `[x0, y0, x1, y1]` inside the pixmap's box grown by two pixels
/// (Liang-Barsky), endpoints rounded; `None` when it misses the box.
fn clip_segment(seg: [i64; 4], w: i32, h: i32) -> Option<[i64; 4]> {
    let [x0, y0, x1, y1] = seg.map(|v| v as f64);
    let (dx, dy) = (x1 - x0, y1 - y0);
    let (mut t0, mut t1) = (0.0f64, 1.0f64);
    let (lo, hi) = (-2.0, [f64::from(w) + 1.0, f64::from(h) + 1.0]);
    for (p, q) in [
        (-dx, x0 - lo),
        (dx, hi[0] - x0),
        (-dy, y0 - lo),
        (dy, hi[1] - y0),
    ] {
        if p == 0.0 {
            if q < 0.0 {
                return None;
            }
        } else {
            let r = q / p;
            if p < 0.0 {
                t0 = t0.max(r);
            } else {
                t1 = t1.min(r);
            }
        }
    }
    (t0 <= t1)
        .then(|| [x0 + t0 * dx, y0 + t0 * dy, x0 + t1 * dx, y0 + t1 * dy].map(|v| v.round() as i64))
}

/// `color`'s alpha times `coverage`, 0-255.
#[inline]
fn alpha(color: BackendColor, coverage: u8) -> u32 {
    if color.alpha >= 1.0 {
        u32::from(coverage)
    } else {
        let a = (color.alpha.max(0.0) * 255.0).round() as u32;
        u32::from(div255(a * u32::from(coverage)))
    }
}

/// Source-over of opaque `rgb` at alpha `a` (0-255) onto one RGBA pixel.
#[inline]
fn over(px: &mut [u8], (r, g, b): (u8, u8, u8), a: u32) {
    for (c, s) in px.iter_mut().zip([r, g, b, 255]) {
        *c = div255(u32::from(s) * a + u32::from(*c) * (255 - a));
    }
}

/// `x / 255` rounded to nearest, for `x <= 255 * 255`.
#[inline]
fn div255(x: u32) -> u8 {
    let x = x + 128;
    ((x + (x >> 8)) >> 8) as u8
}

fn paint(color: BackendColor, anti_alias: bool) -> Paint<'static> {
    let mut p = Paint::default();
    let (r, g, b) = color.rgb;
    p.set_color_rgba8(r, g, b, (color.alpha.clamp(0.0, 1.0) * 255.0).round() as u8);
    p.anti_alias = anti_alias;
    p
}

fn centre((x, y): BackendCoord) -> (f32, f32) {
    (x as f32 + 0.5, y as f32 + 0.5)
}

/// A path through pixel centres; `None` for fewer than two points.
fn path_through(
    points: impl IntoIterator<Item = BackendCoord>,
    close: bool,
) -> Option<tiny_skia::Path> {
    let mut pb = PathBuilder::new();
    for (i, p) in points.into_iter().enumerate() {
        let (x, y) = centre(p);
        if i == 0 {
            pb.move_to(x, y);
        } else {
            pb.line_to(x, y);
        }
    }
    if close {
        pb.close();
    }
    pb.finish()
}

impl DrawingBackend for SkiaBackend<'_> {
    type ErrorType = BackendError;

    fn get_size(&self) -> (u32, u32) {
        (self.pixmap.width(), self.pixmap.height())
    }

    fn ensure_prepared(&mut self) -> Result {
        Ok(())
    }

    fn present(&mut self) -> Result {
        Ok(())
    }

    fn draw_pixel(&mut self, point: BackendCoord, color: BackendColor) -> Result {
        self.blend(point, color, 255);
        Ok(())
    }

    fn draw_line<S: BackendStyle>(
        &mut self,
        from: BackendCoord,
        to: BackendCoord,
        style: &S,
    ) -> Result {
        let color = style.color();
        let w = style.stroke_width().max(1) as i32;
        if from.0 == to.0 || from.1 == to.1 {
            // Axis-aligned: a pixel-exact rectangle, no anti-aliasing.
            let (x0, x1) = (from.0.min(to.0), from.0.max(to.0) + 1);
            let (y0, y1) = (from.1.min(to.1), from.1.max(to.1) + 1);
            let (before, after) = ((w - 1) / 2, w / 2);
            if from.1 == to.1 {
                self.fill_rect(x0, y0 - before, x1, y1 + after, color);
            } else {
                self.fill_rect(x0 - before, y0, x1 + after, y1, color);
            }
            return Ok(());
        }
        self.draw_path([from, to], style)
    }

    fn draw_rect<S: BackendStyle>(
        &mut self,
        upper_left: BackendCoord,
        bottom_right: BackendCoord,
        style: &S,
        fill: bool,
    ) -> Result {
        let (x0, y0) = (
            upper_left.0.min(bottom_right.0),
            upper_left.1.min(bottom_right.1),
        );
        let (x1, y1) = (
            upper_left.0.max(bottom_right.0),
            upper_left.1.max(bottom_right.1),
        );
        if fill {
            self.fill_rect(x0, y0, x1 + 1, y1 + 1, style.color());
            return Ok(());
        }
        for (a, b) in [
            ((x0, y0), (x1, y0)),
            ((x1, y0), (x1, y1)),
            ((x0, y1), (x1, y1)),
            ((x0, y0), (x0, y1)),
        ] {
            self.draw_line(a, b, style)?;
        }
        Ok(())
    }

    /// One anti-aliased stroke for the whole polyline, so joins are joins, not overlaps.
    fn draw_path<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        path: I,
        style: &S,
    ) -> Result {
        let color = style.color();
        if color.alpha == 0.0 {
            return Ok(());
        }
        if style.stroke_width() <= 1 {
            let points: Vec<BackendCoord> = path.into_iter().collect();
            self.hairline(&points, color);
            return Ok(());
        }
        if let Some(p) = path_through(path, false) {
            let stroke = Stroke {
                width: style.stroke_width() as f32,
                line_cap: LineCap::Butt,
                line_join: LineJoin::Round,
                ..Stroke::default()
            };
            self.pixmap.stroke_path(
                &p,
                &paint(color, true),
                &stroke,
                Transform::identity(),
                None,
            );
        }
        Ok(())
    }

    fn fill_polygon<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        vert: I,
        style: &S,
    ) -> Result {
        let color = style.color();
        if color.alpha == 0.0 {
            return Ok(());
        }
        let points: Vec<BackendCoord> = vert.into_iter().collect();
        if !self.fill_inside(&points, color) {
            self.fill_skia(&points, color);
        }
        Ok(())
    }

    fn draw_text<T: BackendTextStyle>(&mut self, s: &str, style: &T, pos: BackendCoord) -> Result {
        let color = style.color();
        if color.alpha == 0.0 || s.is_empty() {
            return Ok(());
        }
        let size = style.size() as f32;
        let m = text::metrics(size);
        let width = text::width(s, size);
        let anchor = style.anchor();
        let dx = match anchor.h_pos {
            HPos::Left => 0.0,
            HPos::Right => -width,
            HPos::Center => -width / 2.0,
        };
        let baseline = pos.1 as f32
            + match anchor.v_pos {
                VPos::Top => m.ascent,
                VPos::Center => (m.ascent + m.descent) / 2.0,
                VPos::Bottom => m.descent,
            };
        let (x, baseline) = (pos.0 as f32 + dx, baseline.round() as i32);
        self.text_rows(s, size, x, baseline, color);
        Ok(())
    }

    fn estimate_text_size<T: BackendTextStyle>(&self, s: &str, style: &T) -> Result<(u32, u32)> {
        let size = style.size() as f32;
        let m = text::metrics(size);
        Ok((
            text::width(s, size).ceil() as u32,
            (m.ascent - m.descent).ceil() as u32,
        ))
    }
}

/// The pixmap's pixels as RGB (alpha dropped; see the module docs).
pub fn into_rgb(pixmap: &Pixmap) -> Vec<u8> {
    let data = pixmap.data();
    let mut rgb = vec![0u8; data.len() / 4 * 3];
    for (out, px) in rgb.chunks_exact_mut(3).zip(data.chunks_exact(4)) {
        out.copy_from_slice(&px[..3]);
    }
    rgb
}

#[cfg(test)]
mod tests {
    use super::*;
    use plotters::prelude::*;

    /// Draws with `f` on a white 20x20 pixmap and returns the RGB pixels.
    fn draw(f: impl FnOnce(&DrawingArea<SkiaBackend, plotters::coord::Shift>)) -> Vec<u8> {
        let mut pixmap = Pixmap::new(20, 20).unwrap();
        {
            let root = SkiaBackend::new(&mut pixmap).into_drawing_area();
            root.fill(&WHITE).unwrap();
            f(&root);
        }
        into_rgb(&pixmap)
    }

    fn px(rgb: &[u8], x: usize, y: usize) -> [u8; 3] {
        let i = (y * 20 + x) * 3;
        [rgb[i], rgb[i + 1], rgb[i + 2]]
    }

    #[test]
    fn one_pixel_lines_along_rows_are_crisp() {
        let rgb = draw(|a| {
            a.draw(&PathElement::new(vec![(2, 5), (17, 5)], BLUE))
                .unwrap();
        });
        for x in 3..17 {
            assert_eq!(px(&rgb, x, 5), [0, 0, 255], "full colour on its row");
            assert_eq!(px(&rgb, x, 4), [255, 255, 255], "nothing above");
            assert_eq!(px(&rgb, x, 6), [255, 255, 255], "nothing below");
        }
    }

    #[test]
    fn sloped_lines_are_anti_aliased() {
        let rgb = draw(|a| {
            a.draw(&PathElement::new(vec![(1, 2), (18, 9)], BLACK))
                .unwrap();
        });
        let partial = rgb
            .chunks_exact(3)
            .filter(|p| p[0] > 20 && p[0] < 235)
            .count();
        assert!(partial > 10, "{partial} partly covered pixels");
    }

    /// Ink (255 - red channel) of a black line on white.
    fn ink(rgb: &[u8], x: usize, y: usize) -> u32 {
        255 - u32::from(px(rgb, x, y)[0])
    }

    #[test]
    fn hairline_covers_one_pixel_per_step_in_sixteenths() {
        // Shallow (x-major), steep (y-major) and leftward/upward segments.
        for (from, to) in [((1, 2), (18, 9)), ((3, 1), (9, 18)), ((18, 17), (2, 4))] {
            let rgb = draw(|a| {
                a.draw(&PathElement::new(vec![from, to], BLACK)).unwrap();
            });
            let x_major = (to.0 - from.0).abs() >= (to.1 - from.1).abs();
            let (lo, hi) = if x_major {
                (from.0.min(to.0), from.0.max(to.0))
            } else {
                (from.1.min(to.1), from.1.max(to.1))
            };
            for m in lo..=hi {
                // Across the major axis the two pixels share one pixel's worth of ink.
                let total: u32 = (0..20)
                    .map(|n| {
                        let (x, y) = if x_major { (m, n) } else { (n, m) };
                        ink(&rgb, x as usize, y as usize)
                    })
                    .sum();
                assert!(
                    (254..=256).contains(&total),
                    "{from:?}->{to:?} at {m}: {total}"
                );
            }
            assert_eq!(
                ink(&rgb, from.0 as usize, from.1 as usize),
                255,
                "start exact"
            );
            assert_eq!(ink(&rgb, to.0 as usize, to.1 as usize), 255, "end exact");
            // Sixteenths: few distinct shades.
            let mut shades: Vec<u8> = rgb.chunks_exact(3).map(|p| p[0]).collect();
            shades.sort_unstable();
            shades.dedup();
            assert!(shades.len() <= 17, "{} shades", shades.len());
        }
    }

    #[test]
    fn hairline_clips_far_off_vertices() {
        // A segment from far outside (as a wild value could give) draws only its visible
        // part, quickly, and the same pixels as one that starts just off the edge.
        let far = draw(|a| {
            a.draw(&PathElement::new(
                vec![(-2_000_000_000, 10), (10, 10)],
                BLACK,
            ))
            .unwrap();
        });
        let near = draw(|a| {
            a.draw(&PathElement::new(vec![(-5, 10), (10, 10)], BLACK))
                .unwrap();
        });
        assert_eq!(far, near);
        assert_eq!(px(&far, 0, 10), [0, 0, 0]);
        let steep = draw(|a| {
            a.draw(&PathElement::new(
                vec![(3, i32::MAX / 2), (3, -(i32::MAX / 2))],
                BLACK,
            ))
            .unwrap();
        });
        assert!((0..20).all(|y| px(&steep, 3, y) == [0, 0, 0]));
        let wild = draw(|a| {
            a.draw(&PathElement::new(
                vec![
                    (i32::MIN / 2, i32::MAX / 2),
                    (i32::MAX / 2, i32::MIN / 2),
                    (-50, -50),
                ],
                BLACK,
            ))
            .unwrap();
        });
        // The diagonal crosses the pixmap; nothing panics or overflows.
        assert!(wild.chunks_exact(3).any(|p| p[0] < 128));
    }

    #[test]
    fn hairline_draws_a_joint_once() {
        // A 50% grey V: the shared vertex must not get two passes (it would be darker).
        // The crossing X below checks the same where a line crosses itself.
        let grey = RGBColor(0, 0, 0).mix(0.5);
        let rgb = draw(|a| {
            a.draw(&PathElement::new(vec![(2, 2), (10, 10), (18, 2)], grey))
                .unwrap();
        });
        assert_eq!(px(&rgb, 10, 10), px(&rgb, 2, 2));
        assert_eq!(
            px(&rgb, 10, 10),
            [127, 127, 127],
            "alpha 128 of black over white"
        );
        // An X drawn as one polyline: the crossing pixel is as dark as the rest, and no
        // pixel is darker than one pass.
        let rgb = draw(|a| {
            a.draw(&PathElement::new(
                vec![(2, 2), (18, 18), (18, 2), (2, 18)],
                grey,
            ))
            .unwrap();
        });
        assert_eq!(px(&rgb, 10, 10), [127, 127, 127]);
        assert!(rgb.iter().all(|&c| c >= 127), "a pixel got two passes");
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(400))]

        /// [`SkiaBackend::hairline`] paints exactly what [`SkiaBackend::hairline_reference`]
        /// does: polylines of any slope near and across the edges (and some far off, as
        /// wild values give), opaque and translucent, over a noisy opaque pixmap, one
        /// backend (and its scratch) for several lines as a chart uses it.
        #[test]
        fn hairline_is_hairline_reference(
            (w, h) in (1u32..40, 1u32..40),
            lines in proptest::collection::vec(
                (
                    proptest::collection::vec((-8i32..48, -8i32..48, 0u8..10), 0..12),
                    proptest::prelude::any::<(u8, u8, u8)>(),
                    0u8..4,
                ),
                1..4,
            ),
            seed in proptest::prelude::any::<u64>(),
        ) {
            let mut pixmaps = [Pixmap::new(w, h).unwrap(), Pixmap::new(w, h).unwrap()];
            let mut s = seed | 1;
            let noise: Vec<u8> = (0..w * h * 4)
                .map(|i| {
                    s ^= s << 13;
                    s ^= s >> 7;
                    s ^= s << 17;
                    if i % 4 == 3 { 255 } else { s as u8 }
                })
                .collect();
            for (k, pixmap) in pixmaps.iter_mut().enumerate() {
                pixmap.data_mut().copy_from_slice(&noise);
                let mut b = SkiaBackend::new(pixmap);
                for (points, rgb, alpha) in &lines {
                    // A vertex now and then far off the pixmap (0..7 keeps it near).
                    let points: Vec<BackendCoord> = points
                        .iter()
                        .map(|&(x, y, far)| match far {
                            8 => (x * 1_000_003, y),
                            9 => (x, y.saturating_mul(-70_000_001)),
                            _ => (x, y),
                        })
                        .collect();
                    let color = BackendColor {
                        alpha: [1.0, 0.5, 0.25, 0.9][usize::from(*alpha)],
                        rgb: *rgb,
                    };
                    if k == 0 {
                        b.hairline(&points, color);
                    } else {
                        b.hairline_reference(&points, color);
                    }
                }
            }
            proptest::prop_assert_eq!(pixmaps[0].data(), pixmaps[1].data());
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(600))]

        /// [`SkiaBackend::fill_inside`] fills exactly the pixels tiny-skia does: any
        /// polygons on the pixmap (self-crossing, repeated and collinear vertices, vertical
        /// and horizontal edges), and areas under a series (rising x down to a baseline).
        #[test]
        fn fill_inside_is_tiny_skia(
            (w, h) in (1u32..48, 1u32..48),
            polys in proptest::collection::vec(
                (proptest::collection::vec((0u32..1000, 0u32..1000), 0..24), proptest::prelude::any::<bool>()),
                1..4,
            ),
            rgb in proptest::prelude::any::<(u8, u8, u8)>(),
        ) {
            let mut pixmaps = [Pixmap::new(w, h).unwrap(), Pixmap::new(w, h).unwrap()];
            for (k, pixmap) in pixmaps.iter_mut().enumerate() {
                pixmap.fill(tiny_skia::Color::from_rgba8(9, 99, 199, 255));
                let mut b = SkiaBackend::new(pixmap);
                for (i, (raw, area)) in polys.iter().enumerate() {
                    let (w, h) = (w as i32, h as i32);
                    let mut points: Vec<BackendCoord> = if *area {
                        // x rising by 0-2 a vertex (as a series' means), then the baseline.
                        let mut x = (raw.first().map_or(0, |p| p.0) % w as u32) as i32;
                        let mut v: Vec<BackendCoord> = raw
                            .iter()
                            .map(|&(dx, y)| {
                                x = (x + (dx % 3) as i32).min(w - 1);
                                (x, (y % h as u32) as i32)
                            })
                            .collect();
                        if let (Some(f), Some(l)) = (v.first().copied(), v.last().copied()) {
                            v.insert(0, (f.0, h - 1));
                            v.push((l.0, h - 1));
                        }
                        v
                    } else {
                        raw.iter()
                            .map(|&(x, y)| ((x % w as u32) as i32, (y % h as u32) as i32))
                            .collect()
                    };
                    if i == 2 {
                        points.reverse();
                    }
                    let color = BackendColor { alpha: 1.0, rgb: (rgb.0, rgb.1 ^ i as u8, rgb.2) };
                    if k == 0 {
                        proptest::prop_assert!(b.fill_inside(&points, color));
                    } else {
                        b.fill_skia(&points, color);
                    }
                }
            }
            proptest::prop_assert_eq!(pixmaps[0].data(), pixmaps[1].data());
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(300))]

        /// [`SkiaBackend::text_rows`] paints what [`SkiaBackend::text_pixels`] does:
        /// text of any characters at any sizes and sub-pixel positions, partly or wholly
        /// off any edge, opaque and translucent.
        #[test]
        fn text_rows_is_text_pixels(
            (w, h) in (1u32..60, 1u32..40),
            texts in proptest::collection::vec(
                (
                    "[ -~äü°µ]{0,8}",
                    6.0f32..20.0,
                    -30.0f32..70.0,
                    -20i32..60,
                    proptest::prelude::any::<(u8, u8, u8)>(),
                    0u8..3,
                ),
                1..4,
            ),
        ) {
            let mut pixmaps = [Pixmap::new(w, h).unwrap(), Pixmap::new(w, h).unwrap()];
            for (k, pixmap) in pixmaps.iter_mut().enumerate() {
                pixmap.fill(tiny_skia::Color::from_rgba8(240, 20, 120, 255));
                let mut b = SkiaBackend::new(pixmap);
                for (s, size, x, baseline, rgb, alpha) in &texts {
                    let color = BackendColor {
                        alpha: [1.0, 0.6, 0.01][usize::from(*alpha)],
                        rgb: *rgb,
                    };
                    if k == 0 {
                        b.text_rows(s, size.round(), *x, *baseline, color);
                    } else {
                        b.text_pixels(s, size.round(), *x, *baseline, color);
                    }
                }
            }
            proptest::prop_assert_eq!(pixmaps[0].data(), pixmaps[1].data());
        }
    }

    #[test]
    fn rectangles_fill_exactly_their_pixels() {
        let rgb = draw(|a| {
            a.draw(&Rectangle::new([(3, 3), (6, 8)], RED.filled()))
                .unwrap();
        });
        let red = rgb.chunks_exact(3).filter(|p| *p == [255, 0, 0]).count();
        assert_eq!(red, 4 * 6);
        assert_eq!(px(&rgb, 2, 3), [255, 255, 255]);
        assert_eq!(px(&rgb, 7, 8), [255, 255, 255]);
    }

    #[test]
    fn text_is_drawn_and_measured_with_the_embedded_font() {
        let style = TextStyle::from(("sans-serif", 12.0).into_font()).color(&BLACK);
        let rgb = draw(|a| {
            a.draw_text("8", &style, (4, 2)).unwrap();
            let (w, h) = a.estimate_text_size("88", &style).unwrap();
            assert!((12..=17).contains(&w) && (10..=16).contains(&h), "{w}x{h}");
        });
        let dark = rgb.chunks_exact(3).filter(|p| p[0] < 128).count();
        assert!(dark > 8, "{dark} inked pixels");
    }
}
