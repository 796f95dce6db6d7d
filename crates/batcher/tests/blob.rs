//! Property: data encoded into blobs by `rollup_batcher::blob::encode_blobs` comes back unchanged
//! through kona-derive's own blob data source (`BlobSource`, which decodes blobs exactly as
//! derivation does), next to calldata from the same batcher and blobs of other senders.
//!
//! The blob provider here is kona's test fixture: it hands blobs out by versioned hash without
//! checking KZG proofs, so the versioned hashes are derived from the blob bytes alone. Real
//! commitments and proofs are covered by `blob.rs`'s unit tests and by the submitter tests
//! against anvil.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use alloy_consensus::{SignableTransaction, TxEip1559, TxEip4844, TxEnvelope};
use alloy_eips::eip4844::{Blob, VERSIONED_HASH_VERSION_KZG};
use alloy_primitives::{Address, B256, Bytes, TxKind, U256, address, keccak256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use kona_derive::{
    BlobSource, DataAvailabilityProvider, PipelineError, PipelineErrorKind,
    test_utils::{TestBlobProvider, TestChainProvider},
};
use kona_protocol::BlockInfo;
use proptest::prelude::*;
use rollup_batcher::blob::{MAX_BLOB_DATA_SIZE, encode_blobs};

const INBOX: Address = address!("ff00000000000000000000000000000000000901");

fn batcher() -> PrivateKeySigner {
    PrivateKeySigner::from_bytes(&B256::repeat_byte(0x42)).unwrap()
}

fn someone_else() -> PrivateKeySigner {
    PrivateKeySigner::from_bytes(&B256::repeat_byte(0x43)).unwrap()
}

/// A versioned hash for the fixture blob provider (KZG version byte, then blob hash bytes).
fn fixture_versioned_hash(blob: &Blob) -> B256 {
    let mut hash = keccak256(blob.as_slice());
    hash[0] = VERSIONED_HASH_VERSION_KZG;
    hash
}

fn blob_tx(signer: &PrivateKeySigner, nonce: u64, hashes: Vec<B256>) -> TxEnvelope {
    let tx = TxEip4844 {
        chain_id: 900,
        nonce,
        gas_limit: 21_000,
        max_fee_per_gas: 2_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
        to: INBOX,
        value: U256::ZERO,
        access_list: Default::default(),
        blob_versioned_hashes: hashes,
        max_fee_per_blob_gas: 1,
        input: Bytes::new(),
    };
    let signature = signer.sign_hash_sync(&tx.signature_hash()).unwrap();
    tx.into_signed(signature).into()
}

fn calldata_tx(signer: &PrivateKeySigner, nonce: u64, input: Bytes) -> TxEnvelope {
    let tx = TxEip1559 {
        chain_id: 900,
        nonce,
        gas_limit: 100_000,
        max_fee_per_gas: 2_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
        to: TxKind::Call(INBOX),
        value: U256::ZERO,
        access_list: Default::default(),
        input,
    };
    let signature = signer.sign_hash_sync(&tx.signature_hash()).unwrap();
    tx.into_signed(signature).into()
}

/// Everything kona's blob source yields for our batcher in one L1 block holding: another
/// sender's blob transaction, our blob transaction with `payloads` as blobs, and our calldata
/// transaction.
fn derive(payloads: &[Vec<u8>], calldata: &[u8]) -> Vec<Bytes> {
    let mut chain = TestChainProvider::default();
    let mut blobs = TestBlobProvider::default();
    let mut add = |blob: Blob| {
        let hash = fixture_versioned_hash(&blob);
        blobs.insert_blob(hash, blob);
        hash
    };
    let foreign = add(encode_blobs(&[b"not ours"]).unwrap().remove(0));
    let ours = encode_blobs(payloads).unwrap().into_iter().map(&mut add).collect();
    let block = BlockInfo { hash: B256::repeat_byte(1), number: 7, ..Default::default() };
    chain.insert_block_with_transactions(
        7,
        block,
        vec![
            blob_tx(&someone_else(), 0, vec![foreign]),
            blob_tx(&batcher(), 0, ours),
            calldata_tx(&batcher(), 1, Bytes::copy_from_slice(calldata)),
        ],
    );
    let mut source = BlobSource::new(chain, blobs, INBOX);
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let mut derived = Vec::new();
    loop {
        match runtime.block_on(source.next(&block, batcher().address())) {
            Ok(data) => derived.push(data),
            Err(PipelineErrorKind::Temporary(PipelineError::Eof)) => break,
            Err(err) => panic!("kona's blob source failed: {err}"),
        }
    }
    derived
}

/// Lengths that hit the edges of the encoding: one byte, the end of the first round (123 data
/// bytes), round boundaries, and the capacity. Never zero: kona refuses an all-zero blob as
/// missing data, and a batcher never posts nothing (a frame has at least its header).
fn length() -> impl Strategy<Value = usize> {
    prop_oneof![
        1 => Just(1usize),
        1 => 120usize..=130,
        1 => (1usize..1024).prop_map(|round| 123 + 127 * round),
        1 => Just(MAX_BLOB_DATA_SIZE),
        4 => 1usize..=MAX_BLOB_DATA_SIZE,
    ]
}

fn payload() -> impl Strategy<Value = Vec<u8>> {
    (length(), any::<u64>()).prop_map(|(len, seed)| {
        // Cheap pseudo-random bytes (proptest's own byte vectors are slow at 130 KB).
        let mut state = seed | 1;
        (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            })
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn blobs_decode_back_through_kona(
        payloads in prop::collection::vec(payload(), 1..=3),
        calldata in prop::collection::vec(any::<u8>(), 1..200),
    ) {
        let derived = derive(&payloads, &calldata);
        let mut expected: Vec<Bytes> = payloads.iter().map(|p| Bytes::copy_from_slice(p)).collect();
        expected.push(Bytes::copy_from_slice(&calldata));
        prop_assert_eq!(derived, expected);
    }
}
