//! The DA blob format: a signed batch of blocks.
//!
//! ```text
//! "SEQB" | version 0x01 | validator ed25519 public key (32) | signature (64) | rlp(Vec<Block>)
//! ```
//!
//! The signature covers `keccak256(rlp)`. A follower reading the namespace can verify who
//! posted a batch, decode the blocks and replay them into its own reth with `newPayload`.

use crate::NodeError;
use alloy_consensus::{Block, TxEnvelope};
use alloy_primitives::{Bytes, keccak256};
use alloy_rlp::{Decodable, Encodable};
use sequencer_config::{ValidatorKey, ValidatorPublicKey};

const MAGIC: &[u8; 4] = b"SEQB";
const VERSION: u8 = 1;
const HEADER_LEN: usize = 4 + 1 + 32 + 64;

/// Encodes and signs a batch.
pub fn encode_batch(key: &ValidatorKey, blocks: &[Block<TxEnvelope>]) -> Bytes {
    let mut rlp = Vec::new();
    blocks.to_vec().encode(&mut rlp);
    let sig = key.sign(keccak256(&rlp).as_slice());
    let mut out = Vec::with_capacity(HEADER_LEN + rlp.len());
    out.extend_from_slice(MAGIC);
    out.push(VERSION);
    out.extend_from_slice(&key.public().to_bytes());
    out.extend_from_slice(&sig.to_bytes());
    out.extend_from_slice(&rlp);
    out.into()
}

/// Decodes a batch and verifies its signature; returns the signer and the blocks.
pub fn decode_batch(
    blob: &[u8],
) -> Result<(ValidatorPublicKey, Vec<Block<TxEnvelope>>), NodeError> {
    let bad = |m: &str| NodeError::Batch(m.to_owned());
    if blob.len() < HEADER_LEN || &blob[..4] != MAGIC {
        return Err(bad("not a sequencer batch (magic)"));
    }
    if blob[4] != VERSION {
        return Err(NodeError::Batch(format!("unknown batch version {}", blob[4])));
    }
    let key_bytes: [u8; 32] = blob[5..37].try_into().map_err(|_| bad("public key length"))?;
    let signer = ValidatorPublicKey::from_bytes(&key_bytes).map_err(NodeError::Batch)?;
    let sig_bytes: [u8; 64] =
        blob[37..HEADER_LEN].try_into().map_err(|_| bad("signature length"))?;
    let sig = ed25519_dalek::Signature::from_bytes(&sig_bytes);
    let rlp = &blob[HEADER_LEN..];
    if !signer.verify(keccak256(rlp).as_slice(), &sig) {
        return Err(bad("signature does not verify"));
    }
    let mut buf = rlp;
    let blocks =
        Vec::<Block<TxEnvelope>>::decode(&mut buf).map_err(|e| NodeError::Batch(e.to_string()))?;
    if !buf.is_empty() {
        return Err(bad("trailing bytes"));
    }
    Ok((signer, blocks))
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_consensus::{BlockBody, Header};

    #[test]
    fn roundtrip_and_tamper() {
        let key = ValidatorKey::from_secret_bytes([3; 32]);
        let blocks = vec![
            Block::<TxEnvelope> {
                header: Header { number: 1, ..Default::default() },
                body: BlockBody::default(),
            },
            Block::<TxEnvelope> {
                header: Header { number: 2, ..Default::default() },
                body: BlockBody::default(),
            },
        ];
        let blob = encode_batch(&key, &blocks);
        let (signer, decoded) = decode_batch(&blob).unwrap();
        assert_eq!(signer, key.public());
        assert_eq!(decoded, blocks);
        let mut tampered = blob.to_vec();
        let last = tampered.len() - 1;
        tampered[last] ^= 1;
        assert!(decode_batch(&tampered).is_err());
        assert!(decode_batch(b"nope").is_err());
    }
}
