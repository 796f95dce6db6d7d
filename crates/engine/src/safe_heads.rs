//! [`SafeHeadRecorder`]: how the engine actor keeps the safe-head database
//! (`optimism_safeHeadAtL1Block`) in step with its safe head.
//!
//! The database is a service to RPC clients, not part of consensus: a failed write is counted
//! and logged (at most once a minute at warn), never an engine error. Its entries stay served
//! from memory, and the database repairs its file with the next write that succeeds.

use crate::{DerivedSafeHead, EngineMetrics, L1BlockReader};
use kona_protocol::L2BlockInfo;
use rollup_safe_head_db::{SafeHeadDb, SafeHeadDbError};
use std::{
    sync::Arc,
    time::{Duration, Instant},
};
use tracing::{debug, info, warn};

/// Shortest pause between two warnings about a failing database: a full disk fails every
/// record, up to hundreds a second while derivation catches up.
const WARN_EVERY: Duration = Duration::from_secs(60);

/// Writes the engine's safe-head moves into a [`SafeHeadDb`] and removes what resets void.
#[derive(Debug)]
pub(crate) struct SafeHeadRecorder {
    db: Arc<SafeHeadDb>,
    last_warning: Option<Instant>,
    /// Failures logged at debug since the last warning.
    suppressed: u64,
}

impl SafeHeadRecorder {
    pub(crate) const fn new(db: Arc<SafeHeadDb>) -> Self {
        Self { db, last_warning: None, suppressed: 0 }
    }

    /// Records consolidation's safe-head moves, oldest first. Of consecutive moves derived from
    /// the same L1 block only the last is written: the database would keep only it anyway.
    pub(crate) fn record(&mut self, moves: Vec<DerivedSafeHead>) {
        let mut moves = moves.into_iter().peekable();
        while let Some(derived) = moves.next() {
            if moves.peek().is_some_and(|next| next.l1_block == derived.l1_block) {
                continue;
            }
            if let Err(err) =
                self.db.record(derived.l1_block.id(), derived.safe_head.block_info.id())
            {
                self.failed("record", &err);
            }
        }
    }

    /// After an engine reset to `safe_head`: removes the entries above it, then, newest first,
    /// the entries whose L1 block `l1` no longer has on its canonical chain, stopping at the
    /// first canonical one. An L1 read that fails stops the check until the next reset.
    pub(crate) async fn reset(&mut self, safe_head: &L2BlockInfo, l1: &dyn L1BlockReader) {
        let number = safe_head.block_info.number;
        match self.db.remove_above_safe_head(number) {
            Ok(0) => {}
            Ok(removed) => {
                info!(target: "engine", safe_head = number, removed, "safe head entries above the reset safe head removed")
            }
            Err(err) => self.failed("reset", &err),
        }
        while let Some(latest) = self.db.latest() {
            let l1_block = latest.l1_block;
            match l1.block_by_number(l1_block.number).await {
                Ok(Some(canonical)) if canonical.hash == l1_block.hash => break,
                Ok(canonical) => {
                    info!(target: "engine", l1 = l1_block.number, hash = %l1_block.hash, canonical = ?canonical.map(|block| block.hash), "safe head entry derived from an L1 block that is no longer canonical; removing entries from it on");
                    if let Err(err) = self.db.remove_from_l1(l1_block.number) {
                        self.failed("l1_reorg", &err);
                    }
                    // The database removes from memory even when the file write fails; should
                    // it ever not, stop rather than loop.
                    if self.db.latest() == Some(latest) {
                        break;
                    }
                }
                Err(err) => {
                    metrics::counter!(EngineMetrics::SAFE_HEAD_DB_ERRORS, "op" => "l1_check")
                        .increment(1);
                    warn!(target: "engine", %err, l1 = l1_block.number, "cannot check the safe head database against L1; checking again at the next reset");
                    break;
                }
            }
        }
    }

    fn failed(&mut self, op: &'static str, err: &SafeHeadDbError) {
        metrics::counter!(EngineMetrics::SAFE_HEAD_DB_ERRORS, "op" => op).increment(1);
        let now = Instant::now();
        if self.last_warning.is_none_or(|at| now.duration_since(at) >= WARN_EVERY) {
            warn!(target: "engine", %err, op, suppressed = self.suppressed, "safe head database write failed; its entries are still served, the engine goes on");
            self.last_warning = Some(now);
            self.suppressed = 0;
        } else {
            self.suppressed += 1;
            debug!(target: "engine", %err, op, "safe head database write failed");
        }
    }
}
