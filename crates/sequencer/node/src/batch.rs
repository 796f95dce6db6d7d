//! The DA blob format: a signed batch of blocks.
//!
//! ```text
//! "SEQB" | version 0x03 | validator ed25519 public key (32) | signature (64) | rlp(Vec<Block>)
//! "SEQB" | version 0x04 | validator ed25519 public key (32) | signature (64) | rlp(Vec<[Block, certificate]>)
//! ```
//!
//! The signature covers [`SIGNING_DOMAIN`] ‖ magic ‖ version ‖ `keccak256(rlp)`: the validator's
//! ed25519 key also signs consensus messages, and a signature made for a batch must never be
//! valid for anything else (nor a batch's for another version of it). A follower reading the
//! namespace can verify who posted a batch, decode the blocks and replay them into its own reth
//! with `newPayload`. Version 4 is written by a validator set: each block carries the encoded
//! Simplex finalization that finalized it or a descendant committed with it (empty when the
//! poster has none), so firm history is verifiable from DA alone. A single validator writes
//! version 3. Versions 1 and 2 (the same layouts, signed over `keccak256(rlp)` alone) are
//! refused by name: they were written by an earlier build.

use crate::NodeError;
use alloy_consensus::{Block, TxEnvelope};
use alloy_primitives::{Bytes, keccak256};
use alloy_rlp::{Decodable, Encodable, RlpDecodable, RlpEncodable};
use sequencer_config::{ValidatorKey, ValidatorPublicKey};

const MAGIC: &[u8; 4] = b"SEQB";
const VERSION: u8 = 3;
const VERSION_CERTIFIED: u8 = 4;
/// The versions an earlier build wrote, signed without domain separation.
const UNSEPARATED_VERSIONS: [u8; 2] = [1, 2];

/// What every batch signature starts with: no other message this key signs does.
pub const SIGNING_DOMAIN: &[u8] = b"sequencer/da-batch/v1";
const HEADER_LEN: usize = 4 + 1 + 32 + 64;

/// A block in a version 2 batch, with its finality certificate (empty bytes: none).
#[derive(Debug, Clone, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct CertifiedBlock {
    /// The block.
    pub block: Block<TxEnvelope>,
    /// The encoded finalization covering it, or empty.
    pub certificate: Bytes,
}

/// Encodes and signs a batch (version 1: blocks only).
pub fn encode_batch(key: &ValidatorKey, blocks: &[Block<TxEnvelope>]) -> Bytes {
    let mut rlp = Vec::new();
    blocks.to_vec().encode(&mut rlp);
    signed(key, VERSION, rlp)
}

/// Encodes and signs a batch of blocks with their certificates (version 2).
pub fn encode_certified_batch(key: &ValidatorKey, blocks: &[CertifiedBlock]) -> Bytes {
    let mut rlp = Vec::new();
    blocks.to_vec().encode(&mut rlp);
    signed(key, VERSION_CERTIFIED, rlp)
}

/// The message a batch's signature covers.
fn signing_message(version: u8, rlp: &[u8]) -> Vec<u8> {
    let mut message = Vec::with_capacity(SIGNING_DOMAIN.len() + MAGIC.len() + 1 + 32);
    message.extend_from_slice(SIGNING_DOMAIN);
    message.extend_from_slice(MAGIC);
    message.push(version);
    message.extend_from_slice(keccak256(rlp).as_slice());
    message
}

fn signed(key: &ValidatorKey, version: u8, rlp: Vec<u8>) -> Bytes {
    let sig = key.sign(&signing_message(version, &rlp));
    let mut out = Vec::with_capacity(HEADER_LEN + rlp.len());
    out.extend_from_slice(MAGIC);
    out.push(version);
    out.extend_from_slice(&key.public().to_bytes());
    out.extend_from_slice(&sig.to_bytes());
    out.extend_from_slice(&rlp);
    out.into()
}

/// Decodes a batch and verifies its signature; returns the signer and the blocks.
pub fn decode_batch(
    blob: &[u8],
) -> Result<(ValidatorPublicKey, Vec<Block<TxEnvelope>>), NodeError> {
    let (signer, blocks) = decode_certified_batch(blob)?;
    Ok((signer, blocks.into_iter().map(|b| b.block).collect()))
}

