//! The DA blob format: a signed batch of blocks.
//!
//! ```text
//! "SEQB" | version 0x03 | validator ed25519 public key (32) | signature (64) | rlp(Vec<Block>)
//! "SEQB" | version 0x04 | validator ed25519 public key (32) | signature (64) | rlp(Vec<[Block, certificate]>)
//! "SEQB" | version 0x05 | validator ed25519 public key (32) | signature (64) | rlp([batch hash, index, count, bytes])
//! ```
//!
//! Version 5 is a part of a batch too large for one blob: a block's size is bounded by its gas
//! (a 30M-gas Prague block holds up to 3 MB of calldata), a blob's by the DA layer (Celestia:
//! about 1.9 MB), and a block that cannot be posted would stop FIRM for good. Such a batch (a
//! whole version 3 or 4 blob) is cut into at most [`MAX_PARTS`] parts, posted in order; the
//! parts' bytes, concatenated, are the batch, and `batch hash` is its keccak256.
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
use alloy_primitives::{B256, Bytes, keccak256};
use alloy_rlp::{Decodable, Encodable, RlpDecodable, RlpEncodable};
use sequencer_config::{ValidatorKey, ValidatorPublicKey};

const MAGIC: &[u8; 4] = b"SEQB";
const VERSION: u8 = 3;
const VERSION_CERTIFIED: u8 = 4;
const VERSION_PART: u8 = 5;
/// The most parts a batch is cut into (a reader holds at most this many parts of a batch in
/// memory while it waits for the rest). 16 blobs of Celestia's size hold 30 MB: more than any
/// block a 30M-gas chain can make.
pub const MAX_PARTS: usize = 16;
/// Bytes of a part blob around its share of the batch: header, RLP list, hash, index, count.
const PART_OVERHEAD: usize = HEADER_LEN + 64;
/// The versions an earlier build wrote, signed without domain separation.
const UNSEPARATED_VERSIONS: [u8; 2] = [1, 2];

/// What every batch signature starts with: no other message this key signs does.
pub const SIGNING_DOMAIN: &[u8] = b"sequencer/da-batch/v1";
const HEADER_LEN: usize = 4 + 1 + 32 + 64;

/// A block in a version 4 batch, with its finality certificate (empty bytes: none) and its
/// execution requests when it has any (its header holds only their hash; without them nobody
/// could execute it from DA). An empty list is left out: the header's hash says it is empty.
#[derive(Debug, Clone, PartialEq, Eq, RlpEncodable, RlpDecodable)]
#[rlp(trailing)]
pub struct CertifiedBlock {
    /// The block.
    pub block: Block<TxEnvelope>,
    /// The encoded finalization covering it, or empty.
    pub certificate: Bytes,
    /// Its execution requests (EIP-7685, each `type ‖ data`) when there are any.
    pub requests: Option<Vec<Bytes>>,
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

/// One part of a batch cut across blobs (version 5), its signature verified.
#[derive(Debug, Clone, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct BatchPart {
    /// keccak256 of the whole batch blob.
    pub batch: B256,
    /// Its place among the parts, from 0.
    pub index: u32,
    /// How many parts the batch has.
    pub count: u32,
    /// Its share of the batch's bytes.
    pub bytes: Bytes,
}

/// The blobs that carry `batch` (an encoded version 3 or 4 batch) on a DA layer whose largest
/// blob is `max_blob` bytes: the batch itself when it fits, otherwise its parts, in order, each
/// signed by `key`. `None` when it would take more than [`MAX_PARTS`] parts.
pub fn split_batch(key: &ValidatorKey, batch: &Bytes, max_blob: usize) -> Option<Vec<Bytes>> {
    if batch.len() <= max_blob {
        return Some(vec![batch.clone()]);
    }
    let share = max_blob.checked_sub(PART_OVERHEAD).filter(|share| *share > 0)?;
    let count = batch.len().div_ceil(share);
    if count > MAX_PARTS {
        return None;
    }
    let hash = keccak256(batch);
    let parts = batch
        .chunks(share)
        .enumerate()
        .map(|(index, bytes)| {
            let part = BatchPart {
                batch: hash,
                index: index as u32,
                count: count as u32,
                bytes: Bytes::copy_from_slice(bytes),
            };
            let mut rlp = Vec::new();
            part.encode(&mut rlp);
            signed(key, VERSION_PART, rlp)
        })
        .collect();
    Some(parts)
}

/// A blob read from DA: a whole batch, or a part of one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DaBlob {
    /// A batch (version 3 or 4): its signer and blocks.
    Batch(ValidatorPublicKey, Vec<CertifiedBlock>),
    /// A part of a batch cut across blobs (version 5): its signer and the part.
    Part(ValidatorPublicKey, BatchPart),
}

