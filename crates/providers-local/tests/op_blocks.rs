//! Real OP Stack L1-info deposits decoded through the provider into `L2BlockInfo` and
//! `SystemConfig`, plus the genesis special case and every lookup/event error path.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use alloy_consensus::{BlockBody, Header};
use alloy_eips::eip2718::Decodable2718;
use alloy_primitives::{B256, Bytes, U256, address, b256, hex};
use common::{Model, block, extend, num_hashes};
use futures::executor::block_on;
use kona_derive::{L2ChainProvider, PipelineErrorKind};
use kona_genesis::RollupConfig;
use kona_protocol::BatchValidationProvider;
use op_alloy_consensus::{OpBlock, OpTxEnvelope};
use rollup_providers_local::{
    BufferedL2Provider, ChainStateEvent, ProviderError, SealedL2Block, SourceError,
};
use std::sync::Arc;

/// Transaction 0 of OP Mainnet block 124665056 (Ecotone L1 info deposit), EIP-2718 encoded:
/// tx 0x312e290cf36df704a2217b015d6455396830b0ce678b860ebfcc30f41403d7b1.
const OP_MAINNET_124665056_TX0: &str = "7ef8f8a0683079df94aa5b9cf86687d739a60a9b4f0835e520ec4d664e2e415dca17a6df94deaddeaddeaddeaddeaddeaddeaddeaddead00019442000000000000000000000000000000000000158080830f424080b8a4440a5e200000146b000f79c500000000000000040000000066d052e700000000013ad8a3000000000000000000000000000000000000000000000000000000003ef1278700000000000000000000000000000000000000000000000000000000000000012fdf87b89884a61e74b322bbcf60386f543bfae7827725efaaf0ab1de2294a590000000000000000000000006887246668a3b87f54deb3b94ba47a6f63f32985";

/// Transaction 0 of a Base Mainnet block (Ecotone L1 info deposit):
/// tx 0xc468b38a20375922828c8126912740105125143b9856936085474b2590bbca91.
const BASE_MAINNET_TX0: &str = "7ef8f8a0417d134467f4737fcdf2475f0ecdd2a0ed6d87ecffc888ba9f60ee7e3b8ac26a94deaddeaddeaddeaddeaddeaddeaddeaddead00019442000000000000000000000000000000000000158080830f424080b8a4440a5e20000008dd00101c1200000000000000040000000066c352bb000000000139c4f500000000000000000000000000000000000000000000000000000000c0cff1460000000000000000000000000000000000000000000000000000000000000001d4c88f4065ac9671e8b1329b90773e89b5ddff9cf8675b2b5e9c1b28320609930000000000000000000000005050f69a9786f081509234f1a7f4684b5e5b76c9";

fn deposit(raw: &str) -> OpTxEnvelope {
    OpTxEnvelope::decode_2718(&mut hex::decode(raw).unwrap().as_slice()).unwrap()
}

fn registry(chain_id: u64) -> Arc<RollupConfig> {
    Arc::new(kona_registry::ROLLUP_CONFIGS.get(&chain_id).unwrap().clone())
}

/// A block at `number` whose first transaction is `tx`, as on chain.
fn op_block(number: u64, timestamp: u64, gas_limit: u64, tx: OpTxEnvelope) -> SealedL2Block {
    let header = Header { number, timestamp, gas_limit, ..Default::default() };
    SealedL2Block::seal_slow(OpBlock {
        header,
        body: BlockBody { transactions: vec![tx], ommers: vec![], withdrawals: None },
    })
}

#[test]
fn op_mainnet_l1_info_deposit_decodes_to_l2_block_info_and_system_config() {
    let config = registry(10);
    let block = op_block(124_665_056, 1_724_928_749, 30_000_000, deposit(OP_MAINNET_124665056_TX0));
    let mut provider = BufferedL2Provider::new(config.clone());
    provider.apply(&ChainStateEvent::Committed { new: vec![block.clone()] }).unwrap();

    let info = block_on(provider.l2_block_info_by_number(124_665_056)).unwrap();
    assert_eq!(info.block_info.hash, block.hash());
    assert_eq!(info.block_info.number, 124_665_056);
    assert_eq!(info.block_info.timestamp, 1_724_928_749);
    assert_eq!(info.l1_origin.number, 20_633_763);
    assert_eq!(
        info.l1_origin.hash,
        b256!("2fdf87b89884a61e74b322bbcf60386f543bfae7827725efaaf0ab1de2294a59")
    );
    assert_eq!(info.seq_num, 4);

    let system = block_on(provider.system_config_by_number(124_665_056, config)).unwrap();
    assert_eq!(system.batcher_address, address!("6887246668a3b87f54deb3b94ba47a6f63f32985"));
    assert_eq!(system.gas_limit, 30_000_000);
    // Ecotone scalars re-encoded as a v1 scalar: 0x01, blob base fee scalar, base fee scalar.
    let mut scalar = [0u8; 32];
    scalar[0] = 1;
    scalar[24..28].copy_from_slice(&1_014_213u32.to_be_bytes());
    scalar[28..32].copy_from_slice(&5_227u32.to_be_bytes());
    assert_eq!(system.scalar, U256::from_be_bytes(scalar));
    assert_eq!(system.overhead, U256::ZERO);
}

