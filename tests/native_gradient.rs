//! The native training gradient against libtorch's double backward: the same loss, and the
//! same gradient for every trainable parameter, on random models of several shapes (with and
//! without the ZBL core and the normalised vector features) and a batch of molecules with
//! energy and force labels, with the MSE and the Huber force loss, and with the
//! relative-energy term (a frame paired with its molecule's lowest-energy frame, which joins
//! the batch for that term only).

#![cfg(feature = "torch")]

mod common;

use std::collections::HashMap;
use std::path::Path;

use common::{dist, random_molecule};
use concord::model::file::to_bytes_tensors;
use concord::model::{EncoderConfig, Model, ModelConfig, Precision};
use concord::runtime::{NativeModel, Params, Real};
use concord::train::batch_forward::{energies_and_forces, PotentialLoss};
use concord::train::native_gradient::{named, Displacement, NativeGradient};
use concord::train::samples::{collate, link_partners, Sample, Selection};
use tch::{Device, Kind};

/// A random molecule of `n` atoms with every pair within `cutoff` and made-up labels; with
/// `displaced`, its atoms moved by up to 0.1 Å and its energy 0.7 eV higher.
fn sample(n: usize, seed: u64, cutoff: f64, labelled_forces: bool, displaced: bool) -> Sample {
    let (numbers, mut positions) = random_molecule(n, 4.0, seed);
    if displaced {
        for (i, p) in positions.iter_mut().enumerate() {
            for (a, x) in p.iter_mut().enumerate() {
                *x += 0.1 * ((7 * i + a) as f64).sin();
            }
        }
    }
    let species: Vec<i64> = numbers
        .iter()
        .map(|z| match z {
            1 => 0,
            6 => 1,
            7 => 2,
            _ => 3,
        })
        .collect();
    let (mut first, mut second) = (Vec::new(), Vec::new());
    for i in 0..n {
        for j in 0..n {
            if i != j && dist(&positions[i], &positions[j]) < cutoff {
                first.push(i as i64);
                second.push(j as i64);
            }
        }
    }
    let shift = vec![[0.0; 3]; first.len()];
    let energy = -100.0 * n as f64 + seed as f64 * 0.3 + if displaced { 0.7 } else { 0.0 };
    let forces = (0..n)
        .map(|i| std::array::from_fn(|a| ((i * 3 + a) as f64 * 0.37 + seed as f64).sin()))
        .collect();
    Sample {
        species,
        positions,
        first,
        second,
        shift,
        energy: Some(energy),
        forces: labelled_forces.then_some(forces),
        molecule: format!("m{seed}"),
        repeat: 1,
        partner: None,
    }
}

