//! Reads a config's datasets once and turns them into the three kinds of training samples:
//! labelled frames for the potential, equilibrium structures with graphs for the denoiser, and
//! force-labelled frames joined (by molecule name) to their graphs for score consistency.

use std::collections::{BTreeSet, HashMap, HashSet};

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::error::{Error, Result};
use crate::io::{read_extxyz, read_sdf};
use crate::model::graph::{kekule_graph, topological_edges, GraphEdges, GraphScheme};
use crate::model::Model;
use crate::structure::{Frame, Molecule};
use crate::train::config::{Config, DatasetConfig, Task};
use crate::train::samples::{centred, GraphSample, Sample};

/// The raw contents of a config's datasets.
pub struct RawData {
    /// Frames of each extended-XYZ dataset, with the labels its tasks do not list removed.
    pub frames: Vec<Frame>,
    /// The `repeat` of each frame's dataset, `[frames]`.
    pub frame_repeat: Vec<usize>,
    /// Molecules of the structure (SDF) datasets.
    pub molecules: Vec<Molecule>,
    /// The `repeat` of each molecule's dataset, `[molecules]`.
    pub molecule_repeat: Vec<usize>,
}

/// Reads every dataset of `config`.
pub fn read(config: &Config) -> Result<RawData> {
    let mut raw = RawData {
        frames: Vec::new(),
        frame_repeat: Vec::new(),
        molecules: Vec::new(),
        molecule_repeat: Vec::new(),
    };
    for d in &config.dataset {
        if d.tasks.contains(&Task::Structure) {
            let molecules = in_groups(d, read_sdf(&d.path)?)?;
            raw.molecule_repeat
                .extend(std::iter::repeat_n(d.repeat, molecules.len()));
            raw.molecules.extend(molecules);
            continue;
        }
        let before = raw.frames.len();
        for mut f in read_extxyz(&d.path)? {
            if !selected(d, &f) {
                continue;
            }
            if !d.tasks.contains(&Task::Energy) {
                f.energy = None;
            }
            if !d.tasks.contains(&Task::Forces) {
                f.forces = None;
            }
            raw.frames.push(f);
            raw.frame_repeat.push(d.repeat);
        }
        if let Some(configs) = d.configs.as_ref().filter(|_| raw.frames.len() == before) {
            return Err(Error::invalid(format!(
                "dataset '{}' ({}): no frame has a `config` in {configs:?}",
                d.name,
                d.path.display()
            )));
        }
    }
    Ok(raw)
}

/// The molecules of structure dataset `d` in its `groups` (the `group` data field), if any;
/// a selection of no molecule is an error.
fn in_groups(d: &DatasetConfig, molecules: Vec<Molecule>) -> Result<Vec<Molecule>> {
    let Some(groups) = &d.groups else {
        return Ok(molecules);
    };
    let kept: Vec<Molecule> = molecules
        .into_iter()
        .filter(|m| {
            m.properties
                .get("group")
                .is_some_and(|g| groups.contains(g))
        })
        .collect();
    if kept.is_empty() {
        return Err(Error::invalid(format!(
            "dataset '{}' ({}): no molecule has a `group` in {groups:?}",
            d.name,
            d.path.display()
        )));
    }
    Ok(kept)
}

/// Whether frame `f` belongs to dataset `d`'s selection (its `configs`, if any).
fn selected(d: &DatasetConfig, f: &Frame) -> bool {
    d.configs.as_ref().is_none_or(|wanted| {
        f.info
            .get("config")
            .is_some_and(|c| wanted.iter().any(|w| w == c))
    })
}

/// Elements present in the data, sorted by atomic number.
pub fn elements(raw: &RawData) -> Vec<u8> {
    let zs: BTreeSet<u8> = raw
        .frames
        .iter()
        .flat_map(|f| f.numbers.iter().copied())
        .chain(raw.molecules.iter().flat_map(|m| m.numbers.iter().copied()))
        .collect();
    zs.into_iter().collect()
}

