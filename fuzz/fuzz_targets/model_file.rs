//! Model-file bytes: metadata parsing and loading (libtorch and native runtime) must give Ok
//! or Error::ModelFile, never panic.
#![no_main]

use std::path::Path;

use concord::model::{file, Precision};
use concord::runtime::Native;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = Path::new("fuzz.concord");
    let _ = file::read_metadata(data, path);
    let _ = file::from_bytes(data, path, tch::Device::Cpu, Precision::Float32);
    let _ = Native::from_bytes(data, path, Precision::Float32);
    let _ = Native::from_bytes(data, path, Precision::Float64);
});
