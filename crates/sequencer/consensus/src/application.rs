//! What Simplex calls into: propose, verify, relay and report, over the execution client.
//!
//! Simplex orders digests; the blocks behind them travel here. A leader's block goes to every
//! validator when Simplex asks to relay it; a validator missing a block (a late proposal, or
//! the ancestors of a finalization after a restart) asks its peers by hash, and a peer answers
//! from memory or from its execution client. Every validator executes a proposal on its own
//! execution client before it answers `verify` (and so before it votes).

use crate::{ConsensusError, Decided, FinalityCertificate, ProposedBlock, metrics as m};
use crate::{
    block::{block_hash, digest},
    validators::Finalization,
};
use alloy_primitives::B256;
use commonware_actor::Feedback;
use commonware_consensus::{
    Automaton, CertifiableAutomaton, Relay, Reporter,
    simplex::{Plan, types::Activity, types::Context},
};
use commonware_cryptography::{ed25519::PublicKey, sha256};
use commonware_p2p::Recipients;
use commonware_runtime::{Clock, IoBuf, Spawner};
use std::{
    collections::HashMap,
    future::Future,
    sync::{Arc, Mutex, MutexGuard},
    time::{Duration, UNIX_EPOCH},
};
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, info, warn};

/// How long a validator waits for an answer before asking its peers for a block again.
const FETCH_RETRY: Duration = Duration::from_millis(500);
/// How often a validator asks its execution client again after an answer that was neither
/// valid nor invalid (syncing, unreachable).
const VERIFY_RETRY: Duration = Duration::from_millis(200);
/// A proposal may carry a timestamp at most this far ahead of the local clock before a
/// validator refuses it (clocks of honest validators differ by less).
const MAX_FUTURE_DRIFT: Duration = Duration::from_secs(15);
/// Unsolicited blocks are kept only this many heights above the last decided block (a peer
/// cannot fill memory with blocks nobody asked for).
const MAX_BLOCKS_AHEAD: u64 = 256;
/// Decided blocks stay in memory this many heights (peers catching up are served from the
/// execution client after that).
const KEEP_DECIDED: u64 = 64;

/// Message tags on the block channel.
const TAG_BLOCK: u8 = 0;
const TAG_REQUEST: u8 = 1;

/// Answers whether a block is valid, from the execution client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The execution client executed it: `VALID`.
    Valid,
    /// The execution client refused it for good: `INVALID`.
    Invalid(String),
    /// No answer yet (syncing, unreachable): asked again later, never counted as a vote.
    Unknown(String),
}

/// The execution client, as consensus needs it. The sequencer implements it over reth's
/// Engine API; tests implement it in memory.
pub trait Execution: Clone + Send + Sync + 'static {
    /// Builds a child of `parent` (this validator leads the view) and has the execution client
    /// execute it. An error declines the view (Simplex nullifies it and moves to the next
    /// leader).
    fn build(
        &self,
        parent: &ProposedBlock,
    ) -> impl Future<Output = Result<ProposedBlock, ConsensusError>> + Send;

    /// Executes a proposal (newPayload).
    fn verify(&self, block: &ProposedBlock) -> impl Future<Output = Verdict> + Send;

    /// A block the execution client has, by hash (the genesis, ancestors, answers to peers).
    fn block(&self, hash: B256) -> impl Future<Output = Option<ProposedBlock>> + Send;
}

/// The last block handed to the node, and the blocks consensus is working on.
#[derive(Debug)]
struct Store {
    blocks: HashMap<B256, ProposedBlock>,
    waiters: HashMap<B256, Vec<oneshot::Sender<ProposedBlock>>>,
    decided: (u64, B256),
}

impl Store {
    fn insert(&mut self, block: ProposedBlock) {
        if let Some(waiters) = self.waiters.remove(&block.hash()) {
            for w in waiters {
                let _ = w.send(block.clone());
            }
        }
        self.blocks.insert(block.hash(), block);
    }

