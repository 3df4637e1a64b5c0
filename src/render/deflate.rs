//! A deflate encoder for chart rows: it looks for repeats only where a chart has them.
//!
//! Most of a chart's palette rows repeat the row above (87% of the bytes at 500 points,
//! 95% and more on dense graphs) or run on in one colour. Instead of hashing every
//! position (zlib), the encoder marks, with one vector compare per 16 bytes, where each
//! byte equals the byte one row up and the byte to its left; a greedy walk over those
//! bit masks takes the longer of the two runs wherever one of at least three bytes starts,
//! and jumps over the rest as literals. Only two distances occur (1 and the row stride).
//! The tokens are coded in one dynamic-Huffman block (length-limited Huffman codes).
//!
//! On the 827x273 chart it takes about half of zlib-rs level 2's time and its streams are
//! 0.7-1.2x level 2's bytes (`cargo run --release --example png_compare`): larger where
//! zlib finds repeats elsewhere (glyphs, line segments), smaller where runs reach across
//! many rows. Any PNG decoder reads it: it is plain deflate in a zlib stream.

/// Match lengths: the base of each length code (257 + index) and its extra bits.
const LEN_BASE: [u16; 29] = [
    3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131,
    163, 195, 227, 258,
];
const LEN_EXTRA: [u8; 29] = [
    0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0,
];
/// Distances: the base of each distance code and its extra bits.
const DIST_BASE: [u16; 30] = [
    1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537,
    2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577,
];
const DIST_EXTRA: [u8; 30] = [
    0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13,
    13,
];
/// The longest match and the farthest distance deflate allows.
const MAX_LEN: usize = 258;
const MAX_DIST: usize = 32_768;
/// The order code-length code lengths are written in.
const CL_ORDER: [usize; 19] = [
    16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15,
];

/// Length code index (0..29) of each match length 3..=258.
static LEN_CODE: [u8; MAX_LEN + 1] = {
    let mut t = [0u8; MAX_LEN + 1];
    let mut len = 3;
    let mut c = 0;
    while len <= MAX_LEN {
        while c + 1 < LEN_BASE.len() && LEN_BASE[c + 1] as usize <= len {
            c += 1;
        }
        t[len] = c as u8;
        len += 1;
    }
    t
};

/// Distance code of distance `d`: `DIST_CODE[d - 1]` up to 256, else
/// `DIST_CODE[256 + ((d - 1) >> 7)]` (zlib's table).
static DIST_CODE: [u8; 512] = {
    let mut t = [0u8; 512];
    let mut c = 0;
    while c < DIST_BASE.len() {
        let first = DIST_BASE[c] as usize;
        let last = first + (1 << DIST_EXTRA[c]) - 1;
        let mut d = first;
        while d <= last {
            if d <= 256 {
                t[d - 1] = c as u8;
            } else {
                t[256 + ((d - 1) >> 7)] = c as u8;
            }
            d += 1;
        }
        c += 1;
    }
    t
};

#[inline]
fn dist_code(d: usize) -> usize {
    let d = d - 1;
    usize::from(if d < 256 {
        DIST_CODE[d]
    } else {
        DIST_CODE[256 + (d >> 7)]
    })
}

/// Buffers kept from frame to frame.
#[derive(Default)]
pub struct Scratch {
    /// Bit `p`: byte `p` equals the byte one stride back.
    above: Vec<u64>,
    /// Bit `p`: byte `p` equals the byte before it.
    left: Vec<u64>,
    /// Bit `p`: a run of at least three starts at `p` in `above` or `left`.
    start: Vec<u64>,
    /// Literal runs (`n << 1`) and matches (`len << 17 | distance << 1 | 1`).
    tokens: Vec<u32>,
    /// Without the hash search: literals and a match a step (see [`step`]).
    steps: Vec<u64>,
    /// The last position + 1 of each 4-byte hash met between runs (0: none).
    table: Vec<u32>,
}

impl Scratch {
    /// Bytes held.
    pub fn capacity(&self) -> usize {
        8 * (self.above.capacity() + self.left.capacity() + self.start.capacity())
            + 4 * (self.tokens.capacity() + self.table.capacity())
            + 8 * self.steps.capacity()
    }
}

/// Writes the zlib stream of `data` (rows `stride` bytes apart, each starting with its
/// filter byte) to the start of `out`, grown as needed (never shrunk); returns its length.
/// With `search`, the bytes between runs are also matched against earlier such bytes
/// by a 4-byte hash (repeated glyphs, line segments): ~15% smaller, and ~20 µs slower
/// alone but ~0.1 ms in a graph (see [`super::png::settings`]).
pub fn zlib(
    data: &[u8],
    stride: usize,
    search: bool,
    scratch: &mut Scratch,
    out: &mut Vec<u8>,
) -> usize {
    encode(data, stride, search, !search, scratch, out)
}

