//! Chemical elements, the one table of Concord and of everything that links it (the plugins
//! and the Python code ask the C ABI: `concord_element_number`, `concord_element_symbol`,
//! `concord_element_mass`): symbols and standard atomic masses of elements 1-118, and
//! single-bond covalent radii of the elements the structure check is calibrated for, and the
//! valences of closed-shell organic molecules (the graph check's and the Kekulé assignment's).
//!
//! Masses: IUPAC standard atomic weights (abridged; the mass number of the most stable isotope
//! for elements without one), as tabulated by ASE 3.29 (`ase.data.atomic_masses`). Covalent
//! radii: Cordero et al., Dalton Trans. 2008, 2832 (sp3 carbon).

use crate::error::{Error, Result};

/// (symbol, standard atomic mass in g/mol) of elements 1 to 118, in order.
const TABLE: [(&str, f64); 118] = [
    ("H", 1.008),
    ("He", 4.002602),
    ("Li", 6.94),
    ("Be", 9.0121831),
    ("B", 10.81),
    ("C", 12.011),
    ("N", 14.007),
    ("O", 15.999),
    ("F", 18.998403163),
    ("Ne", 20.1797),
    ("Na", 22.98976928),
    ("Mg", 24.305),
    ("Al", 26.9815385),
    ("Si", 28.085),
    ("P", 30.973761998),
    ("S", 32.06),
    ("Cl", 35.45),
    ("Ar", 39.948),
    ("K", 39.0983),
    ("Ca", 40.078),
    ("Sc", 44.955908),
    ("Ti", 47.867),
    ("V", 50.9415),
    ("Cr", 51.9961),
    ("Mn", 54.938044),
    ("Fe", 55.845),
    ("Co", 58.933194),
    ("Ni", 58.6934),
    ("Cu", 63.546),
    ("Zn", 65.38),
    ("Ga", 69.723),
    ("Ge", 72.63),
    ("As", 74.921595),
    ("Se", 78.971),
    ("Br", 79.904),
    ("Kr", 83.798),
    ("Rb", 85.4678),
    ("Sr", 87.62),
    ("Y", 88.90584),
    ("Zr", 91.224),
    ("Nb", 92.90637),
    ("Mo", 95.95),
    ("Tc", 97.90721),
    ("Ru", 101.07),
    ("Rh", 102.9055),
    ("Pd", 106.42),
    ("Ag", 107.8682),
    ("Cd", 112.414),
    ("In", 114.818),
    ("Sn", 118.71),
    ("Sb", 121.76),
    ("Te", 127.6),
    ("I", 126.90447),
    ("Xe", 131.293),
    ("Cs", 132.90545196),
    ("Ba", 137.327),
    ("La", 138.90547),
    ("Ce", 140.116),
    ("Pr", 140.90766),
    ("Nd", 144.242),
    ("Pm", 144.91276),
    ("Sm", 150.36),
    ("Eu", 151.964),
    ("Gd", 157.25),
    ("Tb", 158.92535),
    ("Dy", 162.5),
    ("Ho", 164.93033),
    ("Er", 167.259),
    ("Tm", 168.93422),
    ("Yb", 173.054),
    ("Lu", 174.9668),
    ("Hf", 178.49),
    ("Ta", 180.94788),
    ("W", 183.84),
    ("Re", 186.207),
    ("Os", 190.23),
    ("Ir", 192.217),
    ("Pt", 195.084),
    ("Au", 196.966569),
    ("Hg", 200.592),
    ("Tl", 204.38),
    ("Pb", 207.2),
    ("Bi", 208.9804),
    ("Po", 208.98243),
    ("At", 209.98715),
    ("Rn", 222.01758),
    ("Fr", 223.01974),
    ("Ra", 226.02541),
    ("Ac", 227.02775),
    ("Th", 232.0377),
    ("Pa", 231.03588),
    ("U", 238.02891),
    ("Np", 237.04817),
    ("Pu", 244.06421),
    ("Am", 243.06138),
    ("Cm", 247.07035),
    ("Bk", 247.07031),
    ("Cf", 251.07959),
    ("Es", 252.083),
    ("Fm", 257.09511),
    ("Md", 258.09843),
    ("No", 259.101),
    ("Lr", 262.11),
    ("Rf", 267.122),
    ("Db", 268.126),
    ("Sg", 271.134),
    ("Bh", 270.133),
    ("Hs", 269.1338),
    ("Mt", 278.156),
    ("Ds", 281.165),
    ("Rg", 281.166),
    ("Cn", 285.177),
    ("Nh", 286.182),
    ("Fl", 289.19),
    ("Mc", 289.194),
    ("Lv", 293.204),
    ("Ts", 293.208),
    ("Og", 294.214),
];