    /// Whether a block nobody asked for is worth keeping.
    fn wanted(&self, block: &ProposedBlock) -> bool {
        self.waiters.contains_key(&block.hash())
            || (block.number() > self.decided.0
                && block.number() <= self.decided.0 + MAX_BLOCKS_AHEAD)
    }

    /// Whether `parent` extends the decided chain (is the last decided block, or above it).
    /// A proposal on anything else would fork blocks the node already committed.
    fn extends_decided(&self, parent: &ProposedBlock) -> bool {
        let (number, hash) = self.decided;
        parent.number() > number || (parent.number() == number && parent.hash() == hash)
    }

    fn decide(&mut self, block: &ProposedBlock) {
        self.decided = (block.number(), block.hash());
        let floor = block.number().saturating_sub(KEEP_DECIDED);
        self.blocks.retain(|_, b| b.number() >= floor);
        self.waiters.retain(|_, w| {
            w.retain(|s| !s.is_closed());
            !w.is_empty()
        });
    }
}

/// The shared half of the application: what the engine's handles and the background tasks
/// (block channel, finalizer) work on.
struct Inner<E, X, S> {
    context: E,
    execution: X,
    blocks_out: Mutex<S>,
    store: Mutex<Store>,
}

impl<E, X, S> Inner<E, X, S>
where
    E: Clock + Spawner,
    X: Execution,
    S: commonware_p2p::Sender<PublicKey = PublicKey>,
{
    fn store(&self) -> MutexGuard<'_, Store> {
        // A panic while holding the lock leaves plain data; keep using it.
        self.store.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn send(&self, recipients: Recipients<PublicKey>, message: Vec<u8>) {
        let mut out = self.blocks_out.lock().unwrap_or_else(|p| p.into_inner());
        let _ = out.send(recipients, IoBuf::from(message), false);
    }

    /// The block `hash`: from memory, the execution client, or the peers (asked again every
    /// [`FETCH_RETRY`]). Gives up (`None`) when `cancelled` resolves first.
    async fn fetch(
        &self,
        hash: B256,
        cancelled: impl Future<Output = ()>,
    ) -> Option<ProposedBlock> {
        tokio::pin!(cancelled);
        if let Some(b) = self.store().blocks.get(&hash) {
            return Some(b.clone());
        }
        if let Some(b) = self.execution.block(hash).await {
            self.store().insert(b.clone());
            return Some(b);
        }
        loop {
            let arrived = {
                let mut store = self.store();
                if let Some(b) = store.blocks.get(&hash) {
                    return Some(b.clone());
                }
                let (tx, rx) = oneshot::channel();
                store.waiters.entry(hash).or_default().push(tx);
                rx
            };
            metrics::counter!(m::BLOCK_REQUESTS).increment(1);
            self.send(Recipients::All, block_request(hash));
            tokio::select! {
                biased;
                () = &mut cancelled => return None,
                b = arrived => if let Ok(b) = b { return Some(b) },
                () = self.context.sleep(FETCH_RETRY) => {
                    debug!(target: "sequencer::consensus", %hash, "block not received yet; asking peers again");
                }
            }
        }
    }

    async fn propose(&self, parent: B256, mut response: oneshot::Sender<sha256::Digest>) {
        let Some(parent) = self.fetch(parent, response.closed()).await else { return };
        if !self.store().extends_decided(&parent) {
            warn!(target: "sequencer::consensus", parent = %parent.hash(), number = parent.number(), "asked to build below the decided chain; declining");
            return;
        }
        let block = match self.execution.build(&parent).await {
            Ok(b) => b,
            Err(e) => {
                warn!(target: "sequencer::consensus", %e, parent = parent.number(), "cannot build a block; declining the view");
                metrics::counter!(m::PROPOSALS_DECLINED).increment(1);
                return;
            }
        };
        if block.parent_hash() != parent.hash() || block.number() != parent.number() + 1 {
            warn!(target: "sequencer::consensus", built = block.number(), parent = parent.number(), "execution client built on another parent; declining");
            return;
        }
        info!(target: "sequencer::consensus", number = block.number(), hash = %block.hash(), txs = block.block().body.transactions.len(), "proposing");
        let d = digest(block.hash());
        self.store().insert(block);
        let _ = response.send(d);
    }

    async fn verify(&self, parent: B256, proposed: B256, mut response: oneshot::Sender<bool>) {
        let Some(block) = self.fetch(proposed, response.closed()).await else { return };
        let verdict = self.check(parent, &block, &mut response).await;
        if let Some(valid) = verdict {
            if !valid {
                metrics::counter!(m::PROPOSALS_REFUSED).increment(1);
            }
            let _ = response.send(valid);
        }
    }

    /// `Some(valid)` once known; `None` when Simplex stopped waiting.
    async fn check(
        &self,
        parent: B256,
        block: &ProposedBlock,
        response: &mut oneshot::Sender<bool>,
    ) -> Option<bool> {
        let refuse = |why: &str| {
            warn!(target: "sequencer::consensus", number = block.number(), hash = %block.hash(), why, "refusing proposal");
            Some(false)
        };
        if block.parent_hash() != parent {
            return refuse("its parent is not the one the proposal names");
        }
        let parent = self.fetch(parent, response.closed()).await?;
        if block.number() != parent.number() + 1 {
            return refuse("its number does not follow its parent's");
        }
        if block.timestamp() <= parent.timestamp() {
            return refuse("its timestamp is not after its parent's");
        }
        if !self.store().extends_decided(&parent) {
            return refuse("it forks the decided chain");
        }
        let at = UNIX_EPOCH + Duration::from_secs(block.timestamp());
        let now = self.context.current();
        if at > now + MAX_FUTURE_DRIFT {
            return refuse("its timestamp is too far in the future");
        }
        if at > now {
            // A little ahead of our clock: vote once our clock reaches it.
            self.context.sleep_until(at).await;
        }
        loop {
            match self.execution.verify(block).await {
                Verdict::Valid => return Some(true),
                Verdict::Invalid(why) => return refuse(&why),
                Verdict::Unknown(why) => {
                    debug!(target: "sequencer::consensus", number = block.number(), %why, "execution client has no verdict yet; asking again");
                    tokio::select! {
                        biased;
                        () = response.closed() => return None,
                        () = self.context.sleep(VERIFY_RETRY) => {}
                    }
                }
            }
        }
    }

    /// A message on the block channel.
    async fn on_message(&self, peer: PublicKey, message: &[u8]) {
        match message.split_first() {
            Some((&TAG_BLOCK, rest)) => match ProposedBlock::decode(rest) {
                Ok(block) => {
                    let mut store = self.store();
                    if store.wanted(&block) {
                        store.insert(block);
                    }
                }
                Err(e) => {
                    debug!(target: "sequencer::consensus", %peer, %e, "undecodable block from peer")
                }
            },
            Some((&TAG_REQUEST, rest)) if rest.len() == 32 => {
                let hash = B256::from_slice(rest);
                let known = self.store().blocks.get(&hash).cloned();
                let block = match known {
                    Some(b) => Some(b),
                    None => self.execution.block(hash).await,
                };
                if let Some(b) = block {
                    self.send(Recipients::One(peer), block_message(&b));
                }
            }
            _ => {
                debug!(target: "sequencer::consensus", %peer, "malformed message on the block channel")
            }
        }
    }

    /// Hands the blocks a finalization commits (it and its undecided ancestors) to the node,
    /// oldest first.
    async fn on_finalized(
        &self,
        finalization: Finalization,
        decided: &mpsc::UnboundedSender<Decided>,
    ) -> Result<(), ConsensusError> {
        let certificate = FinalityCertificate::from_finalization(&finalization);
        let target = block_hash(&finalization.proposal.payload);
        let mut chain = Vec::new();
        let mut next = target;
        loop {
            let (number, hash) = self.store().decided;
            if next == hash {
                break;
            }
            let block =
                self.fetch(next, std::future::pending()).await.ok_or(ConsensusError::Closed)?;
            if block.number() <= number {
                if chain.is_empty() {
                    // An older finalization arriving late: already decided.
                    return Ok(());
                }
                return Err(ConsensusError::Conflict(format!(
                    "the validator set finalized {} whose ancestor #{} {} is not the decided block #{number} {hash}",
                    target,
                    block.number(),
                    block.hash()
                )));
            }
            next = block.parent_hash();
            chain.push(block);
        }
        for block in chain.into_iter().rev() {
            self.store().decide(&block);
            metrics::gauge!(m::DECIDED_HEIGHT).set(block.number() as f64);
            debug!(target: "sequencer::consensus", number = block.number(), hash = %block.hash(), view = certificate.view(), "decided");
            decided
                .send(Decided { block, certificate: certificate.clone() })
                .map_err(|_| ConsensusError::Closed)?;
        }
        Ok(())
    }
}

