//! Palette (indexed) PNG support: an RGB frame becomes at most 256 colours.
//!
//! A chart has few colours: its theme, anti-aliased blends of series and text over the
//! backgrounds, and greys. When the frame has 256 colours or fewer the palette is exact
//! (lossless). Otherwise the palette is the theme's colours, their blends in eighths over
//! the backgrounds and a grey ramp, topped up with the frame's most frequent other colours;
//! each pixel takes its nearest entry. Distinct colours are found run by run (consecutive
//! equal pixels are looked up once), so the pass is cheap on chart-like images.

use std::collections::HashMap;

/// An RGB colour.
pub type Rgb = [u8; 3];

/// Frame pixels as indices into `palette`.
#[derive(Debug, Clone, PartialEq)]
pub struct Indexed {
    pub palette: Vec<Rgb>,
    pub indices: Vec<u8>,
    /// Whether every pixel kept its exact colour.
    pub exact: bool,
}

/// Colour counts, visiting the hash map once per run of equal pixels.
fn histogram(rgb: &[u8]) -> HashMap<Rgb, u32> {
    let mut counts: HashMap<Rgb, u32> = HashMap::with_capacity(1024);
    let mut run: Option<(Rgb, u32)> = None;
    for px in rgb.chunks_exact(3) {
        let c = [px[0], px[1], px[2]];
        match &mut run {
            Some((rc, n)) if *rc == c => *n += 1,
            _ => {
                if let Some((rc, n)) = run.replace((c, 1)) {
                    *counts.entry(rc).or_default() += n;
                }
            }
        }
    }
    if let Some((rc, n)) = run {
        *counts.entry(rc).or_default() += n;
    }
    counts
}

fn distance(a: Rgb, b: Rgb) -> u32 {
    // Weighted for the eye: green counts most, blue least.
    let d = |i: usize, w: i32| {
        let x = i32::from(a[i]) - i32::from(b[i]);
        (w * x * x) as u32
    };
    d(0, 3) + d(1, 4) + d(2, 2)
}

fn nearest(palette: &[Rgb], c: Rgb) -> u8 {
    let mut best = (u32::MAX, 0usize);
    for (i, p) in palette.iter().enumerate() {
        let d = distance(*p, c);
        if d < best.0 {
            best = (d, i);
        }
    }
    best.1 as u8
}

/// `fg` over `bg` at `k` eighths.
fn blend(fg: Rgb, bg: Rgb, k: u32) -> Rgb {
    let m = |f: u8, b: u8| ((u32::from(f) * k + u32::from(b) * (8 - k) + 4) / 8) as u8;
    [m(fg[0], bg[0]), m(fg[1], bg[1]), m(fg[2], bg[2])]
}

/// The fixed part of a lossy palette: `colors`, each foreground in `fgs` blended over each
/// background in `bgs` in eighths, and a 16-step grey ramp.
pub fn base_palette(colors: &[Rgb], fgs: &[Rgb], bgs: &[Rgb]) -> Vec<Rgb> {
    let mut out: Vec<Rgb> = colors.to_vec();
    for &f in fgs {
        for &b in bgs {
            out.extend((1..8).map(|k| blend(f, b, k)));
        }
    }
    out.extend((0..16u8).map(|i| [i * 17; 3]));
    out.sort_unstable();
    out.dedup();
    out.truncate(224);
    out
}

/// Indexes `rgb`: exactly when it has at most 256 colours, else through `base` topped up
/// with the most frequent colours.
pub fn quantize(rgb: &[u8], base: &[Rgb]) -> Indexed {
    let counts = histogram(rgb);
    let exact = counts.len() <= 256;
    let palette: Vec<Rgb> = if exact {
        let mut p: Vec<(Rgb, u32)> = counts.iter().map(|(c, n)| (*c, *n)).collect();
        p.sort_unstable_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        p.into_iter().map(|x| x.0).collect()
    } else {
        let mut p = base.to_vec();
        let mut frequent: Vec<(Rgb, u32)> = counts.iter().map(|(c, n)| (*c, *n)).collect();
        frequent.sort_unstable_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        for (c, _) in frequent {
            if p.len() >= 256 {
                break;
            }
            if p.iter().all(|q| distance(*q, c) > 3 * 9) {
                p.push(c);
            }
        }
        p
    };
    let lookup: HashMap<Rgb, u8> = counts.keys().map(|&c| (c, nearest(&palette, c))).collect();
    let mut indices = Vec::with_capacity(rgb.len() / 3);
    let mut last: Option<(Rgb, u8)> = None;
    for px in rgb.chunks_exact(3) {
        let c = [px[0], px[1], px[2]];
        let i = match last {
            Some((lc, li)) if lc == c => li,
            _ => lookup[&c],
        };
        last = Some((c, i));
        indices.push(i);
    }
    Indexed {
        palette,
        indices,
        exact,
    }
}

/// Peak signal-to-noise ratio of `b` against `a`, in dB (infinite when equal).
pub fn psnr(a: &[u8], b: &[u8]) -> f64 {
    let se: f64 = a
        .iter()
        .zip(b)
        .map(|(x, y)| (f64::from(*x) - f64::from(*y)).powi(2))
        .sum();
    let mse = se / a.len() as f64;
    10.0 * (255.0f64 * 255.0 / mse).log10()
}

impl Indexed {
    /// Back to RGB.
    pub fn to_rgb(&self) -> Vec<u8> {
        self.indices
            .iter()
            .flat_map(|&i| self.palette[usize::from(i)])
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn few_colours_are_kept_exactly() {
        let rgb: Vec<u8> = (0..300u32)
            .flat_map(|i| [(i % 7) as u8 * 30, 10, 200])
            .collect();
        let q = quantize(&rgb, &[]);
        assert!(q.exact);
        assert_eq!(q.palette.len(), 7);
        assert_eq!(q.to_rgb(), rgb);
    }

    #[test]
    fn many_colours_map_to_near_entries() {
        // A smooth ramp of 4096 colours: lossy, but close.
        let rgb: Vec<u8> = (0..4096u32)
            .flat_map(|i| [(i % 64 * 4) as u8, (i / 64 * 4) as u8, 128])
            .collect();
        let base = base_palette(
            &[[0, 0, 0], [255, 255, 255]],
            &[[255, 0, 0]],
            &[[0, 0, 255]],
        );
        let q = quantize(&rgb, &base);
        assert!(!q.exact);
        assert!(q.palette.len() <= 256);
        // Every pixel took its nearest palette entry.
        for (px, &i) in rgb.chunks_exact(3).zip(&q.indices) {
            let c = [px[0], px[1], px[2]];
            let best = q.palette.iter().map(|p| distance(*p, c)).min().unwrap();
            assert_eq!(distance(q.palette[usize::from(i)], c), best);
        }
    }
}
