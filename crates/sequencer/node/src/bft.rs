//! The node's side of multi-validator consensus: the execution client as consensus sees it
//! ([`RethExecution`]), and what a block carries beside its body, kept per block on disk
//! ([`BlockFiles`]): the finality certificates of blocks not FIRM yet, and execution requests.

use crate::{
    Mempool, NodeError,
    producer::{Forward, build_child, forward_transactions},
};
use alloy_eips::{eip7685::EMPTY_REQUESTS_HASH, eip7685::Requests};
use alloy_primitives::{B256, Bytes};
use alloy_rpc_types_engine::{ForkchoiceState, PayloadStatusEnum};
use parking_lot::Mutex;
use sequencer_consensus::{ConsensusError, Execution, ProposedBlock, Verdict, rules};
use sequencer_engine::{BlockRef, BuiltPayload, EngineClient, EngineFork};
use std::{
    collections::VecDeque,
    path::{Path, PathBuf},
    sync::Arc,
    time::{Duration, SystemTime},
};
use tracing::debug;

/// Blocks remembered as executed (`VALID`) by this validator's reth: about a minute of 1 s blocks,
/// far more than are voted on and not yet committed at once.
const EXECUTED_KEPT: usize = 64;

/// What the producer shares with block building: the forkchoice it committed, whether DA
/// back-pressure pauses production, and the blocks reth has executed.
///
/// Two tasks send forkchoice updates to reth (the producer committing decisions and FIRM, the
/// leader building on a parent); `updating` orders them, so a build never sends a safe or
/// finalized block older than one the producer already sent.
#[derive(Debug)]
pub(crate) struct SharedHeads {
    forkchoice: Mutex<ForkchoiceState>,
    backpressured: Mutex<bool>,
    updating: tokio::sync::Mutex<()>,
    /// The last [`EXECUTED_KEPT`] blocks this validator's reth answered `VALID` for (its own
    /// proposals and the ones it voted for): committing one needs no second `newPayload`.
    executed: Mutex<VecDeque<B256>>,
}

impl SharedHeads {
    pub(crate) fn new(forkchoice: ForkchoiceState) -> Arc<Self> {
        Arc::new(Self {
            forkchoice: Mutex::new(forkchoice),
            backpressured: Mutex::new(false),
            updating: tokio::sync::Mutex::new(()),
            executed: Mutex::new(VecDeque::with_capacity(EXECUTED_KEPT)),
        })
    }

    /// Notes that reth answered `VALID` for `hash`.
    pub(crate) fn executed(&self, hash: B256) {
        let mut executed = self.executed.lock();
        if executed.contains(&hash) {
            return;
        }
        if executed.len() == EXECUTED_KEPT {
            executed.pop_front();
        }
        executed.push_back(hash);
    }

    /// Whether reth answered `VALID` for `hash` (and was not told otherwise since).
    pub(crate) fn was_executed(&self, hash: &B256) -> bool {
        self.executed.lock().contains(hash)
    }

    /// Forgets that reth executed `hash` (it refused a forkchoice update to it: it may have
    /// restarted without it), so the next commit sends the block again.
    pub(crate) fn forget_executed(&self, hash: &B256) {
        self.executed.lock().retain(|h| h != hash);
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
    /// The execution requests of committed blocks that have any (reth does not serve them).
    pub(crate) requests: Option<BlockFiles>,
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
        // The chain keeps the time (a child's timestamp is its parent's plus the block time);
        // the leader's clock only paces it, within a bound (see `rules::leader_wait`).
        tokio::time::sleep(rules::leader_wait(parent, self.block_time, SystemTime::now())).await;
        forward_transactions(&self.engine, &self.mempool, parent.number(), Forward::All).await;
        let fail = |e: sequencer_engine::EngineError| ConsensusError::Execution(e.to_string());
        let built = build_child(
            &self.engine,
            &block_ref(parent),
            rules::child_timestamp(parent, self.block_time, SystemTime::now()),
            self.fee_recipient,
            self.build_time,
            async || {
                let order = self.heads.updating.lock().await;
                // Build on the parent consensus named (it may be notarized and not decided
                // yet); safe and finalized stay what the node committed, which the parent
                // extends.
                let committed = *self.heads.forkchoice.lock();
                (ForkchoiceState { head_block_hash: parent.hash(), ..committed }, Some(order))
            },
        )
        .await
        .map_err(fail)?;
        let block = ProposedBlock::new(built.block.clone(), built.execution_requests.clone());
        // What every validator will check, checked before anything is executed or proposed:
        // a reth configured against the rules says so here, in one line, every view it leads.
        rules::check_proposal(&block, parent, self.block_time, SystemTime::now())?;
        // reth knows a block it built only once it was given back as a payload.
        self.engine.execute_payload(&built).await.map_err(fail)?;
        self.heads.executed(block.hash());
        Ok(block)
    }