/// A block, as sent on the block channel.
pub fn block_message(block: &ProposedBlock) -> Vec<u8> {
    let mut out = vec![TAG_BLOCK];
    out.extend_from_slice(&block.encode());
    out
}

/// A request for the block `hash`, as sent on the block channel.
pub fn block_request(hash: B256) -> Vec<u8> {
    let mut out = vec![TAG_REQUEST];
    out.extend_from_slice(hash.as_slice());
    out
}

/// The block in a block-channel message, if it is one.
pub fn decode_block_message(message: &[u8]) -> Option<ProposedBlock> {
    match message.split_first() {
        Some((&TAG_BLOCK, rest)) => ProposedBlock::decode(rest).ok(),
        _ => None,
    }
}

/// The handle Simplex holds: automaton, relay and reporter in one (cheap to clone).
pub(crate) struct Application<E, X, S> {
    inner: Arc<Inner<E, X, S>>,
    finalized: mpsc::UnboundedSender<Finalization>,
}

impl<E, X, S> Clone for Application<E, X, S> {
    fn clone(&self) -> Self {
        Self { inner: self.inner.clone(), finalized: self.finalized.clone() }
    }
}

impl<E, X, S> Application<E, X, S>
where
    E: Clock + Spawner,
    X: Execution,
    S: commonware_p2p::Sender<PublicKey = PublicKey>,
{
    /// Starts the block channel and the finalizer on `context`. `decided` is the node's last
    /// committed block; decisions come out of the returned receiver in order, without gaps.
    pub(crate) fn start<R>(
        context: E,
        execution: X,
        blocks: (S, R),
        decided: (u64, B256),
    ) -> (Self, mpsc::UnboundedReceiver<Decided>)
    where
        R: commonware_p2p::Receiver<PublicKey = PublicKey>,
    {
        let (sender, mut receiver) = blocks;
        let inner = Arc::new(Inner {
            context: context.child("tasks"),
            execution,
            blocks_out: Mutex::new(sender),
            store: Mutex::new(Store { blocks: HashMap::new(), waiters: HashMap::new(), decided }),
        });
        let (finalized_tx, mut finalized_rx) = mpsc::unbounded_channel::<Finalization>();
        let (decided_tx, decided_rx) = mpsc::unbounded_channel();

        let net = inner.clone();
        context.child("blocks").spawn(move |_| async move {
            while let Ok((peer, message)) = receiver.recv().await {
                let net = net.clone();
                // Answering a request may read the execution client: do not hold up the channel.
                net.context.child("block_message").spawn(move |_| async move {
                    net.on_message(peer, message.as_ref()).await;
                });
            }
            debug!(target: "sequencer::consensus", "block channel closed");
        });

        let fin = inner.clone();
        context.child("finalizer").spawn(move |_| async move {
            while let Some(f) = finalized_rx.recv().await {
                if let Err(e) = fin.on_finalized(f, &decided_tx).await {
                    // Dropping the sender ends the node's decision stream: it stops with this error.
                    warn!(target: "sequencer::consensus", %e, "finalizer stopped");
                    return;
                }
            }
        });
        (Self { inner, finalized: finalized_tx }, decided_rx)
    }
}

