//! Reading and writing data files: plain or gzipped text ([`files`]), extended XYZ
//! ([`extxyz`], as ASE reads and writes it) and SDF/MOL V2000 ([`sdf`], as RDKit reads and
//! writes it), and molecular graphs from SMILES strings ([`smiles`]).
//!
//! Every parser reports malformed input as [`crate::Error::Parse`] naming the file and the
//! 1-based line; every writer replaces the target atomically and gzips when the name ends in
//! `.gz`.

pub mod extxyz;
pub mod files;
pub mod sdf;
pub mod smiles;

pub use extxyz::{format_extxyz, parse_extxyz, read_extxyz, write_extxyz};
pub use files::{check_not_input, prepare_output, read_text, write_atomic};
pub use sdf::{format_sdf, parse_sdf, read_sdf, write_sdf};
pub use smiles::{parse_smiles, SmilesGraph};