    async fn verify(&self, block: &ProposedBlock) -> Verdict {
        let payload =
            match BuiltPayload::from_block(block.block(), block.execution_requests().cloned()) {
                Ok(p) => p,
                Err(e) => return Verdict::Invalid(e.to_string()),
            };
        match self.engine.new_payload(&payload).await {
            Ok(status) => match status.status {
                PayloadStatusEnum::Valid => {
                    self.heads.executed(block.hash());
                    Verdict::Valid
                }
                PayloadStatusEnum::Invalid { validation_error } => {
                    Verdict::Invalid(validation_error)
                }
                other => Verdict::Unknown(other.to_string()),
            },
            Err(e) => Verdict::Unknown(e.to_string()),
        }
    }

    async fn block(&self, hash: B256) -> Option<ProposedBlock> {
        let (found, block) = match self.engine.block_by_hash(hash).await {
            Ok(Some(found)) => found,
            Ok(None) => return None,
            Err(e) => {
                debug!(target: "sequencer::consensus", %hash, %e, "block lookup on the execution client failed");
                return None;
            }
        };
        // A block read back has no execution requests attached: the empty list when its header
        // says so, otherwise the ones recorded when it was committed. A block whose requests
        // are not recorded here is not served (a peer cannot execute it without them).
        let requests = match (self.engine.fork(), block.header.requests_hash) {
            (EngineFork::Cancun, None) => None,
            (EngineFork::Prague, Some(h)) if h == EMPTY_REQUESTS_HASH => Some(Requests::default()),
            (EngineFork::Prague, Some(h)) => {
                Some(self.requests.as_ref()?.load_requests(&found, h)?)
            }
            _ => return None,
        };
        Some(ProposedBlock::new(block, requests))
    }
}

/// Bytes kept per committed block, one file each (`<number>-<hash>.<extension>`, replaced
/// atomically): the finality certificates of blocks not FIRM yet, so the batches posted after
/// a restart still carry them; the execution requests of blocks that have any, which reth
/// keeps only as a hash in the header, so such blocks can still be posted to DA after a
/// restart and served to peers catching up.
#[derive(Debug, Clone)]
pub(crate) struct BlockFiles {
    dir: PathBuf,
    extension: &'static str,
}

impl BlockFiles {
    /// The files `*.<extension>` in `dir` (created if missing).
    pub(crate) fn open(dir: &Path, extension: &'static str) -> Result<Self, NodeError> {
        std::fs::create_dir_all(dir).map_err(|source| NodeError::Io {
            context: format!("block files {}", dir.display()),
            source,
        })?;
        Ok(Self { dir: dir.to_path_buf(), extension })
    }

    fn path(&self, block: &BlockRef) -> PathBuf {
        self.dir.join(format!("{}-{}.{}", block.number, block.hash, self.extension))
    }

    /// Records `block`'s bytes (atomically).
    pub(crate) fn store(&self, block: &BlockRef, bytes: &[u8]) -> Result<(), NodeError> {
        let path = self.path(block);
        rollup_fs::replace(&path, bytes, 0o644)
            .map_err(|source| NodeError::Io { context: format!("{}", path.display()), source })
    }

    /// `block`'s bytes, if recorded.
    pub(crate) fn load(&self, block: &BlockRef) -> Option<Bytes> {
        std::fs::read(self.path(block)).ok().map(Bytes::from)
    }

    /// Records `block`'s execution requests (RLP list of the encoded requests).
    pub(crate) fn store_requests(
        &self,
        block: &BlockRef,
        requests: &Requests,
    ) -> Result<(), NodeError> {
        let list: Vec<Bytes> = requests.iter().cloned().collect();
        self.store(block, &alloy_rlp::encode(list))
    }

