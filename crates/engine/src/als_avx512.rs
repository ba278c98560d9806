//! AVX-512 row solver and Gram kernel for ALS when `factors` is 16, 32, 48
//! or 64 (`V` = factors / 16 registers per vector).
//!
//! Why a separate path: at 64 factors a whole factor vector fits in four
//! zmm registers, so the solution `x`, the residual `r`, the direction `p`
//! and `A·p` all stay in 16 registers for the whole row. Each sparse term
//! then loads its item's factors once and uses them twice (the dot product
//! and the update), instead of dot + axpy re-reading `p`, `ap` and the
//! factors from memory (about 40 memory operations per term on the AVX2
//! path, 4 here). `YᵀY·p` keeps its 64 outputs in 8 registers (two
//! interleaved chains hide the FMA latency).
//!
//! The arithmetic is the same conjugate-gradient recurrence as
//! [`crate::als`]'s generic solver; only the summation order of dot products
//! differs, and it is fixed, so results are deterministic.

use std::arch::x86_64::*;

/// Zero-sized token: exists only when the CPU has AVX-512F.
#[derive(Clone, Copy)]
pub(crate) struct Avx512(());

impl Avx512 {
    pub(crate) fn detect() -> Option<Self> {
        is_x86_feature_detected!("avx512f").then_some(Avx512(()))
    }
}

/// How many terms ahead the sparse passes prefetch factor rows.
const PREFETCH: usize = 12;

type Vf<const V: usize> = [__m512; V];

#[target_feature(enable = "avx512f")]
#[inline]
fn zero<const V: usize>() -> Vf<V> {
    [_mm512_setzero_ps(); V]
}

/// Loads `16·V` floats from `s` (which must hold at least that many).
#[target_feature(enable = "avx512f")]
#[inline]
fn load<const V: usize>(s: &[f32]) -> Vf<V> {
    assert!(s.len() >= 16 * V);
    let mut out = zero::<V>();
    for (j, o) in out.iter_mut().enumerate() {
        // SAFETY: 16·j + 16 <= 16·V <= s.len().
        *o = unsafe { _mm512_loadu_ps(s.as_ptr().add(16 * j)) };
    }
    out
}

#[target_feature(enable = "avx512f")]
#[inline]
fn store<const V: usize>(v: &Vf<V>, s: &mut [f32]) {
    assert!(s.len() >= 16 * V);
    for (j, x) in v.iter().enumerate() {
        // SAFETY: as in `load`.
        unsafe { _mm512_storeu_ps(s.as_mut_ptr().add(16 * j), *x) };
    }
}

/// Sum of all 16 lanes, broadcast to every lane.
#[target_feature(enable = "avx512f")]
#[inline]
fn hsum(v: __m512) -> __m512 {
    let v = _mm512_add_ps(v, _mm512_shuffle_f32x4::<0b01_00_11_10>(v, v));
    let v = _mm512_add_ps(v, _mm512_shuffle_f32x4::<0b10_11_00_01>(v, v));
    let v = _mm512_add_ps(v, _mm512_permute_ps::<0b01_00_11_10>(v));
    _mm512_add_ps(v, _mm512_permute_ps::<0b10_11_00_01>(v))
}

/// `a · b`, broadcast.
#[target_feature(enable = "avx512f")]
#[inline]
fn dot<const V: usize>(a: &Vf<V>, b: &Vf<V>) -> __m512 {
    let mut s0 = _mm512_setzero_ps();
    let mut s1 = _mm512_setzero_ps();
    for j in 0..V {
        if j % 2 == 0 {
            s0 = _mm512_fmadd_ps(a[j], b[j], s0);
        } else {
            s1 = _mm512_fmadd_ps(a[j], b[j], s1);
        }
    }
    hsum(_mm512_add_ps(s0, s1))
}

/// `y += a·x`
#[target_feature(enable = "avx512f")]
#[inline]
fn axpy<const V: usize>(a: __m512, x: &Vf<V>, y: &mut Vf<V>) {
    for j in 0..V {
        y[j] = _mm512_fmadd_ps(a, x[j], y[j]);
    }
}

/// `G·v` for the symmetric `f × f` matrix `G` (computed as `vᵀG`, so the
/// outputs stay in registers and `v` is broadcast one element at a time).
#[target_feature(enable = "avx512f")]
#[inline]
fn gemv<const V: usize>(g: &[f32], v: &Vf<V>) -> Vf<V> {
    let f = 16 * V;
    assert!(g.len() >= f * f);
    let mut buf = [0f32; 64];
    store(v, &mut buf);
    let (mut a0, mut a1) = (zero::<V>(), zero::<V>());
    let mut a = 0;
    while a < f {
        let s0 = _mm512_set1_ps(buf[a]);
        let s1 = _mm512_set1_ps(buf[a + 1]);
        let r0 = load::<V>(&g[a * f..]);
        let r1 = load::<V>(&g[(a + 1) * f..]);
        axpy(s0, &r0, &mut a0);
        axpy(s1, &r1, &mut a1);
        a += 2;
    }
    for j in 0..V {
        a0[j] = _mm512_add_ps(a0[j], a1[j]);
    }
    a0
}

/// Prefetches the factor row `i` (one cache line per register).
#[target_feature(enable = "avx512f")]
#[inline]
fn prefetch<const V: usize>(y: &[f32], i: u32) {
    let p = y.as_ptr().wrapping_add(i as usize * 16 * V);
    for j in 0..V {
        _mm_prefetch::<_MM_HINT_T0>(p.wrapping_add(16 * j).cast());
    }
}

