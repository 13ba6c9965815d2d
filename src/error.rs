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
    /// The caller passed an invalid system or argument (NaN coordinates, overlapping atoms, ...).
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// An element the model (or Concord) does not know.
    #[error("unknown element: {0}")]
    UnknownElement(String),
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
}
