//! The DA task: batches SOFT blocks into blobs, submits them (journaled, never twice, never a
//! gap), and reports finality back to the producer.
//!
//! A journal entry leaves the journal only once the producer has durably recorded a FIRM block
//! at or above its blocks (the `durable_firm` watch), not when the DA task sees its DA block
//! final: a crash between the two would otherwise restart the node below FIRM with no record
//! that those blocks are on DA, and it would post them again.

use crate::{
    NodeError, PendingDa, StatusHandle,
    batch::{CertifiedBlock, MAX_PARTS, encode_batch, encode_certified_batch, split_batch},
    da_journal::{DaJournal, JournalEntry},
    metrics as m,
};
use alloy_consensus::{Block, TxEnvelope};
use alloy_eips::eip7685::Requests;
use alloy_primitives::{B256, Bytes};
use sequencer_da::{DaClient, DaError, DaHeight, Namespace};
use sequencer_engine::BlockRef;
use std::{
    collections::VecDeque,
    path::PathBuf,
    sync::Arc,
    time::{Duration, Instant},
};
use tokio::{
    sync::{mpsc, watch},
    time::MissedTickBehavior,
};
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, info, warn};

pub(crate) struct DaJob {
    pub(crate) block: BlockRef,
    pub(crate) body: Block<TxEnvelope>,
    /// The finality certificate covering it (validator sets only).
    pub(crate) certificate: Option<Bytes>,
    /// Its execution requests, when there are any.
    pub(crate) requests: Option<Requests>,
}

