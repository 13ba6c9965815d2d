//! Energy, forces and virials through the ABI: argument checks, conversion of the C arrays to
//! the Rust API's types, and copying of the results into caller buffers.

use std::slice;

use super::model::{borrow, concord_model_t};
use super::status::{self, concord_status_t, Failure};
use super::{CONCORD_MAX_ATOMS, CONCORD_MAX_PAIRS};
use crate::error::Error;
use crate::model::evaluate::{Prediction, Request};
use crate::runtime::Halo;
use crate::structure::Frame;

/// Checks a count argument: within `min..=max`.
pub(crate) fn count(name: &str, n: i64, min: i64, max: i64) -> Result<usize, Failure> {
    if n < min {
        let what = if n == 0 && min == 1 {
            format!("{name} = 0: empty system")
        } else {
            format!("{name} = {n} is negative")
        };
        return Err(Failure::input(what));
    }
    if n > max {
        return Err(Failure::input(format!(
            "{name} = {n} exceeds the limit of {max} (corrupt argument?)"
        )));
    }
    Ok(n as usize)
}

/// Atomic numbers `[n]` as the Rust API's `u8`; values outside 1..=255 are unknown elements.
pub(crate) unsafe fn numbers(ptr: *const i32, n: usize) -> Result<Vec<u8>, Failure> {
    slice::from_raw_parts(ptr, n)
        .iter()
        .enumerate()
        .map(|(i, &z)| {
            u8::try_from(z).ok().filter(|&z| z > 0).ok_or_else(|| {
                Error::UnknownElement(format!("atomic number {z} (atom {i}) is not an element"))
                    .into()
            })
        })
        .collect()
}

/// Positions `[n][3]` (Å).
pub(crate) unsafe fn positions(ptr: *const f64, n: usize) -> Vec<[f64; 3]> {
    slice::from_raw_parts(ptr, 3 * n)
        .chunks_exact(3)
        .map(|c| [c[0], c[1], c[2]])
        .collect()
}

/// The optional cell (`[9]`, rows = lattice vectors, Å; NULL = open system) and periodicity
/// flags (`[3]`; NULL = periodic along all three vectors if a cell is given, else none).
///
/// # Safety
/// Non-NULL pointers must point to 9 (`cell`) and 3 (`periodic`) readable values.
pub(crate) unsafe fn cell_and_periodicity(
    cell: *const f64,
    periodic: *const i32,
) -> (Option<[[f64; 3]; 3]>, [bool; 3]) {
    let cell: Option<[[f64; 3]; 3]> = (!cell.is_null()).then(|| {
        let c = slice::from_raw_parts(cell, 9);
        std::array::from_fn(|r| [c[3 * r], c[3 * r + 1], c[3 * r + 2]])
    });
    let pbc = if periodic.is_null() {
        [cell.is_some(); 3]
    } else {
        let p = slice::from_raw_parts(periodic, 3);
        [p[0] != 0, p[1] != 0, p[2] != 0]
    };
    (cell, pbc)
}

/// Caller output buffers (NULL = not wanted).
struct Outputs {
    energy: *mut f64,
    forces: *mut f64,
    atom_energies: *mut f64,
    virial: *mut f64,
    atom_virial: *mut f64,
}

impl Outputs {
    fn request(&self) -> Request {
        Request {
            forces: !self.forces.is_null(),
            atom_energies: !self.atom_energies.is_null(),
            virial: !self.virial.is_null(),
            atom_virial: !self.atom_virial.is_null(),
        }
    }