#[target_feature(enable = "avx512f")]
#[inline]
fn first_lane(v: __m512) -> f32 {
    _mm512_cvtss_f32(v)
}

/// One row's data: its terms and the first terms of the next row (whose
/// factors the last pass prefetches so the next row does not start cold).
pub(crate) struct Row<'a> {
    pub idx: &'a [u32],
    pub val: &'a [f32],
    pub next: &'a [u32],
}

/// Conjugate-gradient update of one row, `f = 16·V`; the same recurrence as
/// `als::solve_row`.
#[target_feature(enable = "avx512f")]
fn solve_row<const V: usize>(yty: &[f32], y: &[f32], row: Row<'_>, xu: &mut [f32], cg: usize) {
    let f = 16 * V;
    let n = row.idx.len();
    let fy = |i: u32| &y[i as usize * f..(i as usize + 1) * f];
    let mut x = load::<V>(xu);
    // r = b − A·x
    let mut r = gemv::<V>(yty, &x);
    for v in r.iter_mut() {
        *v = _mm512_sub_ps(_mm512_setzero_ps(), *v);
    }
    for &i in row.idx.iter().take(PREFETCH) {
        prefetch::<V>(y, i);
    }
    for k in 0..n {
        if let Some(&next) = row.idx.get(k + PREFETCH) {
            prefetch::<V>(y, next);
        }
        let yi = load::<V>(fy(row.idx[k]));
        let cv = row.val[k];
        let (conf, pref) = if cv > 0.0 { (cv, cv) } else { (-cv, 0.0) };
        let t = _mm512_fnmadd_ps(
            _mm512_set1_ps(conf - 1.0),
            dot(&yi, &x),
            _mm512_set1_ps(pref),
        );
        axpy(t, &yi, &mut r);
    }
    let mut p = r;
    let mut rsold = first_lane(dot(&r, &r));
    if rsold < 1e-20 {
        for &i in row.next.iter().take(PREFETCH) {
            prefetch::<V>(y, i);
        }
        return;
    }
    for step in 0..cg {
        let last = step + 1 == cg;
        let mut ap = gemv::<V>(yty, &p);
        for k in 0..n {
            let ahead = k + PREFETCH;
            if ahead < n {
                prefetch::<V>(y, row.idx[ahead]);
            } else if last && let Some(&i) = row.next.get(ahead - n) {
                prefetch::<V>(y, i);
            }
            let yi = load::<V>(fy(row.idx[k]));
            let t = _mm512_mul_ps(_mm512_set1_ps(row.val[k].abs() - 1.0), dot(&yi, &p));
            axpy(t, &yi, &mut ap);
        }
        let pap = first_lane(dot(&p, &ap));
        if pap <= 0.0 {
            break;
        }
        let a = _mm512_set1_ps(rsold / pap);
        axpy(a, &p, &mut x);
        axpy(_mm512_sub_ps(_mm512_setzero_ps(), a), &ap, &mut r);
        let rsnew = first_lane(dot(&r, &r));
        if rsnew < 1e-20 {
            break;
        }
        let beta = _mm512_set1_ps(rsnew / rsold);
        for j in 0..V {
            p[j] = _mm512_fmadd_ps(beta, p[j], r[j]);
        }
        rsold = rsnew;
    }
    store(&x, xu);
}

/// `g += Σ row rowᵀ` over the rows of `chunk`, `f = 16·V`: four rows of `g`
/// (16 registers) accumulate over the whole chunk before touching memory.
#[target_feature(enable = "avx512f")]
fn gram_chunk<const V: usize>(chunk: &[f32], g: &mut [f32]) {
    let f = 16 * V;
    assert!(g.len() >= f * f);
    let mut a0 = 0;
    while a0 < f {
        let mut acc = [zero::<V>(); 4];
        for row in chunk.chunks_exact(f) {
            let yv = load::<V>(row);
            for (q, aq) in acc.iter_mut().enumerate() {
                axpy(_mm512_set1_ps(row[a0 + q]), &yv, aq);
            }
        }
        for (q, aq) in acc.iter().enumerate() {
            let dst = &mut g[(a0 + q) * f..(a0 + q + 1) * f];
            let mut cur = load::<V>(dst);
            for j in 0..V {
                cur[j] = _mm512_add_ps(cur[j], aq[j]);
            }
            store(&cur, dst);
        }
        a0 += 4;
    }
}

impl Avx512 {
    /// Whether these kernels handle `f` factors.
    pub(crate) fn supports(f: usize) -> bool {
        matches!(f, 16 | 32 | 48 | 64)
    }

    pub(crate) fn solve(self, yty: &[f32], y: &[f32], row: Row<'_>, xu: &mut [f32], cg: usize) {
        // SAFETY: a value of this type exists only when the CPU has AVX-512F.
        unsafe {
            match xu.len() {
                64 => solve_row::<4>(yty, y, row, xu, cg),
                48 => solve_row::<3>(yty, y, row, xu, cg),
                32 => solve_row::<2>(yty, y, row, xu, cg),
                16 => solve_row::<1>(yty, y, row, xu, cg),
                f => unreachable!("{f} factors: check Avx512::supports first"),
            }
        }
    }

    pub(crate) fn gram_chunk(self, chunk: &[f32], f: usize, g: &mut [f32]) {
        // SAFETY: as in `solve`.
        unsafe {
            match f {
                64 => gram_chunk::<4>(chunk, g),
                48 => gram_chunk::<3>(chunk, g),
                32 => gram_chunk::<2>(chunk, g),
                16 => gram_chunk::<1>(chunk, g),
                _ => unreachable!("{f} factors: check Avx512::supports first"),
            }
        }
    }
}