impl<D: DaClient> DaTask<D> {
    /// A batch blob of `jobs`: the certified version when any block has a certificate (a
    /// validator set) or execution requests, the plain one otherwise. The same jobs always
    /// encode to the same blob.
    fn encode<'a>(&self, jobs: impl Iterator<Item = &'a DaJob>) -> Bytes {
        let jobs: Vec<&DaJob> = jobs.collect();
        if jobs.iter().any(|j| j.certificate.is_some() || j.requests.is_some()) {
            let blocks: Vec<CertifiedBlock> = jobs
                .iter()
                .map(|j| CertifiedBlock {
                    block: j.body.clone(),
                    certificate: j.certificate.clone().unwrap_or_default(),
                    requests: j.requests.as_ref().map(|r| r.iter().cloned().collect()),
                })
                .collect();
            encode_certified_batch(&self.key, &blocks)
        } else {
            let blocks: Vec<_> = jobs.iter().map(|j| j.body.clone()).collect();
            encode_batch(&self.key, &blocks)
        }
    }

    /// The blobs that carry a batch of `jobs`: one, or the batch's parts when it does not fit
    /// a blob (see `batch`). `None` when it would take more than [`MAX_PARTS`] blobs.
    fn blobs<'a>(&self, jobs: impl Iterator<Item = &'a DaJob>) -> Option<Vec<Bytes>> {
        split_batch(&self.key, &self.encode(jobs), self.da.max_blob_size())
    }

    /// The oldest unsubmitted blocks, as many as fit one blob of the DA's size limit (at most
    /// `limit`), encoded: halved until the batch fits. A block too large for a blob alone goes
    /// in parts, one blob each. `None` when nothing is waiting, or when a block would take more
    /// than [`MAX_PARTS`] blobs (logged; it blocks FIRM until the DA layer accepts larger blobs,
    /// and back-pressure then pauses production).
    fn next_batch(
        &self,
        unsubmitted: &VecDeque<DaJob>,
        limit: usize,
    ) -> Option<(usize, Vec<Bytes>)> {
        let max = self.da.max_blob_size();
        let mut n = unsubmitted.len().min(limit);
        while n > 1 {
            let blob = self.encode(unsubmitted.iter().take(n));
            if blob.len() <= max {
                return Some((n, vec![blob]));
            }
            n /= 2;
        }
        if n == 0 {
            return None;
        }
        let blobs = self.blobs(unsubmitted.iter().take(1));
        if blobs.is_none() {
            let number = unsubmitted.front().map(|j| j.block.number);
            error!(target: "sequencer", number, max, max_parts = MAX_PARTS, "a block exceeds the DA blob limit even cut into parts; it cannot be posted");
        }
        blobs.map(|blobs| (1, blobs))
    }

    /// Writes a journal change; a journal that cannot be written risks a double post after a
    /// crash (never a gap), so it is reported, not fatal.
    fn journal_write(&self, result: Result<(), String>) {
        if let Err(e) = result {
            metrics::counter!(m::DA_ERRORS).increment(1);
            error!(target: "sequencer", %e, "DA journal not written; a restart may post a batch twice");
        }
    }

    /// After a restart: every journaled batch whose blocks are the next unsubmitted ones and
    /// that the DA layer holds (looked up by commitment, compared byte for byte with what its
    /// blocks encode to) is awaited instead of sent again. A batch that was being sent when the
    /// sequencer stopped may still be on its way into a DA block: it comes back as the batch in
    /// flight, looked for again until the resubmission delay has passed, and only then sent
    /// again.
    ///
    /// Entries are taken from the front of `to_adopt` as they are settled. A look-up that fails
    /// leaves its entry (and the ones after it) there and in the journal, to be looked up again
    /// next time: without an answer, posting again risks a duplicate, and dropping the entry
    /// would lose the only record that the batch may be on DA.
    async fn adopt_journal(
        &self,
        to_adopt: &mut VecDeque<JournalEntry>,
        journal: &mut DaJournal,
        unsubmitted: &mut VecDeque<DaJob>,
        submitted: &mut VecDeque<(BlockRef, DaHeight)>,
    ) -> Option<InFlight> {
        while let Some(entry) = to_adopt.front().cloned() {
            let n = (entry.last + 1).saturating_sub(entry.first) as usize;
            let matches = unsubmitted.front().is_some_and(|j| j.block.number == entry.first)
                && unsubmitted.get(n.saturating_sub(1)).is_some_and(|j| {
                    j.block.number == entry.last && j.block.hash == entry.last_hash
                });
            if !matches {
                to_adopt.pop_front();
                let result = journal.forget(entry.commitment);
                self.journal_write(result);
                continue;
            }
            // The same blocks encode to the same blobs (deterministic signature): what DA must
            // hold, byte for byte, for the batch to count as posted. A batch in parts is
            // journaled under its last part, which is sent only once the others are included.
            let blobs = self.blobs(unsubmitted.iter().take(n)).unwrap_or_default();
            let Some(blob) = blobs.last().cloned() else {
                to_adopt.pop_front();
                let result = journal.forget(entry.commitment);
                self.journal_write(result);
                continue;
            };
            if self.da.commitment(&self.namespace, &blob).ok() != Some(entry.commitment) {
                warn!(target: "sequencer", first = entry.first, last = entry.last, "journaled batch is not what its blocks encode to now; it cannot be recognized on DA, posting the blocks again");
                to_adopt.pop_front();
                let result = journal.forget(entry.commitment);
                self.journal_write(result);
                continue;
            }
            let found = match entry.height {
                Some(height) => self.da.find(&self.namespace, &blob, height..=height).await,
                None => match self.da.finalized_height().await {
                    Ok(head) => self.da.find(&self.namespace, &blob, entry.sent_after..=head).await,
                    Err(e) => Err(e),
                },
            };
            let found = match found {
                // Something else under our commitment: an answer, and not our batch.
                Err(e @ DaError::Mismatch { .. }) => {
                    metrics::counter!(m::DA_ERRORS).increment(1);
                    error!(target: "sequencer", %e, first = entry.first, last = entry.last, "the DA node's blob under the journaled batch's commitment is not the batch; not counting it as posted");
                    Ok(None)
                }
                other => other,
            };
            match found {
                Ok(Some(height)) => {
                    info!(target: "sequencer", first = entry.first, last = entry.last, da_height = height, "batch already on DA (journal); awaiting its finality, not posting it again");
                    to_adopt.pop_front();
                    for j in unsubmitted.drain(..n) {
                        submitted.push_back((j.block, height));
                    }
                    let result = journal.included(entry.commitment, height);
                    self.journal_write(result);
                }
                Ok(None) if entry.height.is_none() => {
                    // Sent when the sequencer stopped, answer unknown: look for it again.
                    info!(target: "sequencer", first = entry.first, last = entry.last, "batch being sent at the stop is not on DA yet; looking for it before posting it again");
                    to_adopt.pop_front();
                    return Some(InFlight {
                        blocks: n,
                        blobs,
                        part: 0,
                        commitment: entry.commitment,
                        sent_after: entry.sent_after,
                        attempts: 1,
                        created_at: Instant::now(),
                        failed_at: Some(Instant::now()),
                    });
                }
                Ok(None) => {
                    info!(target: "sequencer", first = entry.first, last = entry.last, "journaled batch is not on DA; posting it again");
                    to_adopt.pop_front();
                    let result = journal.forget(entry.commitment);
                    self.journal_write(result);
                }
                Err(e) => {
                    metrics::counter!(m::DA_ERRORS).increment(1);
                    warn!(target: "sequencer", %e, first = entry.first, last = entry.last, "cannot look the journaled batch up on DA; keeping it, looking again before posting anything");
                    return None;
                }
            }
        }
        None
    }
}

