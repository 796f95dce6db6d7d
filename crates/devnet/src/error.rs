//! The one error type of this crate.

use std::{io, path::PathBuf};

/// Why a devnet step failed.
#[derive(Debug, thiserror::Error)]
pub enum DevnetError {
    /// The devnet description is inconsistent.
    #[error("invalid devnet spec: {0}")]
    Spec(String),
    /// The L1 could not be queried.
    #[error("L1 RPC {url}: {reason}")]
    L1 {
        /// The L1 URL.
        url: String,
        /// What failed.
        reason: String,
    },
    /// An output exists and `--force` was not given.
    #[error("{} exists; pass --force to overwrite it", .0.display())]
    Exists(PathBuf),
    /// An output could not be written.
    #[error("cannot write {}: {source}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
    /// The OP contracts could not be loaded, deployed or built into the genesis.
    #[error(transparent)]
    Contracts(#[from] rollup_op_contracts::OpContractsError),
    /// A withdrawal could not be proven or finalized.
    #[error("withdrawal: {0}")]
    Withdrawal(String),
    /// The beacon adapter could not serve.
    #[error("beacon adapter: {0}")]
    Beacon(String),
}
