//! The floating-point types the native runtime computes in (`f32`, `f64`), with the small
//! dense matrix product it needs (faer's `matmul`: run-time SIMD dispatch up to AVX-512 on
//! stable Rust) and the activation SiLU.

use std::ops::{AddAssign, MulAssign, SubAssign};

use crate::runtime::simd::Lanes;
use faer::linalg::matmul::matmul;
use faer::{Accum, MatMut, MatRef, Par};

/// A float the native evaluator runs in.
pub trait Real:
    num_traits::Float
    + AddAssign
    + SubAssign
    + MulAssign
    + Default
    + Send
    + Sync
    + Lanes<Self>
    + 'static
{
    /// The widest SIMD lanes of `Self` the runtime's AVX2 copies use ([`Lanes`]).
    type Wide: Lanes<Self>;

    /// Converts from `f64` (rounding for `f32`).
    fn of(x: f64) -> Self;

    /// `e^x` for the activations: `f32` through [`exp_f32`] (branch-free, so that loops over
    /// it vectorise), `f64` through libm.
    fn exp_act(self) -> Self;

    /// `C = alpha A B + beta C` for `A` `[m, k]` with (row, column) strides `sa`, `B`
    /// `[k, n]` with strides `sb` and `C` `[m, n]` with strides `sc`.
    #[allow(clippy::too_many_arguments)]
    fn gemm(
        m: usize,
        k: usize,
        n: usize,
        alpha: Self,
        a: &[Self],
        sa: (usize, usize),
        b: &[Self],
        sb: (usize, usize),
        beta: Self,
        c: &mut [Self],
        sc: (usize, usize),
    );
}

/// Checks that a strided `[rows, cols]` view fits in a slice of length `len`.
fn fits(rows: usize, cols: usize, (rs, cs): (usize, usize), len: usize) -> bool {
    rows == 0 || cols == 0 || (rows - 1) * rs + (cols - 1) * cs < len
}

macro_rules! impl_real {
    ($t:ty, $wide:ty, $exp:expr) => {
        impl Real for $t {
            type Wide = $wide;

            fn of(x: f64) -> Self {
                x as $t
            }

            #[inline(always)]
            fn exp_act(self) -> Self {
                $exp(self)
            }

            fn gemm(
                m: usize,
                k: usize,
                n: usize,
                alpha: Self,
                a: &[Self],
                sa: (usize, usize),
                b: &[Self],
                sb: (usize, usize),
                beta: Self,
                c: &mut [Self],
                sc: (usize, usize),
            ) {
                assert!(
                    fits(m, k, sa, a.len()) && fits(k, n, sb, b.len()) && fits(m, n, sc, c.len()),
                    "gemm operands out of bounds"
                );
                if m == 0 || n == 0 {
                    return;
                }
                if beta != 0.0 && beta != 1.0 {
                    for i in 0..m {
                        for j in 0..n {
                            c[i * sc.0 + j * sc.1] *= beta;
                        }
                    }
                }
                // SAFETY: every element addressed by the strides lies inside its slice (checked
                // above), and `c` does not alias `a` or `b` (it is borrowed mutably).
                let (a, b, c) = unsafe {
                    (
                        MatRef::from_raw_parts(a.as_ptr(), m, k, sa.0 as isize, sa.1 as isize),
                        MatRef::from_raw_parts(b.as_ptr(), k, n, sb.0 as isize, sb.1 as isize),
                        MatMut::from_raw_parts_mut(
                            c.as_mut_ptr(),
                            m,
                            n,
                            sc.0 as isize,
                            sc.1 as isize,
                        ),
                    )
                };
                // `Replace` never reads `c` (beta = 0: it may hold garbage such as NaN).
                let accum = if beta == 0.0 {
                    Accum::Replace
                } else {
                    Accum::Add
                };
                matmul(c, accum, a, b, alpha, Par::Seq);
            }
        }
    };
}

#[cfg(target_arch = "x86_64")]
impl_real!(f32, crate::runtime::simd::F32x8, exp_f32);
#[cfg(target_arch = "x86_64")]
impl_real!(f64, crate::runtime::simd::F64x4, f64::exp);
#[cfg(not(target_arch = "x86_64"))]
impl_real!(f32, f32, exp_f32);
#[cfg(not(target_arch = "x86_64"))]
impl_real!(f64, f64, f64::exp);

/// `out [n, o] = x [n, i] W^T + b` for the transposed weight `wt = W^T` `[i, o]` (row-major)
/// and optional bias `b` `[o]`; `x` has row stride `rs_x` (for column slices of wider arrays).
#[allow(clippy::too_many_arguments)]
pub fn linear<T: Real>(
    x: &[T],
    rs_x: usize,
    n: usize,
    wt: &[T],
    b: Option<&[T]>,
    o: usize,
    i: usize,
    out: &mut [T],
) {
    T::gemm(
        n,
        i,
        o,
        T::one(),
        x,
        (rs_x, 1),
        wt,
        (o, 1),
        T::zero(),
        out,
        (o, 1),
    );
    if let Some(b) = b {
        for row in out[..n * o].chunks_exact_mut(o) {
            for (y, &bb) in row.iter_mut().zip(b) {
                *y += bb;
            }
        }
    }
}

/// `gx [n, i] (+)= gy [n, o] W` — the input adjoint of [`linear`] (`beta` 0 overwrites,
/// 1 accumulates); `gx` has row stride `rs_gx`.
#[allow(clippy::too_many_arguments)]
pub fn linear_backward<T: Real>(
    gy: &[T],
    n: usize,
    w: &[T],
    o: usize,
    i: usize,
    beta: T,
    gx: &mut [T],
    rs_gx: usize,
) {
    T::gemm(
        n,
        o,
        i,
        T::one(),
        gy,
        (o, 1),
        w,
        (i, 1),
        beta,
        gx,
        (rs_gx, 1),
    );
}