/// Single-bond covalent radii in Å (Cordero 2008) of the elements [`crate::sanity`]'s bounds
/// were calibrated on: H, B, C, N, O, F, Si, P, S, Cl, Br, I.
const COVALENT_RADII: [(u8, f64); 12] = [
    (1, 0.31),
    (5, 0.84),
    (6, 0.76),
    (7, 0.71),
    (8, 0.66),
    (9, 0.57),
    (14, 1.11),
    (15, 1.07),
    (16, 1.05),
    (17, 1.02),
    (35, 1.20),
    (53, 1.39),
];

/// The table row of element `z`, or an [`Error::UnknownElement`].
fn row(z: u8) -> Result<&'static (&'static str, f64)> {
    usize::from(z)
        .checked_sub(1)
        .and_then(|i| TABLE.get(i))
        .ok_or_else(|| Error::UnknownElement(format!("atomic number {z}")))
}

/// The symbol of element `z` ("C" for 6), or an [`Error::UnknownElement`].
pub fn symbol(z: u8) -> Result<&'static str> {
    row(z).map(|r| r.0)
}

/// The atomic number of `symbol` (case-sensitive, "Cl" not "CL"), or an [`Error::UnknownElement`].
pub fn atomic_number(symbol: &str) -> Result<u8> {
    TABLE
        .iter()
        .position(|r| r.0 == symbol)
        .map(|i| i as u8 + 1)
        .ok_or_else(|| Error::UnknownElement(format!("'{symbol}'")))
}

/// Standard atomic mass of element `z` in g/mol (= amu).
pub fn mass(z: u8) -> Result<f64> {
    row(z).map(|r| r.1)
}

/// Single-bond covalent radius of element `z` in Å; an [`Error::UnknownElement`] for elements
/// outside the table (H, B, C, N, O, F, Si, P, S, Cl, Br, I).
pub fn covalent_radius(z: u8) -> Result<f64> {
    COVALENT_RADII
        .iter()
        .find(|r| r.0 == z)
        .map(|r| r.1)
        .ok_or_else(|| Error::UnknownElement(format!("atomic number {z} (no covalent radius)")))
}

/// Largest number of bonds (sum of bond orders, aromatic = 1.5) an element may carry in a
/// neutral or singly charged organic molecule.
pub fn max_valence(z: u8) -> Option<f64> {
    match z {
        1 => Some(1.0),
        5 => Some(4.0),
        6 => Some(4.0),
        7 => Some(4.0),
        8 => Some(3.0),
        9 | 17 | 35 | 53 => Some(1.0),
        14 => Some(4.0),
        15 => Some(5.0),
        16 => Some(6.0),
        _ => None,
    }
}

/// Smallest number of bonds (sum of bond orders) an element carries in a neutral, closed-shell
/// molecule (C 4, N 3, O 2, ...); fewer means a radical (or missing hydrogens), which the
/// models do not know.
pub fn neutral_valence(z: u8) -> Option<f64> {
    match z {
        1 | 9 | 17 | 35 | 53 => Some(1.0),
        5 | 7 | 15 => Some(3.0),
        6 | 14 => Some(4.0),
        8 | 16 => Some(2.0),
        _ => None,
    }
}

/// The valence (sum of bond orders) of a closed-shell atom of element `z` with formal charge
/// `q != 0`, for the charge-separated groups of neutral molecules: N+ 4 (nitro, N-oxides,
/// ammonium of zwitterions), N- 2 (azides), O- 1, O+ 3, C- 3 (isocyanides). None: unsupported.
pub fn charged_valence(z: u8, q: i8) -> Option<f64> {
    match (z, q) {
        (7, 1) => Some(4.0),
        (7, -1) => Some(2.0),
        (8, 1) | (6, -1) => Some(3.0),
        (8, -1) => Some(1.0),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        assert_eq!(atomic_number("C").unwrap(), 6);
        assert_eq!(symbol(8).unwrap(), "O");
        assert!((mass(1).unwrap() - 1.008).abs() < 1e-12);
        assert!((mass(6).unwrap() - 12.011).abs() < 1e-12);
        assert_eq!(symbol(118).unwrap(), "Og");
        assert_eq!(atomic_number("Cl").unwrap(), 17);
        for z in 1..=118 {
            assert_eq!(atomic_number(symbol(z).unwrap()).unwrap(), z);
        }
        assert!(atomic_number("Xx").is_err());
        assert!(atomic_number("CL").is_err());
        assert!(symbol(0).is_err() && symbol(119).is_err());
        assert_eq!(covalent_radius(6).unwrap(), 0.76);
        assert!(covalent_radius(11).is_err());
    }
}
