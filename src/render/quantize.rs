//! Palette (indexed) PNG support: an RGB frame becomes at most 256 colours.
//!
//! A chart has few colours: its theme, anti-aliased blends of series and text over the
//! backgrounds, and greys. When the frame has 256 colours or fewer the palette is exact
//! (lossless); the renderer quantizes edge and text coverage to sixteenths so that this is
//! the usual case. Otherwise the palette keeps the theme's colours and blends that occur
//! and the most frequent others, and the rare rest take their nearest entry. Distinct
//! colours are found run by run (consecutive equal pixels are looked up once), so the pass
//! is cheap on chart-like images.

/// An RGB colour.
pub type Rgb = [u8; 3];

/// Frame pixels as indices into `palette`.
#[derive(Debug, Clone, PartialEq)]
pub struct Indexed {
    /// At most 256 colours.
    pub palette: Vec<Rgb>,
    /// One palette index per pixel, rows top down.
    pub indices: Vec<u8>,
    /// Whether every pixel kept its exact colour.
    pub exact: bool,
}

/// Opaque 8-bit pixels, rows top down: RGB, or RGBA whose alpha is ignored (the chart
/// paints an opaque background first, so a premultiplied pixmap's RGB is the colour).
#[derive(Debug, Clone, Copy)]
pub enum Pixels<'a> {
    /// Three bytes a pixel.
    Rgb(&'a [u8]),
    /// Four bytes a pixel; the alpha byte is ignored.
    Rgba(&'a [u8]),
}

impl Pixels<'_> {
    /// Number of pixels.
    pub fn len(&self) -> usize {
        match self {
            Pixels::Rgb(b) => b.len() / 3,
            Pixels::Rgba(b) => b.len() / 4,
        }
    }

    /// Whether there are no pixels.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The pixels as RGB bytes.
    pub fn to_rgb(&self) -> Vec<u8> {
        match self {
            Pixels::Rgb(b) => b.to_vec(),
            Pixels::Rgba(b) => b.chunks_exact(4).flat_map(|p| [p[0], p[1], p[2]]).collect(),
        }
    }
}

/// A colour packed as `0x00RRGGBB`.
fn pack(r: u8, g: u8, b: u8) -> u32 {
    u32::from(r) << 16 | u32::from(g) << 8 | u32::from(b)
}

fn unpack(key: u32) -> Rgb {
    [(key >> 16) as u8, (key >> 8) as u8, key as u8]
}

/// Open-addressing table from packed colour to a dense id (in order of first sight); a
/// multiplicative hash is plenty for a few thousand colours and far cheaper than SipHash.
struct ColorIds {
    /// `(key | 1 << 24, id)`; a zero key is an empty slot.
    slots: Vec<(u32, u32)>,
    colors: Vec<u32>,
}

impl ColorIds {
    fn new() -> ColorIds {
        ColorIds {
            slots: vec![(0, 0); 4096],
            colors: Vec::new(),
        }
    }

    #[inline]
    fn slot(&self, key: u32) -> usize {
        (key.wrapping_mul(0x9E37_79B1) >> 8) as usize & (self.slots.len() - 1)
    }

    fn id(&mut self, color: u32) -> u32 {
        let key = color | 1 << 24;
        let mask = self.slots.len() - 1;
        let mut i = self.slot(key);
        loop {
            match self.slots[i] {
                (0, _) => break,
                (k, id) if k == key => return id,
                _ => i = (i + 1) & mask,
            }
        }
        let id = self.colors.len() as u32;
        self.slots[i] = (key, id);
        self.colors.push(color);
        if self.colors.len() * 2 > self.slots.len() {
            self.grow();
        }
        id
    }

    fn grow(&mut self) {
        let old = std::mem::take(&mut self.slots);
        self.slots = vec![(0, 0); old.len() * 2];
        let mask = self.slots.len() - 1;
        for (key, id) in old.into_iter().filter(|s| s.0 != 0) {
            let mut i = self.slot(key);
            while self.slots[i].0 != 0 {
                i = (i + 1) & mask;
            }
            self.slots[i] = (key, id);
        }
    }
}

