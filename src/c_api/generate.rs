//! Structure generation through the ABI: a molecular graph (atoms and bonds) to k sampled
//! structures (`concord_generate`), relaxed with the potential (`concord_generate_optimize`),
//! or through the whole pipeline with screening and ranking (`concord_generate_structures`,
//! with specified stereo `concord_generate_structures_stereo`).

use std::ffi::c_char;
use std::slice;

use super::compute::{count, numbers};
use super::model::{borrow, concord_model_t};
use super::optimize::{
    concord_generate_relax_options_default, concord_optimize_options_t, concord_optimize_result_t,
    options,
};
use super::status::{self, concord_status_t, Failure};
use super::stereo::{concord_double_bond_t, concord_stereocentre_t, read_stereo};
use super::{CONCORD_MAX_ATOMS, CONCORD_MAX_PAIRS};
use crate::generate::{
    generate, generate_structures, GraphRequest, PipelineModels, PipelineOptions, Sample,
    SamplerOptions,
};
use crate::model::graph::kekule_graph;
use crate::optimize::OptimizeOptions;
use crate::potential::Potential;
use crate::stereo::Stereo;
use crate::structure::{Bond, BondOrder};

/// Largest number of sampler steps (`steps`) `concord_generate` accepts.
pub const CONCORD_MAX_SAMPLER_STEPS: i32 = 10_000;

/// The `churn` that asks for the generator's default: the `sampler_churn` its model file
/// records, acting at the noise levels up to its `sampler_churn_max_sigma` (else 0, the
/// deterministic sampler), as `steps = 0` asks for its default levels.
pub const CONCORD_DEFAULT_CHURN: f64 = -1.0;
const _: () = assert!(CONCORD_DEFAULT_CHURN == crate::generate::DEFAULT_CHURN);

/// A checked generation request: the molecule and the sampler settings.
struct GenerateArgs {
    numbers: Vec<u8>,
    charges: Vec<i8>,
    /// The Kekulé graph ([`kekule_graph`]).
    bonds: Vec<Bond>,
    samples: usize,
    sampler: SamplerOptions,
}

/// Checks the arguments shared by the generation functions (`formal_charges` NULL: a neutral
/// graph).
#[allow(clippy::too_many_arguments)]
unsafe fn request(
    potential: &Potential,
    n_atoms: i64,
    atomic_numbers: *const i32,
    formal_charges: *const i32,
    n_bonds: i64,
    bond_first: *const i32,
    bond_second: *const i32,
    bond_order: *const i32,
    n_samples: i64,
    seed: u64,
    steps: i32,
    churn: f64,
    positions: *mut f64,
) -> Result<GenerateArgs, Failure> {
    if !potential.has_generator() {
        return Err(Failure::new(
            concord_status_t::CONCORD_ERROR_UNSUPPORTED,
            "this model has no structure generator (concord_model_has_generator gives 0): \
             use a model trained with one",
        ));
    }
    let n = count("n_atoms", n_atoms, 1, CONCORD_MAX_ATOMS)?;
    if n_samples == 0 {
        return Err(Failure::input(
            "n_samples = 0: ask for at least one structure",
        ));
    }
    let samples = count("n_samples", n_samples, 1, CONCORD_MAX_ATOMS)?;
    if samples.saturating_mul(n) > CONCORD_MAX_ATOMS as usize {
        return Err(Failure::input(format!(
            "n_samples x n_atoms = {samples} x {n} exceeds the limit of {CONCORD_MAX_ATOMS} \
             atoms (corrupt argument?)"
        )));
    }
    let pairs = (n as i64).saturating_mul(n as i64 - 1) / 2;
    let n_bonds = count("n_bonds", n_bonds, 0, CONCORD_MAX_PAIRS)?;
    if n_bonds as i64 > pairs {
        return Err(Failure::input(format!(
            "n_bonds = {n_bonds} exceeds the {pairs} distinct pairs of {n} atoms"
        )));
    }
    check_null!(atomic_numbers, positions);
    if n_bonds > 0 {
        check_null!(bond_first, bond_second, bond_order);
    }
    if steps != 0 && !(2..=CONCORD_MAX_SAMPLER_STEPS).contains(&steps) {
        return Err(Failure::argument(format!(
            "steps = {steps} is out of range: 0 (the generator's default) or 2 to \
             {CONCORD_MAX_SAMPLER_STEPS}"
        )));
    }
    let numbers = numbers(atomic_numbers, n)?;
    let bonds = bonds(n, n_bonds, bond_first, bond_second, bond_order)?;
    let charges = charges(n, formal_charges)?;
    potential.species_index(&numbers)?;
    // Every generation function samples the Kekulé graph (aromatic bonds made single or double).
    let bonds = kekule_graph(&numbers, &bonds, &charges)?.into_owned();
    let sampler = SamplerOptions {
        steps: steps as usize,
        churn,
        seed,
        ..Default::default()
    };
    if let Err(crate::Error::InvalidInput(m)) = sampler.validate() {
        return Err(Failure::argument(m));
    }
    Ok(GenerateArgs {
        numbers,
        charges,
        bonds,
        samples,
        sampler,
    })
}

