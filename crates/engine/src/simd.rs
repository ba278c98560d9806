//! Dot and axpy kernels for the ALS solver. AVX2+FMA is chosen once per
//! sweep at run time (no `target-cpu=native` needed); the portable path is
//! written with 8 independent accumulators so LLVM can still vectorise it.

/// Vector kernels used by the generic solver; implementations are zero-sized.
pub(crate) trait Kernels: Copy + Send + Sync {
    fn dot(self, a: &[f32], b: &[f32]) -> f32;
    /// `y += alpha * x`
    fn axpy(self, alpha: f32, x: &[f32], y: &mut [f32]);
    /// Hints that `x` will be read soon (no-op where unsupported).
    #[inline(always)]
    fn prefetch(self, _x: &[f32]) {}
    /// `out = G · v` for a dense symmetric `f × f` matrix `G`, `f = v.len()`.
    #[inline(always)]
    fn gemv(self, g: &[f32], v: &[f32], out: &mut [f32]) {
        let f = v.len();
        for (a, o) in out.iter_mut().enumerate().take(f) {
            *o = self.dot(&g[a * f..(a + 1) * f], v);
        }
    }
}

#[derive(Clone, Copy)]
pub(crate) struct Portable;

impl Kernels for Portable {
    #[inline(always)]
    fn dot(self, a: &[f32], b: &[f32]) -> f32 {
        let mut acc = [0f32; 8];
        let (ca, ra) = (a.chunks_exact(8), a.chunks_exact(8).remainder());
        let rb = b.chunks_exact(8).remainder();
        for (x, y) in ca.zip(b.chunks_exact(8)) {
            for l in 0..8 {
                acc[l] += x[l] * y[l];
            }
        }
        let mut s: f32 = acc.iter().sum();
        for (x, y) in ra.iter().zip(rb) {
            s += x * y;
        }
        s
    }
    #[inline(always)]
    fn axpy(self, alpha: f32, x: &[f32], y: &mut [f32]) {
        for (yi, xi) in y.iter_mut().zip(x) {
            *yi += alpha * xi;
        }
    }
}

#[cfg(target_arch = "x86_64")]
pub(crate) mod x86 {
    use std::arch::x86_64::*;

    /// AVX2 + FMA kernels; only constructed after run-time detection.
    #[derive(Clone, Copy)]
    pub(crate) struct Avx2Fma(());

    impl Avx2Fma {
        pub(crate) fn detect() -> Option<Self> {
            (is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma"))
                .then_some(Avx2Fma(()))
        }
    }

