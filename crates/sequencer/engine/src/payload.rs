use crate::{BlockRef, EngineError};
use alloy_consensus::{Block, Transaction, TxEnvelope};
use alloy_eips::eip7685::Requests;
use alloy_primitives::{B256, Bytes, U256};
use alloy_rpc_types_engine::{
    CancunPayloadFields, ExecutionPayload, ExecutionPayloadSidecar, ExecutionPayloadV3,
    PraguePayloadFields,
};

/// A payload returned by `engine_getPayload`, checked and decoded.
///
/// Construction ([`Self::new`]) recomputes the block hash from the payload and its sidecar
/// (parent beacon block root, execution requests) and refuses a mismatch, so everything
/// downstream (newPayload, DA blob, forkchoice) works on a block whose identity is verified.
#[derive(Debug, Clone)]
pub struct BuiltPayload {
    /// The execution payload.
    pub payload: ExecutionPayloadV3,
    /// Prague execution requests (`None` before Prague).
    pub execution_requests: Option<Requests>,
    /// Parent beacon block root used when building.
    pub parent_beacon_block_root: B256,
    /// Versioned hashes of the block's blob transactions, in order (for newPayload).
    pub versioned_hashes: Vec<B256>,
    /// Value of the block to the fee recipient.
    pub block_value: U256,
    /// The decoded block.
    pub block: Block<TxEnvelope>,
}

impl BuiltPayload {
    /// Checks and decodes a payload.
    pub fn new(
        payload: ExecutionPayloadV3,
        execution_requests: Option<Requests>,
        parent_beacon_block_root: B256,
        block_value: U256,
    ) -> Result<Self, EngineError> {
        let bad =
            |message: String| EngineError::BadResponse { method: "engine_getPayload", message };
        // The block hash does not depend on versioned hashes; they are checked by newPayload.
        let cancun = CancunPayloadFields { parent_beacon_block_root, versioned_hashes: Vec::new() };
        let sidecar = match &execution_requests {
            Some(r) => ExecutionPayloadSidecar::v4(cancun, PraguePayloadFields::new(r.clone())),
            None => ExecutionPayloadSidecar::v3(cancun),
        };
        let block = ExecutionPayload::V3(payload.clone())
            .try_into_block_with_sidecar::<TxEnvelope>(&sidecar)
            .map_err(|e| bad(format!("undecodable payload: {e}")))?;
        let hash = block.header.hash_slow();
        let claimed = payload.payload_inner.payload_inner.block_hash;
        if hash != claimed {
            return Err(bad(format!(
                "payload claims block hash {claimed} but its header hashes to {hash}"
            )));
        }
        let versioned_hashes = block
            .body
            .transactions
            .iter()
            .filter_map(|tx| tx.blob_versioned_hashes())
            .flatten()
            .copied()
            .collect();
        Ok(Self {
            payload,
            execution_requests,
            parent_beacon_block_root,
            versioned_hashes,
            block_value,
            block,
        })
    }

    /// A block another validator built (or the execution client already has), as a payload to
    /// execute: the payload is derived from the block, the parent beacon block root read from
    /// its header, and the hash checked like a built payload's.
    pub fn from_block(
        block: &Block<TxEnvelope>,
        execution_requests: Option<Requests>,
    ) -> Result<Self, EngineError> {
        let root = block.header.parent_beacon_block_root.unwrap_or_default();
        Self::new(ExecutionPayloadV3::from_block_slow(block), execution_requests, root, U256::ZERO)
    }

    /// The block's identity.
    pub fn block_ref(&self) -> BlockRef {
        let inner = &self.payload.payload_inner.payload_inner;
        BlockRef {
            number: inner.block_number,
            hash: inner.block_hash,
            parent_hash: inner.parent_hash,
            timestamp: inner.timestamp,
        }
    }

    /// The block's transactions (EIP-2718 encoded).
    pub fn raw_transactions(&self) -> &[Bytes] {
        &self.payload.payload_inner.payload_inner.transactions
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_consensus::{BlockBody, Header, constants::EMPTY_ROOT_HASH};
    use alloy_eips::{eip4895::Withdrawals, eip7685::EMPTY_REQUESTS_HASH};

    fn payload() -> ExecutionPayloadV3 {
        let header = Header {
            number: 1,
            base_fee_per_gas: Some(7),
            withdrawals_root: Some(EMPTY_ROOT_HASH),
            blob_gas_used: Some(0),
            excess_blob_gas: Some(0),
            parent_beacon_block_root: Some(B256::ZERO),
            requests_hash: Some(EMPTY_REQUESTS_HASH),
            ..Default::default()
        };
        let block: Block<TxEnvelope> = Block {
            header,
            body: BlockBody { withdrawals: Some(Withdrawals::default()), ..Default::default() },
        };
        ExecutionPayloadV3::from_block_slow(&block)
    }

    #[test]
    fn accepts_consistent_payload() {
        let p = BuiltPayload::new(payload(), Some(Requests::default()), B256::ZERO, U256::ZERO)
            .unwrap();
        assert_eq!(p.block_ref().number, 1);
    }

    #[test]
    fn a_block_becomes_the_payload_it_was_built_from() {
        let built = BuiltPayload::new(payload(), Some(Requests::default()), B256::ZERO, U256::ZERO)
            .unwrap();
        let again = BuiltPayload::from_block(&built.block, Some(Requests::default())).unwrap();
        assert_eq!(again.payload, built.payload);
        assert_eq!(again.block_ref(), built.block_ref());
        // Without the requests the header's requests hash no longer matches.
        assert!(BuiltPayload::from_block(&built.block, None).is_err());
    }

    #[test]
    fn rejects_hash_mismatch_and_wrong_sidecar() {
        let mut p = payload();
        p.payload_inner.payload_inner.block_hash = B256::repeat_byte(1);
        let err =
            BuiltPayload::new(p, Some(Requests::default()), B256::ZERO, U256::ZERO).unwrap_err();
        assert!(matches!(err, EngineError::BadResponse { .. }), "{err}");
        // Same payload but another parent beacon root hashes differently.
        let err = BuiltPayload::new(
            payload(),
            Some(Requests::default()),
            B256::repeat_byte(2),
            U256::ZERO,
        )
        .unwrap_err();
        assert!(err.to_string().contains("hashes to"), "{err}");
    }
}
