//! Chemical elements: symbols, atomic numbers and standard atomic masses (H to Ar, plus
//! the heavier elements common in molecular data).

use crate::error::{Error, Result};

/// (atomic number, symbol, standard atomic mass in g/mol)
const TABLE: &[(u8, &str, f64)] = &[
    (1, "H", 1.008),
    (2, "He", 4.0026),
    (3, "Li", 6.94),
    (4, "Be", 9.0122),
    (5, "B", 10.81),
    (6, "C", 12.011),
    (7, "N", 14.007),
    (8, "O", 15.999),
    (9, "F", 18.998),
    (10, "Ne", 20.180),
    (11, "Na", 22.990),
    (12, "Mg", 24.305),
    (13, "Al", 26.982),
    (14, "Si", 28.085),
    (15, "P", 30.974),
    (16, "S", 32.06),
    (17, "Cl", 35.45),
    (18, "Ar", 39.948),
    (19, "K", 39.098),
    (20, "Ca", 40.078),
    (35, "Br", 79.904),
    (53, "I", 126.90),
];

/// The symbol of element `z` ("C" for 6), or an [`Error::UnknownElement`].
pub fn symbol(z: u8) -> Result<&'static str> {
    TABLE
        .iter()
        .find(|e| e.0 == z)
        .map(|e| e.1)
        .ok_or_else(|| Error::UnknownElement(format!("atomic number {z}")))
}

/// The atomic number of `symbol` (case-sensitive, "Cl" not "CL"), or an [`Error::UnknownElement`].
pub fn atomic_number(symbol: &str) -> Result<u8> {
    TABLE
        .iter()
        .find(|e| e.1 == symbol)
        .map(|e| e.0)
        .ok_or_else(|| Error::UnknownElement(format!("'{symbol}'")))
}

/// Standard atomic mass of element `z` in g/mol (= amu).
pub fn mass(z: u8) -> Result<f64> {
    TABLE
        .iter()
        .find(|e| e.0 == z)
        .map(|e| e.2)
        .ok_or_else(|| Error::UnknownElement(format!("atomic number {z}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        assert_eq!(atomic_number("C").unwrap(), 6);
        assert_eq!(symbol(8).unwrap(), "O");
        assert!((mass(1).unwrap() - 1.008).abs() < 1e-12);
        assert!(atomic_number("Xx").is_err());
        assert!(symbol(0).is_err());
    }
}