#[test]
fn base_mainnet_l1_info_deposit_decodes() {
    let config = registry(8453);
    let block = op_block(18_500_000, 1_724_076_800, 60_000_000, deposit(BASE_MAINNET_TX0));
    let mut provider = BufferedL2Provider::new(config.clone());
    provider.reset(vec![block]).unwrap();
    let info = block_on(provider.l2_block_info_by_number(18_500_000)).unwrap();
    assert_eq!(info.l1_origin.number, 0x0139_c4f5);
    assert_eq!(
        info.l1_origin.hash,
        b256!("d4c88f4065ac9671e8b1329b90773e89b5ddff9cf8675b2b5e9c1b2832060993")
    );
    assert_eq!(info.seq_num, 4);
    let system = block_on(provider.system_config_by_number(18_500_000, config)).unwrap();
    assert_eq!(system.batcher_address, address!("5050f69a9786f081509234f1a7f4684b5e5b76c9"));
}

#[test]
fn genesis_comes_from_the_rollup_config() {
    let config = registry(10);
    let mut provider = BufferedL2Provider::new(config.clone());
    let genesis = config.genesis;
    let info = block_on(provider.l2_block_info_by_number(genesis.l2.number)).unwrap();
    assert_eq!(info.block_info.hash, genesis.l2.hash);
    assert_eq!(info.l1_origin, genesis.l1);
    assert_eq!(info.seq_num, 0);
    let system =
        block_on(provider.system_config_by_number(genesis.l2.number, config.clone())).unwrap();
    assert_eq!(Some(system), genesis.system_config);
}

#[test]
fn a_block_without_l1_info_deposit_is_invalid() {
    let mut provider = BufferedL2Provider::new(registry(10));
    let chain = extend(None, 3, 0);
    provider.reset(chain).unwrap();
    let err = block_on(provider.l2_block_info_by_number(2)).unwrap_err();
    assert!(matches!(err, ProviderError::InvalidBlock { number: 2, .. }), "{err}");
    // Derivation treats it as temporary, like kona's RPC provider does.
    assert!(matches!(PipelineErrorKind::from(err), PipelineErrorKind::Temporary(_)));
}

// ---- event errors: each rejected, buffer unchanged ----

fn committed(chain: &[SealedL2Block]) -> BufferedL2Provider {
    let provider = BufferedL2Provider::with_capacity(Arc::new(Default::default()), 64);
    provider.apply(&ChainStateEvent::Committed { new: chain.to_vec() }).unwrap();
    provider
}

#[test]
fn gap_is_rejected() {
    let chain = extend(None, 5, 0);
    let provider = committed(&chain[..3]);
    let err = provider.apply(&ChainStateEvent::Committed { new: chain[4..].to_vec() }).unwrap_err();
    assert_eq!(err, ProviderError::Gap { head: 2, got: 4 });
    assert_eq!(provider.head().unwrap().number, 2);
}

#[test]
fn parent_mismatch_is_rejected() {
    let chain = extend(None, 3, 0);
    let provider = committed(&chain);
    let stranger = block(3, B256::repeat_byte(7), 9);
    let err = provider.apply(&ChainStateEvent::Committed { new: vec![stranger] }).unwrap_err();
    assert!(
        matches!(err, ProviderError::Detached { number: 3, expected, .. } if expected == chain[2].hash())
    );
}

#[test]
fn replayed_commits_are_idempotent_and_conflicts_rejected() {
    let chain = extend(None, 6, 0);
    let provider = committed(&chain[..4]);
    // A host replaying 2..=5 after a restart: 2 and 3 are known, 4 and 5 are new.
    provider.apply(&ChainStateEvent::Committed { new: chain[2..].to_vec() }).unwrap();
    assert_eq!(provider.head(), Some(chain[5].num_hash()));
    // A different block 5 without a reorg event is a conflict.
    let sibling = block(5, chain[4].hash(), 1);
    let err = provider.apply(&ChainStateEvent::Committed { new: vec![sibling] }).unwrap_err();
    assert!(matches!(err, ProviderError::Conflict { number: 5, .. }), "{err}");
}