    #[target_feature(enable = "avx2,fma")]
    #[inline]
    fn dot(a: &[f32], b: &[f32]) -> f32 {
        let n = a.len().min(b.len());
        let mut i = 0;
        let mut s0 = _mm256_setzero_ps();
        let mut s1 = _mm256_setzero_ps();
        let mut s2 = _mm256_setzero_ps();
        let mut s3 = _mm256_setzero_ps();
        // SAFETY: every load reads 8 floats at offsets < n.
        unsafe {
            // Four independent chains hide the FMA latency at 64 factors.
            while i + 32 <= n {
                let p = a.as_ptr().add(i);
                let q = b.as_ptr().add(i);
                s0 = _mm256_fmadd_ps(_mm256_loadu_ps(p), _mm256_loadu_ps(q), s0);
                s1 = _mm256_fmadd_ps(_mm256_loadu_ps(p.add(8)), _mm256_loadu_ps(q.add(8)), s1);
                s2 = _mm256_fmadd_ps(_mm256_loadu_ps(p.add(16)), _mm256_loadu_ps(q.add(16)), s2);
                s3 = _mm256_fmadd_ps(_mm256_loadu_ps(p.add(24)), _mm256_loadu_ps(q.add(24)), s3);
                i += 32;
            }
            while i + 16 <= n {
                let a0 = _mm256_loadu_ps(a.as_ptr().add(i));
                let b0 = _mm256_loadu_ps(b.as_ptr().add(i));
                let a1 = _mm256_loadu_ps(a.as_ptr().add(i + 8));
                let b1 = _mm256_loadu_ps(b.as_ptr().add(i + 8));
                s0 = _mm256_fmadd_ps(a0, b0, s0);
                s1 = _mm256_fmadd_ps(a1, b1, s1);
                i += 16;
            }
            if i + 8 <= n {
                let a0 = _mm256_loadu_ps(a.as_ptr().add(i));
                let b0 = _mm256_loadu_ps(b.as_ptr().add(i));
                s0 = _mm256_fmadd_ps(a0, b0, s0);
                i += 8;
            }
        }
        let s = _mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3));
        let hi = _mm256_extractf128_ps(s, 1);
        let lo = _mm256_castps256_ps128(s);
        let q = _mm_add_ps(hi, lo);
        let q = _mm_add_ps(q, _mm_movehl_ps(q, q));
        let q = _mm_add_ss(q, _mm_shuffle_ps(q, q, 1));
        let mut r = _mm_cvtss_f32(q);
        while i < n {
            r += a[i] * b[i];
            i += 1;
        }
        r
    }

    #[target_feature(enable = "avx2,fma")]
    #[inline]
    fn axpy(alpha: f32, x: &[f32], y: &mut [f32]) {
        let n = x.len().min(y.len());
        let mut i = 0;
        let va = _mm256_set1_ps(alpha);
        // SAFETY: every load/store touches 8 floats at offsets < n.
        unsafe {
            while i + 8 <= n {
                let xv = _mm256_loadu_ps(x.as_ptr().add(i));
                let yv = _mm256_loadu_ps(y.as_ptr().add(i));
                _mm256_storeu_ps(y.as_mut_ptr().add(i), _mm256_fmadd_ps(va, xv, yv));
                i += 8;
            }
        }
        while i < n {
            y[i] += alpha * x[i];
            i += 1;
        }
    }

    /// `out = G · v` using symmetry (`Gv = vᵀG`): 32 output columns stay in
    /// four registers while `v` is broadcast, so there is no horizontal sum.
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    fn gemv(g: &[f32], v: &[f32], out: &mut [f32]) {
        let f = v.len();
        if !f.is_multiple_of(32) || g.len() < f * f || out.len() < f {
            for (a, o) in out.iter_mut().enumerate().take(f) {
                *o = dot(&g[a * f..(a + 1) * f], v);
            }
            return;
        }
        // SAFETY: blk + 32 <= f and a < f, so every load reads inside g
        // (len >= f·f) and every store writes inside out (len >= f).
        unsafe {
            let mut blk = 0;
            while blk < f {
                let mut a0 = _mm256_setzero_ps();
                let mut a1 = _mm256_setzero_ps();
                let mut a2 = _mm256_setzero_ps();
                let mut a3 = _mm256_setzero_ps();
                for (a, &va) in v.iter().enumerate() {
                    let s = _mm256_set1_ps(va);
                    let row = g.as_ptr().add(a * f + blk);
                    a0 = _mm256_fmadd_ps(s, _mm256_loadu_ps(row), a0);
                    a1 = _mm256_fmadd_ps(s, _mm256_loadu_ps(row.add(8)), a1);
                    a2 = _mm256_fmadd_ps(s, _mm256_loadu_ps(row.add(16)), a2);
                    a3 = _mm256_fmadd_ps(s, _mm256_loadu_ps(row.add(24)), a3);
                }
                let o = out.as_mut_ptr().add(blk);
                _mm256_storeu_ps(o, a0);
                _mm256_storeu_ps(o.add(8), a1);
                _mm256_storeu_ps(o.add(16), a2);
                _mm256_storeu_ps(o.add(24), a3);
                blk += 32;
            }
        }
    }

    impl super::Kernels for Avx2Fma {
        #[inline(always)]
        fn prefetch(self, x: &[f32]) {
            // 16 floats per 64-byte cache line.
            for line in x.chunks(16) {
                // SAFETY: prefetching a valid address has no side effect.
                unsafe { _mm_prefetch::<_MM_HINT_T0>(line.as_ptr().cast()) };
            }
        }
        #[inline(always)]
        fn gemv(self, g: &[f32], v: &[f32], out: &mut [f32]) {
            // SAFETY: a value of this type exists only when the CPU has the features.
            unsafe { gemv(g, v, out) }
        }
        #[inline(always)]
        fn dot(self, a: &[f32], b: &[f32]) -> f32 {
            // SAFETY: a value of this type exists only when the CPU has the features.
            unsafe { dot(a, b) }
        }
        #[inline(always)]
        fn axpy(self, alpha: f32, x: &[f32], y: &mut [f32]) {
            // SAFETY: as above.
            unsafe { axpy(alpha, x, y) }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernels_agree_with_scalar() {
        let a: Vec<f32> = (0..37).map(|i| i as f32 * 0.5 - 3.0).collect();
        let b: Vec<f32> = (0..37).map(|i| 1.0 - i as f32 * 0.25).collect();
        let expect: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
        assert!((Portable.dot(&a, &b) - expect).abs() < 1e-3);
        let mut y = b.clone();
        Portable.axpy(2.0, &a, &mut y);
        assert_eq!(y[5], b[5] + 2.0 * a[5]);
        #[cfg(target_arch = "x86_64")]
        if let Some(k) = x86::Avx2Fma::detect() {
            assert!((k.dot(&a, &b) - expect).abs() < 1e-3);
            let mut z = b.clone();
            k.axpy(2.0, &a, &mut z);
            for (p, q) in z.iter().zip(&y) {
                assert!((p - q).abs() < 1e-5);
            }
            // Symmetric 32 × 32 matrix: register-blocked gemv equals dots.
            let f = 32;
            let g: Vec<f32> = (0..f * f)
                .map(|i| ((i / f) * (i % f)) as f32 * 0.01)
                .collect();
            let v: Vec<f32> = (0..f).map(|i| 1.0 - i as f32 * 0.1).collect();
            let (mut o1, mut o2) = (vec![0f32; f], vec![0f32; f]);
            k.gemv(&g, &v, &mut o1);
            Portable.gemv(&g, &v, &mut o2);
            for (p, q) in o1.iter().zip(&o2) {
                assert!((p - q).abs() < 1e-3, "{p} vs {q}");
            }
        }
    }
}