impl<E, X, S> Automaton for Application<E, X, S>
where
    E: Clock + Spawner,
    X: Execution,
    S: commonware_p2p::Sender<PublicKey = PublicKey>,
{
    type Context = Context<sha256::Digest, PublicKey>;
    type Digest = sha256::Digest;

    async fn propose(&mut self, context: Self::Context) -> oneshot::Receiver<Self::Digest> {
        let (tx, rx) = oneshot::channel();
        let inner = self.inner.clone();
        let parent = block_hash(&context.parent.1);
        inner
            .context
            .child("propose")
            .spawn(move |_| async move { inner.propose(parent, tx).await });
        rx
    }

    async fn verify(
        &mut self,
        context: Self::Context,
        payload: Self::Digest,
    ) -> oneshot::Receiver<bool> {
        let (tx, rx) = oneshot::channel();
        let inner = self.inner.clone();
        let parent = block_hash(&context.parent.1);
        let proposed = block_hash(&payload);
        inner
            .context
            .child("verify")
            .spawn(move |_| async move { inner.verify(parent, proposed, tx).await });
        rx
    }
}

impl<E, X, S> CertifiableAutomaton for Application<E, X, S>
where
    E: Clock + Spawner,
    X: Execution,
    S: commonware_p2p::Sender<PublicKey = PublicKey>,
{
    // Everything was checked before the notarize vote: certification adds nothing.
}