    /// Copies a prediction for `n` atoms into the wanted buffers.
    unsafe fn write(&self, p: &Prediction, n: usize) -> Result<(), Failure> {
        let missing = || {
            Failure::new(
            concord_status_t::CONCORD_ERROR_INTERNAL,
            "internal error (a bug in Concord, please report it): a requested output is missing",
        )
        };
        let put = |dst: *mut f64, src: &[f64]| {
            if !dst.is_null() {
                slice::from_raw_parts_mut(dst, src.len()).copy_from_slice(src);
            }
        };
        put(self.energy, &[p.energy]);
        if !self.forces.is_null() {
            let f = p.forces.as_ref().ok_or_else(missing)?;
            put(self.forces, &f.as_flattened()[..3 * n]);
        }
        if !self.atom_energies.is_null() {
            let e = p.atom_energies.as_ref().ok_or_else(missing)?;
            put(self.atom_energies, &e[..n]);
        }
        if !self.virial.is_null() {
            let w = p.virial.as_ref().ok_or_else(missing)?;
            put(self.virial, w.as_flattened());
        }
        if !self.atom_virial.is_null() {
            let w = p.atom_virial.as_ref().ok_or_else(missing)?;
            put(self.atom_virial, &w.as_flattened().as_flattened()[..9 * n]);
        }
        Ok(())
    }
}

/// Computes the energy of a whole system and the requested derivatives: an isolated molecule,
/// or a periodic system given its cell.
///
/// Outputs are written only on success; pass NULL for any output you do not want (the work
/// for forces and virials is skipped when all of them are NULL). All arrays are caller-owned,
/// row-major float64 (int32 for atomic numbers).
///
/// @param model a loaded model.
/// @param n_atoms number of atoms N, 1 <= N <= `CONCORD_MAX_ATOMS`.
/// @param atomic_numbers atomic numbers, int32 `[N]`; each must be an element of the model.
/// @param positions Cartesian positions in Å, `[N][3]`; finite, no two atoms closer than
///   0.25 Å (including periodic images).
/// @param cell the cell in Å, `[3][3]`, rows = lattice vectors a, b, c; NULL for an open
///   system. Atoms may lie outside the cell.
/// @param periodic periodicity along a, b, c, int32 `[3]` (nonzero = periodic); NULL means
///   periodic along all three when `cell` is given, open otherwise. Periodicity needs a cell.
/// @param energy where to write the energy in eV (`[1]`), or NULL.
/// @param forces where to write the forces in eV/Å, `[N][3]`, or NULL.
/// @param atom_energies where to write the atomic energies in eV, `[N]` (they sum to the
///   energy), or NULL.
/// @param virial where to write the virial W = sum_i r_i (x) f_i in eV, `[3][3]` (stress =
///   -W / volume), or NULL.
/// @param atom_virial where to write the per-atom virials in eV, `[N][3][3]` (they sum to the
///   virial), or NULL.
/// @return `CONCORD_SUCCESS`; `CONCORD_ERROR_INVALID_ARGUMENT` (a NULL `model`,
///   `atomic_numbers` or `positions`), `CONCORD_ERROR_INVALID_INPUT` (N out of range, NaN or
///   infinite coordinates or cell, overlapping atoms, periodic without a cell, degenerate
///   cell), `CONCORD_ERROR_UNKNOWN_ELEMENT`, `CONCORD_ERROR_UNSUPPORTED` (a generator whose energy
///   head was never trained) or `CONCORD_ERROR_TORCH`; the message is in
///   `concord_last_error()`.
///
/// # Safety
/// `model` must be a live handle; every non-NULL pointer must be valid for the shape given
/// above (reads for inputs, writes for outputs).
#[no_mangle]
#[must_use]
pub unsafe extern "C" fn concord_compute(
    model: *const concord_model_t,
    n_atoms: i64,
    atomic_numbers: *const i32,
    positions: *const f64,
    cell: *const f64,
    periodic: *const i32,
    energy: *mut f64,
    forces: *mut f64,
    atom_energies: *mut f64,
    virial: *mut f64,
    atom_virial: *mut f64,
) -> concord_status_t {
    status::status("concord_compute", || {
        let potential = borrow(model)?;
        let n = count("n_atoms", n_atoms, 1, CONCORD_MAX_ATOMS)?;
        check_null!(atomic_numbers, positions);
        let (cell, pbc) = cell_and_periodicity(cell, periodic);
        let frame = Frame {
            numbers: numbers(atomic_numbers, n)?,
            positions: self::positions(positions, n),
            cell,
            pbc,
            ..Default::default()
        };
        let out = Outputs {
            energy,
            forces,
            atom_energies,
            virial,
            atom_virial,
        };
        let prediction = potential.compute_frame(&frame, out.request())?;
        out.write(&prediction, n)
    })
}