/// [`zlib`], parsed and written as steps (`steps`, only without `search`: see
/// [`parse_steps`]) or as tokens ([`parse`], as first written: the oracle of the steps'
/// test).
fn encode(
    data: &[u8],
    stride: usize,
    search: bool,
    steps: bool,
    scratch: &mut Scratch,
    out: &mut Vec<u8>,
) -> usize {
    debug_assert!(!(search && steps));
    // Distance index 0 is the left neighbour, 1 the row above.
    let dists = [1, stride];
    mask(data, 1, &mut scratch.left);
    if (1..=MAX_DIST).contains(&stride) {
        mask(data, stride, &mut scratch.above);
    } else {
        scratch.above.clear();
        scratch.above.resize(scratch.left.len(), 0);
    }
    starts(&scratch.above, &scratch.left, &mut scratch.start);

    let mut lit_freq = [0u32; 286];
    let mut dist_freq = [0u32; 30];
    if !steps {
        parse(data, dists, search, scratch, &mut lit_freq, &mut dist_freq);
    } else {
        let mut runs = [0u32; 2];
        parse_steps(data, scratch, &mut lit_freq, &mut runs);
        for (d, count) in dists.into_iter().zip(runs) {
            if count > 0 {
                dist_freq[dist_code(d)] += count;
            }
        }
    }
    lit_freq[256] += 1;

    let mut lit_len = [0u8; 286];
    let mut dist_len = [0u8; 30];
    code_lengths(&lit_freq, 15, &mut lit_len);
    code_lengths(&dist_freq, 15, &mut dist_len);
    let mut lit_code = [0u16; 286];
    let mut dist_code_bits = [0u16; 30];
    canonical(&lit_len, &mut lit_code);
    canonical(&dist_len, &mut dist_code_bits);

    // The exact size of the coded symbols, plus room for the block header (at most
    // 17 + 19 x 3 + 316 x 14 bits), the zlib header and trailer, and the writer's 8-byte
    // stores.
    let symbol_bits = |freq: &[u32], len: &[u8], extra: &[u8]| -> u64 {
        let extra = |i: usize| u64::from(extra.get(i).copied().unwrap_or(0));
        (freq.iter().zip(len).enumerate())
            .map(|(i, (&f, &l))| u64::from(f) * (u64::from(l) + extra(i)))
            .sum()
    };
    let body = symbol_bits(&lit_freq[..257], &lit_len[..257], &[])
        + symbol_bits(&lit_freq[257..], &lit_len[257..], &LEN_EXTRA)
        + symbol_bits(&dist_freq, &dist_len, &DIST_EXTRA);
    let bound = 2 + 600 + (body as usize).div_ceil(8) + 4 + 8;
    if out.len() < bound {
        out.resize(bound, 0);
    }
    out[0] = 0x78; // deflate, 32 KiB window
    out[1] = 0x01; // fastest-compressor flag; check bits make 0x7801 a multiple of 31
    let mut w = Bits {
        out: &mut out[..],
        pos: 2,
        acc: 0,
        n: 0,
    };
    block_header(&lit_len, &dist_len, &mut w);

    // Per literal and per match length: code and extra bits as one value, and its width.
    let lit: [(u32, u8); 256] = std::array::from_fn(|b| (u32::from(lit_code[b]), lit_len[b]));
    let mut lens = [(0u32, 0u8); MAX_LEN + 1];
    for (len, e) in lens.iter_mut().enumerate().skip(3) {
        let c = usize::from(LEN_CODE[len]);
        let extra = (len - usize::from(LEN_BASE[c])) as u32;
        *e = (
            u32::from(lit_code[257 + c]) | extra << lit_len[257 + c],
            lit_len[257 + c] + LEN_EXTRA[c],
        );
    }
    if steps {
        // Code and extra bits, and their width, of the two distances.
        let dist_bits = dists.map(|d| {
            if !(1..=MAX_DIST).contains(&d) {
                return (0, 0); // never matched (the row above beyond the window)
            }
            let c = dist_code(d);
            let extra = (d - usize::from(DIST_BASE[c])) as u32;
            (
                u64::from(u32::from(dist_code_bits[c]) | extra << dist_len[c]),
                u32::from(dist_len[c] + DIST_EXTRA[c]),
            )
        });
        let mut p = 0;
        for &s in &scratch.steps {
            let k = (s & 0xffff_ffff) as usize;
            put_literals(&mut w, &lit, data, p, p + k);
            p += k;
            let len = (s >> 32 & 0x1ff) as usize;
            if len == 0 {
                break;
            }
            let (lv, ll) = lens[len];
            let (dv, dl) = dist_bits[(s >> 41) as usize];
            w.put(u64::from(lv) | dv << ll, u32::from(ll) + dl);
            p += len;
        }
    }
    let mut p = 0;
    let tokens = if steps { &[] } else { &scratch.tokens[..] };
    for &t in tokens {
        if t & 1 == 0 {
            let k = (t >> 1) as usize;
            for &b in &data[p..p + k] {
                let (v, l) = lit[usize::from(b)];
                w.put(u64::from(v), u32::from(l));
            }
            p += k;
        } else {
            let (len, d) = ((t >> 17) as usize, ((t >> 1) & 0xffff) as usize);
            let (lv, ll) = lens[len];
            let c = dist_code(d);
            let extra = (d - usize::from(DIST_BASE[c])) as u32;
            let dv = u32::from(dist_code_bits[c]) | extra << dist_len[c];
            let dl = dist_len[c] + DIST_EXTRA[c];
            w.put(
                u64::from(lv) | u64::from(dv) << ll,
                u32::from(ll) + u32::from(dl),
            );
            p += len;
        }
    }
    w.put(u64::from(lit_code[256]), u32::from(lit_len[256]));
    let mut end = w.pos + usize::from(w.n > 0);
    let adler = zlib_rs::adler32::adler32(1, data);
    out[end..end + 4].copy_from_slice(&adler.to_be_bytes());
    end += 4;
    end
}

