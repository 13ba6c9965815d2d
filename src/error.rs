//! The crate-wide error type. Every variant names the problem; the C ABI maps each
//! variant to its own status code.

use std::path::PathBuf;

/// Everything that can go wrong in Concord.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading or writing a file failed at the OS level.
    #[error("{path}: {source}")]
    Io {
        /// The file involved.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A data file (extxyz, SDF, ...) is malformed.
    #[error("{path}:{line}: {message}")]
    Parse {
        /// The file being parsed.
        path: PathBuf,
        /// 1-based line number of the problem.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// The caller passed an invalid system or argument (a bad cell, mismatched sizes, ...).
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// Two atoms closer than [`crate::model::evaluate::OVERLAP_DISTANCE`]: no model can
    /// evaluate them. `first` and `second` are 0-based indices into the caller's arrays.
    #[error(
        "invalid input: atoms {first} and {second} overlap (distance {distance:.3} Å < {} Å)",
        crate::model::evaluate::OVERLAP_DISTANCE
    )]
    Overlap {
        /// One of the two atoms.
        first: usize,
        /// The other atom.
        second: usize,
        /// Their distance, Å.
        distance: f64,
    },
    /// A NaN or infinite coordinate; `atom` is a 0-based index into the caller's arrays.
    #[error("invalid input: non-finite coordinate (NaN or inf) on atom {atom}")]
    NonFinitePosition {
        /// The first atom with a non-finite coordinate.
        atom: usize,
    },
    /// An element the model (or Concord) does not know.
    #[error("unknown element: {0}")]
    UnknownElement(String),
    /// The evaluation would need more memory than the limit ([`crate::memory`]).
    #[error(
        "{atoms} atoms with {pairs} neighbour pairs need about {needed_gb:.3} GB, more \
         than the memory limit of {limit_gb:.3} GB (80 % of physical memory unless {} is set): \
         split the system (more MPI ranks) or check its density and cutoff",
        crate::memory::LIMIT_VARIABLE
    )]
    MemoryLimit {
        /// Atoms of the evaluation (local + ghost).
        atoms: usize,
        /// Neighbour pairs within the cutoff.
        pairs: usize,
        /// Estimated need, GB.
        needed_gb: f64,
        /// The limit, GB.
        limit_gb: f64,
    },
    /// The model cannot do what was asked (e.g. energies from a structure generator whose
    /// energy head was never trained).
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// A model file is corrupt, truncated or of an unknown version.
    #[error("model file {path}: {message}")]
    ModelFile {
        /// The model file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A training configuration is invalid.
    #[error("config {path}: {message}")]
    Config {
        /// The config file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// libtorch reported an error.
    #[cfg(feature = "torch")]
    #[error("libtorch: {0}")]
    Torch(#[from] tch::TchError),
}

/// Shorthand for `Result<T, concord::Error>`.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// An [`Error::Io`] for `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// An [`Error::Parse`] at `line` (1-based) of `path`.
    pub fn parse(path: impl Into<PathBuf>, line: usize, message: impl Into<String>) -> Self {
        Error::Parse {
            path: path.into(),
            line,
            message: message.into(),
        }
    }

    /// An [`Error::InvalidInput`].
    pub fn invalid(message: impl Into<String>) -> Self {
        Error::InvalidInput(message.into())
    }

    /// The atoms (0-based indices into the caller's arrays) the error is about: the two atoms
    /// of an [`Error::Overlap`], the atom of an [`Error::NonFinitePosition`], none otherwise.
    /// Engines map them to their own atom IDs.
    pub fn atoms(&self) -> Vec<usize> {
        match *self {
            Error::Overlap { first, second, .. } => vec![first, second],
            Error::NonFinitePosition { atom } => vec![atom],
            _ => Vec::new(),
        }
    }
}