/// A batch sent (or about to be) whose answer is not in yet.
pub(crate) struct InFlight {
    blocks: usize,
    /// The batch's blob, or its parts (sent in order, each once the one before is included).
    blobs: Vec<Bytes>,
    /// The blob being sent.
    part: usize,
    /// The commitment of the last blob (the batch's, in the journal).
    commitment: B256,
    sent_after: DaHeight,
    attempts: u32,
    /// When it was first sent (or found in the journal).
    created_at: Instant,
    /// When the last attempt failed: the batch is looked for on DA, and only sent again once
    /// `resubmit_after` has passed without finding it (it may still be on its way).
    failed_at: Option<Instant>,
}

pub(crate) struct DaTask<D> {
    pub(crate) da: Arc<D>,
    pub(crate) key: sequencer_config::ValidatorKey,
    pub(crate) namespace: Namespace,
    pub(crate) poll: Duration,
    pub(crate) max_batch: usize,
    pub(crate) status: StatusHandle,
    pub(crate) journal_path: Option<PathBuf>,
    pub(crate) resubmit_after: Duration,
}

impl InFlight {
    /// The blob being sent.
    fn blob(&self) -> &Bytes {
        &self.blobs[self.part]
    }

    /// Bytes of all its blobs.
    fn bytes(&self) -> usize {
        self.blobs.iter().map(|b| b.len()).sum()
    }
}