/// The largest difference between the native and libtorch gradients of any variable,
/// relative to the largest libtorch gradient of that variable; and the two losses.
fn compare<T: Real + Displacement>(
    encoder: EncoderConfig,
    loss: PotentialLoss,
    seed: i64,
) -> (f64, f64, f64) {
    let config = ModelConfig {
        elements: vec![1, 6, 7, 8],
        encoder,
        generator: None,
    };
    let mut model = Model::seeded(config.clone(), Device::Cpu, Precision::Float64, seed).unwrap();
    model
        .set_energy_normalisation(&[-13.6, -1030.0, -1480.0, -2040.0], 0.8)
        .unwrap();
    // Scored: the first, third and fourth; with the relative-energy term the displaced second
    // instead of the first, which then joins as its partner for that term only.
    let mut samples = [
        sample(7, 1, encoder.cutoff, true, false),
        sample(7, 1, encoder.cutoff, true, true),
        sample(5, 2, encoder.cutoff, true, false),
        sample(9, 3, encoder.cutoff, false, false),
    ];
    link_partners(&mut samples);
    let partners: Vec<Option<usize>> = samples.iter().map(|s| s.partner).collect();
    assert_eq!(partners, [None, Some(0), None, None]);
    let refs = if loss.relative_energy_weight > 0.0 {
        Selection::with_partners(&[1, 2, 3], &samples)
    } else {
        Selection::plain(&[&samples[0], &samples[2], &samples[3]])
    };

    let batch = collate(&refs, Kind::Double, Device::Cpu).unwrap();
    let (e, f) = energies_and_forces(&model, &batch, true).unwrap();
    let (total, _, _) = loss.loss(&batch, &e, &f).unwrap();
    for (_, v) in model.vs.variables() {
        let mut g = v.grad();
        if g.defined() {
            let _ = g.zero_();
        }
    }
    total.backward();
    let torch_loss = total.double_value(&[]);
    let torch: HashMap<String, Vec<f64>> = model
        .vs
        .variables()
        .into_iter()
        .filter(|(_, v)| v.requires_grad())
        .map(|(name, v)| {
            let g = v.grad().flatten(0, -1);
            (name, Vec::<f64>::try_from(g).unwrap())
        })
        .collect();

    let bytes = to_bytes_tensors(model.vs.variables(), HashMap::new()).unwrap();
    let params = Params::<T>::from_bytes(&bytes, &config, Path::new("random")).unwrap();
    let native_model = NativeModel::from_params(params, config, T::TABULATE).unwrap();
    let mut state = NativeGradient::new(&native_model);
    let native_loss = state
        .loss_and_gradient(&native_model, &refs, &loss)
        .unwrap()
        .total;
    let native = named(&state.grads);
    assert_eq!(
        native.len(),
        torch.len(),
        "every trainable variable has a gradient"
    );
    let mut worst = 0.0f64;
    for (name, g) in &native {
        let t = &torch[name];
        assert_eq!(g.len(), t.len(), "{name}");
        let scale = t.iter().fold(1e-30f64, |m, x| m.max(x.abs()));
        let diff = g
            .iter()
            .zip(t)
            .fold(0.0f64, |m, (a, b)| m.max((a - b).abs()));
        worst = worst.max(diff / scale);
    }
    (worst, native_loss, torch_loss)
}

fn encoder(features: i64, layers: i64, vector_norm: bool, zbl: Option<f64>) -> EncoderConfig {
    EncoderConfig {
        features,
        layers,
        cutoff: 3.5,
        radial_basis: 8,
        edge_features: 0,
        vector_norm,
        zbl,
    }
}

#[test]
fn native_training_gradients_agree_with_libtorch_double_backward() {
    let mse = PotentialLoss {
        energy_weight: 100.0,
        force_weight: 10.0,
        force_huber_delta: None,
        relative_energy_weight: 0.0,
    };
    let relative = PotentialLoss {
        relative_energy_weight: 300.0,
        ..mse
    };
    let huber = PotentialLoss {
        force_huber_delta: Some(0.5),
        ..mse
    };
    let forces_only = PotentialLoss {
        energy_weight: 0.0,
        ..mse
    };
    for (enc, loss, seed) in [
        (encoder(8, 1, false, None), mse, 1),
        (encoder(16, 2, false, None), forces_only, 4),
        (encoder(16, 3, false, Some(0.6)), mse, 2),
        (encoder(12, 2, true, None), huber, 3),
        (encoder(16, 2, false, Some(0.6)), relative, 5),
    ] {
        let (worst, native, torch) = compare::<f64>(enc, loss, seed);
        assert!(
            (native - torch).abs() <= 1e-10 * torch.abs(),
            "loss: native {native}, libtorch {torch}"
        );
        // Measured: 2e-9 to 3e-8 (the central difference's O(h^2)).
        assert!(
            worst < 1e-6,
            "{enc:?}: float64 gradients differ by {worst:e}"
        );
        let (worst, native, _) = compare::<f32>(enc, loss, seed);
        assert!(
            (native - torch).abs() <= 1e-5 * torch.abs(),
            "float32 loss {native}"
        );
        // Measured: 6e-7 to 3e-4 (round-off of the difference in float32).
        assert!(
            worst < 3e-3,
            "{enc:?}: float32 gradients differ by {worst:e}"
        );
    }
}
