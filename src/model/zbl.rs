//! A short-range core for the potential: the Ziegler-Biersack-Littmark (ZBL) screened nuclear
//! repulsion of every pair closer than a fraction of its covalent-radii sum, switched off
//! smoothly there (MACE's and DeePMD-kit's ZBL terms do the same job). A network trained on
//! molecules near equilibrium has no data where atoms nearly coincide and can predict a
//! well there (a C-H "bond" of 0.3 Å a few eV above equilibrium); the core makes such
//! structures cost what the nuclei's repulsion costs.
//!
//! Pair energy `phi(r) = k Z_i Z_j / r * sum_m c_m exp(-d_m r / a) * f(r / r_s)` with
//! `k = e^2 / (4 pi eps0) = 14.399645 eV Å`, the universal screening length
//! `a = 0.46850 Å / (Z_i^0.23 + Z_j^0.23)` (Ziegler, Biersack, Littmark, *The Stopping and
//! Range of Ions in Solids*, 1985), `r_s = range * (R_i + R_j)` with Cordero covalent radii
//! ([`crate::elements::covalent_radius`]) and as switch `f` the encoder's radial envelope
//! (p = 6, [`crate::runtime::radial::Radial::envelope`]) with cutoff `r_s`:
//! `f(x) = 1 - 28 x^6 + 48 x^7 - 21 x^8` for `x = r / r_s < 1`, else 0 (continuous to the
//! second derivative at `r_s`). Each directed edge `i -> j` gives half of `phi` to atom `i`,
//! so with both directions listed a pair counts once and an engine's ghost pairs split
//! between ranks as the network's energies do. libtorch computes the same formula in
//! [`crate::model::Model::atomic_energies`]; the native runtime calls [`Zbl::add`].

use crate::elements;
use crate::error::{Error, Result};
use crate::model::pairs::Pairs;
use crate::runtime::radial::Radial;

/// Coulomb constant e^2 / (4 pi eps0) in eV Å.
pub const COULOMB: f64 = 14.399645;
/// The universal screening length's numerator, Å (0.8854 Bohr radii).
pub const SCREENING_LENGTH: f64 = 0.46850;
/// Exponent of the atomic numbers in the screening length.
pub const SCREENING_EXPONENT: f64 = 0.23;
/// Coefficients `c_m` of the universal screening function.
pub const COEFFICIENTS: [f64; 4] = [0.18175, 0.50986, 0.28022, 0.02817];
/// Decay rates `d_m` of the universal screening function.
pub const DECAYS: [f64; 4] = [3.19980, 0.94229, 0.40290, 0.20162];

/// The switch at `r` (Å) for a pair whose core ends at `rs` (Å): the encoder's radial envelope
/// (p = 6) with `rs` as its cutoff, and its derivative in 1/Å.
fn switch(r: f64, rs: f64) -> (f64, f64) {
    Radial {
        cutoff: rs,
        n_basis: 0,
        p: 6,
    }
    .envelope(r)
}

/// The ZBL core of a model: per species its atomic number and covalent radius.
#[derive(Debug, Clone, PartialEq)]
pub struct Zbl {
    z: Vec<f64>,
    radius: Vec<f64>,
    range: f64,
}

impl Zbl {
    /// The core for a model of `elements` (atomic numbers in species order) acting below
    /// `range` times each pair's covalent-radii sum; an error for a range outside (0, 1] or an
    /// element without a covalent radius.
    pub fn new(elements: &[u8], range: f64) -> Result<Zbl> {
        check_range(range).map_err(Error::invalid)?;
        let radius = elements
            .iter()
            .map(|&z| elements::covalent_radius(z))
            .collect::<Result<Vec<f64>>>()
            .map_err(|e| Error::invalid(format!("zbl needs covalent radii: {e}")))?;
        Ok(Zbl {
            z: elements.iter().map(|&z| f64::from(z)).collect(),
            radius,
            range,
        })
    }

    /// Atomic numbers `[n_species]` as floats.
    pub fn atomic_numbers(&self) -> &[f64] {
        &self.z
    }

    /// Covalent radii `[n_species]`, Å.
    pub fn radii(&self) -> &[f64] {
        &self.radius
    }

    /// `phi(r)` in eV and `dphi/dr` in eV/Å of a pair of species `a`, `b` at `r` Å.
    pub fn pair(&self, a: usize, b: usize, r: f64) -> (f64, f64) {
        let rs = self.range * (self.radius[a] + self.radius[b]);
        if r >= rs {
            return (0.0, 0.0);
        }
        let (za, zb) = (self.z[a], self.z[b]);
        let screen = SCREENING_LENGTH / (za.powf(SCREENING_EXPONENT) + zb.powf(SCREENING_EXPONENT));
        let (mut s, mut ds) = (0.0, 0.0);
        for (c, d) in COEFFICIENTS.iter().zip(DECAYS) {
            let t = c * (-d * r / screen).exp();
            s += t;
            ds -= t * d / screen;
        }
        let coulomb = COULOMB * za * zb / r;
        let (f, df) = switch(r, rs);
        let e = coulomb * s;
        let de = coulomb * (ds - s / r);
        (e * f, de * f + e * df)
    }

