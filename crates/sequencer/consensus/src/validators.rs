//! The validator set in commonware's types, and the finality certificates it signs.

use crate::{ConsensusError, block::block_hash};
use alloy_primitives::{B256, Bytes};
use commonware_codec::{DecodeExt, Encode, Read};
use commonware_consensus::{Viewable, simplex};
use commonware_cryptography::{ed25519, sha256};
use commonware_parallel::Sequential;
use commonware_utils::ordered::Set;
use sequencer_config::{ValidatorKey, ValidatorPublicKey};

/// The signing scheme: one ed25519 signature per validator, the same keys as p2p identities.
pub type Scheme = simplex::scheme::ed25519::Scheme;
/// A Simplex finalization over a block hash.
pub type Finalization = simplex::types::Finalization<Scheme, sha256::Digest>;

/// The validator set of one chain, with the namespaces its signatures are bound to.
#[derive(Clone, Debug)]
pub struct ValidatorSet {
    participants: Set<ed25519::PublicKey>,
    chain_id: u64,
    genesis: Option<B256>,
}

impl ValidatorSet {
    /// The set of `validators` for chain `chain_id`; duplicates and bad keys are refused.
    pub fn new(chain_id: u64, validators: &[ValidatorPublicKey]) -> Result<Self, ConsensusError> {
        let keys = validators.iter().map(public_key).collect::<Result<Vec<_>, _>>()?;
        let participants = Set::try_from(keys).map_err(|_| {
            ConsensusError::Config("consensus.validators: duplicate validator key".into())
        })?;
        if participants.is_empty() {
            return Err(ConsensusError::Config("consensus.validators: empty".into()));
        }
        Ok(Self { participants, chain_id, genesis: None })
    }

    /// The set bound to the chain starting at `genesis`: its votes and certificates name that
    /// genesis, so a validator whose execution client has another genesis can neither vote
    /// with the others nor have its certificates accepted. [`start`](crate::start) binds the
    /// set it is given; a reader of DA binds it to the genesis of the chain it checks.
    pub const fn bound_to(mut self, genesis: B256) -> Self {
        self.genesis = Some(genesis);
        self
    }

    /// The genesis the set is bound to, if any.
    pub const fn genesis(&self) -> Option<B256> {
        self.genesis
    }

    /// The participants, in commonware's (sorted) order: the order of a certificate's bitmap.
    pub const fn participants(&self) -> &Set<ed25519::PublicKey> {
        &self.participants
    }

    /// The chain id the signatures are bound to.
    pub const fn chain_id(&self) -> u64 {
        self.chain_id
    }

    /// How many validators must sign a certificate (2f+1 of 3f+1).
    pub fn quorum(&self) -> usize {
        let n = self.participants.len();
        n - (n - 1) / 3
    }

    /// Namespace of consensus votes: a vote for one chain (chain id and genesis) is no vote for
    /// another.
    pub fn consensus_namespace(&self) -> Vec<u8> {
        let mut ns = namespace(self.chain_id, b"consensus");
        if let Some(genesis) = self.genesis {
            ns.push(b'/');
            ns.extend_from_slice(genesis.as_slice());
        }
        ns
    }

    /// Namespace of the p2p handshake.
    pub fn p2p_namespace(&self) -> Vec<u8> {
        namespace(self.chain_id, b"p2p")
    }

    /// The scheme that signs votes with `key`; refused when `key` is not in the set.
    pub fn signer(&self, key: &ValidatorKey) -> Result<Scheme, ConsensusError> {
        Scheme::signer(&self.consensus_namespace(), self.participants.clone(), private_key(key)?)
            .ok_or_else(|| {
                ConsensusError::Config(format!(
                    "consensus.validators: this validator ({}) is not in the set",
                    key.public()
                ))
            })
    }

    /// A scheme that only checks signatures (DA read-back).
    pub fn verifier(&self) -> Scheme {
        Scheme::verifier(&self.consensus_namespace(), self.participants.clone())
    }
}

fn namespace(chain_id: u64, purpose: &[u8]) -> Vec<u8> {
    let mut ns = b"rollup-sequencer/".to_vec();
    ns.extend_from_slice(&chain_id.to_be_bytes());
    ns.push(b'/');
    ns.extend_from_slice(purpose);
    ns
}