/// Reads the formal charges `[n]` (empty for NULL: a neutral graph); each must be within
/// -15..=15 (what an SDF can hold); which charges a molecule may carry is the graph check's.
unsafe fn charges(n: usize, formal_charges: *const i32) -> Result<Vec<i8>, Failure> {
    if formal_charges.is_null() {
        return Ok(Vec::new());
    }
    let raw = slice::from_raw_parts(formal_charges, n);
    (raw.iter().enumerate())
        .map(|(i, &q)| {
            i8::try_from(q)
                .ok()
                .filter(|q| (-15..=15).contains(q))
                .ok_or_else(|| Failure::input(format!("formal_charges[{i}] = {q} is out of range")))
        })
        .collect()
}

/// Reads and range-checks the bond arrays of a graph of `n` atoms (`n_bonds` already checked;
/// the arrays are non-NULL when `n_bonds > 0`).
pub(crate) unsafe fn bonds(
    n: usize,
    n_bonds: usize,
    bond_first: *const i32,
    bond_second: *const i32,
    bond_order: *const i32,
) -> Result<Vec<Bond>, Failure> {
    let mut bonds = Vec::new();
    bonds
        .try_reserve_exact(n_bonds)
        .map_err(|_| Failure::input(format!("n_bonds = {n_bonds}: cannot allocate")))?;
    if n_bonds > 0 {
        let (first, second, order) = (
            slice::from_raw_parts(bond_first, n_bonds),
            slice::from_raw_parts(bond_second, n_bonds),
            slice::from_raw_parts(bond_order, n_bonds),
        );
        let index = |name: &str, p: usize, i: i32| -> Result<usize, Failure> {
            usize::try_from(i).ok().filter(|&i| i < n).ok_or_else(|| {
                Failure::input(format!("{name}[{p}] = {i} is out of range for {n} atoms"))
            })
        };
        for p in 0..n_bonds {
            let i = index("bond_first", p, first[p])?;
            let j = index("bond_second", p, second[p])?;
            let order = BondOrder::from_code(order[p].into()).ok_or_else(|| {
                Failure::input(format!(
                    "bond_order[{p}] = {} is not 1, 2, 3 or 4 (aromatic)",
                    order[p]
                ))
            })?;
            bonds.push(Bond { i, j, order });
        }
    }
    Ok(bonds)
}

impl GenerateArgs {
    /// The molecule through the generation pipeline ([`crate::generate::pipeline`]), its
    /// samples in draw order.
    fn pipeline(
        &self,
        models: PipelineModels,
        relax: Option<OptimizeOptions>,
        stereo: &Stereo,
    ) -> Result<Vec<Sample>, Failure> {
        let opts = PipelineOptions {
            samples: self.samples,
            sampler: self.sampler,
            relax,
            redraws: crate::generate::REDRAWS,
        };
        let molecule = GraphRequest {
            stereo,
            charges: &self.charges,
            ..GraphRequest::new(&self.numbers, &self.bonds, self.sampler.seed)
        };
        let mut out = generate_structures(models, &[molecule], &opts, &mut |_| {})?;
        Ok(out.remove(0)?)
    }

