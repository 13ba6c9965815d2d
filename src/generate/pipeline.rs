//! The generation pipeline every front end calls (the CLI's `generate`, the C ABI's
//! `concord_generate_structures` and `concord_generate_optimize`, LAMMPS's
//! `concord_generate`, OpenMM's `generateStructures`): for each molecular graph, draw `k`
//! samples, optionally relax each on a potential (the generator model's own energy head, or
//! another model: [`PipelineModels`]), screen each for chemical sanity, and rank them. Front
//! ends differ only in what they keep and show (every sample, or the best).
//!
//! Each molecule's graph is first kekulized and checked ([`kekule_graph`]): the generator was
//! trained on Kekulé graphs, so aromatic bonds (order 4) become single and double bonds, and
//! everything below (sampling, the restraint, the sanity check) sees the Kekulé graph.
//!
//! A molecule of more than [`crate::generate::assembly::ASSEMBLE_ABOVE`] atoms, on which the
//! generator's samples break, is drawn as pieces joined at acyclic single bonds
//! ([`crate::generate::assembly`]); everything below applies to the joined structures too,
//! except the redraws (its pieces were drawn again already).
//!
//! The policy: a molecule given with a stereo configuration ([`Stereo`]) has each sample
//! mirrored when its mirror image gets more of the specified centres right (the
//! E(3)-equivariant denoiser draws both images alike), centres still wrong that carry a
//! hydrogen or halogen inverted like an umbrella, and the rest (e.g. ring carbons) by swapping
//! two acyclic substituents, each change kept only when it adds no sanity problem
//! ([`Stereo::orient`]). A sample that still gets a specified centre or double bond wrong, or
//! that breaks its bond graph (a sanity problem), is drawn again (up to
//! [`PipelineOptions::redraws`] rounds, each from its own seed, [`redraw_seed`]) and replaced
//! when the new draw has fewer faults (fewer stereo elements wrong, then fewer sanity
//! problems), as RDKit's embedding discards and retries a conformer whose chirality or
//! geometry came out wrong; draws without fault are never touched, so the first `k` draws stay
//! those of the molecule's seed; a molecule of more than
//! [`crate::generate::assembly::REDRAW_JOINED_ABOVE`] atoms with draws still at fault gets a
//! last round of structures joined from pieces. A relaxation that turns a specified stereo
//! element wrong is oriented and relaxed once more (`relax_keeping_stereo`). A sample that
//! still breaks its bond graph (a bond outside its length window, a clash) is relaxed first
//! under a restraint toward the graph, then on the potential alone ([`relax_molecule`]). A
//! sample's positions are the relaxed ones when its relaxation succeeded (converged or not),
//! otherwise the generated ones; its
//! energy and forces are the potential's at those positions (`None` when the potential refuses
//! them, e.g. overlapping atoms). Its problems are the sanity check's ([`crate::sanity`]) and
//! every specified centre or double bond it gets wrong. Samples are ranked without problems
//! first, then with stereo problems only (a sane wrong isomer), then with geometric problems;
//! within each by energy (lowest first, samples without one last), then by draw order; rank 0
//! is the best.

use std::borrow::Cow;

use crate::error::{Error, Result};
use crate::generate::assembly::Plan;
use crate::generate::{generate_many, SamplerOptions};
use crate::model::evaluate::Request;
use crate::model::graph::kekule_graph;
use crate::optimize::{relax_molecule, OptimizeOptions, OptimizeResult, RelaxFailure};
use crate::potential::Potential;
use crate::sanity::{self, Problem};
use crate::stereo::Stereo;
use crate::structure::{Bond, Frame};

/// The models of the pipeline: one samples, one relaxes and ranks (often the same model).
#[derive(Clone, Copy)]
pub struct PipelineModels<'a> {
    /// The model whose structure generator draws the samples.
    pub generator: &'a Potential,
    /// The potential that relaxes the samples and whose energies rank them: the generator
    /// model itself, or a dedicated potential (which must know the molecules' elements).
    pub potential: &'a Potential,
}