    /// Adds half of each directed edge's pair energy to its first atom's entry of `atomic`
    /// (eV, `[N]`), and with `grad` its derivative with respect to the edge vector (eV/Å,
    /// `[E][3]`) for the edges whose first atom is local (`< n_local`, the atoms whose energies
    /// are summed). `species` `[N]`, the edges' atoms `pairs` and `vectors` `[E][3]` (Å).
    pub fn add(
        &self,
        species: &[usize],
        pairs: &Pairs,
        vectors: &[[f64; 3]],
        n_local: usize,
        atomic: &mut [f64],
        mut grad: Option<&mut [[f64; 3]]>,
    ) {
        for (e, v) in vectors.iter().enumerate() {
            let r = (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt();
            let (i, j) = (pairs.first[e], pairs.second[e]);
            let (phi, dphi) = self.pair(species[i], species[j], r);
            if phi == 0.0 && dphi == 0.0 {
                continue;
            }
            atomic[i] += 0.5 * phi;
            if let Some(g) = grad.as_deref_mut().filter(|_| i < n_local) {
                for k in 0..3 {
                    g[e][k] += 0.5 * dphi * v[k] / r;
                }
            }
        }
    }
}

/// Checks a ZBL range: finite, in (0, 1] (the core must switch off below bond lengths).
pub fn check_range(range: f64) -> std::result::Result<(), String> {
    if range > 0.0 && range <= 1.0 {
        Ok(())
    } else {
        Err(format!(
            "zbl = {range} must be in (0, 1]: the fraction of a pair's covalent-radii sum below \
             which the repulsion acts"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pair_energy_matches_zbl_and_its_derivative() {
        let zbl = Zbl::new(&[1, 6], 0.6).unwrap();
        // C-C at 0.5 Å: the unswitched ZBL energy, then the switch at 0.5 / (0.6 * 1.52).
        let a: f64 = 0.46850 / (2.0 * 6f64.powf(0.23));
        let s: f64 = COEFFICIENTS
            .iter()
            .zip(DECAYS)
            .map(|(c, d)| c * (-d * 0.5 / a).exp())
            .sum();
        let expect = 14.399645 * 36.0 / 0.5 * s * switch(0.5, 0.912).0;
        let (e, _) = zbl.pair(1, 1, 0.5);
        assert!((e - expect).abs() < 1e-9 * expect, "{e} vs {expect}");
        assert!(e > 50.0, "a C-C pair at 0.5 Å costs {e} eV");
        for (a, b) in [(0, 0), (0, 1), (1, 1)] {
            for i in 1..60 {
                let r = 0.02 * i as f64;
                let h = 1e-6;
                let fd = (zbl.pair(a, b, r + h).0 - zbl.pair(a, b, r - h).0) / (2.0 * h);
                let d = zbl.pair(a, b, r).1;
                assert!(
                    (fd - d).abs() < 1e-5 * d.abs().max(1.0),
                    "{a} {b} r {r}: {fd} vs {d}"
                );
            }
        }
        // Nothing at or beyond 0.6 x (0.31 + 0.76) Å for C-H.
        assert_eq!(zbl.pair(0, 1, 0.642), (0.0, 0.0));
        assert!(zbl.pair(0, 1, 0.6).0 > 0.0);
    }

    #[test]
    fn half_per_directed_edge_and_gradient_for_local_atoms() {
        let zbl = Zbl::new(&[1, 6], 0.6).unwrap();
        let v = [0.0, 0.0, 0.4];
        let mut atomic = vec![0.0; 2];
        let mut grad = vec![[0.0; 3]; 2];
        let pairs = Pairs {
            first: &[0, 1],
            second: &[1, 0],
            shift: &[[0.0; 3]; 2],
        };
        zbl.add(
            &[0, 1],
            &pairs,
            &[v, [0.0, 0.0, -0.4]],
            1,
            &mut atomic,
            Some(&mut grad),
        );
        let (phi, dphi) = zbl.pair(0, 1, 0.4);
        assert!((atomic[0] - 0.5 * phi).abs() < 1e-12 && (atomic[1] - 0.5 * phi).abs() < 1e-12);
        assert!((grad[0][2] - 0.5 * dphi).abs() < 1e-12);
        assert_eq!(grad[1], [0.0; 3], "the ghost's edge carries no gradient");
    }

    #[test]
    fn refuses_bad_ranges_and_elements_without_radii() {
        for bad in [0.0, -0.5, 1.5, f64::NAN] {
            assert!(Zbl::new(&[1, 6], bad).is_err(), "{bad}");
        }
        let err = Zbl::new(&[1, 11], 0.6).unwrap_err().to_string();
        assert!(err.contains("covalent"), "{err}");
    }
}
