//! Explicit SIMD lanes for the per-edge kernels ([`crate::runtime::edges`]): a few vector
//! operations with fused multiply-add, implemented for AVX2 + FMA registers (`F32x8`,
//! `F64x4`) and for plain scalars (one lane, used for the remainder of a row and by the
//! portable build). The compiler's auto-vectorisation of these kernels neither fused the
//! multiply-adds (Rust does not contract `a * b + c`) nor kept per-edge reductions in
//! registers; written this way each kernel is one pass over the features with every
//! intermediate in registers.

/// `N` values of `T` processed together.
///
/// # Safety
/// Every operation may execute the lanes' instructions: call them only on a CPU that has
/// them (for [`F32x8`] and [`F64x4`]: AVX2 and FMA), and keep loads and stores in bounds.
// The contract above is every method's `# Safety` section.
#[allow(clippy::missing_safety_doc)]
pub trait Lanes<T: Copy>: Copy {
    /// Number of lanes.
    const N: usize;
    /// Where the scalar remainder of a row of `len` values starts: the largest multiple of
    /// `N` not above `len`.
    fn head(len: usize) -> usize {
        len - len % Self::N
    }
    /// All lanes `x`.
    unsafe fn splat(x: T) -> Self;
    /// Lanes `s[at..at + N]` (`at + N <= s.len()`).
    unsafe fn load(s: &[T], at: usize) -> Self;
    /// Writes the lanes to `s[at..at + N]` (`at + N <= s.len()`).
    unsafe fn store(self, s: &mut [T], at: usize);
    /// `self + o`.
    unsafe fn add(self, o: Self) -> Self;
    /// `self - o`.
    unsafe fn sub(self, o: Self) -> Self;
    /// `self * o`.
    unsafe fn mul(self, o: Self) -> Self;
    /// `self * b + c` (fused where the lanes are registers).
    unsafe fn fma(self, b: Self, c: Self) -> Self;
    /// Sum of the lanes.
    unsafe fn sum(self) -> T;
}

macro_rules! scalar_lanes {
    ($t:ty) => {
        impl Lanes<$t> for $t {
            const N: usize = 1;
            #[inline(always)]
            unsafe fn splat(x: $t) -> Self {
                x
            }
            #[inline(always)]
            unsafe fn load(s: &[$t], at: usize) -> Self {
                debug_assert!(at < s.len());
                *s.get_unchecked(at)
            }
            #[inline(always)]
            unsafe fn store(self, s: &mut [$t], at: usize) {
                debug_assert!(at < s.len());
                *s.get_unchecked_mut(at) = self;
            }
            #[inline(always)]
            unsafe fn add(self, o: Self) -> Self {
                self + o
            }
            #[inline(always)]
            unsafe fn sub(self, o: Self) -> Self {
                self - o
            }
            #[inline(always)]
            unsafe fn mul(self, o: Self) -> Self {
                self * o
            }
            /// Unfused: a scalar `mul_add` is a library call on CPUs without FMA.
            #[inline(always)]
            unsafe fn fma(self, b: Self, c: Self) -> Self {
                self * b + c
            }
            #[inline(always)]
            unsafe fn sum(self) -> $t {
                self
            }
        }
    };
}

scalar_lanes!(f32);
scalar_lanes!(f64);

#[cfg(target_arch = "x86_64")]
pub use avx2::{F32x8, F64x4};

/// AVX2 + FMA lanes, used only inside the runtime's `#[target_feature(enable = "avx2,fma")]`
/// copies, which are entered after a run-time check ([`crate::runtime::real::has_avx2_fma`]).
#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::Lanes;
    use std::arch::x86_64::*;

    /// Eight `f32` in a `__m256`.
    #[derive(Clone, Copy, Debug)]
    pub struct F32x8(__m256);

    /// Four `f64` in a `__m256d`.
    #[derive(Clone, Copy, Debug)]
    pub struct F64x4(__m256d);

    impl Lanes<f32> for F32x8 {
        const N: usize = 8;
        #[inline(always)]
        unsafe fn splat(x: f32) -> Self {
            F32x8(_mm256_set1_ps(x))
        }
        #[inline(always)]
        unsafe fn load(s: &[f32], at: usize) -> Self {
            debug_assert!(at + 8 <= s.len());
            F32x8(_mm256_loadu_ps(s.as_ptr().add(at)))
        }
        #[inline(always)]
        unsafe fn store(self, s: &mut [f32], at: usize) {
            debug_assert!(at + 8 <= s.len());
            _mm256_storeu_ps(s.as_mut_ptr().add(at), self.0)
        }
        #[inline(always)]
        unsafe fn add(self, o: Self) -> Self {
            F32x8(_mm256_add_ps(self.0, o.0))
        }
        #[inline(always)]
        unsafe fn sub(self, o: Self) -> Self {
            F32x8(_mm256_sub_ps(self.0, o.0))
        }
        #[inline(always)]
        unsafe fn mul(self, o: Self) -> Self {
            F32x8(_mm256_mul_ps(self.0, o.0))
        }
        #[inline(always)]
        unsafe fn fma(self, b: Self, c: Self) -> Self {
            F32x8(_mm256_fmadd_ps(self.0, b.0, c.0))
        }
        #[inline(always)]
        unsafe fn sum(self) -> f32 {
            {
                let a = _mm_add_ps(
                    _mm256_castps256_ps128(self.0),
                    _mm256_extractf128_ps(self.0, 1),
                );
                let b = _mm_add_ps(a, _mm_movehl_ps(a, a));
                _mm_cvtss_f32(_mm_add_ss(b, _mm_shuffle_ps(b, b, 1)))
            }
        }
    }

    impl Lanes<f64> for F64x4 {
        const N: usize = 4;
        #[inline(always)]
        unsafe fn splat(x: f64) -> Self {
            F64x4(_mm256_set1_pd(x))
        }
        #[inline(always)]
        unsafe fn load(s: &[f64], at: usize) -> Self {
            debug_assert!(at + 4 <= s.len());
            F64x4(_mm256_loadu_pd(s.as_ptr().add(at)))
        }
        #[inline(always)]
        unsafe fn store(self, s: &mut [f64], at: usize) {
            debug_assert!(at + 4 <= s.len());
            _mm256_storeu_pd(s.as_mut_ptr().add(at), self.0)
        }
        #[inline(always)]
        unsafe fn add(self, o: Self) -> Self {
            F64x4(_mm256_add_pd(self.0, o.0))
        }
        #[inline(always)]
        unsafe fn sub(self, o: Self) -> Self {
            F64x4(_mm256_sub_pd(self.0, o.0))
        }
        #[inline(always)]
        unsafe fn mul(self, o: Self) -> Self {
            F64x4(_mm256_mul_pd(self.0, o.0))
        }
        #[inline(always)]
        unsafe fn fma(self, b: Self, c: Self) -> Self {
            F64x4(_mm256_fmadd_pd(self.0, b.0, c.0))
        }
        #[inline(always)]
        unsafe fn sum(self) -> f64 {
            {
                let a = _mm_add_pd(
                    _mm256_castpd256_pd128(self.0),
                    _mm256_extractf128_pd(self.0, 1),
                );
                _mm_cvtsd_f64(_mm_add_sd(a, _mm_unpackhi_pd(a, a)))
            }
        }
    }
}
