//! The block a leader proposes, as it travels between validators.

use crate::ConsensusError;
use alloy_consensus::{Block, TxEnvelope, proofs::calculate_transaction_root};
use alloy_eips::eip7685::Requests;
use alloy_primitives::{B256, Bytes};
use alloy_rlp::{Decodable, Encodable, RlpDecodable, RlpEncodable};
use commonware_cryptography::sha256;

/// A proposed execution block: the block itself and the Prague execution requests its header
/// commits to (newPayload needs them; they are not part of the block body).
///
/// Its identity is the block hash, recomputed from the header when the value is made, so a
/// peer cannot attach a block to another block's vote. The hash covers the header only: a body
/// from a peer is trusted once [`ProposedBlock::check_body`] found it to be the one the header
/// commits to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProposedBlock {
    block: Block<TxEnvelope>,
    execution_requests: Option<Requests>,
    hash: B256,
}

/// The RLP shape on the wire: `[block, has_requests, [request, ...]]`.
#[derive(RlpEncodable, RlpDecodable)]
struct Wire {
    block: Block<TxEnvelope>,
    has_requests: bool,
    requests: Vec<Bytes>,
}

impl ProposedBlock {
    /// Wraps a block and hashes its header.
    pub fn new(block: Block<TxEnvelope>, execution_requests: Option<Requests>) -> Self {
        let hash = block.header.hash_slow();
        Self { block, execution_requests, hash }
    }

    /// The block hash (the digest validators vote on).
    pub const fn hash(&self) -> B256 {
        self.hash
    }

    /// The parent's block hash.
    pub const fn parent_hash(&self) -> B256 {
        self.block.header.parent_hash
    }

    /// The block number.
    pub const fn number(&self) -> u64 {
        self.block.header.number
    }

    /// The block timestamp (seconds).
    pub const fn timestamp(&self) -> u64 {
        self.block.header.timestamp
    }

    /// The block.
    pub const fn block(&self) -> &Block<TxEnvelope> {
        &self.block
    }

    /// The execution requests (`None` before Prague).
    pub const fn execution_requests(&self) -> Option<&Requests> {
        self.execution_requests.as_ref()
    }

    /// Both parts, for the execution client.
    pub fn into_parts(self) -> (Block<TxEnvelope>, Option<Requests>) {
        (self.block, self.execution_requests)
    }

    /// Checks that the body (and the execution requests) are the ones the header commits to:
    /// transactions root, ommers hash, withdrawals root and requests hash. A peer can send any
    /// body with a valid block's header; an execution client given that pair refuses it (the
    /// hash it computes differs), so storing it would make an honest validator vote against a
    /// valid block, or commit a body nobody executed.
    pub fn check_body(&self) -> Result<(), ConsensusError> {
        let (header, body) = (&self.block.header, &self.block.body);
        let mismatch = |what: &str| {
            Err(ConsensusError::BodyMismatch { hash: self.hash, what: what.to_owned() })
        };
        if header.transactions_root != calculate_transaction_root(&body.transactions) {
            return mismatch("transactions root");
        }
        if header.ommers_hash != body.calculate_ommers_root() {
            return mismatch("ommers hash");
        }
        if header.withdrawals_root != body.calculate_withdrawals_root() {
            return mismatch("withdrawals root");
        }
        if header.requests_hash != self.execution_requests.as_ref().map(|r| r.requests_hash()) {
            return mismatch("requests hash");
        }
        Ok(())
    }

    /// The size of the block and its execution requests on the wire, without encoding them
    /// (the few bytes of framing around them left out).
    pub fn encoded_len(&self) -> usize {
        self.block.length()
            + self.execution_requests.as_ref().map_or(0, |r| r.iter().map(|q| q.length()).sum())
    }

    /// The wire encoding.
    pub fn encode(&self) -> Vec<u8> {
        let wire = Wire {
            block: self.block.clone(),
            has_requests: self.execution_requests.is_some(),
            requests: self
                .execution_requests
                .as_ref()
                .map(|r| r.iter().cloned().collect())
                .unwrap_or_default(),
        };
        let mut out = Vec::with_capacity(wire.length());
        wire.encode(&mut out);
        out
    }

    /// Decodes the wire encoding; trailing bytes are refused.
    pub fn decode(mut bytes: &[u8]) -> Result<Self, ConsensusError> {
        let wire =
            Wire::decode(&mut bytes).map_err(|e| ConsensusError::Decode(format!("block: {e}")))?;
        if !bytes.is_empty() {
            return Err(ConsensusError::Decode("block: trailing bytes".into()));
        }
        let requests = wire.has_requests.then(|| Requests::from_requests(wire.requests));
        Ok(Self::new(wire.block, requests))
    }
}

/// The consensus digest of a block: its hash, as commonware's 32-byte digest type.
pub const fn digest(hash: B256) -> sha256::Digest {
    sha256::Digest(hash.0)
}

/// The block hash a consensus digest stands for.
pub const fn block_hash(digest: &sha256::Digest) -> B256 {
    B256::new(digest.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_consensus::{BlockBody, Header};

    fn block(number: u64) -> Block<TxEnvelope> {
        Block {
            header: Header { number, timestamp: 1_700_000_000 + number, ..Default::default() },
            body: BlockBody::default(),
        }
    }

    #[test]
    fn wire_roundtrip_keeps_identity_and_requests() {
        for requests in [
            None,
            Some(Requests::default()),
            Some(Requests::from_requests([Bytes::from_static(&[1, 2])])),
        ] {
            let b = ProposedBlock::new(block(7), requests.clone());
            let back = ProposedBlock::decode(&b.encode()).unwrap();
            assert_eq!(back, b);
            assert_eq!(back.hash(), block(7).header.hash_slow());
            assert_eq!(back.execution_requests().cloned(), requests);
        }
    }

    #[test]
    fn decode_refuses_garbage_and_trailing_bytes() {
        let mut bytes = ProposedBlock::new(block(1), None).encode();
        bytes.push(0);
        assert!(ProposedBlock::decode(&bytes).is_err());
        assert!(ProposedBlock::decode(&[0xc0]).is_err());
    }

    #[test]
    fn digest_is_the_block_hash() {
        let h = B256::repeat_byte(9);
        assert_eq!(block_hash(&digest(h)), h);
    }
}