/// Decodes a blob of any version this build reads and verifies its signature.
pub fn decode_blob(blob: &[u8]) -> Result<DaBlob, NodeError> {
    let (signer, version, rlp) = verified(blob)?;
    if version != VERSION_PART {
        return decode_blocks(version, rlp).map(|blocks| DaBlob::Batch(signer, blocks));
    }
    let mut buf = rlp;
    let part = BatchPart::decode(&mut buf).map_err(|e| NodeError::Batch(e.to_string()))?;
    if !buf.is_empty() {
        return Err(NodeError::Batch("trailing bytes".into()));
    }
    if part.count == 0 || part.count as usize > MAX_PARTS || part.index >= part.count {
        return Err(NodeError::Batch(format!(
            "part {} of {} (at most {MAX_PARTS} parts)",
            part.index, part.count
        )));
    }
    Ok(DaBlob::Part(signer, part))
}

/// A batch's signer and blocks.
pub type SignedBatch = (ValidatorPublicKey, Vec<CertifiedBlock>);

/// Puts batches cut across blobs back together, part by part, in DA order.
///
/// Parts are kept per signer and batch hash until the last one arrives; a part seen twice (a
/// part posted again after a lost answer) is kept once. Memory is bounded by the parts of
/// [`MAX_PENDING_BATCHES`] batches.
#[derive(Debug, Default)]
pub struct Reassembler {
    /// Per (signer, batch hash): the parts held so far, by index.
    pending: Vec<(PartsKey, Vec<Option<Bytes>>)>,
}

/// Which batch a part belongs to: its signer and the batch's hash.
type PartsKey = (ValidatorPublicKey, B256);

/// Batches a [`Reassembler`] holds parts of at once; the oldest is dropped to make room.
pub const MAX_PENDING_BATCHES: usize = 8;

impl Reassembler {
    /// Adds a part; once its batch is whole, returns the batch (its signer and blocks, the
    /// batch's own signature verified, and the signer the same as the parts').
    pub fn push(
        &mut self,
        signer: ValidatorPublicKey,
        part: BatchPart,
    ) -> Option<Result<SignedBatch, NodeError>> {
        let key = (signer, part.batch);
        let slot = match self.pending.iter().position(|(k, _)| *k == key) {
            Some(i) => i,
            None => {
                if self.pending.len() >= MAX_PENDING_BATCHES {
                    self.pending.remove(0);
                }
                self.pending.push((key, vec![None; part.count as usize]));
                self.pending.len() - 1
            }
        };
        let parts = &mut self.pending[slot].1;
        if parts.len() != part.count as usize {
            return Some(Err(NodeError::Batch(format!(
                "batch {}: parts disagree on their count ({} and {})",
                part.batch,
                parts.len(),
                part.count
            ))));
        }
        parts[part.index as usize].get_or_insert(part.bytes);
        if parts.iter().any(Option::is_none) {
            return None;
        }
        let (_, parts) = self.pending.remove(slot);
        let mut whole = Vec::with_capacity(parts.iter().flatten().map(|b| b.len()).sum());
        for part in parts.iter().flatten() {
            whole.extend_from_slice(part);
        }
        if keccak256(&whole) != part.batch {
            return Some(Err(NodeError::Batch(format!(
                "batch {}: its parts do not hash to it",
                part.batch
            ))));
        }
        Some(decode_certified_batch(&whole).and_then(|(inner, blocks)| {
            if inner == signer {
                Ok((inner, blocks))
            } else {
                Err(NodeError::Batch(format!(
                    "batch {}: signed by {inner}, its parts by {signer}",
                    part.batch
                )))
            }
        }))
    }

    /// Batches still missing parts: (signer, batch hash, parts held, parts in all).
    pub fn incomplete(&self) -> Vec<(ValidatorPublicKey, B256, usize, usize)> {
        self.pending
            .iter()
            .map(|((signer, batch), parts)| {
                (*signer, *batch, parts.iter().flatten().count(), parts.len())
            })
            .collect()
    }
}

/// Decodes a batch and verifies its signature; returns the signer and the blocks.
pub fn decode_batch(
    blob: &[u8],
) -> Result<(ValidatorPublicKey, Vec<Block<TxEnvelope>>), NodeError> {
    let (signer, blocks) = decode_certified_batch(blob)?;
    Ok((signer, blocks.into_iter().map(|b| b.block).collect()))
}

/// Decodes a batch (version 3 or 4) and verifies its signature; blocks of a version 3 batch
/// come without certificates. A part of a batch (version 5) is refused here: see
/// [`decode_blob`] and [`Reassembler`].
pub fn decode_certified_batch(
    blob: &[u8],
) -> Result<(ValidatorPublicKey, Vec<CertifiedBlock>), NodeError> {
    let (signer, version, rlp) = verified(blob)?;
    if version == VERSION_PART {
        return Err(NodeError::Batch("a part of a batch, not a whole batch".into()));
    }
    Ok((signer, decode_blocks(version, rlp)?))
}

