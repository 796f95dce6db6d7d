//! The node's side of multi-validator consensus: the execution client as consensus sees it
//! ([`RethExecution`]), and the finality certificates of blocks not FIRM yet
//! ([`CertificateStore`]).

use crate::{
    Mempool, NodeError,
    producer::{Forward, forward_transactions},
};
use alloy_eips::{eip7685::EMPTY_REQUESTS_HASH, eip7685::Requests};
use alloy_primitives::{B256, Bytes};
use alloy_rpc_types_engine::{ForkchoiceState, PayloadStatusEnum};
use parking_lot::Mutex;
use sequencer_consensus::{ConsensusError, Execution, ProposedBlock, Verdict};
use sequencer_engine::{BlockRef, BuiltPayload, EngineClient, EngineFork, payload_attributes};
use std::{
    path::{Path, PathBuf},
    sync::Arc,
    time::{Duration, SystemTime, UNIX_EPOCH},
};
use tracing::debug;

/// What the producer shares with block building: the forkchoice it committed, and whether DA
/// back-pressure pauses production.
///
/// Two tasks send forkchoice updates to reth (the producer committing decisions and FIRM, the
/// leader building on a parent); `updating` orders them, so a build never sends a safe or
/// finalized block older than one the producer already sent.
#[derive(Debug)]
pub(crate) struct SharedHeads {
    forkchoice: Mutex<ForkchoiceState>,
    backpressured: Mutex<bool>,
    updating: tokio::sync::Mutex<()>,
}

impl SharedHeads {
    pub(crate) fn new(forkchoice: ForkchoiceState) -> Arc<Self> {
        Arc::new(Self {
            forkchoice: Mutex::new(forkchoice),
            backpressured: Mutex::new(false),
            updating: tokio::sync::Mutex::new(()),
        })
    }

    /// Sends `state` to reth and records it as committed, ordered with builds.
    pub(crate) async fn update(
        &self,
        engine: &EngineClient,
        state: ForkchoiceState,
    ) -> Result<(), sequencer_engine::EngineError> {
        let _order = self.updating.lock().await;
        engine.update_forkchoice(state).await?;
        *self.forkchoice.lock() = state;
        Ok(())
    }

    pub(crate) fn set_backpressured(&self, on: bool) {
        *self.backpressured.lock() = on;
    }
}

/// reth, driven over the Engine API, as consensus needs it.
#[derive(Debug, Clone)]
pub(crate) struct RethExecution {
    pub(crate) engine: EngineClient,
    pub(crate) mempool: Arc<parking_lot::Mutex<Mempool>>,
    pub(crate) heads: Arc<SharedHeads>,
    pub(crate) block_time: Duration,
    pub(crate) build_time: Duration,
    pub(crate) fee_recipient: alloy_primitives::Address,
}

fn block_ref(b: &ProposedBlock) -> BlockRef {
    BlockRef {
        number: b.number(),
        hash: b.hash(),
        parent_hash: b.parent_hash(),
        timestamp: b.timestamp(),
    }
}

impl Execution for RethExecution {
    async fn build(&self, parent: &ProposedBlock) -> Result<ProposedBlock, ConsensusError> {
        if *self.heads.backpressured.lock() {
            return Err(ConsensusError::Execution("DA back-pressure: not building".into()));
        }
        // The block time is kept by the leader: its block is due one block time after its
        // parent's timestamp (never earlier, so the chain's clock does not run ahead of the
        // validators' clocks, which would get proposals refused).
        let due = UNIX_EPOCH + Duration::from_secs(parent.timestamp()) + self.block_time;
        if let Ok(wait) = due.duration_since(SystemTime::now()) {
            tokio::time::sleep(wait).await;
        }
        let parent_ref = block_ref(parent);
        forward_transactions(&self.engine, &self.mempool, parent.number(), Forward::All).await;
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        let attrs = payload_attributes(&parent_ref, now, self.fee_recipient);
        let beacon_root = attrs.parent_beacon_block_root.unwrap_or_default();
        let fail = |e: sequencer_engine::EngineError| ConsensusError::Execution(e.to_string());
        let id = {
            let _order = self.heads.updating.lock().await;
            // Build on the parent consensus named (it may be notarized and not decided yet);
            // safe and finalized stay what the node committed, which the parent extends.
            let committed = *self.heads.forkchoice.lock();
            let state = ForkchoiceState { head_block_hash: parent.hash(), ..committed };
            self.engine.start_payload(state, attrs).await.map_err(fail)?
        };
        tokio::time::sleep(self.build_time).await;
        let built = self.engine.get_payload(id, beacon_root).await.map_err(fail)?;
        // reth knows a block it built only once it was given back as a payload.
        self.engine.execute_payload(&built).await.map_err(fail)?;
        Ok(ProposedBlock::new(built.block, built.execution_requests))
    }