impl<D: DaClient> DaTask<D> {
    pub(crate) async fn run(
        self,
        mut rx: mpsc::UnboundedReceiver<DaJob>,
        firm_tx: mpsc::UnboundedSender<BlockRef>,
        mut durable_firm: watch::Receiver<u64>,
        cancel: CancellationToken,
    ) -> Result<(), NodeError> {
        let mut unsubmitted: VecDeque<DaJob> = VecDeque::new();
        let mut submitted: VecDeque<(BlockRef, DaHeight)> = VecDeque::new();
        let mut in_flight: Option<InFlight> = None;
        let mut journal = DaJournal::load(self.journal_path.as_deref()).map_err(|e| {
            NodeError::Config { field: "sequencer.state_path", message: format!("DA journal {e}") }
        })?;
        // Journal entries of an earlier run, settled one by one before anything new is sent.
        let mut to_adopt: VecDeque<JournalEntry> = journal.entries().iter().cloned().collect();
        // The FIRM block the journal was last pruned to.
        let mut pruned_to = 0;
        // Most blocks per blob right now: `max_batch`, halved when the DA refuses a batch as too
        // large, grown back after each success.
        let mut batch_limit = self.max_batch.max(1);
        let mut tick = tokio::time::interval(self.poll);
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                biased;
                () = cancel.cancelled() => {
                    if !unsubmitted.is_empty() || !submitted.is_empty() {
                        info!(target: "sequencer", unsubmitted = unsubmitted.len(), awaiting_finality = submitted.len(), "DA task stopped; the journal says what is on DA already");
                    }
                    return Ok(());
                }
                job = rx.recv() => match job {
                    Some(j) => {
                        unsubmitted.push_back(j);
                        while let Ok(j) = rx.try_recv() {
                            unsubmitted.push_back(j);
                        }
                    }
                    None => return Ok(()),
                },
                _ = tick.tick() => {}
            }
            // Only batches whose blocks the producer has durably recorded FIRM leave the journal.
            let durable = *durable_firm.borrow_and_update();
            if durable > pruned_to {
                to_adopt.retain(|e| e.last > durable);
                let result = journal.firm(durable);
                self.journal_write(result);
                pruned_to = durable;
            }

            if !to_adopt.is_empty() && in_flight.is_none() && !unsubmitted.is_empty() {
                in_flight = self
                    .adopt_journal(&mut to_adopt, &mut journal, &mut unsubmitted, &mut submitted)
                    .await;
            }

            if to_adopt.is_empty()
                && in_flight.is_none()
                && let Some((blocks, blobs)) = self.next_batch(&unsubmitted, batch_limit)
                && let Some(last_blob) = blobs.last()
            {
                match self.da.commitment(&self.namespace, last_blob) {
                    Ok(commitment) => {
                        let sent_after = self.da.finalized_height().await.unwrap_or(0);
                        let (first, last) = (&unsubmitted[0].block, &unsubmitted[blocks - 1].block);
                        let result = journal.record(JournalEntry {
                            first: first.number,
                            last: last.number,
                            last_hash: last.hash,
                            commitment,
                            sent_after,
                            height: None,
                        });
                        self.journal_write(result);
                        if blobs.len() > 1 {
                            warn!(target: "sequencer", number = first.number, parts = blobs.len(), max = self.da.max_blob_size(), "a block larger than a DA blob goes in parts");
                        }
                        in_flight = Some(InFlight {
                            blocks,
                            blobs,
                            part: 0,
                            commitment,
                            sent_after,
                            attempts: 0,
                            created_at: Instant::now(),
                            failed_at: None,
                        });
                    }
                    Err(e) => warn!(target: "sequencer", %e, "DA commitment failed, will retry"),
                }
            }