/// The frame as runs of equal pixels (colour id, length), and the packed colours by id:
/// the general path, for frames over 256 colours (rare since coverage is kept in
/// sixteenths; the exact path is [`exact_rgba`]). Only a change of colour costs a lookup.
fn runs(pixels: Pixels) -> (Vec<(u32, u32)>, Vec<u32>) {
    fn scan<const N: usize>(bytes: &[u8]) -> (Vec<(u32, u32)>, Vec<u32>) {
        let mut ids = ColorIds::new();
        let mut runs: Vec<(u32, u32)> = Vec::with_capacity(32 * 1024);
        let mut px = bytes.chunks_exact(N).map(|p| pack(p[0], p[1], p[2]));
        let Some(first) = px.next() else {
            return (runs, ids.colors);
        };
        let (mut color, mut id, mut n) = (first, ids.id(first), 1u32);
        for c in px {
            if c == color {
                n += 1;
            } else {
                runs.push((id, n));
                (color, id, n) = (c, ids.id(c), 1);
            }
        }
        runs.push((id, n));
        (runs, ids.colors)
    }
    match pixels {
        Pixels::Rgb(b) => scan::<3>(b),
        Pixels::Rgba(b) => scan::<4>(b),
    }
}

#[cfg(test)]
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

/// Palette entries split into channel planes, padded to whole lanes of 8 with entries
/// too far away to ever be the nearest, so the distances from one colour to every entry
/// are one loop that vectorizes. In `f32`: exact (the largest distance, 9 x 255², is far
/// below 2²⁴), and it vectorizes on plain SSE2, where 32-bit integer multiplies do not.
struct Planes {
    r: Vec<f32>,
    g: Vec<f32>,
    b: Vec<f32>,
    len: usize,
    d: Vec<f32>,
}

impl Planes {
    fn new(palette: &[Rgb]) -> Planes {
        let mut p = Planes {
            r: Vec::with_capacity(256),
            g: Vec::with_capacity(256),
            b: Vec::with_capacity(256),
            len: 0,
            d: Vec::with_capacity(256),
        };
        for &c in palette {
            p.push(c);
        }
        p
    }

    fn push(&mut self, c: Rgb) {
        let lanes = (self.len + 1).div_ceil(8) * 8;
        for v in [&mut self.r, &mut self.g, &mut self.b] {
            v.resize(lanes, 1e4);
        }
        self.d.resize(lanes, 0.0);
        self.r[self.len] = f32::from(c[0]);
        self.g[self.len] = f32::from(c[1]);
        self.b[self.len] = f32::from(c[2]);
        self.len += 1;
    }

    /// The first nearest entry to `c` and its distance (3·dr² + 4·dg² + 2·db²).
    fn nearest(&mut self, c: Rgb) -> (usize, u32) {
        if self.len == 0 {
            return (0, u32::MAX);
        }
        let [cr, cg, cb] = c.map(f32::from);
        let planes = self.r.iter().zip(&self.g).zip(&self.b);
        for (d, ((r, g), b)) in self.d.iter_mut().zip(planes) {
            let (x, y, z) = (r - cr, g - cg, b - cb);
            *d = 3.0 * x * x + 4.0 * y * y + 2.0 * z * z;
        }
        // Lane-wise minimum (vectorizes, where `f32::min` folds one by one), then the
        // first entry at that distance.
        let mut m = [f32::INFINITY; 8];
        for lane in self.d.chunks_exact(8) {
            for (m, &x) in m.iter_mut().zip(lane) {
                *m = if x < *m { x } else { *m };
            }
        }
        let min = m.iter().copied().fold(f32::INFINITY, f32::min);
        let i = self.d.iter().position(|&x| x == min).unwrap_or(0);
        (i, min as u32)
    }
}

