//! [`RethEngine`]: the in-process [`ExecutionEngine`] over reth's own OP engine API handler.
//!
//! The handler is the instance reth builds for its auth RPC server (handed over by
//! [`HandoverEngineApiBuilder`] when reth's add-ons launch), called through its
//! `OpEngineApiServer` methods: the code path the auth server dispatches to, with reth's version
//! and attribute checks, minus JSON, HTTP and JWT. Head and state reads go to reth's provider
//! (in-memory canonical state first, then the database).

use alloy_eips::eip7685::Requests;
use alloy_primitives::B256;
use alloy_rpc_types_engine::{
    ExecutionPayloadFieldV2, ExecutionPayloadInputV2, ForkchoiceState, ForkchoiceUpdated,
    PayloadId, PayloadStatus,
};
use async_trait::async_trait;
use futures::{StreamExt, stream::BoxStream};
use kona_engine::{EngineForkchoiceVersion, EngineGetPayloadVersion};
use op_alloy_consensus::OpBlock;
use op_alloy_rpc_types_engine::{
    OpExecutionPayload, OpExecutionPayloadEnvelope, OpPayloadAttributes,
};
use reth_node_api::{AddOnsContext, BeaconConsensusEngineEvent, FullNodeComponents, NodeTypes};
use reth_node_builder::rpc::EngineApiBuilder;
use reth_optimism_node::OpEngineTypes;
use reth_optimism_primitives::{ADDRESS_L2_TO_L1_MESSAGE_PASSER, OpPrimitives};
use reth_optimism_rpc::OpEngineApiServer;
use reth_provider::{BlockIdReader, BlockNumReader, BlockReader, StateProviderFactory};
use rollup_engine::{AddedBlocks, EngineError, ExecutionEngine, L2Head};
use rollup_providers_local::SealedL2Block;
use std::{fmt, sync::Arc, time::Duration};
use tokio::sync::{oneshot, watch};
use tracing::debug;

/// How long a block reth's payload builder just built may take to reach reth's block tree
/// before the engine imports it anyway (reth then executes it a second time). The handover is
/// two channel hops inside reth: microseconds when the machine is not starved.
const TREE_HANDOVER_TIMEOUT: Duration = Duration::from_millis(100);

/// reth's engine events, as the kona ExEx reads them.
type EngineEvents = BoxStream<'static, BeaconConsensusEngineEvent<OpPrimitives>>;

/// What reth hands the kona ExEx when it builds its add-ons: its OP engine API handler, and a
/// listener of its engine events (which blocks its block tree added), opened before the handler
/// can be called.
pub(crate) struct EngineHandover<A> {
    api: A,
    events: EngineEvents,
}

/// reth's engine API builder `B`, which also hands what it built to the kona ExEx.
pub(crate) struct HandoverEngineApiBuilder<B, A> {
    inner: B,
    handover: oneshot::Sender<EngineHandover<A>>,
}

impl<B, A> HandoverEngineApiBuilder<B, A> {
    /// `inner` builds the handler; `handover` receives it with the event listener.
    pub(crate) const fn new(inner: B, handover: oneshot::Sender<EngineHandover<A>>) -> Self {
        Self { inner, handover }
    }
}

impl<N, B> EngineApiBuilder<N> for HandoverEngineApiBuilder<B, B::EngineApi>
where
    N: FullNodeComponents<Types: NodeTypes<Primitives = OpPrimitives>>,
    B: EngineApiBuilder<N, EngineApi: Clone + 'static>,
{
    type EngineApi = B::EngineApi;

    async fn build_engine_api(self, ctx: &AddOnsContext<'_, N>) -> eyre::Result<B::EngineApi> {
        let api = self.inner.build_engine_api(ctx).await?;
        let events = ctx.engine_events.new_listener().boxed();
        // A dropped receiver means no kona ExEx (plain op-reth): nothing to hand over.
        let _ = self.handover.send(EngineHandover { api: api.clone(), events });
        Ok(api)
    }
}

/// reth's engine API handler, once reth has built it.
type HandlerSlot<A> = watch::Receiver<Option<A>>;

/// The execution layer kona drives: reth's engine API handler `A` and reth's provider `P`.
pub(crate) struct RethEngine<A, P> {
    api: HandlerSlot<A>,
    provider: P,
    /// The blocks reth's block tree added last (from its engine events).
    added: AddedBlocks,
}