/// Sets `out` to the bit mask of `data[p] == data[p - d]` (bit `p % 64` of word `p / 64`;
/// clear for `p < d`).
fn mask(data: &[u8], d: usize, out: &mut Vec<u64>) {
    let n = data.len();
    out.clear();
    out.resize(n.div_ceil(64), 0);
    let first = d.div_ceil(64).min(n / 64);
    let full = n / 64;
    let mut one = |p: usize| out[p / 64] |= u64::from(data[p] == data[p - d]) << (p % 64);
    for p in d.min(n)..(first * 64).max(d.min(n)) {
        one(p);
    }
    for p in (full * 64).max(d)..n {
        one(p);
    }
    let words = &mut out[first.min(full)..full];
    #[cfg(target_arch = "x86_64")]
    {
        use crate::rollup::{simd, Simd};
        // AVX-512 byte compares need AVX-512BW beside the F that `simd` checks.
        match simd() {
            Simd::Avx512 if std::arch::is_x86_feature_detected!("avx512bw") => {
                // SAFETY: the CPU has AVX-512BW (checked just above).
                return unsafe { eq_words_avx512(data, d, first, words) };
            }
            Simd::Avx512 | Simd::Avx2 if std::arch::is_x86_feature_detected!("avx2") => {
                // SAFETY: the CPU has AVX2 (checked just above).
                return unsafe { eq_words_avx2(data, d, first, words) };
            }
            _ => {}
        }
    }
    eq_words(data, d, first, words);
}

/// Words `first..` of [`mask`] into `words` (each whole, at or past the word holding byte
/// `d`), 16 bytes a compare.
fn eq_words(data: &[u8], d: usize, first: usize, words: &mut [u64]) {
    for (k, word) in (first..).zip(words.iter_mut()) {
        let at = 64 * k;
        *word = eq64(
            data[at..at + 64].try_into().unwrap(),
            data[at - d..at - d + 64].try_into().unwrap(),
        );
    }
}

/// [`eq_words`] with one 64-byte compare a word (half the time of SSE2's four on a
/// 500-point graph's rows).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512bw")]
fn eq_words_avx512(data: &[u8], d: usize, first: usize, words: &mut [u64]) {
    use std::arch::x86_64::{_mm512_cmpeq_epi8_mask, _mm512_loadu_si512};
    for (k, word) in (first..).zip(words.iter_mut()) {
        let at = 64 * k;
        let (a, b) = (&data[at..at + 64], &data[at - d..at - d + 64]);
        // SAFETY: unaligned 64-byte loads of two 64-byte slices.
        *word = unsafe {
            _mm512_cmpeq_epi8_mask(
                _mm512_loadu_si512(a.as_ptr().cast()),
                _mm512_loadu_si512(b.as_ptr().cast()),
            )
        };
    }
}

/// [`eq_words`] with two 32-byte compares a word.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn eq_words_avx2(data: &[u8], d: usize, first: usize, words: &mut [u64]) {
    use std::arch::x86_64::{_mm256_cmpeq_epi8, _mm256_loadu_si256, _mm256_movemask_epi8};
    for (k, word) in (first..).zip(words.iter_mut()) {
        let at = 64 * k;
        let (a, b) = (&data[at..at + 64], &data[at - d..at - d + 64]);
        // SAFETY: unaligned 32-byte loads, the low and high halves of two 64-byte slices.
        let (low, high) = unsafe {
            (
                _mm256_cmpeq_epi8(
                    _mm256_loadu_si256(a.as_ptr().cast()),
                    _mm256_loadu_si256(b.as_ptr().cast()),
                ),
                _mm256_cmpeq_epi8(
                    _mm256_loadu_si256(a.as_ptr().add(32).cast()),
                    _mm256_loadu_si256(b.as_ptr().add(32).cast()),
                ),
            )
        };
        let (low, high) = (
            _mm256_movemask_epi8(low) as u32,
            _mm256_movemask_epi8(high) as u32,
        );
        *word = u64::from(low) | u64::from(high) << 32;
    }
}

/// Bit `j`: `a[j] == b[j]`.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn eq64(a: &[u8; 64], b: &[u8; 64]) -> u64 {
    use std::arch::x86_64::{_mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8};
    let mut m = 0u64;
    for q in 0..4 {
        // SAFETY: SSE2 is part of x86-64; both loads are unaligned, 16 bytes inside the
        // 64-byte arrays.
        let bits = unsafe {
            let x = _mm_loadu_si128(a.as_ptr().add(16 * q).cast());
            let y = _mm_loadu_si128(b.as_ptr().add(16 * q).cast());
            _mm_movemask_epi8(_mm_cmpeq_epi8(x, y)) as u16
        };
        m |= u64::from(bits) << (16 * q);
    }
    m
}

#[cfg(not(target_arch = "x86_64"))]
#[inline(always)]
fn eq64(a: &[u8; 64], b: &[u8; 64]) -> u64 {
    let mut m = 0u64;
    for j in 0..64 {
        m |= u64::from(a[j] == b[j]) << j;
    }
    m
}

/// Bit `p` of `out`: three set bits from `p` in `above` or in `left`.
fn starts(above: &[u64], left: &[u64], out: &mut Vec<u64>) {
    // Word `k` of a mask and the next (zero past the end): bits `p` with `p + 1` and
    // `p + 2` also set.
    let three = |a: u64, b: u64| a & (a >> 1 | b << 63) & (a >> 2 | b << 62);
    // Over pairs of neighbouring words, then the last word alone: a `chain` of the
    // trailing zero word kept the loop from vectorizing (2% of a 500-point graph).
    debug_assert_eq!(above.len(), left.len());
    out.clear();
    out.extend(
        above
            .windows(2)
            .zip(left.windows(2))
            .map(|(a, c)| three(a[0], a[1]) | three(c[0], c[1])),
    );
    if let (Some(&a), Some(&c)) = (above.last(), left.last()) {
        out.push(three(a, 0) | three(c, 0));
    }
}