/// A validator's public key as commonware's type.
pub fn public_key(key: &ValidatorPublicKey) -> Result<ed25519::PublicKey, ConsensusError> {
    ed25519::PublicKey::decode(key.to_bytes().as_slice())
        .map_err(|e| ConsensusError::Config(format!("validator key {key}: {e}")))
}

/// A validator's signing key as commonware's type (the same ed25519 key).
pub fn private_key(key: &ValidatorKey) -> Result<ed25519::PrivateKey, ConsensusError> {
    ed25519::PrivateKey::decode(key.secret_bytes().as_slice())
        .map_err(|e| ConsensusError::Config(format!("validator key {}: {e}", key.public())))
}

/// Proof that the validator set finalized a block: a Simplex finalization (the proposal
/// — view, parent view, block hash — and a quorum of ed25519 signatures with the signers'
/// bitmap), encoded with commonware's codec.
///
/// A finalization of block `B` finalizes `B` and every ancestor of `B`, so blocks committed
/// together carry the certificate of the newest of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FinalityCertificate {
    bytes: Bytes,
    finalized: B256,
    view: u64,
}

impl FinalityCertificate {
    /// From a finalization the engine reported (it verified the signatures).
    pub fn from_finalization(finalization: &Finalization) -> Self {
        Self {
            bytes: Bytes::from(finalization.encode().to_vec()),
            finalized: block_hash(&finalization.proposal.payload),
            view: finalization.view().get(),
        }
    }

    /// Decodes `bytes` and checks every signature against `set`: at least a quorum of distinct
    /// validators of this chain signed this proposal.
    pub fn verify(bytes: &[u8], set: &ValidatorSet) -> Result<Self, ConsensusError> {
        let mut buf = bytes;
        let finalization = Finalization::read_cfg(&mut buf, &set.participants().len())
            .map_err(|e| ConsensusError::Certificate(format!("undecodable finalization: {e}")))?;
        if !buf.is_empty() {
            return Err(ConsensusError::Certificate("trailing bytes after finalization".into()));
        }
        if !finalization.verify(&mut rand::rng(), &set.verifier(), &Sequential) {
            return Err(ConsensusError::Certificate(format!(
                "finalization of {} does not verify against the validator set of chain {}",
                block_hash(&finalization.proposal.payload),
                set.chain_id()
            )));
        }
        Ok(Self::from_finalization(&finalization))
    }

    /// The encoded finalization.
    pub const fn bytes(&self) -> &Bytes {
        &self.bytes
    }

    /// The block the finalization names (this block or a descendant of the one it is kept with).
    pub const fn finalized(&self) -> B256 {
        self.finalized
    }

    /// The consensus view it was finalized in.
    pub const fn view(&self) -> u64 {
        self.view
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use commonware_cryptography::Signer;

    fn keys(n: u8) -> Vec<ValidatorKey> {
        (1..=n).map(|i| ValidatorKey::from_secret_bytes([i; 32])).collect()
    }

    #[test]
    fn keys_convert_to_the_same_identity() {
        for k in keys(4) {
            let ours = public_key(&k.public()).unwrap();
            assert_eq!(private_key(&k).unwrap().public_key(), ours);
        }
    }

    #[test]
    fn set_refuses_strangers_and_duplicates() {
        let k = keys(4);
        let publics: Vec<_> = k.iter().map(ValidatorKey::public).collect();
        let set = ValidatorSet::new(7, &publics).unwrap();
        assert_eq!(set.quorum(), 3);
        assert!(set.signer(&k[2]).is_ok());
        let stranger = ValidatorKey::from_secret_bytes([99; 32]);
        assert!(set.signer(&stranger).unwrap_err().to_string().contains("not in the set"));
        let dup = [publics[0], publics[0]];
        assert!(ValidatorSet::new(7, &dup).is_err());
        assert_eq!(ValidatorSet::new(1, &publics[..1]).unwrap().quorum(), 1);
        assert_ne!(
            set.consensus_namespace(),
            ValidatorSet::new(8, &publics).unwrap().consensus_namespace()
        );
    }
}