/// Checks magic, version and signature; returns the signer, the version and the RLP payload.
fn verified(blob: &[u8]) -> Result<(ValidatorPublicKey, u8, &[u8]), NodeError> {
    let bad = |m: &str| NodeError::Batch(m.to_owned());
    if blob.len() < HEADER_LEN || &blob[..4] != MAGIC {
        return Err(bad("not a sequencer batch (magic)"));
    }
    let version = blob[4];
    if UNSEPARATED_VERSIONS.contains(&version) {
        return Err(NodeError::Batch(format!(
            "batch version {version} was written by an earlier build (its signature is not \
             domain-separated); this build reads versions {VERSION} to {VERSION_PART}"
        )));
    }
    if ![VERSION, VERSION_CERTIFIED, VERSION_PART].contains(&version) {
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
    Ok((signer, version, rlp))
}

/// The blocks of a version 3 or 4 batch's RLP payload.
fn decode_blocks(version: u8, rlp: &[u8]) -> Result<Vec<CertifiedBlock>, NodeError> {
    let mut buf = rlp;
    let decode_err = |e: alloy_rlp::Error| NodeError::Batch(e.to_string());
    let blocks = if version == VERSION {
        Vec::<Block<TxEnvelope>>::decode(&mut buf)
            .map_err(decode_err)?
            .into_iter()
            .map(|block| CertifiedBlock { block, certificate: Bytes::new(), requests: None })
            .collect()
    } else {
        Vec::<CertifiedBlock>::decode(&mut buf).map_err(decode_err)?
    };
    if !buf.is_empty() {
        return Err(NodeError::Batch("trailing bytes".into()));
    }
    Ok(blocks)
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

    /// A block with `size` bytes of (incompressible) extra data.
    fn big_block(number: u64, size: usize) -> Block<TxEnvelope> {
        let extra: Vec<u8> = (0..size).map(|i| (i * 7 + number as usize) as u8).collect();
        Block::<TxEnvelope> {
            header: Header { number, extra_data: Bytes::from(extra), ..Default::default() },
            body: BlockBody::default(),
        }
    }

    #[test]
    fn a_batch_larger_than_a_blob_is_cut_into_signed_parts_and_put_back_together() {
        let key = ValidatorKey::from_secret_bytes([3; 32]);
        let blocks = vec![big_block(1, 10_000)];
        let batch = encode_batch(&key, &blocks);
        // Fits: the batch itself.
        assert_eq!(split_batch(&key, &batch, batch.len()).unwrap(), vec![batch.clone()]);
        let parts = split_batch(&key, &batch, 3_000).unwrap();
        assert_eq!(parts.len(), batch.len().div_ceil(3_000 - PART_OVERHEAD));
        assert!(parts.iter().all(|p| p.len() <= 3_000), "every part fits the blob limit");
        // A part is not a batch.
        assert!(decode_certified_batch(&parts[0]).is_err());

        // In any order, with a part posted twice: one batch, once, when the last part is in.
        let mut reassembler = Reassembler::default();
        let mut order: Vec<usize> = (0..parts.len()).rev().collect();
        order.insert(1, parts.len() - 1);
        let mut whole = Vec::new();
        for i in order {
            let DaBlob::Part(signer, part) = decode_blob(&parts[i]).unwrap() else {
                panic!("a part")
            };
            if let Some(result) = reassembler.push(signer, part) {
                whole.push(result.unwrap());
            }
        }
        assert_eq!(whole, vec![(key.public(), decode_certified_batch(&batch).unwrap().1)]);
        assert!(reassembler.incomplete().is_empty());

        // A tampered part does not verify; a missing one leaves the batch incomplete.
        let mut tampered = parts[1].to_vec();
        let last = tampered.len() - 1;
        tampered[last] ^= 1;
        assert!(decode_blob(&tampered).is_err());
        let mut reassembler = Reassembler::default();
        for part in &parts[1..] {
            let DaBlob::Part(signer, part) = decode_blob(part).unwrap() else { panic!() };
            assert!(reassembler.push(signer, part).is_none());
        }
        assert_eq!(reassembler.incomplete()[0].2, parts.len() - 1);

        // A batch needing more than MAX_PARTS parts is not cut.
        assert!(split_batch(&key, &batch, PART_OVERHEAD + 100).is_none());
    }

    #[test]
    fn parts_signed_by_another_key_than_the_batch_are_refused() {
        let key = ValidatorKey::from_secret_bytes([3; 32]);
        let other = ValidatorKey::from_secret_bytes([4; 32]);
        let batch = encode_batch(&key, &[big_block(1, 5_000)]);
        let parts = split_batch(&other, &batch, 2_000).unwrap();
        let mut reassembler = Reassembler::default();
        let mut results = Vec::new();
        for part in &parts {
            let DaBlob::Part(signer, part) = decode_blob(part).unwrap() else { panic!() };
            results.extend(reassembler.push(signer, part));
        }
        let err = results.pop().unwrap().unwrap_err().to_string();
        assert!(err.contains("its parts by"), "{err}");
    }

    #[test]
    fn certified_batches_keep_each_blocks_certificate() {
        let key = ValidatorKey::from_secret_bytes([3; 32]);
        let blocks: Vec<_> = [(1, vec![7u8; 40]), (2, vec![])]
            .into_iter()
            .map(|(n, cert)| CertifiedBlock {
                requests: (n == 2).then(|| vec![Bytes::from_static(&[1, 0xaa])]),
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