/// Computes the energy of an MD engine's local atoms and the forces on its local and ghost
/// atoms (one MPI domain, or a periodic system whose images the engine placed as ghosts).
///
/// The first `n_local` of the `n_total` atoms are local; the rest are ghosts, which must cover
/// the receptive field (`concord_model_receptive_field`) around every local atom. No cell is
/// involved: periodic images are ghosts. The energy sums the atomic energies of the local
/// atoms only; forces (and virials) cover all atoms, so the engine must add the forces on
/// ghosts back to their owners (LAMMPS: `newton pair on`). Outputs are written only on
/// success; pass NULL for any output you do not want.
///
/// @param model a loaded model.
/// @param n_local number of local atoms, 0 <= n_local <= n_total.
/// @param n_total number of local + ghost atoms N, 1 <= N <= `CONCORD_MAX_ATOMS`.
/// @param atomic_numbers atomic numbers, int32 `[N]`, local atoms first.
/// @param positions Cartesian positions in Å, `[N][3]`, local atoms first.
/// @param n_pairs number of neighbour pairs P given in `pair_first`/`pair_second`
///   (0 <= P <= `CONCORD_MAX_PAIRS`); must be 0 when both arrays are NULL.
/// @param pair_first first atom (0-based index into the N atoms) of each pair, int32 `[P]`.
/// @param pair_second second atom of each pair, int32 `[P]`. Each pair within the model cutoff
///   must be listed in both directions (i, j) and (j, i), each once (a full neighbour list).
///   Pass NULL for both arrays to let Concord search the pairs within the cutoff itself.
/// @param energy where to write the energy of the local atoms in eV (`[1]`), or NULL.
/// @param forces where to write the forces on all atoms in eV/Å, `[N][3]`, or NULL.
/// @param atom_energies where to write the atomic energies in eV, `[N]` (only the first
///   `n_local` are meaningful), or NULL.
/// @param virial where to write the virial in eV, `[3][3]`, or NULL.
/// @param atom_virial where to write the per-atom virials of all atoms in eV, `[N][3][3]`, or
///   NULL.
/// @return `CONCORD_SUCCESS`; `CONCORD_ERROR_INVALID_ARGUMENT` (a NULL `model`,
///   `atomic_numbers` or `positions`), `CONCORD_ERROR_INVALID_INPUT` (a count out of range, only
///   one pair array given, a pair index out of range, NaN or infinite coordinates, overlapping
///   atoms), `CONCORD_ERROR_UNKNOWN_ELEMENT`, `CONCORD_ERROR_UNSUPPORTED` (a generator whose energy
///   head was never trained) or `CONCORD_ERROR_TORCH`; the message is in
///   `concord_last_error()`.
///
/// # Safety
/// `model` must be a live handle; every non-NULL pointer must be valid for the shape given
/// above (reads for inputs, writes for outputs).
#[no_mangle]
#[must_use]
pub unsafe extern "C" fn concord_compute_local(
    model: *const concord_model_t,
    n_local: i64,
    n_total: i64,
    atomic_numbers: *const i32,
    positions: *const f64,
    n_pairs: i64,
    pair_first: *const i32,
    pair_second: *const i32,
    energy: *mut f64,
    forces: *mut f64,
    atom_energies: *mut f64,
    virial: *mut f64,
    atom_virial: *mut f64,
) -> concord_status_t {
    let args = LocalArgs {
        n_local,
        n_total,
        atomic_numbers,
        positions,
        n_pairs,
        pair_first,
        pair_second,
    };
    let out = Outputs {
        energy,
        forces,
        atom_energies,
        virial,
        atom_virial,
    };
    status::status("concord_compute_local", || local(model, args, out, None))
}

