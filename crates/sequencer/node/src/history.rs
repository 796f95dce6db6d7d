//! Reading the chain's firm history back from DA alone: every batch under the namespace,
//! its signature checked, its blocks listed, so that "each block is on DA exactly once, signed
//! by the validator set, with the hash reth has" can be shown rather than assumed.

use crate::batch::{CertifiedBlock, DaBlob, Reassembler, decode_blob};
use alloy_primitives::{B256, Bytes};
use sequencer_config::ValidatorPublicKey;
use sequencer_consensus::{FinalityCertificate, ValidatorSet};
use sequencer_da::{DaClient, DaError, DaHeight, Namespace};
use std::{
    collections::{BTreeMap, HashMap, HashSet},
    ops::RangeInclusive,
};

/// One batch found on DA.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DaBatch {
    /// The DA height holding it.
    pub height: DaHeight,
    /// Who signed it (the signature verified).
    pub signer: ValidatorPublicKey,
    /// Its blocks: number and hash.
    pub blocks: Vec<(u64, B256)>,
    /// Each block's parent hash (same order).
    pub parents: Vec<B256>,
    /// Each block's finality certificate, empty when it has none (same order).
    pub certificates: Vec<Bytes>,
}

impl DaBatch {
    fn new(height: DaHeight, signer: ValidatorPublicKey, blocks: Vec<CertifiedBlock>) -> Self {
        Self {
            height,
            signer,
            blocks: blocks
                .iter()
                .map(|b| (b.block.header.number, b.block.header.hash_slow()))
                .collect(),
            parents: blocks.iter().map(|b| b.block.header.parent_hash).collect(),
            certificates: blocks.into_iter().map(|b| b.certificate).collect(),
        }
    }
}

/// What DA holds under a namespace over a range of heights.
#[derive(Debug, Clone, Default)]
pub struct History {
    /// Decoded batches, in DA order.
    pub batches: Vec<DaBatch>,
    /// Blobs that are not valid batches (bad magic, signature, RLP), and batches cut into
    /// parts whose parts do not all appear in the range, with why.
    pub unreadable: Vec<(DaHeight, String)>,
}

/// The verdict on a [`History`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HistoryCheck {
    /// Blocks in order of first appearance: number and hash.
    pub blocks: BTreeMap<u64, B256>,
    /// Block numbers one signer posted more than once, or posted with two different hashes.
    /// (A validator set's members each post the decided blocks: the same block from several
    /// validators is a copy, counted in `copies`.)
    pub duplicates: Vec<u64>,
    /// Blocks posted again, identical, by another validator of the set.
    pub copies: usize,
    /// Block numbers missing between the first and the last found.
    pub gaps: Vec<u64>,
    /// DA heights of batches signed by a key outside the validator set.
    pub foreign_signers: Vec<DaHeight>,
}

impl HistoryCheck {
    /// Whether every block appears once, without gaps, signed by the validator set.
    pub fn is_clean(&self) -> bool {
        self.duplicates.is_empty() && self.gaps.is_empty() && self.foreign_signers.is_empty()
    }
}

impl History {
    /// Reads every blob under `namespace` at `heights`.
    pub async fn read<D: DaClient>(
        da: &D,
        namespace: &Namespace,
        heights: RangeInclusive<DaHeight>,
    ) -> Result<Self, DaError> {
        let mut history = Self::default();
        // A batch in parts counts at the height of its last part.
        let mut parts = Reassembler::default();
        let end = *heights.end();
        for height in heights {
            for blob in da.blobs(namespace, height).await? {
                let batch = match decode_blob(&blob) {
                    Ok(DaBlob::Batch(signer, blocks)) => Ok((signer, blocks)),
                    Ok(DaBlob::Part(signer, part)) => match parts.push(signer, part) {
                        Some(batch) => batch,
                        None => continue,
                    },
                    Err(e) => Err(e),
                };
                match batch {
                    Ok((signer, blocks)) => {
                        history.batches.push(DaBatch::new(height, signer, blocks))
                    }
                    Err(e) => history.unreadable.push((height, e.to_string())),
                }
            }
        }
        for (signer, batch, held, count) in parts.incomplete() {
            history.unreadable.push((
                end,
                format!("batch {batch} by {signer}: {held} of its {count} parts in the range"),
            ));
        }
        Ok(history)
    }

    /// Checks the history against the validator set.
    pub fn check(&self, validators: &[ValidatorPublicKey]) -> HistoryCheck {
        let mut check = HistoryCheck::default();
        let mut posted: HashSet<(u64, ValidatorPublicKey)> = HashSet::new();
        for batch in &self.batches {
            if !validators.contains(&batch.signer) {
                check.foreign_signers.push(batch.height);
            }
            for (number, hash) in &batch.blocks {
                let again = !posted.insert((*number, batch.signer));
                match check.blocks.insert(*number, *hash) {
                    Some(before) if before != *hash || again => check.duplicates.push(*number),
                    Some(_) => check.copies += 1,
                    None if again => check.duplicates.push(*number),
                    None => {}
                }
            }
        }
        if let (Some(first), Some(last)) =
            (check.blocks.keys().next().copied(), check.blocks.keys().next_back().copied())
        {
            check.gaps = (first..=last).filter(|n| !check.blocks.contains_key(n)).collect();
        }
        check
    }
}

/// Whether the history proves its blocks final by the validator set's own signatures.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Certification {
    /// Blocks that a verified certificate covers (it names the block or a descendant linked
    /// to it by parent hashes within the history).
    pub certified: usize,
    /// Block numbers no verified certificate covers.
    pub uncertified: Vec<u64>,
    /// Certificates that do not decode or verify, by DA height.
    pub bad_certificates: Vec<(DaHeight, String)>,
}

impl History {
    /// Checks every certificate against `set` and which blocks they cover. A certificate for
    /// block `B` finalizes `B` and its ancestors, so a block is covered when a verified
    /// certificate names it or a block it is an ancestor of.
    pub fn certification(&self, set: &ValidatorSet) -> Certification {
        let mut result = Certification::default();
        let mut parent_of: HashMap<B256, B256> = HashMap::new();
        let mut number_of: BTreeMap<u64, HashSet<B256>> = BTreeMap::new();
        let mut tips = HashSet::new();
        for batch in &self.batches {
            for (((number, hash), parent), cert) in
                batch.blocks.iter().zip(&batch.parents).zip(&batch.certificates)
            {
                parent_of.insert(*hash, *parent);
                number_of.entry(*number).or_default().insert(*hash);
                if cert.is_empty() {
                    continue;
                }
                match FinalityCertificate::verify(cert, set) {
                    Ok(c) => {
                        tips.insert(c.finalized());
                    }
                    Err(e) => result.bad_certificates.push((batch.height, e.to_string())),
                }
            }
        }
        let mut covered = HashSet::new();
        for tip in tips {
            let mut cur = tip;
            while let Some(parent) = parent_of.get(&cur) {
                if !covered.insert(cur) {
                    break;
                }
                cur = *parent;
            }
        }
        for (number, hashes) in &number_of {
            if hashes.iter().any(|h| covered.contains(h)) {
                result.certified += 1;
            } else {
                result.uncertified.push(*number);
            }
        }
        result
    }
}
