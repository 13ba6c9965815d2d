//! Where a model computes: the CPU (native runtime) or a CUDA device (libtorch), and the one
//! parser of device names ("cpu", "cuda", "cuda:N") that the CLI, training and the C ABI use.

use crate::error::{Error, Result};

/// Where a model computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Device {
    /// The CPU: the native runtime.
    Cpu,
    /// A CUDA device by index (libtorch; needs the `torch` feature).
    Cuda(usize),
}

impl std::str::FromStr for Device {
    type Err = Error;

    /// `"cpu"`, `"cuda"` (= `"cuda:0"`) or `"cuda:N"`; a CUDA device must be visible to
    /// libtorch, and a build without the `torch` feature has only the CPU.
    fn from_str(device: &str) -> Result<Device> {
        let cuda = |index: usize| cuda_device(device, index);
        match device.trim() {
            "cpu" => Ok(Device::Cpu),
            "cuda" => cuda(0),
            d => match d.strip_prefix("cuda:").map(str::parse::<usize>) {
                Some(Ok(index)) => cuda(index),
                _ => Err(Error::invalid(format!(
                    "device '{device}' is not supported: use \"cpu\", \"cuda\" or \"cuda:N\""
                ))),
            },
        }
    }
}

#[cfg(feature = "torch")]
fn cuda_device(device: &str, index: usize) -> Result<Device> {
    let count = tch::Cuda::device_count().max(0) as usize;
    if index < count {
        Ok(Device::Cuda(index))
    } else {
        Err(Error::invalid(format!(
            "device '{device}' is not available ({count} CUDA device(s) visible to libtorch)"
        )))
    }
}

#[cfg(not(feature = "torch"))]
fn cuda_device(device: &str, _index: usize) -> Result<Device> {
    Err(Error::invalid(format!(
        "device '{device}' needs a Concord build with libtorch (the `torch` feature); this \
         one runs models on the CPU only"
    )))
}

#[cfg(feature = "torch")]
impl From<Device> for tch::Device {
    fn from(d: Device) -> tch::Device {
        match d {
            Device::Cpu => tch::Device::Cpu,
            Device::Cuda(i) => tch::Device::Cuda(i),
        }
    }
}