/// Decodes a batch of either version and verifies its signature; blocks of a version 1 batch
/// come without certificates.
pub fn decode_certified_batch(
    blob: &[u8],
) -> Result<(ValidatorPublicKey, Vec<CertifiedBlock>), NodeError> {
    let bad = |m: &str| NodeError::Batch(m.to_owned());
    if blob.len() < HEADER_LEN || &blob[..4] != MAGIC {
        return Err(bad("not a sequencer batch (magic)"));
    }
    let version = blob[4];
    if UNSEPARATED_VERSIONS.contains(&version) {
        return Err(NodeError::Batch(format!(
            "batch version {version} was written by an earlier build (its signature is not \
             domain-separated); this build reads versions {VERSION} and {VERSION_CERTIFIED}"
        )));
    }
    if version != VERSION && version != VERSION_CERTIFIED {
        return Err(NodeError::Batch(format!("unknown batch version {version}")));
    }
    let key_bytes: [u8; 32] = blob[5..37].try_into().map_err(|_| bad("public key length"))?;
    let signer = ValidatorPublicKey::from_bytes(&key_bytes).map_err(NodeError::Batch)?;
    let sig_bytes: [u8; 64] =
        blob[37..HEADER_LEN].try_into().map_err(|_| bad("signature length"))?;
    let sig = ed25519_dalek::Signature::from_bytes(&sig_bytes);
    let rlp = &blob[HEADER_LEN..];
    if !signer.verify(&signing_message(version, rlp), &sig) {
        return Err(bad("signature does not verify"));
    }
    let mut buf = rlp;
    let decode_err = |e: alloy_rlp::Error| NodeError::Batch(e.to_string());
    let blocks = if version == VERSION {
        Vec::<Block<TxEnvelope>>::decode(&mut buf)
            .map_err(decode_err)?
            .into_iter()
            .map(|block| CertifiedBlock { block, certificate: Bytes::new() })
            .collect()
    } else {
        Vec::<CertifiedBlock>::decode(&mut buf).map_err(decode_err)?
    };
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

    #[test]
    fn the_signature_covers_domain_magic_and_version() {
        let key = ValidatorKey::from_secret_bytes([3; 32]);
        let block = Block::<TxEnvelope> {
            header: Header { number: 1, ..Default::default() },
            body: BlockBody::default(),
        };
        let blob = encode_batch(&key, std::slice::from_ref(&block)).to_vec();
        let rlp = &blob[HEADER_LEN..];
        // A signature over the bare RLP hash (what versions 1 and 2 signed) does not verify.
        let mut bare = blob.clone();
        bare[37..HEADER_LEN].copy_from_slice(&key.sign(keccak256(rlp).as_slice()).to_bytes());
        assert_eq!(
            decode_batch(&bare).unwrap_err().to_string(),
            NodeError::Batch("signature does not verify".into()).to_string()
        );
        // The same bytes relabelled as the certified version do not verify either: the version
        // is signed.
        let mut relabelled = blob.clone();
        relabelled[4] = VERSION_CERTIFIED;
        assert_eq!(
            decode_certified_batch(&relabelled).unwrap_err().to_string(),
            NodeError::Batch("signature does not verify".into()).to_string()
        );
        // What an earlier build wrote is refused by name, not as a bad signature.
        let mut old = blob;
        old[4] = 1;
        let err = decode_batch(&old).unwrap_err().to_string();
        assert!(err.contains("batch version 1 was written by an earlier build"), "{err}");
    }

    #[test]
    fn certified_batches_keep_each_blocks_certificate() {
        let key = ValidatorKey::from_secret_bytes([3; 32]);
        let blocks: Vec<_> = [(1, vec![7u8; 40]), (2, vec![])]
            .into_iter()
            .map(|(n, cert)| CertifiedBlock {
                block: Block::<TxEnvelope> {
                    header: Header { number: n, ..Default::default() },
                    body: BlockBody::default(),
                },
                certificate: Bytes::from(cert),
            })
            .collect();
        let blob = encode_certified_batch(&key, &blocks);
        assert_eq!(blob[4], VERSION_CERTIFIED);
        let (signer, decoded) = decode_certified_batch(&blob).unwrap();
        assert_eq!(signer, key.public());
        assert_eq!(decoded, blocks);
        // A version 1 batch reads back with empty certificates.
        let plain: Vec<_> = blocks.iter().map(|b| b.block.clone()).collect();
        let (_, v1) = decode_certified_batch(&encode_batch(&key, &plain)).unwrap();
        assert!(v1.iter().all(|b| b.certificate.is_empty()));
        let mut tampered = blob.to_vec();
        tampered[HEADER_LEN + 3] ^= 1;
        assert!(decode_certified_batch(&tampered).is_err());
    }
}