/// [`starts`] as first written: the oracle of its test.
#[cfg(test)]
fn starts_chained(above: &[u64], left: &[u64], out: &mut Vec<u64>) {
    let three = |a: u64, b: u64| a & (a >> 1 | b << 63) & (a >> 2 | b << 62);
    fn pairs(m: &[u64]) -> impl Iterator<Item = (u64, u64)> + '_ {
        m.iter().copied().zip(m.iter().skip(1).copied().chain([0]))
    }
    out.clear();
    out.extend(
        pairs(above)
            .zip(pairs(left))
            .map(|((a, b), (c, d))| three(a, b) | three(c, d)),
    );
}

/// Consecutive set bits of `m` from bit `i`, at most `cap`.
#[inline]
fn ones(m: &[u64], i: usize, cap: usize) -> usize {
    let (mut k, s) = (i / 64, i % 64);
    let n = ((!(m[k] >> s)).trailing_zeros() as usize).min(64 - s);
    if n < 64 - s {
        return n.min(cap);
    }
    let mut n = n;
    k += 1;
    while n < cap && k < m.len() {
        let t = (!m[k]).trailing_zeros() as usize;
        n += t;
        if t < 64 {
            break;
        }
        k += 1;
    }
    n.min(cap)
}

/// The greedy walk: tokens into `scratch.tokens`, symbol counts into the frequencies.
/// `dists` are the left neighbour's and the row above's distances.
fn parse(
    data: &[u8],
    dists: [usize; 2],
    search: bool,
    scratch: &mut Scratch,
    lit_freq: &mut [u32; 286],
    dist_freq: &mut [u32; 30],
) {
    let n = data.len();
    let Scratch {
        above,
        left,
        start,
        tokens,
        table,
        ..
    } = scratch;
    tokens.clear();
    if search {
        table.clear();
        table.resize(1 << HASH_BITS, 0);
    }
    let literals = |tokens: &mut Vec<u32>, lit_freq: &mut [u32; 286], from: usize, to: usize| {
        if to > from {
            tokens.push(((to - from) as u32) << 1);
            for &b in &data[from..to] {
                lit_freq[usize::from(b)] += 1;
            }
        }
    };
    let matched = |tokens: &mut Vec<u32>,
                   lit_freq: &mut [u32; 286],
                   dist_freq: &mut [u32; 30],
                   len: usize,
                   dist: usize| {
        debug_assert!((3..=MAX_LEN).contains(&len) && (1..=MAX_DIST).contains(&dist));
        tokens.push((len as u32) << 17 | (dist as u32) << 1 | 1);
        lit_freq[257 + usize::from(LEN_CODE[len])] += 1;
        dist_freq[dist_code(dist)] += 1;
    };
    let (mut i, mut lit_from) = (0, 0);
    while i < n {
        let (k, b) = (i / 64, i % 64);
        let w = start[k] >> b;
        if w & 1 == 0 {
            // No run starts here: the next one that does.
            let next = if w != 0 {
                i + w.trailing_zeros() as usize
            } else {
                match start[k + 1..].iter().position(|&w| w != 0) {
                    Some(j) => 64 * (k + 1 + j) + start[k + 1 + j].trailing_zeros() as usize,
                    None => n,
                }
            }
            .min(n);
            if search {
                if let Some((at, len, dist)) = find(data, table, i, next) {
                    literals(tokens, lit_freq, lit_from, at);
                    matched(tokens, lit_freq, dist_freq, len, dist);
                    i = at + len;
                    lit_from = i;
                    continue;
                }
            }
            i = next;
            continue;
        }
        let cap = (n - i).min(MAX_LEN);
        let up = ones(above, i, cap);
        let lf = if up == cap { 0 } else { ones(left, i, cap) };
        // The longer run; on a tie the row above.
        let (len, d) = if lf > up { (lf, 0) } else { (up, 1) };
        debug_assert!(len >= 3);
        literals(tokens, lit_freq, lit_from, i);
        matched(tokens, lit_freq, dist_freq, len, dists[d]);
        i += len;
        lit_from = i;
    }
    literals(tokens, lit_freq, lit_from, n);
}

/// A step of [`parse_steps`]: `lits` literals, then (unless `len` is 0, the last step) a
/// match of `len` bytes with the left neighbour (`above` false) or the row above.
#[inline(always)]
fn step(lits: usize, len: usize, above: bool) -> u64 {
    lits as u64 | (len as u64) << 32 | u64::from(above) << 41
}

/// The first position at or after `i` where a run starts (`n` if none).
#[inline(always)]
fn next_start(start: &[u64], i: usize, n: usize) -> usize {
    if i >= n {
        return n;
    }
    let (k, b) = (i / 64, i % 64);
    let w = start[k] >> b;
    if w != 0 {
        return (i + w.trailing_zeros() as usize).min(n);
    }
    match start[k + 1..].iter().position(|&w| w != 0) {
        Some(j) => (64 * (k + 1 + j) + start[k + 1 + j].trailing_zeros() as usize).min(n),
        None => n,
    }
}