/// Training samples of each kind.
#[derive(Default)]
pub struct Samples {
    /// Labelled frames for the potential.
    pub potential: Vec<Sample>,
    /// Equilibrium structures with graphs (denoising, optimality consistency).
    pub structures: Vec<GraphSample>,
    /// Force-labelled frames with graphs (score consistency).
    pub scores: Vec<GraphSample>,
    /// Names of the structure-data molecules left out because of their formal charges: a net
    /// charge, or charges the graph check does not take ([`kekule_graph`]); charge-separated
    /// neutral groups (nitro, zwitterions) stay in.
    pub charged: Vec<String>,
}

/// Builds the samples of `raw` for `model`; frames without energy or force labels are not
/// potential samples, and force-labelled frames become score samples when `with_scores` and a
/// graph of their molecule (`mol` info key = SDF title) exists.
pub fn samples(raw: &RawData, model: &Model, with_scores: bool) -> Result<Samples> {
    let mut out = Samples::default();
    let mut graphs: HashMap<String, (Vec<u8>, GraphEdges)> = HashMap::new();
    let scheme = model
        .denoiser()
        .map_or(GraphScheme::default(), |d| d.config().edges);
    for (m, &repeat) in raw.molecules.iter().zip(&raw.molecule_repeat) {
        let bonds = match kekule_graph(&m.numbers, &m.bonds, &m.charges) {
            Ok(bonds) => bonds,
            Err(_) if m.charges.iter().any(|&q| q != 0) => {
                out.charged.push(m.name.clone());
                continue;
            }
            Err(e) => return Err(Error::invalid(format!("molecule '{}': {e}", m.name))),
        };
        let edges = topological_edges(m.len(), &bonds, scheme);
        graphs.insert(m.name.clone(), (m.numbers.clone(), edges.clone()));
        out.structures.push(GraphSample {
            species: model.species_index(&m.numbers)?,
            positions: centred(&m.positions),
            edges,
            forces: None,
            molecule: m.name.clone(),
            repeat,
        });
    }
    for (i, f) in raw.frames.iter().enumerate() {
        if f.energy.is_none() && f.forces.is_none() {
            continue;
        }
        let mut sample = Sample::from_frame(f, model, i)
            .map_err(|e| Error::invalid(format!("frame {i}: {e}")))?;
        sample.repeat = raw.frame_repeat[i];
        if with_scores {
            if let (Some(forces), Some((numbers, edges))) =
                (&f.forces, graphs.get(&sample.molecule))
            {
                if *numbers == f.numbers {
                    out.scores.push(GraphSample {
                        species: sample.species.clone(),
                        positions: centred(&f.positions),
                        edges: edges.clone(),
                        forces: Some(forces.clone()),
                        molecule: sample.molecule.clone(),
                        repeat: 1,
                    });
                }
            }
        }
        out.potential.push(sample);
    }
    Ok(out)
}

/// Splits all samples by molecule: a seeded `fraction` of the molecule names goes to validation.
/// A training frame or structure is listed its `repeat` times; a validation one once.
pub fn split(s: Samples, fraction: f64, seed: u64) -> (Samples, Samples) {
    let mut mols: Vec<String> = s
        .potential
        .iter()
        .map(|x| x.molecule.clone())
        .chain(s.structures.iter().map(|x| x.molecule.clone()))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    mols.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
    let n_val = ((mols.len() as f64 * fraction).round() as usize)
        .clamp(1, mols.len().saturating_sub(1).max(1));
    let val: HashSet<String> = mols.into_iter().take(n_val).collect();
    let (pt, pv): (Vec<Sample>, Vec<Sample>) = s
        .potential
        .into_iter()
        .partition(|x| !val.contains(&x.molecule));
    let pt = pt
        .into_iter()
        .flat_map(|x| {
            let n = x.repeat;
            std::iter::repeat_n(x, n)
        })
        .collect();
    let (st, sv): (Vec<GraphSample>, Vec<GraphSample>) = s
        .structures
        .into_iter()
        .partition(|x| !val.contains(&x.molecule));
    let st = st
        .into_iter()
        .flat_map(|x| {
            let n = x.repeat;
            std::iter::repeat_n(x, n)
        })
        .collect();
    let (ct, cv) = s
        .scores
        .into_iter()
        .partition(|x| !val.contains(&x.molecule));
    (
        Samples {
            potential: pt,
            structures: st,
            scores: ct,
            charged: s.charged,
        },
        Samples {
            potential: pv,
            structures: sv,
            scores: cv,
            charged: Vec::new(),
        },
    )
}
