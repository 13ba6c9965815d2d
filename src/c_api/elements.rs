//! The element table and unit constants through the ABI, so that the plugins and the Python
//! code carry no tables of their own ([`crate::elements`], [`crate::units`]).

use std::ffi::{c_char, CStr};

use super::status::{self, concord_status_t, Failure};
use crate::elements;

// The unit constants are written out (cbindgen exports literals only) and used from C alone;
// a test checks them against crate::units.
/// kJ/mol per eV (CODATA 2018), the factor OpenMM energies need.
#[allow(dead_code)]
pub const CONCORD_KJ_PER_MOL_PER_EV: f64 = 96.485_332_123_310_02;
/// kcal/mol per eV (CODATA 2018, thermochemical calorie), LAMMPS `units real`.
#[allow(dead_code)]
pub const CONCORD_KCAL_PER_MOL_PER_EV: f64 = 23.060_547_830_619_03;
/// Å per nm, OpenMM lengths.
#[allow(dead_code)]
pub const CONCORD_ANGSTROM_PER_NM: f64 = 10.0;

/// The element of atomic number `z`, or a failure naming it.
fn element(z: i32) -> Result<u8, Failure> {
    let z = u8::try_from(z).map_err(|_| {
        Failure::from(crate::Error::UnknownElement(format!(
            "atomic number {z} is not an element"
        )))
    })?;
    elements::symbol(z)?;
    Ok(z)
}

/// The atomic number of an element symbol ("C" -> 6; case-sensitive: "Cl", not "CL").
///
/// @param symbol NUL-terminated element symbol.
/// @param atomic_number where to write the atomic number (1-118).
/// @return `CONCORD_SUCCESS`; `CONCORD_ERROR_INVALID_ARGUMENT` (a NULL pointer, not UTF-8) or
///   `CONCORD_ERROR_UNKNOWN_ELEMENT` (not an element symbol).
///
/// # Safety
/// `symbol` must be NULL or a NUL-terminated string; `atomic_number` NULL or writable.
#[no_mangle]
#[must_use]
pub unsafe extern "C" fn concord_element_number(
    symbol: *const c_char,
    atomic_number: *mut i32,
) -> concord_status_t {
    status::status("concord_element_number", || {
        check_null!(symbol, atomic_number);
        let s = CStr::from_ptr(symbol)
            .to_str()
            .map_err(|_| Failure::argument("symbol is not UTF-8"))?;
        *atomic_number = i32::from(elements::atomic_number(s)?);
        Ok(())
    })
}

/// The symbol of element `z` (6 -> "C").
///
/// @param atomic_number 1-118.
/// @param symbol where to write a pointer to the NUL-terminated symbol (static: do not free).
/// @return `CONCORD_SUCCESS`; `CONCORD_ERROR_INVALID_ARGUMENT` (NULL `symbol`) or
///   `CONCORD_ERROR_UNKNOWN_ELEMENT`.
///
/// # Safety
/// `symbol` must be NULL or writable.
#[no_mangle]
#[must_use]
pub unsafe extern "C" fn concord_element_symbol(
    atomic_number: i32,
    symbol: *mut *const c_char,
) -> concord_status_t {
    status::status("concord_element_symbol", || {
        check_null!(symbol);
        let z = element(atomic_number)?;
        *symbol = SYMBOLS[usize::from(z) - 1].as_ptr().cast();
        Ok(())
    })
}

/// The standard atomic mass of element `z`, g/mol (IUPAC; see `src/elements.rs`).
///
/// @param atomic_number 1-118.
/// @param mass where to write the mass.
/// @return `CONCORD_SUCCESS`; `CONCORD_ERROR_INVALID_ARGUMENT` (NULL `mass`) or
///   `CONCORD_ERROR_UNKNOWN_ELEMENT`.
///
/// # Safety
/// `mass` must be NULL or writable.
#[no_mangle]
#[must_use]
pub unsafe extern "C" fn concord_element_mass(
    atomic_number: i32,
    mass: *mut f64,
) -> concord_status_t {
    status::status("concord_element_mass", || {
        check_null!(mass);
        *mass = elements::mass(element(atomic_number)?)?;
        Ok(())
    })
}

/// NUL-terminated copies of the symbols, built once.
static SYMBOLS: std::sync::LazyLock<Vec<Vec<u8>>> = std::sync::LazyLock::new(|| {
    (1..=118u8)
        .map(|z| {
            let mut s = elements::symbol(z).unwrap_or("").as_bytes().to_vec();
            s.push(0);
            s
        })
        .collect()
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exported_constants_are_the_crates() {
        assert_eq!(CONCORD_KJ_PER_MOL_PER_EV, crate::units::KJ_PER_MOL_PER_EV);
        assert_eq!(
            CONCORD_KCAL_PER_MOL_PER_EV,
            crate::units::KCAL_PER_MOL_PER_EV
        );
        assert_eq!(CONCORD_ANGSTROM_PER_NM, crate::units::ANGSTROM_PER_NM);
    }

    #[test]
    fn symbols_numbers_and_masses() {
        let mut z = 0;
        let s = unsafe { concord_element_number(c"Cl".as_ptr(), &mut z) };
        assert_eq!((s, z), (concord_status_t::CONCORD_SUCCESS, 17));
        let s = unsafe { concord_element_number(c"Qq".as_ptr(), &mut z) };
        assert_eq!(s, concord_status_t::CONCORD_ERROR_UNKNOWN_ELEMENT);
        let mut p = std::ptr::null();
        let s = unsafe { concord_element_symbol(118, &mut p) };
        assert_eq!(s, concord_status_t::CONCORD_SUCCESS);
        assert_eq!(unsafe { CStr::from_ptr(p) }.to_str().unwrap(), "Og");
        for bad in [0, 119, -1, 300] {
            let s = unsafe { concord_element_symbol(bad, &mut p) };
            assert_eq!(s, concord_status_t::CONCORD_ERROR_UNKNOWN_ELEMENT, "{bad}");
        }
        let mut m = 0.0;
        assert_eq!(
            unsafe { concord_element_mass(6, &mut m) },
            concord_status_t::CONCORD_SUCCESS
        );
        assert_eq!(m, 12.011);
        let s = unsafe { concord_element_mass(6, std::ptr::null_mut()) };
        assert_eq!(s, concord_status_t::CONCORD_ERROR_INVALID_ARGUMENT);
    }
}
