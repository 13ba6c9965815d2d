//! Unit conversions, the one home of the constants every front end uses (the C ABI exports
//! them as `CONCORD_*` macros for the plugins). CODATA 2018 exact values: e = 1.602176634e-19 C,
//! N_A = 6.02214076e23 /mol; the thermochemical calorie is 4.184 J.

/// kJ/mol per eV: e N_A / 1000.
pub const KJ_PER_MOL_PER_EV: f64 = 96.485_332_123_310_02;
/// kcal/mol per eV (LAMMPS `units real`).
pub const KCAL_PER_MOL_PER_EV: f64 = KJ_PER_MOL_PER_EV / 4.184;
/// Å per nm (OpenMM lengths).
pub const ANGSTROM_PER_NM: f64 = 10.0;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_constants_follow_from_codata() {
        let (e, na) = (1.602_176_634e-19, 6.022_140_76e23);
        assert!((KJ_PER_MOL_PER_EV - e * na / 1000.0).abs() < 1e-12);
        assert!((KCAL_PER_MOL_PER_EV - 23.060_547_830_619_03).abs() < 1e-12);
    }
}