    /// The sampled structures, `[k][N][3]`, Å.
    fn generate(&self, potential: &Potential) -> Result<Vec<Vec<[f64; 3]>>, Failure> {
        Ok(generate(
            potential,
            &self.numbers,
            &self.bonds,
            self.samples,
            &self.sampler,
        )?)
    }
}

/// Generates `n_samples` 3D structures of a molecule given as a graph (atoms and bonds), with
/// the model's structure generator (a diffusion sampler).
///
/// The sampler is deterministic for a given `seed` on a given machine and precision: the same
/// call gives the same positions bit for bit. `churn = 0` is the deterministic sampler (DPM-Solver++(2M)),
/// `churn > 0` adds noise along the way at every level (more diverse samples),
/// `CONCORD_DEFAULT_CHURN` the generator's own setting. The structures are not relaxed:
/// see `concord_generate_optimize`. Outputs are written only on success.
///
/// @param model a loaded model with a structure generator (`concord_model_has_generator`).
/// @param n_atoms number of atoms N, 1 <= N <= `CONCORD_MAX_ATOMS`.
/// @param atomic_numbers atomic numbers, int32 `[N]`; each must be an element of the model.
/// @param n_bonds number of bonds B, 0 <= B <= N (N - 1) / 2; every atom of a molecule of two
///   or more atoms needs at least one bond.
/// @param bond_first first atom of each bond (0-based index into the N atoms), int32 `[B]`.
/// @param bond_second second atom of each bond, int32 `[B]`. Each bond is listed once, in
///   either direction.
/// @param bond_order order of each bond, int32 `[B]`: 1 single, 2 double, 3 triple,
///   4 aromatic (kekulized before sampling, as the generator's training graphs are; aromatic
///   bonds that admit no Kekulé structure are invalid input). The three bond arrays may be
///   NULL when B = 0.
/// @param n_samples number of structures K to generate, 1 <= K and K N <= `CONCORD_MAX_ATOMS`.
/// @param seed seed of the sampler's random numbers.
/// @param steps number of noise levels of the sampler (one network evaluation each):
///   0 for the generator's default (the `sampler_steps` its model file records, else 64),
///   or 2 to `CONCORD_MAX_SAMPLER_STEPS`.
/// @param churn stochasticity of the sampler (EDM's S_churn), finite and >= 0; 0 for the
///   deterministic sampler; `CONCORD_DEFAULT_CHURN` (-1) for the generator's default.
/// @param positions where to write the structures, caller-owned float64 `[K][N][3]` in Å,
///   each centred at the origin (atoms in the order of `atomic_numbers`).
/// @return `CONCORD_SUCCESS`; `CONCORD_ERROR_UNSUPPORTED` (the model has no generator),
///   `CONCORD_ERROR_INVALID_ARGUMENT` (a NULL `model`, `atomic_numbers`, `positions`, or bond
///   array while B > 0; `steps` or `churn` out of range), `CONCORD_ERROR_INVALID_INPUT` (a
///   count out of range, a bond index out of range or order not 1-4, a bond of an atom to
///   itself or listed twice, an atom without bonds, a valence above the element's maximum),
///   `CONCORD_ERROR_UNKNOWN_ELEMENT` or `CONCORD_ERROR_TORCH`; the message is in
///   `concord_last_error()`.
///
/// # Safety
/// `model` must be a live handle; every non-NULL pointer must be valid for the shape given
/// above.
#[no_mangle]
#[must_use]
pub unsafe extern "C" fn concord_generate(
    model: *const concord_model_t,
    n_atoms: i64,
    atomic_numbers: *const i32,
    n_bonds: i64,
    bond_first: *const i32,
    bond_second: *const i32,
    bond_order: *const i32,
    n_samples: i64,
    seed: u64,
    steps: i32,
    churn: f64,
    positions: *mut f64,
) -> concord_status_t {
    status::status("concord_generate", || {
        let potential = borrow(model)?;
        let request = request(
            potential,
            n_atoms,
            atomic_numbers,
            std::ptr::null(),
            n_bonds,
            bond_first,
            bond_second,
            bond_order,
            n_samples,
            seed,
            steps,
            churn,
            positions,
        )?;
        let structures = request.generate(potential)?;
        let n = request.numbers.len();
        let out = slice::from_raw_parts_mut(positions, 3 * n * request.samples);
        for (k, x) in structures.iter().enumerate() {
            out[3 * n * k..3 * n * (k + 1)].copy_from_slice(x.as_flattened());
        }
        Ok(())
    })
}

