//! Reading the L1 origin of a new devnet.

use crate::{DevnetError, L1Origin};
use alloy_eips::{BlockNumHash, BlockNumberOrTag};
use alloy_provider::{Provider, RootProvider};
use url::Url;

/// The latest L1 block, as the devnet's L1 origin.
pub async fn latest_l1_origin(l1_rpc: &Url) -> Result<L1Origin, DevnetError> {
    l1_origin(l1_rpc, BlockNumberOrTag::Latest).await
}

/// The L1 block `at`, as the devnet's L1 origin. An older block than the latest gives an L2
/// chain that starts in the past, which the sequencer then builds as fast as it can to catch up.
pub async fn l1_origin(l1_rpc: &Url, at: BlockNumberOrTag) -> Result<L1Origin, DevnetError> {
    let fail = |reason: String| DevnetError::L1 { url: l1_rpc.to_string(), reason };
    let provider = RootProvider::<alloy_provider::network::Ethereum>::new_http(l1_rpc.clone());
    let chain_id = provider.get_chain_id().await.map_err(|e| fail(e.to_string()))?;
    let block = provider
        .get_block_by_number(at)
        .await
        .map_err(|e| fail(e.to_string()))?
        .ok_or_else(|| fail(format!("no L1 block {at}")))?;
    Ok(L1Origin {
        block: BlockNumHash::new(block.header.number, block.header.hash),
        timestamp: block.header.timestamp,
        chain_id,
    })
}