/// `e^x` in float32 without branches or library calls: `x` clamped to [-87, 88], `e^x =
/// 2^n e^r` with `n` the nearest integer to `x / ln 2` and `|r| <= ln 2 / 2`, `e^r` from Cephes'
/// `expf` polynomial (relative error within 2 ulp, measured by the unit test). libm's `expf` is
/// a scalar call: the SiLU loops around it were ~9 % of generation. NaN gives a finite value
/// (the activations below keep NaN through their numerator).
#[inline(always)]
pub fn exp_f32(x: f32) -> f32 {
    // 1.5 * 2^23: adding it rounds to an integer held in the low mantissa bits.
    const ROUND: f32 = 12_582_912.0;
    let x = x.clamp(-87.0, 88.0);
    let t = x * std::f32::consts::LOG2_E + ROUND;
    let n = t - ROUND;
    // ln 2 in two parts (the first, 355 / 512, exact in few bits) so that `r` keeps its precision.
    let r = x - n * 0.693_359_4 + n * 2.121_944_4e-4;
    let p = 1.987_569_1e-4f32;
    let p = p * r + 1.398_199_9e-3;
    let p = p * r + 8.333_452e-3;
    let p = p * r + 4.166_579_6e-2;
    let p = p * r + 1.666_666_5e-1;
    let p = p * r + 0.5;
    let er = p * (r * r) + r + 1.0;
    let bits = (t.to_bits() as i32 - ROUND.to_bits() as i32 + 127) << 23;
    er * f32::from_bits(bits as u32)
}

/// SiLU `x sigmoid(x)`.
#[inline(always)]
pub fn silu<T: Real>(x: T) -> T {
    x / (T::one() + (-x).exp_act())
}

/// Derivative of SiLU: `sigmoid(x) (1 + x (1 - sigmoid(x)))`.
#[inline(always)]
pub fn silu_grad<T: Real>(x: T) -> T {
    let s = T::one() / (T::one() + (-x).exp_act());
    s * (T::one() + x * (T::one() - s))
}

/// True when the CPU has AVX2 and FMA (checked once): the native kernels then run a copy
/// compiled for them (the portable build targets baseline x86-64).
#[cfg(target_arch = "x86_64")]
pub fn has_avx2_fma() -> bool {
    use std::sync::OnceLock;
    static HAS: OnceLock<bool> = OnceLock::new();
    *HAS.get_or_init(|| is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma"))
}

#[cfg(test)]
mod tests {
    use super::{exp_f32, silu, Real};

    #[test]
    fn exp_f32_is_within_two_ulp() {
        let mut worst = 0.0f64;
        for k in 0..=1_750_000 {
            let x = -87.0 + k as f32 * 1e-4;
            let exact = (x as f64).exp();
            let ulp = (exact as f32).abs() * f32::EPSILON;
            worst = worst.max((exp_f32(x) as f64 - exact).abs() / ulp as f64);
        }
        assert!(worst <= 2.0, "{worst} ulp");
        // Clamped, never infinite or subnormal; SiLU keeps NaN and its limits.
        assert!(exp_f32(1e4).is_finite() && exp_f32(-1e4).is_normal());
        assert!(silu(f32::NAN).is_nan());
        assert_eq!(silu(1e4f32), 1e4);
        assert!(silu(-1e4f32).abs() < 1e-30);
    }

    /// `C = alpha A B + beta C` against the naive product for row-major, transposed (column
    /// strides) and padded operands, with `beta` 0 (garbage in `C` ignored), 1 and 0.5.
    fn check<T: Real>(tol: f64) {
        let (m, k, n) = (7, 5, 9);
        let val = |i: usize| T::of(((i * 37 % 23) as f64 - 11.0) / 7.0);
        let a: Vec<T> = (0..m * k).map(val).collect(); // [m, k] row-major
        let bt: Vec<T> = (0..n * (k + 2)).map(|i| val(i + 3)).collect(); // B^T [n, k + 2]
        let b_at = |p: usize, j: usize| bt[j * (k + 2) + p];
        for (beta, start) in [(0.0, f64::NAN), (1.0, 0.25), (0.5, -2.0)] {
            let mut c = vec![T::of(start); m * (n + 1)];
            T::gemm(
                m,
                k,
                n,
                T::of(1.5),
                &a,
                (k, 1),
                &bt,
                (1, k + 2),
                T::of(beta),
                &mut c,
                (n + 1, 1),
            );
            for i in 0..m {
                for j in 0..n {
                    let dot: f64 = (0..k)
                        .map(|p| (a[i * k + p] * b_at(p, j)).to_f64().unwrap())
                        .sum();
                    let before = if beta == 0.0 { 0.0 } else { beta * start };
                    let want = 1.5 * dot + before;
                    let got = c[i * (n + 1) + j].to_f64().unwrap();
                    assert!(
                        (got - want).abs() <= tol * (1.0 + want.abs()),
                        "{i} {j}: {got} vs {want}"
                    );
                }
                // The padding column is not written.
                let pad = c[i * (n + 1) + n].to_f64().unwrap();
                assert!(pad.is_nan() == start.is_nan() && (start.is_nan() || pad == start));
            }
        }
    }

    #[test]
    fn gemm_matches_the_naive_product() {
        check::<f64>(1e-12);
        check::<f32>(1e-5);
    }
}