impl<A, P> fmt::Debug for RethEngine<A, P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RethEngine").field("ready", &self.api.borrow().is_some()).finish()
    }
}

impl<A, P> RethEngine<A, P>
where
    A: Clone + Send + Sync + 'static,
    P: BlockNumReader,
{
    /// An engine whose handler arrives on `handover` (reth builds it after launching its
    /// ExExes; engine calls made before then wait for it).
    pub(crate) fn new(handover: oneshot::Receiver<EngineHandover<A>>, provider: P) -> Arc<Self> {
        let (slot, handler) = watch::channel(None);
        let added = AddedBlocks::new();
        let recorder = added.clone();
        tokio::spawn(async move {
            // A dropped sender means reth stopped before building its add-ons; every waiting
            // call then fails instead of hanging.
            let Ok(EngineHandover { api, mut events }) = handover.await else { return };
            slot.send_replace(Some(api));
            while let Some(event) = events.next().await {
                if let BeaconConsensusEngineEvent::CanonicalBlockAdded(block, _)
                | BeaconConsensusEngineEvent::ForkBlockAdded(block, _) = event
                {
                    recorder.record(block.recovered_block().hash());
                }
            }
            // Keep the slot open for the process's lifetime.
            slot.closed().await;
        });
        Arc::new(Self { api: handler, provider, added })
    }

    async fn api(&self) -> Result<A, EngineError> {
        let mut slot = self.api.clone();
        let ready = slot.wait_for(Option::is_some).await.map_err(|_| {
            EngineError::read("engine API handler", "reth stopped before building its engine API")
        })?;
        ready.clone().ok_or_else(|| EngineError::read("engine API handler", "not built"))
    }

    /// Waits, bounded, until reth's block tree has the block its payload builder built for
    /// `payload`, so that importing it finds it there instead of executing it again. reth hands
    /// the built block over on its own task after `engine_getPayload` answered; an HTTP caller
    /// is usually slower than that hop, an in-process one often is not.
    async fn await_tree_handover(&self, payload: &OpExecutionPayload) {
        let (number, hash) = (payload.block_number(), payload.block_hash());
        // reth's tree skips a built block at or below its canonical head (one that replaces an
        // unsafe block): nothing arrives, and importing it executes it.
        match self.provider.best_block_number() {
            Ok(best) if number > best => {}
            _ => return,
        }
        if !self.added.wait_added(hash, TREE_HANDOVER_TIMEOUT).await {
            debug!(target: "rollup::engine", number, %hash, "built block not in reth's tree in time; its import executes it again");
        }
    }
}

/// reth's error object, kept with its JSON-RPC code.
fn rejected(method: &'static str, error: jsonrpsee_types::ErrorObjectOwned) -> EngineError {
    EngineError::Rejected { method, code: error.code(), message: error.message().to_owned() }
}

/// Runs a blocking provider read (MDBX reads block) on the blocking pool.
async fn blocking<T: Send + 'static>(
    what: &'static str,
    read: impl FnOnce() -> reth_provider::ProviderResult<T> + Send + 'static,
) -> Result<T, EngineError> {
    tokio::task::spawn_blocking(read)
        .await
        .map_err(|e| EngineError::read(what, e))?
        .map_err(|e| EngineError::read(what, e))
}

