use thiserror::Error;

/// Everything that can go wrong in consensus.
#[derive(Debug, Error)]
pub enum ConsensusError {
    /// A bad validator set, key or peer list; the message names the config field.
    #[error("{0}")]
    Config(String),
    /// Bytes from a peer or from DA that do not decode.
    #[error("decode: {0}")]
    Decode(String),
    /// A block whose body (or execution requests) is not the one its header commits to.
    #[error("block {hash}: the body does not match the header's {what}")]
    BodyMismatch {
        /// The header's hash.
        hash: alloy_primitives::B256,
        /// The first commitment that differs.
        what: String,
    },
    /// A proposal that breaks a rule of the protocol (see `rules`).
    #[error("block {hash}: {rule}")]
    RuleBroken {
        /// The block's hash.
        hash: alloy_primitives::B256,
        /// The rule it breaks.
        rule: String,
    },
    /// A finality certificate that does not decode or verify.
    #[error("certificate: {0}")]
    Certificate(String),
    /// The validator set finalized a chain that does not extend the blocks already committed
    /// here: this node's state and the network's disagree, and it must not go on.
    #[error("finalized chain conflicts with committed blocks: {0}")]
    Conflict(String),
    /// The execution client could not do what consensus asked.
    #[error("execution client: {0}")]
    Execution(String),
    /// The engine or the node's end of the decision stream went away.
    #[error("consensus stopped")]
    Closed,
}