            if let Some(flight) = in_flight.as_mut() {
                let mut landed = None;
                if flight.attempts > 0 {
                    // An earlier attempt got no answer: it may have landed all the same.
                    if let Ok(head) = self.da.finalized_height().await {
                        match self
                            .da
                            .find(&self.namespace, flight.blob(), flight.sent_after..=head)
                            .await
                        {
                            Ok(Some(height)) => {
                                info!(target: "sequencer", da_height = height, "a batch whose answer was lost is on DA; not posting it again");
                                landed = Some(height);
                            }
                            // Final heights do not change: the next look starts after this one.
                            Ok(None) => flight.sent_after = flight.sent_after.max(head + 1),
                            // Not landed: it is sent again once the resubmission delay is over.
                            Err(e @ DaError::Mismatch { .. }) => {
                                metrics::counter!(m::DA_ERRORS).increment(1);
                                error!(target: "sequencer", %e, "the DA node's blob under the batch's commitment is not the batch; not counting it as posted");
                            }
                            Err(e) => debug!(target: "sequencer", %e, "DA look-up failed"),
                        }
                    }
                }
                let waiting = flight.failed_at.is_some_and(|at| at.elapsed() < self.resubmit_after);
                if landed.is_none() && !waiting {
                    if flight.attempts > 0 {
                        metrics::counter!(m::DA_RETRIES).increment(1);
                    }
                    let size = flight.blob().len();
                    match self.da.submit(&self.namespace, flight.blob().clone()).await {
                        Ok(inc) => {
                            metrics::counter!(m::DA_SUBMISSIONS).increment(1);
                            debug!(target: "sequencer", da_height = inc.height, blob_bytes = size, "DA submission included");
                            landed = Some(inc.height);
                        }
                        Err(DaError::BlobTooLarge { size, max }) if flight.blocks > 1 => {
                            // The DA layer's limit is below what it told us: smaller batches.
                            metrics::counter!(m::DA_ERRORS).increment(1);
                            batch_limit = (flight.blocks / 2).max(1);
                            warn!(target: "sequencer", size, max, blocks = flight.blocks, next_blocks = batch_limit, "DA refused the batch as too large; splitting");
                            let result = journal.forget(flight.commitment);
                            self.journal_write(result);
                            in_flight = None;
                        }
                        Err(e) => {
                            metrics::counter!(m::DA_ERRORS).increment(1);
                            flight.attempts += 1;
                            flight.failed_at = Some(Instant::now());
                            warn!(target: "sequencer", %e, blocks = flight.blocks, attempts = flight.attempts, "DA submission failed, will look it up and retry");
                        }
                    }
                }
                if let (Some(height), Some(flight)) = (landed, in_flight.as_mut())
                    && flight.part + 1 < flight.blobs.len()
                {
                    // A part is in: the next one goes (it cannot land below this one).
                    info!(target: "sequencer", part = flight.part + 1, parts = flight.blobs.len(), da_height = height, "DA part included");
                    flight.part += 1;
                    flight.attempts = 0;
                    flight.failed_at = None;
                    flight.sent_after = flight.sent_after.max(height);
                    landed = None;
                }
                if let Some(height) = landed
                    && let Some(flight) = in_flight.take()
                {
                    for j in unsubmitted.drain(..flight.blocks) {
                        info!(target: "sequencer", number = j.block.number, hash = %j.block.hash, da_height = height, blob_bytes = flight.bytes(), "PENDING");
                        submitted.push_back((j.block, height));
                    }
                    metrics::counter!(m::DA_BYTES).increment(flight.bytes() as u64);
                    metrics::histogram!(m::DA_INCLUSION_LATENCY)
                        .record(flight.created_at.elapsed().as_secs_f64());
                    let result = journal.included(flight.commitment, height);
                    self.journal_write(result);
                    batch_limit = (batch_limit * 2).min(self.max_batch);
                }
            }

            if !submitted.is_empty() {
                match self.da.finalized_height().await {
                    Ok(final_height) => {
                        let mut last = None;
                        while submitted.front().is_some_and(|(_, h)| *h <= final_height) {
                            last = submitted.pop_front().map(|(b, _)| b);
                        }
                        if let Some(b) = last {
                            debug!(target: "sequencer", number = b.number, final_height, "DA final");
                            // The journal keeps these batches until the producer has recorded
                            // them FIRM (`durable_firm`), not just until now.
                            if firm_tx.send(b).is_err() {
                                return Ok(());
                            }
                        }
                    }
                    Err(e) => warn!(target: "sequencer", %e, "DA finality query failed"),
                }
            }

            let pending: Vec<PendingDa> = submitted
                .iter()
                .map(|(b, h)| PendingDa { number: b.number, hash: b.hash, da_height: Some(*h) })
                .chain(unsubmitted.iter().map(|j| PendingDa {
                    number: j.block.number,
                    hash: j.block.hash,
                    da_height: None,
                }))
                .collect();
            metrics::gauge!(m::PENDING_DA).set(pending.len() as f64);
            self.status.update(|s| s.pending_da = pending);
        }
    }
}