/// [`nearest`] for every colour in `colors`: the same entries (the first of the closest).
/// A colour that is itself an entry (most of a chart's pixels) is found by hashing.
fn nearest_all(palette: &[Rgb], colors: &[u32]) -> Vec<u8> {
    let mut entries = ColorIds::new();
    for p in palette {
        entries.id(pack(p[0], p[1], p[2]));
    }
    let mut planes = Planes::new(palette);
    colors
        .iter()
        .map(|&key| {
            let id = entries.id(key) as usize;
            if id < palette.len() {
                // The first entry of that colour is the first at distance 0.
                return id as u8;
            }
            planes.nearest(unpack(key)).0 as u8
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

/// Indexes `pixels`: exactly when they have at most 256 colours. Otherwise the palette is
/// the entries of `base` that occur in the frame (the theme's colours and blends: edges and
/// text stay true), then the frame's most frequent other colours up to 256; the remaining
/// (rare) colours take their nearest entry.
///
/// `width` is the row length in pixels (the exact path reuses the index of the pixel above).
pub fn quantize(pixels: Pixels, width: usize, base: &[Rgb]) -> Indexed {
    let mut indices = Vec::new();
    let (palette, exact) = quantize_rows(pixels, width, base, 0, &mut indices);
    Indexed {
        palette,
        indices,
        exact,
    }
}

/// [`quantize`] into `out`, each row of `width` indices after `lead` zero bytes (a PNG
/// row's filter type, so the rows go to deflate as they are); returns the palette and
/// whether it is exact. `out` is overwritten, and its allocation reused.
pub fn quantize_rows(
    pixels: Pixels,
    width: usize,
    base: &[Rgb],
    lead: usize,
    out: &mut Vec<u8>,
) -> (Vec<Rgb>, bool) {
    if width == 0 || !pixels.len().is_multiple_of(width) {
        // Not rows at all: plain indices.
        let (palette, exact, indices) = lossy(pixels, base);
        *out = indices;
        return (palette, exact);
    }
    // Not cleared: every index is written below, and each row's lead bytes here.
    out.resize(pixels.len() / width * (lead + width), 0);
    for row in out.chunks_exact_mut(lead + width) {
        row[..lead].fill(0);
    }
    if let Pixels::Rgba(bytes) = pixels {
        if let Some(palette) = exact_rgba(bytes, width, lead, out) {
            return (palette, true);
        }
    }
    let (palette, exact, indices) = lossy(pixels, base);
    for (dst, src) in out
        .chunks_exact_mut(lead + width)
        .zip(indices.chunks_exact(width))
    {
        dst[lead..].copy_from_slice(src);
    }
    (palette, exact)
}

/// The general path: the palette, whether it is exact, and the indices (rows unpadded).
fn lossy(pixels: Pixels, base: &[Rgb]) -> (Vec<Rgb>, bool, Vec<u8>) {
    let (runs, colors) = runs(pixels);
    let mut counts = vec![0u32; colors.len()];
    for &(id, n) in &runs {
        counts[id as usize] += n;
    }
    // Colour ids, most frequent first (ties by colour, for determinism).
    let mut by_count: Vec<usize> = (0..colors.len()).collect();
    by_count.sort_unstable_by(|&a, &b| counts[b].cmp(&counts[a]).then(colors[a].cmp(&colors[b])));
    let exact = colors.len() <= 256;
    let palette: Vec<Rgb> = if exact {
        by_count.iter().map(|&i| unpack(colors[i])).collect()
    } else {
        let mut in_frame = ColorIds::new();
        for &c in &colors {
            in_frame.id(c);
        }
        let mut chosen = ColorIds::new();
        let base_present = base
            .iter()
            .map(|c| pack(c[0], c[1], c[2]))
            .filter(|&c| (in_frame.id(c) as usize) < colors.len());
        let frequent = by_count.iter().map(|&i| colors[i]);
        let mut p = Vec::with_capacity(256);
        for c in base_present.chain(frequent) {
            if p.len() == 256 {
                break;
            }
            if chosen.id(c) as usize == p.len() {
                p.push(unpack(c));
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
    let mut indices = vec![0u8; pixels.len()];
    let mut at = 0;
    for &(id, n) in &runs {
        let end = at + n as usize;
        indices[at..end].fill(index_of[id as usize]);
        at = end;
    }
    (palette, exact, indices)
}

/// The exact palette of an RGBA frame with at most 256 colours (in order of first sight),
/// its indices written to `out` as in [`quantize_rows`]; `None` when it has more.
///
/// Most pixels of a chart equal the pixel above (87% at 500 points), so each row starts as
/// a copy of the row above's indices and only the pixels that differ are visited: 64
/// pixels are compared with the 64 above into one bit mask (16 at a time, [`differ16`]),
/// with no per-pixel flag buffer in between, and its set bits walked. A visited pixel
/// looks its colour up in [`ExactIds`], whose home slot answers inline. The palette is the
/// frame's colours in order of first appearance whichever pixels are skipped (a colour's
/// first pixel never equals the one above or to its left), so this gives exactly the
/// indices and palette of the plain scan.
fn exact_rgba(bytes: &[u8], width: usize, lead: usize, out: &mut [u8]) -> Option<Vec<Rgb>> {
    #[cfg(target_arch = "x86_64")]
    {
        use crate::rollup::{simd, Simd};
        match simd() {
            // SAFETY: `simd` picks AVX-512 only when the CPU has AVX-512F.
            Simd::Avx512 => return unsafe { exact_rgba_avx512(bytes, width, lead, out) },
            // SAFETY: `simd` picks AVX2 only when the CPU has AVX2.
            Simd::Avx2 => return unsafe { exact_rgba_avx2(bytes, width, lead, out) },
            Simd::Baseline => {}
        }
    }
    exact_rgba_with::<Sse2>(bytes, width, lead, out)
}

/// [`exact_rgba`] with 16 pixels a compare (`_mm512_cmpeq_epi32_mask`).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn exact_rgba_avx512(bytes: &[u8], width: usize, lead: usize, out: &mut [u8]) -> Option<Vec<Rgb>> {
    exact_rgba_with::<Avx512>(bytes, width, lead, out)
}

/// [`exact_rgba`] with 8 pixels a compare.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn exact_rgba_avx2(bytes: &[u8], width: usize, lead: usize, out: &mut [u8]) -> Option<Vec<Rgb>> {
    exact_rgba_with::<Avx2>(bytes, width, lead, out)
}

/// Where 64 pixels differ from the 64 above: bit `j` for pixel `j` (all four bytes
/// compared).
trait Differ {
    fn differ64(cur: &[[u8; 4]; 64], above: &[[u8; 4]; 64]) -> u64;
}

/// Four [`differ16`]s (SSE2, the x86-64 baseline).
struct Sse2;

impl Differ for Sse2 {
    #[inline(always)]
    fn differ64(cur: &[[u8; 4]; 64], above: &[[u8; 4]; 64]) -> u64 {
        (0..4).fold(0u64, |m, q| {
            let at = 16 * q;
            m | u64::from(differ16(
                cur[at..at + 16].try_into().expect("16 pixels"),
                above[at..at + 16].try_into().expect("16 pixels"),
            )) << (16 * q)
        })
    }
}

/// Eight 8-pixel compares; only inlined into [`exact_rgba_avx2`].
#[cfg(target_arch = "x86_64")]
struct Avx2;

#[cfg(target_arch = "x86_64")]
impl Differ for Avx2 {
    #[inline(always)]
    fn differ64(cur: &[[u8; 4]; 64], above: &[[u8; 4]; 64]) -> u64 {
        use std::arch::x86_64::{
            _mm256_castsi256_ps, _mm256_cmpeq_epi32, _mm256_loadu_si256, _mm256_movemask_ps,
        };
        let mut equal = 0u64;
        for q in 0..8 {
            // SAFETY: only inlined into `exact_rgba_avx2`, run when the CPU has AVX2; the
            // loads are unaligned and read 32 bytes inside the 256-byte arrays.
            let bits = unsafe {
                let a = _mm256_loadu_si256(cur.as_ptr().add(8 * q).cast());
                let b = _mm256_loadu_si256(above.as_ptr().add(8 * q).cast());
                _mm256_movemask_ps(_mm256_castsi256_ps(_mm256_cmpeq_epi32(a, b))) as u8
            };
            equal |= u64::from(bits) << (8 * q);
        }
        !equal
    }
}

/// Four 16-pixel compares into mask registers; only inlined into [`exact_rgba_avx512`].
#[cfg(target_arch = "x86_64")]
struct Avx512;

#[cfg(target_arch = "x86_64")]
impl Differ for Avx512 {
    #[inline(always)]
    fn differ64(cur: &[[u8; 4]; 64], above: &[[u8; 4]; 64]) -> u64 {
        use std::arch::x86_64::{_mm512_cmpneq_epi32_mask, _mm512_loadu_si512};
        let mut differ = 0u64;
        for q in 0..4 {
            // SAFETY: only inlined into `exact_rgba_avx512`, run when the CPU has
            // AVX-512F; the loads are unaligned and read 64 bytes inside the 256-byte
            // arrays.
            let bits = unsafe {
                let a = _mm512_loadu_si512(cur.as_ptr().add(16 * q).cast());
                let b = _mm512_loadu_si512(above.as_ptr().add(16 * q).cast());
                _mm512_cmpneq_epi32_mask(a, b)
            };
            differ |= u64::from(bits) << (16 * q);
        }
        differ
    }
}

/// [`exact_rgba`] with `D`'s 64-pixel compare.
#[inline(always)]
fn exact_rgba_with<D: Differ>(
    bytes: &[u8],
    width: usize,
    lead: usize,
    out: &mut [u8],
) -> Option<Vec<Rgb>> {
    let (px, _) = bytes.as_chunks::<4>();
    let n = px.len();
    if width == 0 || n % width != 0 {
        return None;
    }
    let stride = lead + width;
    let mut ids = ExactIds::new();
    let word = |p: &[u8; 4]| u32::from_le_bytes(*p);
    for (row, cur) in px.chunks_exact(width).enumerate() {
        let start = row * stride + lead;
        let (done, rest) = out.split_at_mut(start);
        let out = &mut rest[..width];
        let above = if row == 0 {
            None
        } else {
            out.copy_from_slice(&done[start - stride..][..width]);
            let above = &px[(row - 1) * width..row * width];
            if cur == above {
                continue;
            }
            Some(above)
        };
        // 64 pixels a mask: the loop below leaves (and the branch predictor misses) once
        // a word with differences, not once every 16 pixels.
        for at in (0..width).step_by(64) {
            let len = (width - at).min(64);
            let mut bits = match above {
                None => u64::MAX >> (64 - len),
                Some(above) if len == 64 => D::differ64(
                    cur[at..at + 64].try_into().expect("64 pixels"),
                    above[at..at + 64].try_into().expect("64 pixels"),
                ),
                Some(above) => cur[at..at + len]
                    .iter()
                    .zip(&above[at..at + len])
                    .enumerate()
                    .fold(0, |m, (j, (a, b))| m | u64::from(a != b) << j),
            };
            while bits != 0 {
                let x = at + bits.trailing_zeros() as usize;
                bits &= bits - 1;
                let p = word(&cur[x]);
                // Every visited pixel looks its colour up: its home slot nearly always
                // answers, a load with no branch to mispredict. (Testing for a pixel equal
                // to its left neighbour first costs more: along a line's edge that test is
                // a coin toss.) Only a colour not in its home slot, new or displaced,
                // takes the slow path.
                let rgb = p & 0x00ff_ffff;
                let (home, mut index) = ids.home_slot(rgb);
                if !home {
                    index = ids.probe(rgb | 1 << 24)?;
                }
                out[x] = index;
            }
        }
    }
    Some(ids.palette())
}

/// Bit `j` set where pixel `j` of `cur` differs from pixel `j` of `above` (all four bytes
/// compared).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn differ16(cur: &[[u8; 4]; 16], above: &[[u8; 4]; 16]) -> u32 {
    use std::arch::x86_64::{
        _mm_cmpeq_epi32, _mm_loadu_si128, _mm_movemask_epi8, _mm_packs_epi16, _mm_packs_epi32,
    };
    // SAFETY: SSE2 is part of x86-64; every load is unaligned and reads 16 bytes inside
    // the 64-byte arrays.
    let equal = unsafe {
        let eq = |q: usize| {
            let a = _mm_loadu_si128(cur.as_ptr().add(4 * q).cast());
            let b = _mm_loadu_si128(above.as_ptr().add(4 * q).cast());
            _mm_cmpeq_epi32(a, b)
        };
        // Each 32-bit lane is all ones or all zeros, so the saturating packs keep it.
        let low = _mm_packs_epi32(eq(0), eq(1));
        let high = _mm_packs_epi32(eq(2), eq(3));
        _mm_movemask_epi8(_mm_packs_epi16(low, high)) as u32
    };
    !equal & 0xffff
}

#[cfg(not(target_arch = "x86_64"))]
#[inline(always)]
fn differ16(cur: &[[u8; 4]; 16], above: &[[u8; 4]; 16]) -> u32 {
    let mut m = 0u32;
    for j in 0..16 {
        m |= u32::from(cur[j] != above[j]) << j;
    }
    m
}

/// The exact path's colour table: RGB (a pixel's bytes read little-endian, alpha cleared)
/// to palette index, in order of first sight. Open addressing over 1 024 slots (8 KiB, so
/// it stays in L1 beside the rows): with at most 257 colours ever inserted it is at most
/// a quarter full, the colour's home slot nearly always holds it, and that test is inlined
/// into the scan; probing and inserting are out of line.
struct ExactIds {
    /// `(key | 1 << 24, index)`; a zero key is an empty slot.
    slots: Box<[(u32, u32); ExactIds::SLOTS]>,
    /// Keys by index.
    colors: Vec<u32>,
}

impl ExactIds {
    const SLOTS: usize = 1024;

    fn new() -> ExactIds {
        ExactIds {
            slots: Box::new([(0, 0); ExactIds::SLOTS]),
            colors: Vec::with_capacity(257),
        }
    }

    #[inline(always)]
    fn home(key: u32) -> usize {
        (key.wrapping_mul(0x9E37_79B1) >> 22) as usize
    }

    /// Whether `rgb` sits in its home slot, and its index if so (else a meaningless one).
    #[inline(always)]
    fn home_slot(&self, rgb: u32) -> (bool, u8) {
        let key = rgb | 1 << 24;
        let (k, id) = self.slots[Self::home(key)];
        (k == key, id as u8)
    }

    /// The index of `key` (`rgb | 1 << 24`) when it is not in its home slot: the rest of
    /// the probe sequence, or a new colour; `None` once the frame has more than 256.
    #[cold]
    #[inline(never)]
    fn probe(&mut self, key: u32) -> Option<u8> {
        let mut i = Self::home(key);
        loop {
            match self.slots[i] {
                (0, _) => break,
                (k, id) if k == key => return Some(id as u8),
                _ => i = (i + 1) % Self::SLOTS,
            }
        }
        let id = self.colors.len();
        if id == 256 {
            return None;
        }
        self.slots[i] = (key, id as u32);
        self.colors.push(key);
        Some(id as u8)
    }

    /// The colours by index.
    fn palette(&self) -> Vec<Rgb> {
        self.colors
            .iter()
            .map(|&k| [k as u8, (k >> 8) as u8, (k >> 16) as u8])
            .collect()
    }
}

#[cfg(test)]
/// The first, simpler form of [`exact_rgba`], kept as its test oracle: the exact palette
/// of an RGBA frame with at most 256 colours (in order of first sight), its indices
/// written to `out`; `None` when it has more.
///
/// Most pixels of a chart equal the pixel above (87% at 500 points), so a row equal to the
/// row above, or four pixels equal to the four above, copy their indices; a pixel that
/// differs takes the index of its left neighbour when equal, and only the rest look the
/// colour up.
fn exact_rgba_reference(
    bytes: &[u8],
    width: usize,
    lead: usize,
    out: &mut [u8],
) -> Option<Vec<Rgb>> {
    let (px, _) = bytes.as_chunks::<4>();
    let n = px.len();
    if width == 0 || n % width != 0 {
        return None;
    }
    let stride = lead + width;
    let mut ids = ColorIds::new();
    let mut lookup =
        |c: [u8; 4]| -> Option<u8> { u8::try_from(ids.id(pack(c[0], c[1], c[2]))).ok() };
    // Whether each pixel of the current row differs from the one above.
    let mut diff = vec![0u8; width.next_multiple_of(16)];
    for (row, cur) in px.chunks_exact(width).enumerate() {
        let start = row * stride + lead;
        let (done, rest) = out.split_at_mut(start);
        let out = &mut rest[..width];
        if row == 0 {
            diff[..width].fill(1);
        } else {
            let above = &px[(row - 1) * width..row * width];
            out.copy_from_slice(&done[start - stride..][..width]);
            if cur == above {
                continue;
            }
            for ((d, a), b) in diff.iter_mut().zip(cur).zip(above) {
                *d = u8::from(u32::from_ne_bytes(*a) != u32::from_ne_bytes(*b));
            }
        }
        let (blocks, _) = diff.as_chunks::<16>();
        // The last index written below and its pixel: a run of differing pixels of one
        // colour takes it from a register, not back from `out` through memory.
        let mut last = (usize::MAX, 0u8);
        for (k, block) in blocks.iter().enumerate() {
            if u128::from_ne_bytes(*block) == 0 {
                continue;
            }
            let mut bits = flags(block);
            while bits != 0 {
                let x = 16 * k + bits.trailing_zeros() as usize;
                bits &= bits - 1;
                if x >= width {
                    break;
                }
                let index = if x > 0 && cur[x] == cur[x - 1] {
                    if last.0 == x - 1 {
                        last.1
                    } else {
                        out[x - 1]
                    }
                } else {
                    lookup(cur[x])?
                };
                out[x] = index;
                last = (x, index);
            }
        }
    }
    Some(ids.colors.iter().map(|&c| unpack(c)).collect())
}

/// The 0/1 bytes of `block` as the bits of a mask (byte `j` is bit `j`): per eight bytes,
/// one multiply gathers the flags into the top byte without carries (SSE2's movemask).
#[cfg(test)]
#[inline]
fn flags(block: &[u8; 16]) -> u32 {
    let (half, _) = block.as_chunks::<8>();
    let gather =
        |b: &[u8; 8]| (u64::from_le_bytes(*b).wrapping_mul(0x0102_0408_1020_4080) >> 56) as u32;
    gather(&half[0]) | gather(&half[1]) << 8
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
        let q = quantize(Pixels::Rgb(&rgb), 300, &[]);
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
        let packed: Vec<u32> = colors.iter().map(|c| pack(c[0], c[1], c[2])).collect();
        assert_eq!(nearest_all(&palette, &packed), want);
        assert_eq!(nearest_all(&palette[..7], &packed), {
            let w: Vec<u8> = colors.iter().map(|&c| nearest(&palette[..7], c)).collect();
            w
        });
    }

    /// Opaque RGBA of an RGB frame.
    fn rgba(rgb: &[u8]) -> Vec<u8> {
        rgb.chunks_exact(3)
            .flat_map(|p| [p[0], p[1], p[2], 255])
            .collect()
    }

    /// 64 × 40 pixels of few colours, in rows that repeat (the exact path copies from the
    /// row above).
    fn few_colours() -> Vec<u8> {
        (0..64 * 40u32)
            .flat_map(|i| {
                let (x, y) = (i % 64, i / 64);
                [(x / 8 * 30) as u8, if y % 10 < 5 { 0 } else { 200 }, 7]
            })
            .collect()
    }

    /// 64 × 64 pixels, all of different colours.
    fn many_colours() -> Vec<u8> {
        (0..4096u32)
            .flat_map(|i| [(i % 64 * 4) as u8, (i / 64 * 4) as u8, 128])
            .collect()
    }

    #[test]
    fn rgba_frames_index_like_rgb_frames() {
        let few = few_colours();
        let q = quantize(Pixels::Rgba(&rgba(&few)), 64, &[]);
        assert!(q.exact);
        assert_eq!(q.to_rgb(), few);
        // Many colours: the same picture either way.
        let many = many_colours();
        let base = base_palette(&[[0, 0, 0]], &[[255, 0, 0]], &[[0, 0, 255]]);
        let a = quantize(Pixels::Rgb(&many), 64, &base);
        let b = quantize(Pixels::Rgba(&rgba(&many)), 64, &base);
        assert!(!b.exact);
        assert_eq!(a, b);
    }

    /// A chart-like RGBA frame from `seed`: a background, filled rectangles and row runs,
    /// sloped lines of blended shades, scattered pixels from a pool of `colours` (over 256
    /// makes some frames inexact) and, when `alphas`, pixels whose alpha alone differs.
    fn chart_like(seed: u64, width: usize, height: usize, colours: u32, alphas: bool) -> Vec<u8> {
        let mut state = seed | 1;
        let mut next = move |n: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % n.max(1)
        };
        let pool: Vec<[u8; 4]> = (0..colours.max(1))
            .map(|i| {
                [
                    (i * 37) as u8,
                    ((i * 11) >> 2) as u8,
                    (i >> 8) as u8 * 90,
                    255,
                ]
            })
            .collect();
        let mut px = vec![pool[0]; width * height];
        for _ in 0..next(12) {
            let c = pool[next(pool.len() as u64) as usize];
            let (x0, y0) = (next(width as u64) as usize, next(height as u64) as usize);
            let (x1, y1) = (x0 + next(40) as usize, y0 + next(12) as usize);
            for y in y0..y1.min(height) {
                for x in x0..x1.min(width) {
                    px[y * width + x] = c;
                }
            }
        }
        for _ in 0..next(6) {
            let base = pool[next(pool.len() as u64) as usize];
            let (mut x, mut y) = (next(width as u64) as i64, next(height as u64) as i64);
            for _ in 0..next(3 * width as u64) {
                let shade = [
                    base[0],
                    base[1].wrapping_add((x % 4) as u8 * 16),
                    base[2],
                    255,
                ];
                if (0..width as i64).contains(&x) && (0..height as i64).contains(&y) {
                    px[y as usize * width + x as usize] = shade;
                }
                x += 1;
                y += next(3) as i64 - 1;
            }
        }
        for _ in 0..next(width as u64 * height as u64 / 4) {
            let i = next(px.len() as u64) as usize;
            px[i] = pool[next(pool.len() as u64) as usize];
            if alphas && next(4) == 0 {
                px[i][3] = next(255) as u8;
            }
        }
        px.concat()
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(400))]
        #[test]
        fn exact_rgba_matches_the_plain_scan(
            seed in proptest::prelude::any::<u64>(),
            width in 1usize..200,
            height in 1usize..24,
            lead in 0usize..3,
            colours in 1u32..400,
            alphas in proptest::prelude::any::<bool>(),
        ) {
            let frame = chart_like(seed, width, height, colours, alphas);
            let size = height * (lead + width);
            let (mut got, mut want) = (vec![7u8; size], vec![7u8; size]);
            let palette = exact_rgba(&frame, width, lead, &mut got);
            let expected = exact_rgba_reference(&frame, width, lead, &mut want);
            proptest::prop_assert_eq!(&palette, &expected);
            if palette.is_some() {
                proptest::prop_assert_eq!(got, want);
            }
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(200))]
        /// Every compare path (SSE2, and AVX2 and AVX-512 where the CPU has them) gives
        /// the plain scan's palette and indices.
        #[test]
        fn exact_rgba_paths_match_the_plain_scan(
            seed in proptest::prelude::any::<u64>(),
            width in 1usize..300,
            height in 1usize..12,
            colours in 1u32..300,
        ) {
            let frame = chart_like(seed, width, height, colours, false);
            let size = height * (1 + width);
            let mut want = vec![7u8; size];
            let expected = exact_rgba_reference(&frame, width, 1, &mut want);
            let mut got = vec![7u8; size];
            let palette = exact_rgba_with::<Sse2>(&frame, width, 1, &mut got);
            proptest::prop_assert_eq!(&palette, &expected);
            if palette.is_some() {
                proptest::prop_assert_eq!(&got, &want);
            }
            #[cfg(target_arch = "x86_64")]
            {
                if std::arch::is_x86_feature_detected!("avx2") {
                    let mut got = vec![7u8; size];
                    // SAFETY: the CPU has AVX2 (checked just above).
                    let palette = unsafe { exact_rgba_avx2(&frame, width, 1, &mut got) };
                    proptest::prop_assert_eq!(&palette, &expected);
                    if palette.is_some() {
                        proptest::prop_assert_eq!(&got, &want);
                    }
                }
                if std::arch::is_x86_feature_detected!("avx512f") {
                    let mut got = vec![7u8; size];
                    // SAFETY: the CPU has AVX-512F (checked just above).
                    let palette = unsafe { exact_rgba_avx512(&frame, width, 1, &mut got) };
                    proptest::prop_assert_eq!(&palette, &expected);
                    if palette.is_some() {
                        proptest::prop_assert_eq!(&got, &want);
                    }
                }
            }
        }
    }

    #[test]
    fn exact_rgba_matches_the_plain_scan_on_drawn_graphs() {
        // Whole graphs as the renderer draws them, light and dark, sparse and dense.
        use crate::render::{sample_data, RenderOptions, Theme};
        for (points, theme) in [(500, Theme::Light), (8_760, Theme::Dark)] {
            let traffic = sample_data::hourly(&sample_data::Spec {
                points,
                ..sample_data::Spec::default()
            });
            let opts = RenderOptions {
                theme,
                title: Some("exact".into()),
                ..RenderOptions::default()
            };
            let stats = crate::stats::compute(&traffic, &opts.stats);
            let (pixmap, _) = crate::render::draw(&traffic, &stats, &opts).unwrap();
            let (w, lead) = (pixmap.width() as usize, 1);
            let size = pixmap.height() as usize * (lead + w);
            let (mut got, mut want) = (vec![7u8; size], vec![7u8; size]);
            let palette = exact_rgba(pixmap.data(), w, lead, &mut got);
            assert!(palette.is_some());
            assert_eq!(
                palette,
                exact_rgba_reference(pixmap.data(), w, lead, &mut want)
            );
            assert_eq!(got, want);
        }
    }

    #[test]
    fn flags_gather_one_bit_per_byte() {
        for m in [0u32, 1, 0x8000, 0xffff, 0xa5c3, 0x0180, 0x7ffe] {
            let block: [u8; 16] = std::array::from_fn(|j| (m >> j & 1) as u8);
            assert_eq!(flags(&block), m);
        }
    }

    #[test]
    fn rows_with_a_lead_hold_the_same_indices() {
        let (few, many) = (few_colours(), many_colours());
        let base = base_palette(&[[0, 0, 0]], &[[255, 0, 0]], &[[0, 0, 255]]);
        let mut rows = vec![9; 10_000]; // overwritten, whatever it held
        for frame in [rgba(&few), rgba(&many)] {
            let q = quantize(Pixels::Rgba(&frame), 64, &base);
            let (palette, exact) = quantize_rows(Pixels::Rgba(&frame), 64, &base, 1, &mut rows);
            assert_eq!((&palette, exact), (&q.palette, q.exact));
            let want: Vec<u8> = q
                .indices
                .chunks(64)
                .flat_map(|r| [&[0][..], r].concat())
                .collect();
            assert_eq!(rows, want);
        }
    }

    #[test]
    fn many_colours_map_to_near_entries() {
        // A smooth ramp of 4096 colours: lossy, but close.
        let rgb = many_colours();
        let base = base_palette(
            &[[0, 0, 0], [255, 255, 255]],
            &[[255, 0, 0]],
            &[[0, 0, 255]],
        );
        let q = quantize(Pixels::Rgb(&rgb), 64, &base);
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