/// Generates `n_samples` structures of a molecular graph as `concord_generate` does, then
/// relaxes each with the model's potential as `concord_optimize` does (open boundaries); a
/// sample that breaks the graph (a bond outside its length window, a clash: see
/// `concord_check_structure`) is first relaxed on the potential plus a restraint toward the
/// graph, then as `concord_optimize` from there, and its steps and force calls count both.
///
/// A relaxation that fails for one sample does not fail the call: that sample keeps its
/// generated (unrelaxed) positions and its result has `status` set to the error class
/// `concord_optimize` reports (e.g. `CONCORD_ERROR_OVERLAP` when atoms were driven onto each
/// other), `converged = 0` and NaN energies. The call itself fails only for the reasons
/// `concord_generate` fails, or for invalid options; outputs are written only on success.
///
/// @param model a loaded model with a structure generator.
/// @param n_atoms see `concord_generate`.
/// @param atomic_numbers see `concord_generate`.
/// @param n_bonds see `concord_generate`.
/// @param bond_first see `concord_generate`.
/// @param bond_second see `concord_generate`.
/// @param bond_order see `concord_generate`.
/// @param n_samples see `concord_generate`.
/// @param seed see `concord_generate`; the same seed generates the same starting structures as
///   `concord_generate`.
/// @param steps see `concord_generate`.
/// @param churn see `concord_generate`.
/// @param options the optimisation settings, or NULL for
///   `concord_generate_relax_options_default()`.
/// @param positions where to write the structures, caller-owned float64 `[K][N][3]` in Å:
///   relaxed (converged or not), or as generated for a sample whose relaxation failed.
/// @param results where to write the outcome of each sample's relaxation,
///   `concord_optimize_result_t [K]`, or NULL.
/// @return `CONCORD_SUCCESS` (whatever the samples' relaxations gave: check
///   `results[k].status` and `results[k].converged`); otherwise the errors of
///   `concord_generate`, `CONCORD_ERROR_INVALID_ARGUMENT` for invalid options, and
///   `CONCORD_ERROR_UNSUPPORTED` for a model whose energy head was never trained; the message
///   is in `concord_last_error()`.
///
/// # Safety
/// `model` must be a live handle; every non-NULL pointer must be valid for the shape given
/// above.
#[no_mangle]
#[must_use]
pub unsafe extern "C" fn concord_generate_optimize(
    model: *const concord_model_t,
    n_atoms: i64,
    atomic_numbers: *const i32,
    n_bonds: i64,
    bond_first: *const i32,
    bond_second: *const i32,
    bond_order: *const i32,
    n_samples: i64,
    seed: u64,
    steps: i32,
    churn: f64,
    options: *const concord_optimize_options_t,
    positions: *mut f64,
    results: *mut concord_optimize_result_t,
) -> concord_status_t {
    status::status("concord_generate_optimize", || {
        let potential = borrow(model)?;
        let request = request(
            potential,
            n_atoms,
            atomic_numbers,
            std::ptr::null(),
            n_bonds,
            bond_first,
            bond_second,
            bond_order,
            n_samples,
            seed,
            steps,
            churn,
            positions,
        )?;
        let opts = self::options(options, concord_generate_relax_options_default())?;
        let none = Stereo::default();
        let samples = request.pipeline(PipelineModels::one(potential), Some(opts), &none)?;
        let n = request.numbers.len();
        let mut relaxed = Vec::with_capacity(3 * n * request.samples);
        let mut outcomes = Vec::with_capacity(request.samples);
        for s in samples {
            relaxed.extend_from_slice(s.positions.as_flattened());
            outcomes.push(match s.relaxation {
                Some(Ok(r)) => concord_optimize_result_t::from_rust(&r),
                Some(Err(f)) => concord_optimize_result_t::failed(Failure::from(f).status),
                None => unreachable!("the pipeline relaxes every sample when asked to"),
            });
        }
        slice::from_raw_parts_mut(positions, relaxed.len()).copy_from_slice(&relaxed);
        if !results.is_null() {
            slice::from_raw_parts_mut(results, outcomes.len()).copy_from_slice(&outcomes);
        }
        Ok(())
    })
}

