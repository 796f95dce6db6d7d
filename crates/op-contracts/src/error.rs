//! The one error type of this crate.

use std::path::PathBuf;

/// Why loading, deploying or building the OP contracts failed.
#[derive(Debug, thiserror::Error)]
pub enum OpContractsError {
    /// The npm package is missing or is not the pinned version.
    #[error("contracts package {}: {why}", dir.display())]
    Package {
        /// The folder that was opened.
        dir: PathBuf,
        /// What is wrong.
        why: String,
    },
    /// A contract's artifact is missing or malformed.
    #[error("artifact {name}: {why}")]
    Artifact {
        /// The contract.
        name: String,
        /// What is wrong.
        why: String,
    },
    /// A step of the L2 genesis failed in the EVM.
    #[error("L2 genesis, {step}: {why}")]
    Genesis {
        /// The step (a deployment or an initializer).
        step: String,
        /// The EVM's result.
        why: String,
    },
    /// An L1 deployment step failed.
    #[error("L1 deployment, {step}: {why}")]
    Deploy {
        /// The step.
        step: String,
        /// The RPC error or the reverted receipt.
        why: String,
    },
    /// A view function of an L1 contract could not be called or answered badly.
    #[error("L1 contract {contract}, {function}: {why}")]
    View {
        /// The contract.
        contract: alloy_primitives::Address,
        /// The function's signature.
        function: &'static str,
        /// The RPC error or the decoding error.
        why: String,
    },
}