#[async_trait]
impl<A, P> ExecutionEngine for RethEngine<A, P>
where
    A: OpEngineApiServer<OpEngineTypes> + Clone,
    P: BlockReader<Block = OpBlock>
        + BlockIdReader
        + BlockNumReader
        + StateProviderFactory
        + Clone
        + 'static,
{
    async fn new_payload(
        &self,
        envelope: OpExecutionPayloadEnvelope,
    ) -> Result<PayloadStatus, EngineError> {
        let api = self.api().await?;
        let root = envelope.parent_beacon_block_root.unwrap_or_default();
        // OP blocks carry no blobs (no versioned hashes) and no execution requests.
        match envelope.execution_payload {
            OpExecutionPayload::V1(payload) => api
                .new_payload_v2(ExecutionPayloadInputV2 {
                    execution_payload: payload,
                    withdrawals: None,
                })
                .await
                .map_err(|e| rejected("engine_newPayloadV2", e)),
            OpExecutionPayload::V2(payload) => api
                .new_payload_v2(ExecutionPayloadInputV2 {
                    execution_payload: payload.payload_inner,
                    withdrawals: Some(payload.withdrawals),
                })
                .await
                .map_err(|e| rejected("engine_newPayloadV2", e)),
            OpExecutionPayload::V3(payload) => api
                .new_payload_v3(payload, Vec::new(), root)
                .await
                .map_err(|e| rejected("engine_newPayloadV3", e)),
            OpExecutionPayload::V4(payload) => api
                .new_payload_v4(payload, Vec::new(), root, Requests::default())
                .await
                .map_err(|e| rejected("engine_newPayloadV4", e)),
        }
    }

    async fn forkchoice_updated(
        &self,
        version: EngineForkchoiceVersion,
        state: ForkchoiceState,
        attributes: Option<OpPayloadAttributes>,
    ) -> Result<ForkchoiceUpdated, EngineError> {
        let api = self.api().await?;
        match version {
            EngineForkchoiceVersion::V2 => api
                .fork_choice_updated_v2(state, attributes)
                .await
                .map_err(|e| rejected("engine_forkchoiceUpdatedV2", e)),
            EngineForkchoiceVersion::V3 => api
                .fork_choice_updated_v3(state, attributes)
                .await
                .map_err(|e| rejected("engine_forkchoiceUpdatedV3", e)),
        }
    }

    async fn get_payload(
        &self,
        version: EngineGetPayloadVersion,
        payload_id: PayloadId,
    ) -> Result<OpExecutionPayloadEnvelope, EngineError> {
        let api = self.api().await?;
        let envelope = match version {
            EngineGetPayloadVersion::V2 => {
                let envelope = api
                    .get_payload_v2(payload_id)
                    .await
                    .map_err(|e| rejected("engine_getPayloadV2", e))?;
                let execution_payload = match envelope.execution_payload {
                    ExecutionPayloadFieldV2::V1(payload) => OpExecutionPayload::V1(payload),
                    ExecutionPayloadFieldV2::V2(payload) => OpExecutionPayload::V2(payload),
                };
                OpExecutionPayloadEnvelope { parent_beacon_block_root: None, execution_payload }
            }
            EngineGetPayloadVersion::V3 => {
                let envelope = api
                    .get_payload_v3(payload_id)
                    .await
                    .map_err(|e| rejected("engine_getPayloadV3", e))?;
                OpExecutionPayloadEnvelope {
                    parent_beacon_block_root: Some(envelope.parent_beacon_block_root),
                    execution_payload: OpExecutionPayload::V3(envelope.execution_payload),
                }
            }
            EngineGetPayloadVersion::V4 => {
                let envelope = api
                    .get_payload_v4(payload_id)
                    .await
                    .map_err(|e| rejected("engine_getPayloadV4", e))?;
                OpExecutionPayloadEnvelope {
                    parent_beacon_block_root: Some(envelope.parent_beacon_block_root),
                    execution_payload: OpExecutionPayload::V4(envelope.execution_payload),
                }
            }
        };
        self.await_tree_handover(&envelope.execution_payload).await;
        Ok(envelope)
    }

    async fn head(&self, head: L2Head) -> Result<Option<SealedL2Block>, EngineError> {
        let provider = self.provider.clone();
        blocking("labelled head", move || {
            let hash = match head {
                L2Head::Latest => Some(provider.chain_info()?.best_hash),
                L2Head::Safe => provider.safe_block_num_hash()?.map(|head| head.hash),
                L2Head::Finalized => provider.finalized_block_num_hash()?.map(|head| head.hash),
            };
            let Some(hash) = hash else { return Ok(None) };
            Ok(provider.block_by_hash(hash)?.map(|block| SealedL2Block::new(hash, Arc::new(block))))
        })
        .await
    }

    async fn message_passer_storage_root(&self, block: B256) -> Result<B256, EngineError> {
        use reth_provider::StorageRootProvider as _;
        let provider = self.provider.clone();
        blocking("L2ToL1MessagePasser storage root", move || {
            provider
                .history_by_block_hash(block)?
                .storage_root(ADDRESS_L2_TO_L1_MESSAGE_PASSER, Default::default())
        })
        .await
    }
}