/// The engine's halo exchange between layers, for `concord_compute_local_exchange`: `rows` is
/// `[n_rows][width]` doubles, one row per atom of the call (local atoms first, then ghosts).
/// With `direction` `CONCORD_EXCHANGE_FORWARD` the engine overwrites each ghost atom's row with
/// its owner's row (LAMMPS: `comm->forward_comm`); with `CONCORD_EXCHANGE_REVERSE` it adds each
/// ghost atom's row to its owner's (`comm->reverse_comm`). Returns 0 on success; anything else
/// stops the evaluation with `CONCORD_ERROR_INVALID_INPUT`.
pub type concord_exchange_fn = Option<
    unsafe extern "C" fn(
        user_data: *mut std::ffi::c_void,
        direction: i32,
        n_rows: i64,
        width: i64,
        rows: *mut f64,
    ) -> i32,
>;

/// `direction` of a [`concord_exchange_fn`] call: ghost rows take their owners' rows.
pub const CONCORD_EXCHANGE_FORWARD: i32 = 0;

/// `direction` of a [`concord_exchange_fn`] call: ghost rows are added to their owners' rows.
pub const CONCORD_EXCHANGE_REVERSE: i32 = 1;

/// [`concord_compute_local`] with a halo exchange between message-passing layers: every layer
/// runs for the local atoms only, and after each layer but the last the engine's `exchange`
/// gives every ghost atom its owner's features (`CONCORD_EXCHANGE_FORWARD`); the reverse pass
/// sums the adjoints that reached ghosts onto their owners (`CONCORD_EXCHANGE_REVERSE`). Ghosts
/// then need only cover one cutoff (`concord_model_cutoff`) around the local atoms, not the
/// receptive field, and no domain repeats another's work. `concord_model_exchange_shape` gives
/// the row width and the number of calls in each direction; every call of this function makes
/// them in the same order (forward ones first; reverse ones only when forces or virials are
/// requested), so an engine rank without atoms can make the matching collective calls itself.
/// Arguments, outputs and errors as `concord_compute_local`, plus the exchange's failure.
///
/// @param exchange the engine's exchange (must not be NULL).
/// @param user_data passed to every `exchange` call unchanged.
///
/// # Safety
/// As `concord_compute_local`; `exchange` must be safe to call with `user_data`.
#[no_mangle]
#[must_use]
pub unsafe extern "C" fn concord_compute_local_exchange(
    model: *const concord_model_t,
    n_local: i64,
    n_total: i64,
    atomic_numbers: *const i32,
    positions: *const f64,
    n_pairs: i64,
    pair_first: *const i32,
    pair_second: *const i32,
    exchange: concord_exchange_fn,
    user_data: *mut std::ffi::c_void,
    energy: *mut f64,
    forces: *mut f64,
    atom_energies: *mut f64,
    virial: *mut f64,
    atom_virial: *mut f64,
) -> concord_status_t {
    let args = LocalArgs {
        n_local,
        n_total,
        atomic_numbers,
        positions,
        n_pairs,
        pair_first,
        pair_second,
    };
    let out = Outputs {
        energy,
        forces,
        atom_energies,
        virial,
        atom_virial,
    };
    status::status("concord_compute_local_exchange", || {
        let Some(call) = exchange else {
            return Err(Failure::argument("'exchange' is NULL"));
        };
        let mut halo = EngineHalo { call, user_data };
        local(model, args, out, Some(&mut halo))
    })
}

/// A [`concord_exchange_fn`] as a [`Halo`].
struct EngineHalo {
    call: unsafe extern "C" fn(*mut std::ffi::c_void, i32, i64, i64, *mut f64) -> i32,
    user_data: *mut std::ffi::c_void,
}

impl EngineHalo {
    fn run(&mut self, direction: i32, width: usize, rows: &mut [f64]) -> crate::Result<()> {
        let n = rows.len() / width.max(1);
        // SAFETY: the caller of concord_compute_local_exchange vouched for `call` and
        // `user_data`; `rows` is valid for n * width doubles.
        let code = unsafe {
            (self.call)(
                self.user_data,
                direction,
                n as i64,
                width as i64,
                rows.as_mut_ptr(),
            )
        };
        if code != 0 {
            return Err(Error::invalid(format!(
                "the engine's exchange returned {code}"
            )));
        }
        Ok(())
    }
}