    /// `block`'s execution requests, if recorded and they hash to `requests_hash` (the one
    /// its header commits to).
    pub(crate) fn load_requests(&self, block: &BlockRef, requests_hash: B256) -> Option<Requests> {
        let bytes = self.load(block)?;
        let list = <Vec<Bytes> as alloy_rlp::Decodable>::decode(&mut bytes.as_ref()).ok()?;
        Some(Requests::from_requests(list)).filter(|r| r.requests_hash() == requests_hash)
    }

    /// Forgets the files of blocks at or below `firm`.
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
    fn executed_blocks_are_remembered_boundedly_and_forgotten_on_refusal() {
        let heads = SharedHeads::new(ForkchoiceState::default());
        let hash = |n: u64| B256::from(alloy_primitives::U256::from(n));
        heads.executed(hash(0));
        heads.executed(hash(0));
        assert!(heads.was_executed(&hash(0)));
        assert_eq!(heads.executed.lock().len(), 1, "a block is remembered once");
        heads.forget_executed(&hash(0));
        assert!(!heads.was_executed(&hash(0)), "forgotten after reth refused it");
        for n in 1..=EXECUTED_KEPT as u64 + 1 {
            heads.executed(hash(n));
        }
        assert!(!heads.was_executed(&hash(1)), "the oldest goes first");
        assert!(
            heads.was_executed(&hash(2)) && heads.was_executed(&hash(EXECUTED_KEPT as u64 + 1))
        );
        assert_eq!(heads.executed.lock().len(), EXECUTED_KEPT);
    }

    #[test]
    fn certificates_survive_a_restart_until_firm() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlockFiles::open(&dir.path().join("certs"), "cert").unwrap();
        let b = |n: u64| BlockRef {
            number: n,
            hash: B256::repeat_byte(n as u8),
            parent_hash: B256::ZERO,
            timestamp: n,
        };
        store.store(&b(1), &Bytes::from_static(b"one")).unwrap();
        store.store(&b(2), &Bytes::from_static(b"two")).unwrap();
        let again = BlockFiles::open(&dir.path().join("certs"), "cert").unwrap();
        assert_eq!(again.load(&b(2)).unwrap(), Bytes::from_static(b"two"));
        // Another block at the same height has no certificate.
        let other = BlockRef { hash: B256::repeat_byte(9), ..b(2) };
        assert!(again.load(&other).is_none());
        again.prune(1);
        assert!(again.load(&b(1)).is_none());
        assert!(again.load(&b(2)).is_some());
    }

    #[test]
    fn execution_requests_are_kept_and_read_back_only_under_their_hash() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlockFiles::open(dir.path(), "requests").unwrap();
        let block = BlockRef {
            number: 7,
            hash: B256::repeat_byte(7),
            parent_hash: B256::ZERO,
            timestamp: 7,
        };
        // A withdrawal request (EIP-7002, type 1) and a consolidation request (type 2).
        let requests = Requests::from_requests([
            Bytes::from_static(&[1, 0xaa, 0xbb]),
            Bytes::from_static(&[2, 0xcc]),
        ]);
        store.store_requests(&block, &requests).unwrap();
        let again = BlockFiles::open(dir.path(), "requests").unwrap();
        assert_eq!(again.load_requests(&block, requests.requests_hash()), Some(requests));
        assert_eq!(again.load_requests(&block, EMPTY_REQUESTS_HASH), None, "another hash");
        let other = BlockRef { hash: B256::repeat_byte(8), ..block };
        assert_eq!(again.load_requests(&other, EMPTY_REQUESTS_HASH), None, "another block");
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
        let attrs = sequencer_engine::payload_attributes(
            &parent,
            50,
            alloy_primitives::Address::repeat_byte(1),
        );
        assert_eq!(attrs.prev_randao, rules::prev_randao(parent.hash));
        assert_eq!(
            attrs.parent_beacon_block_root,
            Some(rules::parent_beacon_block_root(parent.hash))
        );
        assert_eq!(attrs.withdrawals, Some(Vec::new()));
    }
}