impl<E, X, S> Relay for Application<E, X, S>
where
    E: Clock + Spawner,
    X: Execution,
    S: commonware_p2p::Sender<PublicKey = PublicKey>,
{
    type Digest = sha256::Digest;
    type PublicKey = PublicKey;
    type Plan = Plan<PublicKey>;

    fn broadcast(&mut self, payload: Self::Digest, plan: Self::Plan) -> Feedback {
        let hash = block_hash(&payload);
        let Some(block) = self.inner.store().blocks.get(&hash).cloned() else {
            debug!(target: "sequencer::consensus", %hash, "asked to relay a block not in memory");
            return Feedback::Ok;
        };
        let recipients = match plan {
            Plan::Propose { .. } => Recipients::All,
            Plan::Forward { recipients, .. } => recipients,
        };
        self.inner.send(recipients, block_message(&block));
        Feedback::Ok
    }
}

impl<E, X, S> Reporter for Application<E, X, S>
where
    E: Clock + Spawner,
    X: Execution,
    S: commonware_p2p::Sender<PublicKey = PublicKey>,
{
    type Activity = Activity<crate::validators::Scheme, sha256::Digest>;

    fn report(&mut self, activity: Self::Activity) -> Feedback {
        match activity {
            Activity::Finalization(f) => {
                metrics::counter!(m::FINALIZATIONS).increment(1);
                let _ = self.finalized.send(f);
            }
            Activity::Nullification(n) => {
                metrics::counter!(m::NULLIFICATIONS).increment(1);
                debug!(target: "sequencer::consensus", view = n.round.view().get(), "view nullified (no block in time)");
            }
            Activity::ConflictingNotarize(_)
            | Activity::ConflictingFinalize(_)
            | Activity::NullifyFinalize(_) => {
                metrics::counter!(m::FAULTS).increment(1);
                warn!(target: "sequencer::consensus", "a validator signed conflicting votes");
            }
            _ => {}
        }
        Feedback::Ok
    }
}