    async fn verify(&self, block: &ProposedBlock) -> Verdict {
        let payload =
            match BuiltPayload::from_block(block.block(), block.execution_requests().cloned()) {
                Ok(p) => p,
                Err(e) => return Verdict::Invalid(e.to_string()),
            };
        match self.engine.new_payload(&payload).await {
            Ok(status) => match status.status {
                PayloadStatusEnum::Valid => Verdict::Valid,
                PayloadStatusEnum::Invalid { validation_error } => {
                    Verdict::Invalid(validation_error)
                }
                other => Verdict::Unknown(other.to_string()),
            },
            Err(e) => Verdict::Unknown(e.to_string()),
        }
    }

    async fn block(&self, hash: B256) -> Option<ProposedBlock> {
        let (_, block) = match self.engine.block_by_hash(hash).await {
            Ok(Some(found)) => found,
            Ok(None) => return None,
            Err(e) => {
                debug!(target: "sequencer::consensus", %hash, %e, "block lookup on the execution client failed");
                return None;
            }
        };
        // A block read back has no execution requests attached; this chain has no request
        // contracts in use, so Prague blocks carry the empty list (anything else cannot be
        // replayed from here and is not served).
        let requests = match (self.engine.fork(), block.header.requests_hash) {
            (EngineFork::Cancun, None) => None,
            (EngineFork::Prague, Some(h)) if h == EMPTY_REQUESTS_HASH => Some(Requests::default()),
            _ => return None,
        };
        Some(ProposedBlock::new(block, requests))
    }
}

/// Finality certificates of committed blocks that are not FIRM yet, one file per block, so the
/// batches posted after a restart still carry them.
#[derive(Debug, Clone)]
pub(crate) struct CertificateStore {
    dir: PathBuf,
}

impl CertificateStore {
    /// The store in `dir` (created if missing).
    pub(crate) fn open(dir: &Path) -> Result<Self, NodeError> {
        std::fs::create_dir_all(dir).map_err(|source| NodeError::Io {
            context: format!("certificate store {}", dir.display()),
            source,
        })?;
        Ok(Self { dir: dir.to_path_buf() })
    }

    fn path(&self, block: &BlockRef) -> PathBuf {
        self.dir.join(format!("{}-{}.cert", block.number, block.hash))
    }

    /// Records `block`'s certificate (atomically).
    pub(crate) fn store(&self, block: &BlockRef, certificate: &Bytes) -> Result<(), NodeError> {
        let path = self.path(block);
        rollup_fs::replace(&path, certificate, 0o644)
            .map_err(|source| NodeError::Io { context: format!("{}", path.display()), source })
    }

    /// `block`'s certificate, if recorded.
    pub(crate) fn load(&self, block: &BlockRef) -> Option<Bytes> {
        std::fs::read(self.path(block)).ok().map(Bytes::from)
    }

    /// Forgets the certificates of blocks at or below `firm` (they are on DA, final).
    pub(crate) fn prune(&self, firm: u64) {
        let Ok(entries) = std::fs::read_dir(&self.dir) else { return };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let number = name.to_str().and_then(|n| n.split('-').next()?.parse::<u64>().ok());
            if number.is_some_and(|n| n <= firm) {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certificates_survive_a_restart_until_firm() {
        let dir = tempfile::tempdir().unwrap();
        let store = CertificateStore::open(&dir.path().join("certs")).unwrap();
        let b = |n: u64| BlockRef {
            number: n,
            hash: B256::repeat_byte(n as u8),
            parent_hash: B256::ZERO,
            timestamp: n,
        };
        store.store(&b(1), &Bytes::from_static(b"one")).unwrap();
        store.store(&b(2), &Bytes::from_static(b"two")).unwrap();
        let again = CertificateStore::open(&dir.path().join("certs")).unwrap();
        assert_eq!(again.load(&b(2)).unwrap(), Bytes::from_static(b"two"));
        // Another block at the same height has no certificate.
        let other = BlockRef { hash: B256::repeat_byte(9), ..b(2) };
        assert!(again.load(&other).is_none());
        again.prune(1);
        assert!(again.load(&b(1)).is_none());
        assert!(again.load(&b(2)).is_some());
    }

    /// The leader builds by the rules every validator checks its proposal against.
    #[test]
    fn the_leaders_attributes_follow_the_protocol_rules() {
        use sequencer_consensus::rules;
        let parent = BlockRef {
            number: 9,
            hash: B256::repeat_byte(3),
            parent_hash: B256::repeat_byte(2),
            timestamp: 100,
        };
        let attrs = payload_attributes(&parent, 50, alloy_primitives::Address::repeat_byte(1));
        assert_eq!(attrs.prev_randao, rules::prev_randao(parent.hash));
        assert_eq!(
            attrs.parent_beacon_block_root,
            Some(rules::parent_beacon_block_root(parent.hash))
        );
        assert_eq!(attrs.withdrawals, Some(Vec::new()));
    }
}