/// [`parse`] without the hash search, as steps (see [`step`]) into `scratch.steps`: each
/// finds the next run start, counts the bytes before it as literals and takes the run,
/// so a stretch of literals costs no pass of its own (the same choices as [`parse`]).
fn parse_steps(data: &[u8], scratch: &mut Scratch, lit_freq: &mut [u32; 286], runs: &mut [u32; 2]) {
    let n = data.len();
    let Scratch {
        above,
        left,
        start,
        steps,
        ..
    } = scratch;
    steps.clear();
    let mut i = 0;
    let mut lanes = [[0u32; 256]; 4];
    let mut len_lanes = [[0u32; 29]; 2];
    let (mut matches, mut above_matches) = (0u32, 0u32);
    loop {
        let at = next_start(start, i, n);
        count_literals(data, i, at, &mut lanes);
        if at >= n {
            steps.push(step(at - i, 0, false));
            break;
        }
        let cap = (n - at).min(MAX_LEN);
        let up = ones_window(above, at, cap);
        // Where the row above runs to the cap, `left` cannot be longer.
        let lf = ones_window(left, at, cap);
        // The longer run; on a tie the row above.
        let (len, d) = if lf > up { (lf, 0) } else { (up, 1) };
        debug_assert!(len >= 3);
        steps.push(step(at - i, len, d == 1));
        // Two tables in turn, and the distances in registers (as for the literals).
        let k = steps.len() & 1;
        len_lanes[k][usize::from(LEN_CODE[len])] += 1;
        matches += 1;
        above_matches += d as u32;
        i = at + len;
    }
    for lane in &lanes {
        for (f, &c) in lit_freq.iter_mut().zip(lane) {
            *f += c;
        }
    }
    for lane in &len_lanes {
        for (f, &c) in lit_freq[257..].iter_mut().zip(lane) {
            *f += c;
        }
    }
    runs[0] += matches - above_matches;
    runs[1] += above_matches;
}

/// [`ones`] reading the 64 bits from `i` at once (the word holding `i` and the next),
/// so only a run of 64 or more takes a loop.
#[inline(always)]
fn ones_window(m: &[u64], i: usize, cap: usize) -> usize {
    let (k, s) = (i / 64, i % 64);
    let word = |j: usize| u128::from(m.get(k + j).copied().unwrap_or(0));
    let (w0, w1, w2) = (word(0), word(1), word(2));
    let low = ((w1 << 64 | w0) >> s) as u64;
    let high = ((w2 << 64 | w1) >> s) as u64;
    let a = (!low).trailing_zeros() as usize;
    let n = a + if a == 64 {
        (!high).trailing_zeros() as usize
    } else {
        0
    };
    if n < 128 {
        return n.min(cap);
    }
    ones(m, i, cap)
}

/// Counts bytes `from..to` of `data` into `freq`, four a pass, those at or past `to`
/// counted zero times: a stretch of up to four literals (most stretches) is one pass, so
/// the loop's end is not a guess on the stretch's length.
#[inline(always)]
fn count_literals(data: &[u8], from: usize, to: usize, freq: &mut [[u32; 256]; 4]) {
    let mut p = from;
    while p < to {
        let Some(four) = data.get(p..p + 4) else {
            // The last bytes of the frame.
            for &b in &data[p..to] {
                freq[0][usize::from(b)] += 1;
            }
            return;
        };
        // A table for each of the four: a few palette indices are most literals, and
        // four increments of one counter would wait on each other through memory.
        for (j, (&b, freq)) in four.iter().zip(freq.iter_mut()).enumerate() {
            freq[usize::from(b)] += u32::from(p + j < to);
        }
        p += 4;
    }
}

/// Puts the codes of the literals `from..to` of `data`, three (at most 45 bits) a
/// [`Bits::put`], those at or past `to` with no bits (as [`count_literals`] counts them).
#[inline(always)]
fn put_literals(w: &mut Bits, lit: &[(u32, u8); 256], data: &[u8], from: usize, to: usize) {
    let mut p = from;
    while p < to {
        let Some(three) = data.get(p..p + 3) else {
            for &b in &data[p..to] {
                let (v, l) = lit[usize::from(b)];
                w.put(u64::from(v), u32::from(l));
            }
            return;
        };
        let code = |j: usize| {
            let (v, l) = lit[usize::from(three[j])];
            let keep = 0u32.wrapping_sub(u32::from(p + j < to));
            (u64::from(v & keep), u32::from(l) & keep)
        };
        let [(v0, l0), (v1, l1), (v2, l2)] = [0, 1, 2].map(code);
        w.put(v0 | v1 << l0 | v2 << (l0 + l1), l0 + l1 + l2);
        p += 3;
    }
}

/// Bits of the 4-byte hash of [`find`].
const HASH_BITS: u32 = 12;

/// The first position in `from..to` whose next four bytes (or more) occurred before, within
/// the window, at a position this search saw (from `table`): that position, the match
/// length and distance. Every position looked at is entered in `table`.
fn find(data: &[u8], table: &mut [u32], from: usize, to: usize) -> Option<(usize, usize, usize)> {
    let n = data.len();
    for j in from..to.min(n.saturating_sub(3)) {
        let key = u32::from_le_bytes(data[j..j + 4].try_into().unwrap());
        let h = (key.wrapping_mul(0x9E37_79B1) >> (32 - HASH_BITS)) as usize;
        let seen = table[h] as usize;
        table[h] = j as u32 + 1;
        if seen == 0 || j - (seen - 1) > MAX_DIST {
            continue;
        }
        let c = seen - 1;
        if u32::from_le_bytes(data[c..c + 4].try_into().unwrap()) != key {
            continue;
        }
        return Some((j, common(data, c, j, (n - j).min(MAX_LEN)), j - c));
    }
    None
}

/// How many bytes from `b` equal those from `a` (`a < b`), at most `cap`; eight at a
/// time.
#[inline]
fn common(data: &[u8], a: usize, b: usize, cap: usize) -> usize {
    let word = |p: usize| u64::from_le_bytes(data[p..p + 8].try_into().unwrap());
    let mut len = 0;
    while len + 8 <= cap {
        let x = word(a + len) ^ word(b + len);
        if x != 0 {
            return len + (x.trailing_zeros() / 8) as usize;
        }
        len += 8;
    }
    while len < cap && data[a + len] == data[b + len] {
        len += 1;
    }
    len
}

