//! Palette (indexed) PNG support: an RGB frame becomes at most 256 colours.
//!
//! A chart has few colours: its theme, anti-aliased blends of series and text over the
//! backgrounds, and greys. When the frame has 256 colours or fewer the palette is exact
//! (lossless). Otherwise the palette is the theme's colours, their blends in eighths over
//! the backgrounds and a grey ramp, topped up with the frame's most frequent other colours;
//! each pixel takes its nearest entry. Distinct colours are found run by run (consecutive
//! equal pixels are looked up once), so the pass is cheap on chart-like images.

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

/// Open-addressing table from packed colour to a dense id; a multiplicative hash is plenty
/// for a few thousand colours and far cheaper than SipHash.
struct ColorIds {
    slots: Vec<(u32, u32)>,
    colors: Vec<Rgb>,
}

impl ColorIds {
    fn new() -> ColorIds {
        ColorIds {
            slots: vec![(0, 0); 4096],
            colors: Vec::new(),
        }
    }

    fn id(&mut self, c: Rgb) -> u32 {
        let key = (u32::from(c[0]) << 16 | u32::from(c[1]) << 8 | u32::from(c[2])) | 1 << 24;
        let mask = self.slots.len() - 1;
        let mut i = (key.wrapping_mul(0x9E37_79B1) >> 8) as usize & mask;
        loop {
            match self.slots[i] {
                (0, _) => break,
                (k, id) if k == key => return id,
                _ => i = (i + 1) & mask,
            }
        }
        let id = self.colors.len() as u32;
        self.slots[i] = (key, id);
        self.colors.push(c);
        if self.colors.len() * 2 > self.slots.len() {
            self.grow();
        }
        id
    }

    fn grow(&mut self) {
        let old = std::mem::replace(&mut self.slots, vec![(0, 0); 0]);
        self.slots = vec![(0, 0); old.len() * 2];
        let mask = self.slots.len() - 1;
        for (key, id) in old.into_iter().filter(|s| s.0 != 0) {
            let mut i = (key.wrapping_mul(0x9E37_79B1) >> 8) as usize & mask;
            while self.slots[i].0 != 0 {
                i = (i + 1) & mask;
            }
            self.slots[i] = (key, id);
        }
    }
}

/// The frame as runs of equal pixels (colour id, length), and the colours by id.
fn runs(rgb: &[u8]) -> (Vec<(u32, u32)>, Vec<Rgb>) {
    let mut ids = ColorIds::new();
    let mut runs: Vec<(u32, u32)> = Vec::with_capacity(16 * 1024);
    let mut current: Option<(Rgb, u32)> = None;
    for px in rgb.chunks_exact(3) {
        let c = [px[0], px[1], px[2]];
        match &mut current {
            Some((rc, n)) if *rc == c => *n += 1,
            _ => {
                if let Some((rc, n)) = current.replace((c, 1)) {
                    runs.push((ids.id(rc), n));
                }
            }
        }
    }
    if let Some((rc, n)) = current {
        runs.push((ids.id(rc), n));
    }
    (runs, ids.colors)
}

fn distance(a: Rgb, b: Rgb) -> u32 {
    // Weighted for the eye: green counts most, blue least.
    let d = |i: usize, w: i32| {
        let x = i32::from(a[i]) - i32::from(b[i]);
        (w * x * x) as u32
    };
    d(0, 3) + d(1, 4) + d(2, 2)
}

#[cfg(test)]
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

/// [`nearest`] for every colour in `colors`: the same entries (the first of the closest),
/// with the palette split into channel planes so the distances to all entries are
/// computed in one vectorized loop and the minimum found after.
fn nearest_all(palette: &[Rgb], colors: &[Rgb]) -> Vec<u8> {
    let plane = |k: usize| -> Vec<i32> { palette.iter().map(|p| i32::from(p[k])).collect() };
    let (r, g, b) = (plane(0), plane(1), plane(2));
    let mut d = vec![0u32; palette.len()];
    colors
        .iter()
        .map(|c| {
            let (cr, cg, cb) = (i32::from(c[0]), i32::from(c[1]), i32::from(c[2]));
            for (((d, r), g), b) in d.iter_mut().zip(&r).zip(&g).zip(&b) {
                let (x, y, z) = (r - cr, g - cg, b - cb);
                *d = (3 * x * x) as u32 + (4 * y * y) as u32 + (2 * z * z) as u32;
            }
            let min = d.iter().copied().min().unwrap_or(0);
            d.iter().position(|&x| x == min).unwrap_or(0) as u8
        })
        .collect()
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
    let (runs, colors) = runs(rgb);
    let mut counts = vec![0u32; colors.len()];
    for &(id, n) in &runs {
        counts[id as usize] += n;
    }
    // Colour ids, most frequent first (ties by colour, for determinism).
    let mut by_count: Vec<usize> = (0..colors.len()).collect();
    by_count.sort_unstable_by(|&a, &b| counts[b].cmp(&counts[a]).then(colors[a].cmp(&colors[b])));
    let exact = colors.len() <= 256;
    let palette: Vec<Rgb> = if exact {
        by_count.iter().map(|&i| colors[i]).collect()
    } else {
        let mut p = base.to_vec();
        for &i in &by_count {
            if p.len() >= 256 {
                break;
            }
            if p.iter().all(|q| distance(*q, colors[i]) > 3 * 9) {
                p.push(colors[i]);
            }
        }
        p
    };
    let index_of: Vec<u8> = if exact {
        let mut index_of = vec![0u8; colors.len()];
        for (k, &id) in by_count.iter().enumerate() {
            index_of[id] = k as u8;
        }
        index_of
    } else {
        nearest_all(&palette, &colors)
    };
    let mut indices = Vec::with_capacity(rgb.len() / 3);
    for &(id, n) in &runs {
        let i = index_of[id as usize];
        indices.resize(indices.len() + n as usize, i);
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
    fn vectorized_nearest_matches_the_scan() {
        let palette: Vec<Rgb> = (0..256u32)
            .map(|i| {
                [
                    (i * 37 % 256) as u8,
                    (i * 91 % 256) as u8,
                    (i * 13 % 256) as u8,
                ]
            })
            .collect();
        let colors: Vec<Rgb> = (0..5000u32)
            .map(|i| {
                [
                    (i * 7 % 256) as u8,
                    (i * 3 % 256) as u8,
                    (i * 11 % 256) as u8,
                ]
            })
            .collect();
        let want: Vec<u8> = colors.iter().map(|&c| nearest(&palette, c)).collect();
        assert_eq!(nearest_all(&palette, &colors), want);
        assert_eq!(nearest_all(&palette[..7], &colors), {
            let w: Vec<u8> = colors.iter().map(|&c| nearest(&palette[..7], c)).collect();
            w
        });
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