impl<'a> PipelineModels<'a> {
    /// One model generates, relaxes and ranks.
    pub fn one(model: &'a Potential) -> PipelineModels<'a> {
        PipelineModels {
            generator: model,
            potential: model,
        }
    }
}

/// One molecule for [`generate_structures`].
#[derive(Debug, Clone, Copy)]
pub struct GraphRequest<'a> {
    /// Atomic numbers, `[N]`.
    pub numbers: &'a [u8],
    /// The bond graph.
    pub bonds: &'a [Bond],
    /// Formal charges, `[N]` (empty: a neutral graph); they must sum to zero
    /// ([`crate::model::graph::validate_graph`]).
    pub charges: &'a [i8],
    /// The stereo configuration the structures must have (empty: any).
    pub stereo: &'a Stereo,
    /// The molecule's sampler seed.
    pub seed: u64,
}

impl<'a> GraphRequest<'a> {
    /// A request for a neutral graph without stereo configuration.
    pub fn new(numbers: &'a [u8], bonds: &'a [Bond], seed: u64) -> GraphRequest<'a> {
        const NONE: &Stereo = &Stereo {
            centres: Vec::new(),
            double_bonds: Vec::new(),
        };
        GraphRequest {
            numbers,
            bonds,
            charges: &[],
            stereo: NONE,
            seed,
        }
    }

    /// The sampler's view of the molecule.
    fn sampler_input(&self) -> (&'a [u8], &'a [Bond], u64) {
        (self.numbers, self.bonds, self.seed)
    }
}

/// Molecules sampled together in one batch of the libtorch denoiser (more is faster per
/// molecule: each call's dispatch overhead is shared).
pub const BATCH: usize = 32;

/// Atoms (all `k` samples counted) up to which the native denoiser batches molecules: it has
/// no per-call overhead to share, and a batch whose work arrays fit the caches runs faster
/// (QM9 test molecules x 4 samples: 89.5 structures/s one molecule per batch, 76.4 with 32).
pub const NATIVE_BATCH_ATOMS: usize = 128;

/// Splits `todo` (molecule indices) into the batches sampled together.
fn batches(
    potential: &Potential,
    molecules: &[GraphRequest],
    todo: &[usize],
    k: usize,
) -> Vec<Vec<usize>> {
    if potential.backend() != crate::potential::Backend::Native {
        return todo.chunks(BATCH).map(<[usize]>::to_vec).collect();
    }
    let mut out: Vec<Vec<usize>> = Vec::new();
    let mut atoms = 0;
    for &m in todo {
        let n = molecules[m].numbers.len() * k;
        match out.last_mut() {
            Some(last) if atoms + n <= NATIVE_BATCH_ATOMS => last.push(m),
            _ => {
                out.push(vec![m]);
                atoms = 0;
            }
        }
        atoms += n;
    }
    out
}

/// How the pipeline relaxes generated structures unless told otherwise (the CLI's `generate
/// --relax`, the C ABI's NULL options, LAMMPS's `concord_generate`, OpenMM, Python): L-BFGS
/// preconditioned with a model Hessian down to a largest force of 0.05 eV/Å. On 150 QM9 test
/// molecules, 4 samples each, generating and relaxing took 156 ms per molecule for a best-of-4
/// heavy-atom RMSD of 0.116 Å (RDKit ETKDG + MMFF: 183 ms, 0.109 Å), with half the force calls
/// of the Exp preconditioner used before (docs/runtime.md).
pub fn relax_defaults() -> OptimizeOptions {
    OptimizeOptions {
        fmax: 0.05,
        precondition: true,
        ..Default::default()
    }
}

/// What the pipeline does for each molecule.
#[derive(Debug, Clone, PartialEq)]
pub struct PipelineOptions {
    /// Samples drawn per molecule (k >= 1).
    pub samples: usize,
    /// The sampler; its `seed` is ignored (each molecule comes with its own seed).
    pub sampler: SamplerOptions,
    /// Relax each sample with these settings, or not at all (`None`).
    pub relax: Option<OptimizeOptions>,
    /// Rounds of redrawing the samples that get a specified stereo element wrong or break their
    /// bond graph (0: none; [`REDRAWS`] is every front end's default). Samples without fault are
    /// never redrawn.
    pub redraws: usize,
}

/// The default number of redraw rounds ([`PipelineOptions::redraws`]). On the first 150 QM9
/// test molecules (4 samples each, stereo from the SDF) a round redraws about one sample in
/// ten (docs/results.md, "Redrawing wrong stereoisomers"); on the 24 drugs of `make
/// eval-drugs` two rounds leave 13 of 96 raw samples broken instead of 21 ("Broken samples
/// drawn again").
pub const REDRAWS: usize = 2;

