//! EIP-4844 blobs for batcher data: the OP Stack blob encoding and KZG sidecars.
//!
//! A blob is 4096 field elements of 32 bytes, and a field element must stay below the BLS12-381
//! modulus, so its top two bits are never set. The OP Stack encoding (version 0, what
//! kona-derive's `BlobData::decode` and op-node read) packs data in rounds of four field
//! elements: each carries 31 data bytes in its low bytes, and the 6 free bits of the four high
//! bytes together carry 3 more, so a round holds 127 bytes. The first round starts with the
//! version byte and a 3-byte big-endian length, which leaves [`MAX_BLOB_DATA_SIZE`] bytes of data
//! per blob. Everything after the data is zero, as the decoder checks.
//!
//! The data of one blob is what calldata would carry: the derivation version byte `0x00` and one
//! frame ([`crate::ClosedChannel::batcher_transactions`] produces exactly that).
//!
//! [`sidecar`] commits to blobs with c-kzg and the Ethereum trusted setup (through alloy's
//! [`EnvKzgSettings`]): the commitments and proofs L1 checks before it accepts a blob transaction.

use crate::BatcherError;
use alloy_eips::eip4844::{Blob, BlobTransactionSidecar, Bytes48, env_settings::EnvKzgSettings};

/// Most data bytes one blob carries: 1024 rounds of 127 bytes, less the 4-byte header.
pub const MAX_BLOB_DATA_SIZE: usize = (4 * 31 + 3) * 1024 - 4;

/// Most blobs one transaction may carry (EIP-7594 caps a transaction at 6 from Osaka on).
pub const MAX_BLOBS_PER_TRANSACTION: usize = 6;

/// Encoding version in the second byte of a blob.
const ENCODING_VERSION: u8 = 0;

/// Bytes of the header (version + 3-byte length) in front of the data.
const HEADER_LEN: usize = 4;

/// Data bytes per round of four field elements.
const ROUND_DATA: usize = 4 * 31 + 3;

/// Bytes of blob per round.
const ROUND_BLOB: usize = 4 * 32;

/// Encodes each payload into one blob (OP Stack blob encoding, version 0).
///
/// Blobs are 128 KiB: they are written in place in the returned vector, never built on the
/// stack (a few copies in a debug build overflow a tokio worker's 2 MiB stack).
pub fn encode_blobs<P: AsRef<[u8]>>(payloads: &[P]) -> Result<Vec<Blob>, BatcherError> {
    let mut blobs = Vec::new();
    blobs.resize(payloads.len(), Blob::ZERO);
    for (payload, blob) in payloads.iter().zip(blobs.iter_mut()) {
        encode_into(payload.as_ref(), blob)?;
    }
    Ok(blobs)
}

/// Encodes `data` into `blob`, overwriting all of it.
fn encode_into(data: &[u8], blob: &mut Blob) -> Result<(), BatcherError> {
    if data.len() > MAX_BLOB_DATA_SIZE {
        return Err(BatcherError::BlobTooLarge { size: data.len(), max: MAX_BLOB_DATA_SIZE });
    }
    blob.fill(0);
    let length = data.len() as u32;
    let header = [ENCODING_VERSION, (length >> 16) as u8, (length >> 8) as u8, length as u8];
    let rounds = (HEADER_LEN + data.len()).div_ceil(ROUND_DATA);
    for round in 0..rounds {
        // The round's 127 bytes of the stream `header ++ data`, zero past its end.
        let mut round_data = [0u8; ROUND_DATA];
        for (offset, byte) in round_data.iter_mut().enumerate() {
            let at = round * ROUND_DATA + offset;
            *byte = if at < HEADER_LEN {
                header[at]
            } else {
                data.get(at - HEADER_LEN).copied().unwrap_or(0)
            };
        }
        // Bytes 31, 63 and 95 of the round go into the high bits of the four field elements;
        // each element's low 31 bytes take the 31 bytes around them.
        let (x, y, z) = (round_data[31], round_data[63], round_data[95]);
        let high = [x & 0x3f, ((x >> 6) << 4) | (y & 0x0f), z & 0x3f, ((z >> 6) << 4) | (y >> 4)];
        let low_starts = [0, 32, 64, 96];
        for (element, (high_bits, low_start)) in high.iter().zip(low_starts).enumerate() {
            let at = round * ROUND_BLOB + element * 32;
            blob[at] = *high_bits;
            blob[at + 1..at + 32].copy_from_slice(&round_data[low_start..low_start + 31]);
        }
    }
    Ok(())
}

/// The sidecar of a blob transaction carrying `blobs`: each blob with its KZG commitment and
/// proof, computed with the Ethereum trusted setup.
pub fn sidecar(blobs: Vec<Blob>) -> Result<BlobTransactionSidecar, BatcherError> {
    let settings = EnvKzgSettings::Default;
    let settings = settings.get();
    let mut commitments = Vec::with_capacity(blobs.len());
    let mut proofs = Vec::with_capacity(blobs.len());
    for blob in &blobs {
        let kzg_blob = c_kzg::Blob::from_bytes(blob.as_slice()).map_err(BatcherError::Kzg)?;
        let commitment =
            settings.blob_to_kzg_commitment(&kzg_blob).map_err(BatcherError::Kzg)?.to_bytes();
        let proof = settings
            .compute_blob_kzg_proof(&kzg_blob, &commitment)
            .map_err(BatcherError::Kzg)?
            .to_bytes();
        commitments.push(Bytes48::from_slice(commitment.as_slice()));
        proofs.push(Bytes48::from_slice(proof.as_slice()));
    }
    Ok(BlobTransactionSidecar::new(blobs, commitments, proofs))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode_blob(data: &[u8]) -> Result<Blob, BatcherError> {
        Ok(encode_blobs(&[data])?.remove(0))
    }

    #[test]
    fn the_header_carries_version_and_length() {
        let blob = encode_blob(&[0xab; 300]).unwrap();
        assert_eq!(blob[1], ENCODING_VERSION);
        assert_eq!(&blob[2..5], &[0, 1, 44]);
        // The first data bytes follow the header in the first field element.
        assert_eq!(blob[5], 0xab);
    }

    #[test]
    fn no_field_element_has_its_top_bits_set() {
        let blob = encode_blob(&[0xff; MAX_BLOB_DATA_SIZE]).unwrap();
        assert!(blob.chunks(32).all(|element| element[0] & 0xc0 == 0));
    }

    #[test]
    fn data_over_the_limit_is_refused() {
        let err = encode_blob(&vec![1; MAX_BLOB_DATA_SIZE + 1]).unwrap_err();
        assert!(
            matches!(err, BatcherError::BlobTooLarge { size, .. } if size == MAX_BLOB_DATA_SIZE + 1)
        );
    }

    #[test]
    fn a_sidecar_verifies_against_its_commitments() {
        let blobs = encode_blobs(&[&b"frame one"[..], &[7; 5000]]).unwrap();
        let sidecar = sidecar(blobs).unwrap();
        let hashes: Vec<_> = sidecar.versioned_hashes().collect();
        assert_eq!(hashes.len(), 2);
        sidecar.validate(&hashes, EnvKzgSettings::Default.get()).unwrap();
    }
}
