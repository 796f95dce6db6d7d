use crate::NodeError;
use sequencer_config::{ValidatorKey, ValidatorPublicKey};
use sequencer_engine::BlockRef;

/// How a single validator decides its blocks: the main loop asks whether it proposes and waits
/// for the decision before executing the block as SOFT. A validator set does not go through
/// this trait: its blocks come out of Simplex ([`launch_bft`](crate::launch_bft)).
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
                    "{} validators configured; a single validator decides alone (a set runs through launch_bft)",
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