/// Least-significant-bit-first writer; every `put` stores 8 bytes at `pos`, so `out`
/// needs 8 bytes past the last byte written.
struct Bits<'a> {
    out: &'a mut [u8],
    pos: usize,
    acc: u64,
    n: u32,
}

impl Bits<'_> {
    /// Appends the low `n` bits of `v` (`n` at most 56).
    #[inline(always)]
    fn put(&mut self, v: u64, n: u32) {
        self.acc |= v << self.n;
        self.n += n;
        self.out[self.pos..self.pos + 8].copy_from_slice(&self.acc.to_le_bytes());
        let bytes = self.n / 8;
        self.pos += bytes as usize;
        self.acc >>= bytes * 8;
        self.n &= 7;
    }
}

/// Huffman code lengths for `freq`, none longer than `limit`: if the tree is too deep,
/// the counts are halved (rounding up) and the tree built again. At least two symbols get
/// a code (a decoder may refuse a one-code tree).
fn code_lengths(freq: &[u32], limit: u8, lens: &mut [u8]) {
    let mut f: Vec<u32> = freq.to_vec();
    let mut used = f.iter().filter(|&&x| x > 0).count();
    for x in f.iter_mut() {
        if used >= 2 {
            break;
        }
        if *x == 0 {
            *x = 1;
            used += 1;
        }
    }
    let mut leaves: Vec<(u32, usize)> = Vec::with_capacity(f.len());
    loop {
        leaves.clear();
        leaves.extend(
            f.iter()
                .enumerate()
                .filter(|(_, &x)| x > 0)
                .map(|(i, &x)| (x, i)),
        );
        leaves.sort_unstable();
        let k = leaves.len();
        // Two queues: the sorted leaves, and the internal nodes in the order made (their
        // weights only grow). Node `i < k` is leaf `i`.
        let mut weight: Vec<u64> = leaves.iter().map(|l| u64::from(l.0)).collect();
        weight.resize(2 * k - 1, 0);
        let mut parent = vec![0usize; 2 * k - 1];
        let (mut leaf, mut node) = (0, k);
        for next in k..2 * k - 1 {
            let mut lightest = || {
                if leaf < k && (node >= next || weight[leaf] <= weight[node]) {
                    leaf += 1;
                    leaf - 1
                } else {
                    node += 1;
                    node - 1
                }
            };
            let (a, b) = (lightest(), lightest());
            weight[next] = weight[a] + weight[b];
            parent[a] = next;
            parent[b] = next;
        }
        let mut depth = vec![0u8; 2 * k - 1];
        for i in (0..2 * k - 2).rev() {
            depth[i] = depth[parent[i]] + 1;
        }
        if depth[..k].iter().all(|&d| d <= limit) {
            lens.fill(0);
            for (i, l) in leaves.iter().enumerate() {
                lens[l.1] = depth[i];
            }
            return;
        }
        for x in f.iter_mut().filter(|x| **x > 0) {
            *x = x.div_ceil(2);
        }
    }
}

/// Canonical codes for `lens`, bit-reversed for the LSB-first writer.
fn canonical(lens: &[u8], codes: &mut [u16]) {
    let mut count = [0u16; 16];
    for &l in lens {
        count[usize::from(l)] += 1;
    }
    count[0] = 0;
    let mut next = [0u16; 16];
    let mut code = 0u16;
    for b in 1..16 {
        code = (code + count[b - 1]) << 1;
        next[b] = code;
    }
    for (c, &l) in codes.iter_mut().zip(lens) {
        if l > 0 {
            let l = usize::from(l);
            *c = next[l].reverse_bits() >> (16 - l);
            next[l] += 1;
        }
    }
}