/// Length of [`concord_sample_t::problem`], bytes (with the terminating NUL).
pub const CONCORD_PROBLEM_LENGTH: usize = 160;

/// What `concord_generate_structures` found out about one sample.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct concord_sample_t {
    /// Rank among the call's samples, 0 = the best: sane samples before the others, then the
    /// lowest energy (samples without one last), then draw order.
    pub rank: i32,
    /// 1 when the returned structure is chemically sane for its graph (`concord_check_structure`
    /// finds no problem), 0 otherwise.
    pub sane: i32,
    /// Number of sanity problems found at the returned positions.
    pub n_problems: i32,
    /// 1 when the sample was relaxed (converged or not); 0 when no relaxation was asked for
    /// or it failed.
    pub relaxed: i32,
    /// `CONCORD_SUCCESS`, or the error `concord_optimize` would return for this sample when
    /// its relaxation failed (its positions are then as generated).
    pub relax_status: concord_status_t,
    /// 1 when the relaxation converged (largest force below `fmax`).
    pub converged: i32,
    /// Relaxation steps taken (0 without relaxation).
    pub steps: i64,
    /// Energy and force evaluations of the relaxation (0 without relaxation).
    pub force_calls: i64,
    /// Energy at the returned positions, eV; NaN when the model refuses them (e.g. overlapping
    /// atoms).
    pub energy: f64,
    /// Largest per-atom force norm at the returned positions, eV/Å; NaN likewise.
    pub max_force: f64,
    /// The first sanity problem in words, NUL-terminated and truncated to fit; empty when
    /// sane.
    pub problem: [c_char; CONCORD_PROBLEM_LENGTH],
}