impl Halo for EngineHalo {
    fn forward(&mut self, width: usize, rows: &mut [f64]) -> crate::Result<()> {
        self.run(CONCORD_EXCHANGE_FORWARD, width, rows)
    }
    fn reverse(&mut self, width: usize, rows: &mut [f64]) -> crate::Result<()> {
        self.run(CONCORD_EXCHANGE_REVERSE, width, rows)
    }
}

/// The atoms and pairs of a `concord_compute_local*` call, as the caller gave them.
struct LocalArgs {
    n_local: i64,
    n_total: i64,
    atomic_numbers: *const i32,
    positions: *const f64,
    n_pairs: i64,
    pair_first: *const i32,
    pair_second: *const i32,
}

/// The body of `concord_compute_local*`.
unsafe fn local(
    model: *const concord_model_t,
    args: LocalArgs,
    out: Outputs,
    halo: Option<&mut dyn Halo>,
) -> Result<(), Failure> {
    let LocalArgs {
        n_local,
        n_total,
        atomic_numbers,
        positions,
        n_pairs,
        pair_first,
        pair_second,
    } = args;
    let potential = borrow(model)?;
    let n = count("n_total", n_total, 1, CONCORD_MAX_ATOMS)?;
    let n_local = count("n_local", n_local, 0, CONCORD_MAX_ATOMS)?;
    if n_local > n {
        return Err(Failure::input(format!(
            "n_local = {n_local} exceeds n_total = {n}"
        )));
    }
    let n_pairs = count("n_pairs", n_pairs, 0, CONCORD_MAX_PAIRS)?;
    check_null!(atomic_numbers, positions);
    let pairs = engine_pairs(n_pairs, pair_first, pair_second, n)?;
    let prediction = potential.compute_local_with_halo(
        &numbers(atomic_numbers, n)?,
        &self::positions(positions, n),
        n_local,
        pairs.as_ref().map(|(f, s)| (f.as_slice(), s.as_slice())),
        out.request(),
        halo,
    )?;
    out.write(&prediction, n)
}

/// First and second atoms of each pair.
type PairIndices = (Vec<usize>, Vec<usize>);

/// The engine's pair arrays `[n_pairs]` as indices into `n` atoms, or `None` when both are NULL.
unsafe fn engine_pairs(
    n_pairs: usize,
    pair_first: *const i32,
    pair_second: *const i32,
    n: usize,
) -> Result<Option<PairIndices>, Failure> {
    Ok(match (pair_first.is_null(), pair_second.is_null()) {
        (true, true) if n_pairs == 0 => None,
        (true, true) => {
            return Err(Failure::input(format!(
                "n_pairs = {n_pairs} but 'pair_first' and 'pair_second' are NULL"
            )))
        }
        (false, false) => {
            let index = |ptr: *const i32, name: &str| -> Result<Vec<usize>, Failure> {
                let mut v = Vec::new();
                v.try_reserve_exact(n_pairs)
                    .map_err(|_| Failure::input(format!("n_pairs = {n_pairs}: cannot allocate")))?;
                for (p, &i) in slice::from_raw_parts(ptr, n_pairs).iter().enumerate() {
                    if i < 0 || i as usize >= n {
                        return Err(Failure::input(format!(
                            "{name}[{p}] = {i} is out of range for {n} atoms"
                        )));
                    }
                    v.push(i as usize);
                }
                Ok(v)
            };
            Some((
                index(pair_first, "pair_first")?,
                index(pair_second, "pair_second")?,
            ))
        }
        (first_null, _) => {
            return Err(Failure::input(format!(
                "'{}' is NULL but '{}' is not: give both pair arrays or neither",
                if first_null {
                    "pair_first"
                } else {
                    "pair_second"
                },
                if first_null {
                    "pair_second"
                } else {
                    "pair_first"
                },
            )))
        }
    })
}
