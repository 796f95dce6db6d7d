use crate::NodeError;
use sequencer_config::{ValidatorKey, ValidatorPublicKey};
use sequencer_engine::BlockRef;

/// How validators agree on a block. The multi-validator engine (commonware-consensus or
/// Malachite, both ed25519) implements this; the main loop only asks who proposes and waits for
/// a decision before executing the block as SOFT.
#[async_trait::async_trait]
pub trait Consensus: Send + Sync + 'static {
    /// Whether this node proposes (builds) the block at `height`.
    fn is_proposer(&self, height: u64) -> bool;

    /// Returns once the validator set has decided `block` (for a proposer: its own block).
    async fn decide(&self, block: &BlockRef) -> Result<ed25519_dalek::Signature, NodeError>;

    /// The key that signs DA batches.
    fn key(&self) -> &ValidatorKey;
}

/// One validator that proposes and decides every block alone.
#[derive(Debug, Clone)]
pub struct SingleValidator {
    key: ValidatorKey,
}

impl SingleValidator {
    /// Refuses a validator set other than exactly `{key}`, naming `consensus.validators`.
    pub fn new(validators: &[ValidatorPublicKey], key: ValidatorKey) -> Result<Self, NodeError> {
        match validators {
            [only] if *only == key.public() => Ok(Self { key }),
            [_] => Err(NodeError::Config {
                field: "consensus.validators",
                message: format!("this validator ({}) is not in the validator set", key.public()),
            }),
            many => Err(NodeError::Config {
                field: "consensus.validators",
                message: format!(
                    "{} validators configured; this build runs a single validator (multi-validator consensus is not implemented yet)",
                    many.len()
                ),
            }),
        }
    }
}

#[async_trait::async_trait]
impl Consensus for SingleValidator {
    fn is_proposer(&self, _height: u64) -> bool {
        true
    }

    async fn decide(&self, block: &BlockRef) -> Result<ed25519_dalek::Signature, NodeError> {
        Ok(self.key.sign(block.hash.as_slice()))
    }

    fn key(&self) -> &ValidatorKey {
        &self.key
    }
}