impl concord_sample_t {
    fn from_rust(s: &Sample) -> Self {
        let mut problem = [0 as c_char; CONCORD_PROBLEM_LENGTH];
        if let Some(p) = s.problems.first() {
            let text = p.to_string();
            // Truncate on a character boundary, leaving room for the NUL.
            let mut end = text.len().min(CONCORD_PROBLEM_LENGTH - 1);
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            for (d, &b) in problem.iter_mut().zip(&text.as_bytes()[..end]) {
                *d = b as c_char;
            }
        }
        let (relaxed, relax_status, converged, steps, force_calls) = match &s.relaxation {
            Some(Ok(r)) => (
                1,
                concord_status_t::CONCORD_SUCCESS,
                r.converged,
                r.steps,
                r.force_calls,
            ),
            Some(Err(f)) => (0, Failure::from(&f.error).status, false, 0, 0),
            None => (0, concord_status_t::CONCORD_SUCCESS, false, 0, 0),
        };
        let max_force = s.forces.as_ref().map_or(f64::NAN, |f| {
            f.iter()
                .map(|v| (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt())
                .fold(0.0, f64::max)
        });
        concord_sample_t {
            rank: s.rank as i32,
            sane: i32::from(s.sane()),
            n_problems: s.problems.len().min(i32::MAX as usize) as i32,
            relaxed,
            relax_status,
            converged: i32::from(converged),
            steps: steps as i64,
            force_calls: force_calls as i64,
            energy: s.energy.unwrap_or(f64::NAN),
            max_force,
            problem,
        }
    }
}

/// The generation pipeline for one molecule: generates `n_samples` structures as
/// `concord_generate` does (a molecule of more than 80 atoms as generated pieces joined at
/// acyclic single bonds, docs/results.md#joined), relaxes each on the model's potential when `relax` is 1 (as
/// `concord_generate_optimize` does), screens each for chemical sanity
/// (`concord_check_structure`) and ranks them (rank 0 = the best: sane first, then the lowest
/// energy). This is what `concord generate`, LAMMPS's `concord_generate` and OpenMM's
/// `generateStructures` run; keep every sample or only the one of rank 0. To relax and rank on
/// another model (a dedicated potential), see `concord_generate_structures_with_potential`.
///
/// @param model a loaded model with a structure generator.
/// @param n_atoms see `concord_generate`.
/// @param atomic_numbers see `concord_generate`.
/// @param n_bonds see `concord_generate`.
/// @param bond_first see `concord_generate`.
/// @param bond_second see `concord_generate`.
/// @param bond_order see `concord_generate`.
/// @param n_samples see `concord_generate`.
/// @param seed see `concord_generate`: the same seed draws the same structures.
/// @param steps see `concord_generate`.
/// @param churn see `concord_generate`.
/// @param relax 1 to relax each sample, 0 not to.
/// @param options the relaxation settings, or NULL for
///   `concord_generate_relax_options_default()`
///   (ignored when `relax` is 0).
/// @param positions where to write the structures, caller-owned float64 `[K][N][3]` in Å, in
///   draw order: relaxed where the relaxation succeeded, as generated otherwise.
/// @param samples where to write what was found about each sample, `concord_sample_t [K]`, in
///   the same order.
/// @return `CONCORD_SUCCESS` (whatever the samples turned out to be); otherwise the errors of
///   `concord_generate`, `CONCORD_ERROR_INVALID_ARGUMENT` for `relax` not 0 or 1, invalid
///   options or a NULL `samples`, and `CONCORD_ERROR_UNSUPPORTED` for `relax` = 1 with a model
///   whose energy head was never trained (`concord_generate_structures_with_potential` relaxes
///   it on another model); the message is in `concord_last_error()`. Outputs are written only
///   on success.
///
/// # Safety
/// `model` must be a live handle; every non-NULL pointer must be valid for the shape given
/// above.
#[no_mangle]
#[must_use]
pub unsafe extern "C" fn concord_generate_structures(
    model: *const concord_model_t,
    n_atoms: i64,
    atomic_numbers: *const i32,
    n_bonds: i64,
    bond_first: *const i32,
    bond_second: *const i32,
    bond_order: *const i32,
    n_samples: i64,
    seed: u64,
    steps: i32,
    churn: f64,
    relax: i32,
    options: *const concord_optimize_options_t,
    positions: *mut f64,
    samples: *mut concord_sample_t,
) -> concord_status_t {
    run_pipeline(
        "concord_generate_structures",
        model,
        std::ptr::null(),
        n_atoms,
        atomic_numbers,
        std::ptr::null(),
        n_bonds,
        bond_first,
        bond_second,
        bond_order,
        0,
        std::ptr::null(),
        0,
        std::ptr::null(),
        n_samples,
        seed,
        steps,
        churn,
        relax,
        options,
        positions,
        samples,
    )
}

/// The generation pipeline of `concord_generate_structures` with two models: `model`'s
/// structure generator draws the samples, and `potential` relaxes them (when `relax` is 1),
/// gives their energies and so ranks them. A generator trained for structures only, or a
/// potential more accurate than the generator model's own energy head, is used this way
/// (`concord generate --potential`, LAMMPS `concord_generate ... potential FILE`, OpenMM
/// `generateStructures(..., potential)`). The same seed draws the same structures as
/// `concord_generate_structures` with `model`.
///
/// @param model a loaded model with a structure generator.
/// @param potential a loaded model that knows the molecule's elements, or NULL for `model`
///   itself (then this is `concord_generate_structures`).
/// @param n_atoms see `concord_generate_structures`; likewise every other parameter.
/// @param atomic_numbers see `concord_generate_structures`.
/// @param n_bonds see `concord_generate_structures`.
/// @param bond_first see `concord_generate_structures`.
/// @param bond_second see `concord_generate_structures`.
/// @param bond_order see `concord_generate_structures`.
/// @param n_samples see `concord_generate_structures`.
/// @param seed see `concord_generate_structures`.
/// @param steps see `concord_generate_structures`.
/// @param churn see `concord_generate_structures`.
/// @param relax see `concord_generate_structures`: 1 relaxes on `potential`.
/// @param options see `concord_generate_structures`.
/// @param positions see `concord_generate_structures`.
/// @param samples see `concord_generate_structures`; energies and forces are `potential`'s.
/// @return the statuses of `concord_generate_structures`, and `CONCORD_ERROR_UNKNOWN_ELEMENT`
///   when `potential` does not know an element of the molecule; the message is in
///   `concord_last_error()`. Outputs are written only on success.
///
/// # Safety
/// `model` must be a live handle, `potential` a live handle or NULL; every non-NULL pointer
/// must be valid for the shape given above.
#[no_mangle]
#[must_use]
pub unsafe extern "C" fn concord_generate_structures_with_potential(
    model: *const concord_model_t,
    potential: *const concord_model_t,
    n_atoms: i64,
    atomic_numbers: *const i32,
    n_bonds: i64,
    bond_first: *const i32,
    bond_second: *const i32,
    bond_order: *const i32,
    n_samples: i64,
    seed: u64,
    steps: i32,
    churn: f64,
    relax: i32,
    options: *const concord_optimize_options_t,
    positions: *mut f64,
    samples: *mut concord_sample_t,
) -> concord_status_t {
    run_pipeline(
        "concord_generate_structures_with_potential",
        model,
        potential,
        n_atoms,
        atomic_numbers,
        std::ptr::null(),
        n_bonds,
        bond_first,
        bond_second,
        bond_order,
        0,
        std::ptr::null(),
        0,
        std::ptr::null(),
        n_samples,
        seed,
        steps,
        churn,
        relax,
        options,
        positions,
        samples,
    )
}

/// The generation pipeline of `concord_generate_structures_with_potential` for a molecule
/// with formal charges and specified stereocentres and double-bond configurations: each sample is mirrored,
/// inverted or redrawn until it has them where geometry allows (as `concord generate` does
/// with stereo read from SMILES or SDF), a sample still wrong carries the problem
/// (`samples[k].sane` is 0, `problem` names the centre or bond) and ranks after the right
/// ones. Without charges (NULL) and stereo (both counts 0) this is
/// `concord_generate_structures_with_potential`.
///
/// @param model a loaded model with a structure generator.
/// @param potential a loaded model, or NULL for `model` itself; see
///   `concord_generate_structures_with_potential`.
/// @param n_atoms see `concord_generate_structures`; likewise every parameter not described.
/// @param atomic_numbers see `concord_generate_structures`.
/// @param formal_charges formal charge of each atom, int32 `[N]`, or NULL for a neutral graph:
///   the charge-separated groups of neutral molecules (N+ with 4 bonds as in nitro groups and
///   N-oxides, N- 2, O- 1, O+ 3, C- 3), summing to zero; a net charge is refused.
/// @param n_bonds see `concord_generate_structures`.
/// @param bond_first see `concord_generate_structures`.
/// @param bond_second see `concord_generate_structures`.
/// @param bond_order see `concord_generate_structures`.
/// @param n_centres number of specified stereocentres C, 0 <= C <= N.
/// @param centres the stereocentres, `concord_stereocentre_t [C]` (NULL when C = 0): each an
///   atom with exactly four bonded neighbours, listed once. A ring atom whose two ring
///   neighbours are alike (a cis/trans ring substituent, e.g. in 1,4-dimethylcyclohexane)
///   counts relative to the other specified centres of its ring system (the structure's
///   mirror image has the same relative configuration), and is ignored when it is the only
///   one specified there.
/// @param n_double_bonds number of specified double bonds D, 0 <= D <= B.
/// @param double_bonds the double-bond configurations, `concord_double_bond_t [D]` (NULL when
///   D = 0): each a bond of order 2 with one substituent of each end, listed once.
/// @param n_samples see `concord_generate_structures`.
/// @param seed see `concord_generate_structures`.
/// @param steps see `concord_generate_structures`.
/// @param churn see `concord_generate_structures`.
/// @param relax see `concord_generate_structures`: 1 relaxes on `potential`.
/// @param options see `concord_generate_structures`.
/// @param positions see `concord_generate_structures` (a sample redrawn for its stereo keeps
///   its place).
/// @param samples see `concord_generate_structures`.
/// @return the statuses of `concord_generate_structures_with_potential`, and
///   `CONCORD_ERROR_INVALID_INPUT` for a stereo entry that does not fit the graph (the message
///   names the entry: an index out of range, neighbours that are not the centre's four bonded
///   atoms, a bond that is not double, a reference that is no substituent of its end, a flag
///   not 0 or 1, an entry given twice) or a count out of range, `CONCORD_ERROR_INVALID_ARGUMENT`
///   for a NULL array with a count above 0; the message is in `concord_last_error()`. Outputs
///   are written only on success.
///
/// # Safety
/// `model` must be a live handle, `potential` a live handle or NULL; every non-NULL pointer
/// must be valid for the shape given above.
#[no_mangle]
#[must_use]
pub unsafe extern "C" fn concord_generate_structures_stereo(
    model: *const concord_model_t,
    potential: *const concord_model_t,
    n_atoms: i64,
    atomic_numbers: *const i32,
    formal_charges: *const i32,
    n_bonds: i64,
    bond_first: *const i32,
    bond_second: *const i32,
    bond_order: *const i32,
    n_centres: i64,
    centres: *const concord_stereocentre_t,
    n_double_bonds: i64,
    double_bonds: *const concord_double_bond_t,
    n_samples: i64,
    seed: u64,
    steps: i32,
    churn: f64,
    relax: i32,
    options: *const concord_optimize_options_t,
    positions: *mut f64,
    samples: *mut concord_sample_t,
) -> concord_status_t {
    run_pipeline(
        "concord_generate_structures_stereo",
        model,
        potential,
        n_atoms,
        atomic_numbers,
        formal_charges,
        n_bonds,
        bond_first,
        bond_second,
        bond_order,
        n_centres,
        centres,
        n_double_bonds,
        double_bonds,
        n_samples,
        seed,
        steps,
        churn,
        relax,
        options,
        positions,
        samples,
    )
}

/// The body of the `concord_generate_structures*` functions (`function` names the caller in
/// errors): checks the request (the generator model checks the molecule and the sampler) and
/// its stereo, runs the pipeline with `potential` (NULL: the generator model) and writes the
/// outputs.
#[allow(clippy::too_many_arguments)]
unsafe fn run_pipeline(
    function: &str,
    model: *const concord_model_t,
    potential: *const concord_model_t,
    n_atoms: i64,
    atomic_numbers: *const i32,
    formal_charges: *const i32,
    n_bonds: i64,
    bond_first: *const i32,
    bond_second: *const i32,
    bond_order: *const i32,
    n_centres: i64,
    centres: *const concord_stereocentre_t,
    n_double_bonds: i64,
    double_bonds: *const concord_double_bond_t,
    n_samples: i64,
    seed: u64,
    steps: i32,
    churn: f64,
    relax: i32,
    options: *const concord_optimize_options_t,
    positions: *mut f64,
    samples: *mut concord_sample_t,
) -> concord_status_t {
    status::status(function, || {
        let generator = borrow(model)?;
        let models = PipelineModels {
            generator,
            potential: match potential.is_null() {
                true => generator,
                false => borrow(potential)?,
            },
        };
        let request = request(
            generator,
            n_atoms,
            atomic_numbers,
            formal_charges,
            n_bonds,
            bond_first,
            bond_second,
            bond_order,
            n_samples,
            seed,
            steps,
            churn,
            positions,
        )?;
        check_null!(samples);
        let n = request.numbers.len();
        let stereo = read_stereo(
            &request.numbers,
            &request.bonds,
            n_centres,
            centres,
            n_double_bonds,
            double_bonds,
        )?;
        let relax = match relax {
            0 => None,
            1 => Some(self::options(
                options,
                concord_generate_relax_options_default(),
            )?),
            r => return Err(Failure::argument(format!("relax = {r} must be 0 or 1"))),
        };
        let drawn = request.pipeline(models, relax, &stereo)?;
        let out = slice::from_raw_parts_mut(positions, 3 * n * drawn.len());
        for (k, s) in drawn.iter().enumerate() {
            out[3 * n * k..3 * n * (k + 1)].copy_from_slice(s.positions.as_flattened());
        }
        let info = slice::from_raw_parts_mut(samples, drawn.len());
        for (d, s) in info.iter_mut().zip(&drawn) {
            *d = concord_sample_t::from_rust(s);
        }
        Ok(())
    })
}