/// The sampler seed of redraw round `round` (1-based) of a molecule seeded with `seed`.
pub fn redraw_seed(seed: u64, round: usize) -> u64 {
    seed ^ (round as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

impl PipelineOptions {
    /// The one validation of the pipeline's settings (CLI, library and C ABI).
    pub fn validate(&self) -> Result<()> {
        if self.samples == 0 {
            return Err(Error::invalid("samples = 0: at least one sample is needed"));
        }
        self.sampler.validate()?;
        self.relax
            .as_ref()
            .map_or(Ok(()), OptimizeOptions::validate)
    }
}

/// One generated structure and what the pipeline found out about it.
#[derive(Debug)]
pub struct Sample {
    /// Slot: the sample's place among the molecule's `k` samples (0-based).
    pub index: usize,
    /// Draw index: equal to `index` for a draw of the molecule's seed; `r * k + j` for the
    /// `j`-th draw of redraw round `r` ([`redraw_seed`]), which replaced a wrong stereoisomer or
    /// a broken structure.
    pub draw: usize,
    /// Rank among the molecule's samples, 0 = best (see the module documentation).
    pub rank: usize,
    /// Positions, Å, `[N][3]`, centred as generated: relaxed when the relaxation succeeded.
    pub positions: Vec<[f64; 3]>,
    /// Energy at `positions`, eV; `None` when the potential refuses them.
    pub energy: Option<f64>,
    /// Forces at `positions`, eV/Å, `[N][3]`; `None` when the potential refuses them.
    pub forces: Option<Vec<[f64; 3]>>,
    /// The relaxation's outcome; `None` when no relaxation was asked for.
    pub relaxation: Option<std::result::Result<OptimizeResult, RelaxFailure>>,
    /// Sanity problems at `positions` (empty: sane).
    pub problems: Vec<Problem>,
}

impl Sample {
    /// No sanity problem: bond lengths fit their orders and no unbonded atoms clash.
    pub fn sane(&self) -> bool {
        self.problems.is_empty()
    }

    /// The relaxation succeeded (converged or not).
    pub fn relaxed(&self) -> bool {
        matches!(self.relaxation, Some(Ok(_)))
    }
}

/// Runs the pipeline for each molecule ([`GraphRequest`]); a molecule the
/// model cannot handle (an unknown element, an invalid graph, a failed sampling) gets its own
/// error and costs only itself. `progress` is called with the number of molecules finished so
/// far. Returns one outcome per molecule, its `k` samples in slot order (a redrawn sample in
/// the slot of the one it replaced, [`Sample::draw`]). Fails as a whole only for
/// invalid options, a model without a generator, or a relaxation asked of a potential whose
/// energy head was never trained (without relaxation such samples have no energies and are
/// ranked by their problems and draw order).
pub fn generate_structures(
    models: PipelineModels,
    molecules: &[GraphRequest],
    opts: &PipelineOptions,
    progress: &mut dyn FnMut(usize),
) -> Result<Vec<Result<Vec<Sample>>>> {
    opts.validate()?;
    let PipelineModels {
        generator,
        potential,
    } = models;
    if !generator.has_generator() {
        return Err(Error::invalid("this model has no structure generator"));
    }
    if opts.relax.is_some() {
        potential.check_energy_trained()?;
    }
    // Aromatic bonds become Kekulé bonds (the generator knows those); from here on each
    // molecule is handled with its kekulized graph.
    let mut out: Vec<Option<Result<Vec<Sample>>>> = Vec::with_capacity(molecules.len());
    let mut graphs: Vec<Cow<[Bond]>> = Vec::with_capacity(molecules.len());
    for m in molecules {
        let graph = generator
            .species_index(m.numbers)
            .and_then(|_| potential.species_index(m.numbers))
            .and_then(|_| kekule_graph(m.numbers, m.bonds, m.charges));
        match graph {
            Ok(bonds) => {
                out.push(None);
                graphs.push(bonds);
            }
            Err(e) => {
                out.push(Some(Err(e)));
                graphs.push(Cow::Borrowed(m.bonds));
            }
        }
    }
    let kekulized: Vec<GraphRequest> = (molecules.iter().zip(&graphs))
        .map(|(m, bonds)| GraphRequest { bonds, ..*m })
        .collect();
    let molecules = &kekulized;
    let mut done = out.iter().filter(|o| o.is_some()).count();
    progress(done);
    let todo: Vec<usize> = (0..molecules.len()).filter(|&m| out[m].is_none()).collect();
    for chunk in batches(generator, molecules, &todo, opts.samples) {
        let batch: Vec<GraphRequest> = chunk.iter().map(|&m| molecules[m]).collect();
        let plans: Vec<Option<Plan>> = (batch.iter())
            .map(|m| Plan::new(m.numbers, m.bonds, m.stereo))
            .collect();
        let drawn = sample_batch(generator, &batch, &plans, opts);
        for ((&m, plan), drawn) in chunk.iter().zip(&plans).zip(drawn) {
            let molecule = &molecules[m];
            // A joined molecule's pieces were drawn again already; what is left is mostly
            // contacts across the joints, which the restraint-first relaxation mends.
            let redraws = if plan.is_some() { 0 } else { opts.redraws };
            out[m] = Some(drawn.and_then(|d| {
                finish(
                    potential,
                    molecule,
                    redraw(generator, molecule, d, redraws, &opts.sampler),
                    opts,
                )
            }));
            done += 1;
            progress(done);
        }
    }
    Ok(out
        .into_iter()
        .map(|o| o.expect("every molecule has an outcome"))
        .collect())
}

/// Draws `opts.samples` structures of each molecule of a batch: those with a [`Plan`]
/// (`plans`, one per molecule; above [`assembly::ASSEMBLE_ABOVE`] atoms) joined from sampled
/// pieces, the rest sampled together; when that batch fails, each again alone so that only
/// the failing ones fail. `[molecule] -> [k][N][3]`.
fn sample_batch(
    generator: &Potential,
    batch: &[GraphRequest],
    plans: &[Option<Plan>],
    opts: &PipelineOptions,
) -> Vec<Result<Vec<Vec<[f64; 3]>>>> {
    let k = opts.samples;
    let whole: Vec<(&[u8], &[Bond], u64)> = (batch.iter().zip(plans))
        .filter(|(_, plan)| plan.is_none())
        .map(|(m, _)| m.sampler_input())
        .collect();
    let mut sampled = match generate_many(generator, &whole, k, &opts.sampler) {
        Ok(all) => all.into_iter().map(Ok).collect(),
        Err(_) if whole.len() > 1 => (whole.iter())
            .map(|one| {
                generate_many(generator, std::slice::from_ref(one), k, &opts.sampler)
                    .map(|mut s| s.remove(0))
            })
            .collect(),
        Err(e) => vec![Err(e)],
    }
    .into_iter();
    (batch.iter().zip(plans))
        .map(|(m, plan)| match plan {
            Some(plan) => plan.generate(generator, m.seed, k, &opts.sampler),
            None => sampled.next().expect("one outcome per molecule"),
        })
        .collect()
}

/// A drawn structure after [`Stereo::orient`]: its draw index ([`Sample::draw`]), positions
/// (Å, `[N][3]`), the number of specified stereo elements it still gets wrong and its number of
/// sanity problems (broken bonds, clashes).
struct Draw {
    draw: usize,
    positions: Vec<[f64; 3]>,
    wrong: usize,
    broken: usize,
}

impl Draw {
    fn oriented(molecule: &GraphRequest, draw: usize, mut positions: Vec<[f64; 3]>) -> Draw {
        let (numbers, bonds, stereo) = (molecule.numbers, molecule.bonds, molecule.stereo);
        let problems =
            |x: &[[f64; 3]]| sanity::check(numbers, bonds, x).map_or(usize::MAX, |p| p.len());
        stereo.orient(bonds, &mut positions, problems);
        let (centres, double_bonds) = stereo.check(&positions);
        Draw {
            draw,
            wrong: centres.len() + double_bonds.len(),
            broken: problems(&positions),
            positions,
        }
    }

    /// Worse draws compare greater: stereo elements wrong first (a relaxation cannot mend
    /// them), then sanity problems (a relaxation often can).
    fn faults(&self) -> (usize, usize) {
        (self.wrong, self.broken)
    }
}

/// Orients a molecule's `k` drawn structures, then redraws those still at fault: a stereo
/// element wrong or a sanity problem (`redraws` rounds; a round draws as many as are at fault
/// from [`redraw_seed`]), keeping a new draw where it has fewer faults ([`Draw::faults`]). Then,
/// when some are still at fault and the molecule has more than
/// [`crate::generate::assembly::REDRAW_JOINED_ABOVE`] atoms, one more round draws them joined
/// from pieces ([`Plan::for_redraw`]), kept likewise. A failed redraw keeps the samples drawn
/// so far.
fn redraw(
    generator: &Potential,
    molecule: &GraphRequest,
    drawn: Vec<Vec<[f64; 3]>>,
    redraws: usize,
    sampler: &SamplerOptions,
) -> Vec<Draw> {
    let k = drawn.len();
    let mut draws: Vec<Draw> = (drawn.into_iter().enumerate())
        .map(|(i, x)| Draw::oriented(molecule, i, x))
        .collect();
    let at_fault =
        |draws: &[Draw]| -> Vec<usize> { (0..k).filter(|&s| draws[s].faults() > (0, 0)).collect() };
    for round in 1..=redraws {
        let faulty = at_fault(&draws);
        if faulty.is_empty() {
            break;
        }
        let seed = redraw_seed(molecule.seed, round);
        let input = [(molecule.numbers, molecule.bonds, seed)];
        let Ok(mut fresh) = generate_many(generator, &input, faulty.len(), sampler) else {
            break;
        };
        keep_better(&mut draws, molecule, &faulty, fresh.remove(0), round * k);
    }
    let faulty = at_fault(&draws);
    let (numbers, bonds, stereo) = (molecule.numbers, molecule.bonds, molecule.stereo);
    let plan = (redraws > 0 && !faulty.is_empty())
        .then(|| Plan::for_redraw(numbers, bonds, stereo))
        .flatten();
    if let Some(plan) = plan {
        let round = redraws + 1;
        let seed = redraw_seed(molecule.seed, round);
        if let Ok(joined) = plan.generate(generator, seed, faulty.len(), sampler) {
            keep_better(&mut draws, molecule, &faulty, joined, round * k);
        }
    }
    draws
}

/// Puts the new structure `fresh[j]` (oriented, draw index `first + j`) in slot `slots[j]` of
/// `draws` where it has fewer faults than the draw there ([`Draw::faults`]).
fn keep_better(
    draws: &mut [Draw],
    molecule: &GraphRequest,
    slots: &[usize],
    fresh: Vec<Vec<[f64; 3]>>,
    first: usize,
) {
    for (j, (&s, x)) in slots.iter().zip(fresh).enumerate() {
        let new = Draw::oriented(molecule, first + j, x);
        if new.faults() < draws[s].faults() {
            draws[s] = new;
        }
    }
}

/// Relaxes, evaluates, screens and ranks one molecule's oriented draws.
fn finish(
    potential: &Potential,
    molecule: &GraphRequest,
    draws: Vec<Draw>,
    opts: &PipelineOptions,
) -> Result<Vec<Sample>> {
    let (numbers, bonds, stereo) = (molecule.numbers, molecule.bonds, molecule.stereo);
    let mut samples = Vec::with_capacity(draws.len());
    for (
        index,
        Draw {
            draw, positions, ..
        },
    ) in draws.into_iter().enumerate()
    {
        let frame = Frame::new(numbers.to_vec(), positions);
        let relaxation =
            (opts.relax.as_ref()).map(|o| relax_keeping_stereo(potential, molecule, &frame, o));
        let (positions, energy, forces) = match &relaxation {
            Some(Ok(r)) => {
                let forces = r.gradient.iter().map(|g| g.map(|x| -x)).collect();
                (r.positions.clone(), Some(r.energy), Some(forces))
            }
            _ => {
                let request = Request {
                    forces: true,
                    ..Request::default()
                };
                match potential.compute_frame(&frame, request) {
                    Ok(p) => (frame.positions, Some(p.energy), p.forces),
                    Err(_) => (frame.positions, None, None),
                }
            }
        };
        let mut problems = sanity::check(numbers, bonds, &positions)?;
        problems.extend(stereo_problems(stereo, &positions));
        samples.push(Sample {
            index,
            draw,
            rank: 0,
            positions,
            energy,
            forces,
            relaxation,
            problems,
        });
    }
    rank(&mut samples);
    Ok(samples)
}

/// Relaxes a drawn structure of `molecule` ([`relax_molecule`]); when the relaxation turns a
/// specified stereo element wrong that the draw had right (an imine hydrogen swinging through,
/// say), the relaxed structure is oriented again ([`Stereo::orient`]) and relaxed once more,
/// and that result is kept when it gets fewer stereo elements wrong and has no more sanity
/// problems. Steps and force calls count both relaxations; `initial_energy` is the first one's.
fn relax_keeping_stereo(
    potential: &Potential,
    molecule: &GraphRequest,
    frame: &Frame,
    opts: &OptimizeOptions,
) -> std::result::Result<OptimizeResult, RelaxFailure> {
    let (numbers, bonds, stereo) = (molecule.numbers, molecule.bonds, molecule.stereo);
    let first = relax_molecule(potential, frame, bonds, opts)?;
    let wrong = |x: &[[f64; 3]]| stereo_problems(stereo, x).len();
    let broken = |x: &[[f64; 3]]| sanity::check(numbers, bonds, x).map_or(usize::MAX, |p| p.len());
    let lost = wrong(&first.positions);
    if stereo.is_empty() || lost <= wrong(&frame.positions) {
        return Ok(first);
    }
    let oriented = Draw::oriented(molecule, 0, first.positions.clone());
    if oriented.wrong >= lost {
        return Ok(first);
    }
    let again = Frame::new(numbers.to_vec(), oriented.positions);
    match relax_molecule(potential, &again, bonds, opts) {
        Ok(mut second)
            if wrong(&second.positions) < lost
                && broken(&second.positions) <= broken(&first.positions) =>
        {
            second.steps += first.steps;
            second.force_calls += first.force_calls;
            second.initial_energy = first.initial_energy;
            Ok(second)
        }
        _ => Ok(first),
    }
}

/// The specified centres and double bonds `positions` get wrong, as problems.
fn stereo_problems(stereo: &Stereo, positions: &[[f64; 3]]) -> Vec<Problem> {
    let (centres, bonds) = stereo.check(positions);
    let centres = centres
        .into_iter()
        .map(|t| Problem::Chirality { atom: t.centre });
    let bonds = bonds.into_iter().map(|d| Problem::DoubleBond {
        atoms: (d.ends[0], d.ends[1]),
        cis: d.cis,
    });
    centres.chain(bonds).collect()
}

/// Sets each sample's `rank`: without problems first, then with stereo problems only, then
/// with geometric ones; within each, lowest energy (none last), then draw order.
fn rank(samples: &mut [Sample]) {
    let mut order: Vec<usize> = (0..samples.len()).collect();
    let class = |s: &Sample| {
        let geometric = s.problems.iter().any(|p| !p.is_stereo());
        u8::from(!s.sane()) + u8::from(geometric)
    };
    order.sort_by(|&a, &b| {
        let key = |s: &Sample| (class(s), s.energy.is_none(), s.energy.unwrap_or(0.0));
        let (ka, kb) = (key(&samples[a]), key(&samples[b]));
        (ka.0, ka.1)
            .cmp(&(kb.0, kb.1))
            .then(ka.2.total_cmp(&kb.2))
            .then(a.cmp(&b))
    });
    for (r, &s) in order.iter().enumerate() {
        samples[s].rank = r;
    }
}

/// The best sample (rank 0) of a molecule's samples.
pub fn best(samples: &[Sample]) -> Option<&Sample> {
    samples.iter().find(|s| s.rank == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(index: usize, energy: Option<f64>, sane: bool) -> Sample {
        let problems = if sane {
            Vec::new()
        } else {
            vec![Problem::Clash {
                atoms: (0, 1),
                distance: 0.5,
                min: 1.0,
            }]
        };
        Sample {
            index,
            draw: index,
            rank: 99,
            positions: Vec::new(),
            energy,
            forces: None,
            relaxation: None,
            problems,
        }
    }

    #[test]
    fn ranking_puts_sane_then_low_energy_first() {
        let mut s = vec![
            sample(0, Some(-1.0), false),
            sample(1, Some(-2.0), true),
            sample(2, None, true),
            sample(3, Some(-3.0), true),
            sample(4, Some(-3.0), true),
            sample(5, None, false),
        ];
        rank(&mut s);
        let ranks: Vec<usize> = s.iter().map(|x| x.rank).collect();
        assert_eq!(ranks, vec![4, 2, 3, 0, 1, 5]);
        assert_eq!(best(&s).unwrap().index, 3);
    }

    #[test]
    fn a_sane_wrong_stereoisomer_ranks_between_right_and_broken_structures() {
        let mut wrong = sample(1, Some(-5.0), true);
        wrong.problems.push(Problem::Chirality { atom: 2 });
        let mut s = vec![
            sample(0, Some(-9.0), false),
            wrong,
            sample(2, Some(-1.0), true),
        ];
        rank(&mut s);
        let ranks: Vec<usize> = s.iter().map(|x| x.rank).collect();
        assert_eq!(ranks, vec![2, 1, 0]);
    }
}