/// A final dynamic block's header: the code lengths, run-length coded with symbols 16-18
/// and themselves Huffman coded.
fn block_header(lit_len: &[u8; 286], dist_len: &[u8; 30], w: &mut Bits) {
    let hlit = 286 - lit_len[257..].iter().rev().take_while(|&&l| l == 0).count();
    let hdist = 30 - dist_len[1..].iter().rev().take_while(|&&l| l == 0).count();
    let all: Vec<u8> = lit_len[..hlit]
        .iter()
        .chain(&dist_len[..hdist])
        .copied()
        .collect();
    // (symbol, extra bits value)
    let mut cl: Vec<(u8, u8)> = Vec::with_capacity(all.len());
    let mut j = 0;
    while j < all.len() {
        let v = all[j];
        let run = all[j..].iter().take_while(|&&x| x == v).count();
        let mut left = run;
        if v == 0 {
            while left >= 11 {
                let t = left.min(138);
                cl.push((18, (t - 11) as u8));
                left -= t;
            }
            if left >= 3 {
                cl.push((17, (left - 3) as u8));
                left = 0;
            }
        } else {
            cl.push((v, 0));
            left -= 1;
            while left >= 3 {
                let t = left.min(6);
                cl.push((16, (t - 3) as u8));
                left -= t;
            }
        }
        cl.extend(std::iter::repeat_n((v, 0), left));
        j += run;
    }
    let mut freq = [0u32; 19];
    for &(s, _) in &cl {
        freq[usize::from(s)] += 1;
    }
    let mut len = [0u8; 19];
    code_lengths(&freq, 7, &mut len);
    let mut code = [0u16; 19];
    canonical(&len, &mut code);
    let hclen = 19
        - CL_ORDER[4..]
            .iter()
            .rev()
            .take_while(|&&s| len[s] == 0)
            .count();
    w.put(1, 1); // the last block
    w.put(2, 2); // dynamic Huffman codes
    w.put((hlit - 257) as u64, 5);
    w.put((hdist - 1) as u64, 5);
    w.put((hclen - 4) as u64, 4);
    for &s in &CL_ORDER[..hclen] {
        w.put(u64::from(len[s]), 3);
    }
    for &(s, x) in &cl {
        let s = usize::from(s);
        w.put(u64::from(code[s]), u32::from(len[s]));
        match s {
            16 => w.put(u64::from(x), 2),
            17 => w.put(u64::from(x), 3),
            18 => w.put(u64::from(x), 7),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::strategy::Strategy;

    fn inflate(z: &[u8], n: usize) -> Vec<u8> {
        let mut back = vec![0u8; n + 64];
        let (out, rc) = zlib_rs::decompress_slice(&mut back, z, zlib_rs::InflateConfig::default());
        assert_eq!(rc, zlib_rs::ReturnCode::Ok);
        out.to_vec()
    }

    /// Both modes decode to `data`; the length with the hash search.
    fn roundtrip(data: &[u8], stride: usize) -> usize {
        let mut scratch = Scratch::default();
        let mut out = vec![0xAA; 7]; // overwritten from the start
        let mut lens = [0; 2];
        for (search, len) in [false, true].into_iter().zip(&mut lens) {
            *len = zlib(data, stride, search, &mut scratch, &mut out);
            let back = inflate(&out[..*len], data.len());
            assert_eq!(back, data, "stride {stride}, search {search}");
        }
        lens[1]
    }

    /// xorshift bytes.
    fn noise(n: usize, seed: u64) -> Vec<u8> {
        let mut s = seed | 1;
        (0..n)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                s as u8
            })
            .collect()
    }

    #[test]
    fn length_codes_match_the_table_search() {
        for (len, &code) in LEN_CODE.iter().enumerate().skip(3) {
            let c = LEN_BASE.partition_point(|&b| usize::from(b) <= len) - 1;
            assert_eq!(usize::from(code), c, "{len}");
        }
    }

    #[test]
    fn small_and_odd_inputs_round_trip() {
        for n in [0, 1, 2, 3, 4, 63, 64, 65, 127, 128, 129, 1000] {
            for stride in [1, 2, 3, 5, 64, 65, 200] {
                roundtrip(&vec![0; n], stride);
                roundtrip(&noise(n, n as u64 + 7), stride);
                let rows: Vec<u8> = (0..n).map(|i| (i % stride) as u8).collect();
                roundtrip(&rows, stride);
            }
        }
    }

    #[test]
    fn chart_like_rows_round_trip_and_shrink() {
        // Rows of runs, most repeating the row above, some with noise.
        let (w, h) = (828, 273);
        let mut data = vec![0u8; w * h];
        for y in 0..h {
            let row = &mut data[y * w..(y + 1) * w];
            row[0] = 0;
            for (x, b) in row.iter_mut().enumerate().skip(1) {
                *b = if x < 40 + y / 30 {
                    3
                } else if x % 97 == 0 {
                    7
                } else {
                    1
                };
            }
            if y % 17 == 0 {
                let n = noise(120, y as u64);
                row[300..420].copy_from_slice(&n);
            }
        }
        let len = roundtrip(&data, w);
        assert!(len < data.len() / 10, "{len}");
    }

    #[test]
    fn all_byte_values_and_long_codes_round_trip() {
        // Skewed counts force the length limit: byte b appears about 1.6^b times, capped.
        let mut data = Vec::new();
        let mut k = 1.0f64;
        for b in 0..=255u8 {
            data.extend(std::iter::repeat_n(b, (k as usize).min(5000)));
            data.push(b.wrapping_mul(31));
            k *= 1.6;
        }
        let mixed: Vec<u8> = data
            .iter()
            .zip(noise(data.len(), 3))
            .map(|(a, b)| if b < 40 { b } else { *a })
            .collect();
        roundtrip(&mixed, 101);
        roundtrip(&noise(300_000, 9), 828);
    }

    #[test]
    fn distance_codes_match_the_table_search() {
        for d in 1..=MAX_DIST {
            let c = DIST_BASE.partition_point(|&b| usize::from(b) <= d) - 1;
            assert_eq!(dist_code(d), c, "{d}");
        }
    }

    #[test]
    fn repeats_between_runs_are_found_by_the_search() {
        // A 40-byte pattern of distinct bytes, again every 1000 bytes after noise: no runs,
        // so only the search finds it.
        let pattern: Vec<u8> = (0..40).map(|i| (i * 7 + 3) as u8).collect();
        let mut data = Vec::new();
        for k in 0..30 {
            data.extend(noise(960, k));
            data.extend(&pattern);
        }
        let mut scratch = Scratch::default();
        let mut out = Vec::new();
        let plain = zlib(&data, 5000, false, &mut scratch, &mut out);
        let searched = roundtrip(&data, 5000);
        assert!(searched + 29 * 30 < plain, "{searched} vs {plain}");
    }

    #[test]
    fn strides_past_the_window_use_runs_only() {
        let data: Vec<u8> = (0..100_000).map(|i| (i / 7 % 5) as u8).collect();
        roundtrip(&data, 40_000);
        roundtrip(&data, MAX_DIST);
        roundtrip(&data, MAX_DIST + 1);
    }

    proptest::proptest! {
        /// Every compare path of [`mask`] (SSE2, and AVX2 and AVX-512BW where the CPU has
        /// them) gives the bit-by-bit mask, at any distance and length.
        #[test]
        fn mask_words_are_the_bytewise_compare(
            (data, d) in (0usize..700).prop_flat_map(|n| (
                proptest::collection::vec(0u8..3, n),
                1usize..200,
            )),
        ) {
            let mut out = Vec::new();
            mask(&data, d, &mut out);
            let mut slow = vec![0u64; data.len().div_ceil(64)];
            for p in d..data.len() {
                slow[p / 64] |= u64::from(data[p] == data[p - d]) << (p % 64);
            }
            proptest::prop_assert_eq!(&out, &slow);
            let n = data.len();
            let (first, full) = (d.div_ceil(64).min(n / 64), n / 64);
            let expect = &slow[first.min(full)..full];
            let mut words = vec![0u64; expect.len()];
            eq_words(&data, d, first, &mut words);
            proptest::prop_assert_eq!(&words[..], expect);
            #[cfg(target_arch = "x86_64")]
            {
                if std::arch::is_x86_feature_detected!("avx2") {
                    words.fill(0);
                    // SAFETY: the CPU has AVX2 (checked just above).
                    unsafe { eq_words_avx2(&data, d, first, &mut words) };
                    proptest::prop_assert_eq!(&words[..], expect);
                }
                if std::arch::is_x86_feature_detected!("avx512bw") {
                    words.fill(0);
                    // SAFETY: the CPU has AVX-512BW (checked just above).
                    unsafe { eq_words_avx512(&data, d, first, &mut words) };
                    proptest::prop_assert_eq!(&words[..], expect);
                }
            }
        }
    }

    proptest::proptest! {
        /// The windowed [`starts`] equals the chained one on any masks (sparse, dense and
        /// random words, lengths 0 to 70), into a reused buffer.
        #[test]
        fn starts_is_starts_chained(
            words in proptest::collection::vec(
                (proptest::prelude::any::<u64>(), proptest::prelude::any::<u64>(), 0u8..3),
                0..70,
            )
        ) {
            let pick = |w: u64, k: u8| match k {
                0 => w,
                1 => w | w.rotate_left(1) | w.rotate_left(2),
                _ => !0,
            };
            let above: Vec<u64> = words.iter().map(|&(a, _, k)| pick(a, k)).collect();
            let left: Vec<u64> = words.iter().map(|&(_, b, k)| pick(b, 2 - k)).collect();
            let (mut fast, mut slow) = (vec![7u64; 3], Vec::new());
            starts(&above, &left, &mut fast);
            starts_chained(&above, &left, &mut slow);
            proptest::prop_assert_eq!(fast, slow);
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(300))]

        /// Any rows a chart could make (a few colours, runs, rows repeating the one above,
        /// noise), at any stride and length, decode to themselves in both modes; one
        /// `Scratch` and one output buffer serve every case, as a render thread's do.
        #[test]
        fn any_rows_round_trip_with_reused_buffers(
            cases in proptest::collection::vec(
                (
                    1usize..2_000,                       // stride
                    0usize..40,                          // rows
                    1u8..6,                              // colours
                    0u8..4,                              // repeat the row above: 0 never, 3 often
                    any_seed(),
                ),
                1..4,
            )
        ) {
            let mut scratch = Scratch::default();
            let mut out = Vec::new();
            for (stride, rows, colours, repeat, seed) in cases {
                let data = chart_rows(stride, rows, colours, repeat, seed);
                for search in [false, true] {
                    let len = zlib(&data, stride, search, &mut scratch, &mut out);
                    let back = inflate(&out[..len], data.len());
                    proptest::prop_assert_eq!(&back, &data, "stride {}, search {}", stride, search);
                }
            }
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(300))]

        /// Without the hash search, the steps (see [`parse_steps`]) write the very bytes
        /// of the tokens as first parsed and written, on any chart-like rows, one
        /// `Scratch` for all.
        #[test]
        fn steps_write_the_bytes_of_tokens(
            cases in proptest::collection::vec(
                (1usize..2_000, 0usize..40, 1u8..6, 0u8..4, any_seed()),
                1..4,
            )
        ) {
            let mut scratch = Scratch::default();
            let (mut fast, mut slow) = (Vec::new(), Vec::new());
            for (stride, rows, colours, repeat, seed) in cases {
                let data = chart_rows(stride, rows, colours, repeat, seed);
                let a = encode(&data, stride, false, true, &mut scratch, &mut fast);
                let b = encode(&data, stride, false, false, &mut scratch, &mut slow);
                proptest::prop_assert_eq!(&fast[..a], &slow[..b], "stride {}", stride);
            }
        }
    }

    fn any_seed() -> impl proptest::strategy::Strategy<Value = u64> {
        proptest::num::u64::ANY
    }

    /// Rows of `stride` bytes: a filter byte, then runs of `colours` palette indices with
    /// now and then a noisy stretch; a row is the row above with odds `repeat` in 4.
    fn chart_rows(stride: usize, rows: usize, colours: u8, repeat: u8, seed: u64) -> Vec<u8> {
        let mut rng = noise(stride * rows + 64, seed).into_iter().cycle();
        let mut next = move || rng.next().unwrap_or(0);
        let mut data: Vec<u8> = Vec::with_capacity(stride * rows);
        for r in 0..rows {
            if r > 0 && next() % 4 < repeat {
                let above = data[(r - 1) * stride..r * stride].to_vec();
                data.extend_from_slice(&above);
                continue;
            }
            data.push(0);
            let mut colour = next() % colours;
            while data.len() < (r + 1) * stride {
                let run = 1 + usize::from(next() % 64);
                let noisy = next() % 8 == 0;
                for _ in 0..run {
                    if data.len() == (r + 1) * stride {
                        break;
                    }
                    data.push(if noisy { next() } else { colour });
                }
                colour = next() % colours;
            }
        }
        data
    }
}
