//! The built-in proposer's place in the ExEx: it reads final heads from the execution layer
//! (reth's forkchoice, which kona's engine sets) and output roots from the node's own blocks, by
//! the path `optimism_outputAtBlock` answers from. Like the batcher, it lives as long as the
//! ExEx and is untouched by kona restarts.

use alloy_eips::BlockNumHash;
use async_trait::async_trait;
use kona_genesis::RollupConfig;
use rollup_cli::{NodeCliConfig, ProposalHeadArg, ProposerConfig as ProposerCliConfig};
use rollup_engine::{ExecutionEngine, L2Head, output_root};
use rollup_proposer::{
    L2Output, L2Outputs, OracleAddress, OutputsError, ProposalHead, ProposerConfig,
};
use rollup_providers_local::BufferedL2Provider;
use std::sync::Arc;

/// The node's outputs: heads from the execution layer, blocks from the in-memory buffer with the
/// execution layer's database behind it.
#[derive(Debug, Clone)]
pub struct NodeOutputs {
    /// The rollup config (which fork computes the message passer's storage root how).
    pub config: Arc<RollupConfig>,
    /// The execution layer.
    pub engine: Arc<dyn ExecutionEngine>,
    /// The node's blocks.
    pub blocks: BufferedL2Provider,
}

#[async_trait]
impl L2Outputs for NodeOutputs {
    async fn head(&self, head: ProposalHead) -> Result<Option<u64>, OutputsError> {
        let head = match head {
            ProposalHead::Finalized => L2Head::Finalized,
            ProposalHead::Safe => L2Head::Safe,
        };
        let block = self.engine.head(head).await?;
        Ok(block.map(|block| block.block().header.number))
    }

    async fn output(&self, number: u64) -> Result<L2Output, OutputsError> {
        let block = self.blocks.sealed_block_by_number(number).await?;
        let root = output_root(&self.config, &*self.engine, &block).await?;
        Ok(L2Output {
            block: BlockNumHash::new(number, block.hash()),
            timestamp: block.block().header.timestamp,
            root: root.hash(),
        })
    }
}

/// The proposer's settings from the node's validated config.
pub fn proposer_config(node: &NodeCliConfig, proposer: &ProposerCliConfig) -> ProposerConfig {
    let args = &proposer.args;
    let oracle = match args.l2oo_address {
        Some(oracle) => OracleAddress::At(oracle),
        None => OracleAddress::FromPortal(node.rollup_config.deposit_contract_address),
    };
    ProposerConfig::new(node.l1_eth_rpc.clone(), oracle)
        .with_head(match args.head {
            ProposalHeadArg::Finalized => ProposalHead::Finalized,
            ProposalHeadArg::Safe => ProposalHead::Safe,
        })
        .with_poll_interval(args.poll_interval())
        .with_resubmission_timeout(args.resubmission_timeout())
        .with_fee_limit_multiplier(args.fee_limit_multiplier)
}