#[test]
fn revert_of_blocks_we_do_not_hold_is_rejected() {
    let chain = extend(None, 4, 0);
    let provider = committed(&chain);
    let other = extend(Some(&chain[1]), 2, 5);
    let err = provider.apply(&ChainStateEvent::Reverted { old: num_hashes(&other) }).unwrap_err();
    assert!(matches!(err, ProviderError::StaleRevert { number: 2, .. }), "{err}");
    assert_eq!(provider.head(), Some(chain[3].num_hash()));
}

#[test]
fn reorg_with_different_fork_points_is_rejected() {
    let chain = extend(None, 4, 0);
    let provider = committed(&chain);
    let new = extend(Some(&chain[2]), 1, 3);
    let err = provider
        .apply(&ChainStateEvent::Reorged { old: num_hashes(&chain[2..]), new })
        .unwrap_err();
    assert_eq!(err, ProviderError::ForkMismatch { old: 2, new: 3 });
}

#[test]
fn shallow_reorg_leaves_no_stale_entry() {
    let chain = extend(None, 5, 0);
    let provider = committed(&chain);
    // Replace 3..=4 by a single block 3: number 4 must disappear, not keep the old block.
    let new = extend(Some(&chain[2]), 1, 1);
    provider
        .apply(&ChainStateEvent::Reorged { old: num_hashes(&chain[3..]), new: new.clone() })
        .unwrap();
    assert_eq!(block_on(provider.sealed_block_by_number(3)).unwrap(), new[0]);
    assert_eq!(block_on(provider.sealed_block_by_number(4)), Err(ProviderError::BlockNotFound(4)));
    assert_eq!(
        block_on(provider.sealed_block_by_hash(chain[4].hash())),
        Err(ProviderError::HashNotFound(chain[4].hash()))
    );
}

#[test]
fn miss_without_fallback_is_typed_and_fallback_hits_are_served() {
    let chain = extend(None, 10, 0);
    let provider = BufferedL2Provider::with_capacity(Arc::new(Default::default()), 3);
    provider.apply(&ChainStateEvent::Committed { new: chain.clone() }).unwrap();
    assert_eq!(provider.len(), 3);
    assert_eq!(block_on(provider.sealed_block_by_number(2)), Err(ProviderError::BlockNotFound(2)));

    let model = Model::default();
    model.0.lock().unwrap().extend(chain.iter().cloned());
    let with_fallback = provider.clone().with_fallback(Arc::new(model));
    assert_eq!(block_on(with_fallback.sealed_block_by_number(2)).unwrap(), chain[2]);
    assert_eq!(block_on(with_fallback.sealed_block_by_hash(chain[1].hash())).unwrap(), chain[1]);
    // Above the head nothing exists yet, whatever the fallback says.
    assert_eq!(
        block_on(with_fallback.sealed_block_by_number(10)),
        Err(ProviderError::BlockNotFound(10))
    );
}

#[test]
fn fallback_errors_are_reported() {
    #[derive(Debug)]
    struct Broken;
    #[async_trait::async_trait]
    impl rollup_providers_local::L2BlockSource for Broken {
        async fn block_by_number(&self, _: u64) -> Result<Option<SealedL2Block>, SourceError> {
            Err(SourceError::new(Read(Closed)))
        }
        async fn block_by_hash(&self, _: B256) -> Result<Option<SealedL2Block>, SourceError> {
            Err(SourceError::new(Read(Closed)))
        }
    }
    /// The source's error and, under it, the root cause.
    #[derive(Debug, thiserror::Error)]
    #[error("reading the block: {0}")]
    struct Read(#[source] Closed);
    #[derive(Debug, thiserror::Error)]
    #[error("database closed")]
    struct Closed;

    let provider =
        BufferedL2Provider::new(Arc::new(Default::default())).with_fallback(Arc::new(Broken));
    let err = block_on(provider.sealed_block_by_number(1)).unwrap_err();
    assert_eq!(err.to_string(), "fallback L2 source: reading the block: database closed");
    // The cause is kept as a source chain, not flattened into a string.
    let root =
        std::iter::successors(Some(&err as &dyn std::error::Error), |e| e.source()).last().unwrap();
    assert!(root.downcast_ref::<Closed>().is_some(), "root cause: {root:?}");
}

#[test]
fn extra_data_is_part_of_the_block() {
    // Sanity of the synthetic chain: siblings differ.
    let a = block(1, B256::ZERO, 1);
    let b = block(1, B256::ZERO, 2);
    assert_ne!(a.hash(), b.hash());
    assert_eq!(a.block().header.extra_data, Bytes::copy_from_slice(&1u64.to_be_bytes()));
}
