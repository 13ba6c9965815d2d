//! The four ways Concord computes forces agree on one model and molecule (float64): the native
//! runtime and libtorch behind `Potential` (inference), the batched training forward
//! (`train::batch_forward`) and the generator losses' energies (`batch_energies`, by autograd).

#![cfg(feature = "torch")]

mod common;

use common::tiny_molecule;
use concord::model::evaluate::Request;
use concord::model::graph::{topological_edges, GraphScheme};
use concord::model::Precision;
use concord::potential::{Backend, Device, Potential};
use concord::train::batch_forward::energies_and_forces;
use concord::train::generator_losses::{batch_energies, graph_batch};
use concord::train::samples::{centred, GraphSample};
use concord::train::samples::{collate, Sample, Selection};
use concord::Frame;
use tch::{Device as TchDevice, Kind, Tensor};

fn largest_difference(a: &[[f64; 3]], b: &[[f64; 3]]) -> f64 {
    a.iter()
        .zip(b)
        .flat_map(|(x, y)| (0..3).map(move |d| (x[d] - y[d]).abs()))
        .fold(0.0, f64::max)
}

fn rows(t: &Tensor) -> Vec<[f64; 3]> {
    let flat: Vec<f64> = Vec::try_from(t.to_kind(Kind::Double).flatten(0, -1)).unwrap();
    flat.chunks_exact(3).map(|c| [c[0], c[1], c[2]]).collect()
}

#[test]
fn inference_training_and_generator_forces_agree() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples/models/concord-qm9-gfn2.concord");
    let mut pot = Potential::load(&path, Device::Cpu, Precision::Float64).unwrap();
    let mol = tiny_molecule();
    let frame = Frame::new(mol.numbers.clone(), centred(&mol.positions));
    let request = Request {
        forces: true,
        ..Request::default()
    };
    let native = pot.compute_frame(&frame, request).unwrap();
    pot.set_backend(Backend::Torch).unwrap();
    let torch = pot.compute_frame(&frame, request).unwrap();
    let model = pot.model();

    // Training: the batched forward of the loss.
    let sample = Sample::from_frame(&frame, model, 0).unwrap();
    let batch = collate(&Selection::plain(&[&sample]), Kind::Double, TchDevice::Cpu).unwrap();
    let (e_train, f_train) = energies_and_forces(model, &batch, false).unwrap();

    // Generator losses: energies of the graph batch, forces by autograd.
    let graph = GraphSample {
        species: model.species_index(&mol.numbers).unwrap(),
        positions: frame.positions.clone(),
        edges: topological_edges(mol.len(), &mol.bonds, GraphScheme::Radius),
        forces: None,
        molecule: mol.name.clone(),
        repeat: 1,
    };
    let (gb, x0) = graph_batch(model, &[&graph]).unwrap();
    let x = x0.to_kind(Kind::Double).detach().set_requires_grad(true);
    let e_gen = batch_energies(model, &gb, &x).unwrap();
    e_gen.sum(Kind::Double).backward();
    let f_gen: Vec<[f64; 3]> = rows(&x.grad()).iter().map(|g| g.map(|v| -v)).collect();

    let want = native.forces.as_ref().unwrap();
    let scale = want.iter().flatten().fold(0.0f64, |m, v| m.max(v.abs()));
    assert!(scale > 0.1, "a molecule with real forces ({scale} eV/Å)");
    for (name, f, e) in [
        (
            "libtorch inference",
            torch.forces.clone().unwrap(),
            torch.energy,
        ),
        (
            "training forward",
            rows(&f_train),
            e_train.double_value(&[0]),
        ),
        ("generator losses", f_gen, e_gen.double_value(&[0])),
    ] {
        let d = largest_difference(want, &f);
        assert!(
            d < 1e-9,
            "{name}: forces differ from the native runtime by {d} eV/Å"
        );
        assert!(
            (e - native.energy).abs() < 1e-9,
            "{name}: energy {e} vs {}",
            native.energy
        );
    }
}
