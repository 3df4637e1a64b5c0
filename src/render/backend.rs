//! A plotters [`DrawingBackend`] over a tiny-skia pixmap, so plotters stays the charting
//! layer while lines and area edges get anti-aliasing (plotters' bitmap backend has none).
//!
//! - Axis-aligned lines and rectangles (background, grid, axes, swatches) are filled as
//!   pixel-aligned rectangles without anti-aliasing: crisp, and much cheaper than AA fills.
//! - Paths (series lines, area edges) are anti-aliased. Plotters hands over integer pixel
//!   coordinates meaning pixel *centres*, so every vertex gets +0.5 px: a 1 px line along a
//!   row then covers exactly that row instead of half of two.
//! - Polygons are filled *without* anti-aliasing: the chart strokes every area's top edge
//!   with an anti-aliased line of the same colour, which hides the stair-steps, and
//!   supersampled polygon filling was the most expensive part of a frame.
//! - Text goes through our own glyph cache ([`super::text`]).
//!
//! The pixmap is premultiplied RGBA; the chart paints an opaque background first, so every
//! pixel ends with alpha 255 and the premultiplied RGB *is* the colour: [`into_rgb`] drops
//! alpha.

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
#[derive(Debug)]
pub struct BackendError;

impl std::fmt::Display for BackendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("tiny-skia backend error")
    }
}

impl std::error::Error for BackendError {}

type Result<T = ()> = std::result::Result<T, DrawingErrorKind<BackendError>>;

/// Draws into a borrowed pixmap (so the caller keeps it after plotters drops the backend).
pub struct SkiaBackend<'a> {
    pixmap: &'a mut Pixmap,
}

impl<'a> SkiaBackend<'a> {
    pub fn new(pixmap: &'a mut Pixmap) -> SkiaBackend<'a> {
        SkiaBackend { pixmap }
    }

    /// Source-over of `color` at `coverage` (0-255) onto one pixel.
    fn blend(&mut self, (x, y): BackendCoord, color: BackendColor, coverage: u8) {
        let (w, h) = (self.pixmap.width() as i32, self.pixmap.height() as i32);
        if x < 0 || y < 0 || x >= w || y >= h {
            return;
        }
        let a = (color.alpha.clamp(0.0, 1.0) as f32) * f32::from(coverage) / 255.0;
        let i = (y * w + x) as usize * 4;
        let px = &mut self.pixmap.data_mut()[i..i + 4];
        let (r, g, b) = color.rgb;
        for (c, s) in px.iter_mut().zip([r, g, b, 255]) {
            *c = (f32::from(s) * a + f32::from(*c) * (1.0 - a)).round() as u8;
        }
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
        for y in y0..y1 {
            pixels[(y * w + x0) as usize..(y * w + x1) as usize].fill(px);
        }
    }
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
        if let Some(p) = path_through(path, false) {
            let stroke = Stroke {
                // 1 px: tiny-skia's anti-aliased hairline. It draws segment by segment,
                // so a join pixel gets two half-covered passes (75 %); the chart merges
                // collinear vertices, which leaves such seams only on slopes, where they
                // do not show. The real stroker (any width above 1) has no seams but
                // doubled the cost of a 500-point graph.
                width: match style.stroke_width() {
                    0 | 1 => 0.0,
                    w => w as f32,
                },
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
        if let Some(p) = path_through(vert, true) {
            self.pixmap.fill_path(
                &p,
                &paint(color, false),
                FillRule::Winding,
                Transform::identity(),
                None,
            );
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
        text::draw(
            s,
            size,
            pos.0 as f32 + dx,
            baseline.round() as i32,
            |x, y, c| {
                self.blend((x, y), color, c);
            },
        );
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
