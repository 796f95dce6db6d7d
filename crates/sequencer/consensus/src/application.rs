//! What Simplex calls into: propose, verify, relay and report, over the execution client.
//!
//! Simplex orders digests; the blocks behind them travel here. A leader's block goes to every
//! validator when Simplex asks to relay it; a validator missing a block (a late proposal, or
//! the ancestors of a finalization after a restart) asks its peers by hash, and a peer answers
//! from memory or from its execution client. Every validator executes a proposal on its own
//! execution client before it answers `verify` (and so before it votes).

use crate::{
    ConsensusError, Decided, FinalityCertificate, MAX_MESSAGE_SIZE, ProposedBlock, metrics as m,
    rules,
};
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
    collections::{HashMap, hash_map::Entry},
    future::Future,
    sync::{Arc, Mutex, MutexGuard},
    time::{Duration, SystemTime, UNIX_EPOCH},
};
use tokio::sync::{Semaphore, mpsc, oneshot};
use tracing::{debug, info, warn};

/// How long a validator waits for an answer before asking its peers for a block again.
const FETCH_RETRY: Duration = Duration::from_millis(500);
/// How often a validator asks its execution client again after an answer that was neither
/// valid nor invalid (syncing, unreachable).
const VERIFY_RETRY: Duration = Duration::from_millis(200);
/// How often at most a validator says that its clock is behind the chain's.
const CLOCK_WARNING_INTERVAL: Duration = Duration::from_secs(60);
/// Unsolicited blocks are kept only this many heights above the last decided block (a peer
/// cannot fill memory with blocks nobody asked for).
const MAX_BLOCKS_AHEAD: u64 = 256;
/// Unsolicited blocks kept per height: honest leaders propose one per view, and a few views
/// may end without a decision at one height. A block dropped here is still fetched by hash
/// when consensus needs it.
const MAX_UNSOLICITED_PER_HEIGHT: usize = 4;
/// Bytes of blocks in memory above which no unsolicited block is kept (blocks asked for by
/// hash are always kept: they are bounded by what consensus asks for).
const MAX_UNSOLICITED_BYTES: usize = 256 * 1024 * 1024;
/// Block requests from peers answered at once; more are dropped (the asker asks again after
/// its retry interval). An answer may read the execution client.
const MAX_CONCURRENT_ANSWERS: usize = 8;
/// Decided blocks stay in memory this many heights (peers catching up are served from the
/// execution client after that).
const KEEP_DECIDED: u64 = 64;
/// Block bodies a validator catching up holds by default while it walks a finalization back
/// to its decided chain (`BftConfig::catch_up_blocks`): the oldest ones fetched are kept,
/// newer ones are fetched again on the way forward. Also the decisions queued to the node at
/// once. Memory stays bounded however far behind it is.
pub const CATCH_UP_BLOCKS: usize = 256;
/// A validator catching up logs its progress every this many blocks.
const CATCH_UP_PROGRESS: usize = 1_000;

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

/// A stored block and its encoded size.
#[derive(Debug)]
struct StoredBlock {
    block: ProposedBlock,
    size: usize,
}

/// The last block handed to the node, and the blocks consensus is working on.
#[derive(Debug)]
struct Store {
    blocks: HashMap<B256, StoredBlock>,
    waiters: HashMap<B256, Vec<oneshot::Sender<ProposedBlock>>>,
    /// Blocks stored per height.
    per_height: HashMap<u64, usize>,
    /// Encoded bytes of the stored blocks.
    bytes: usize,
    /// Bytes in memory above which no unsolicited block is kept.
    unsolicited_budget: usize,
    decided: (u64, B256),
}

impl Store {
    fn new(decided: (u64, B256)) -> Self {
        Self {
            blocks: HashMap::new(),
            waiters: HashMap::new(),
            per_height: HashMap::new(),
            bytes: 0,
            unsolicited_budget: MAX_UNSOLICITED_BYTES,
            decided,
        }
    }

    /// Stores `block` unless its hash is stored already: a stored block is never replaced, so
    /// the block a validator verified is the one it commits. (Blocks from peers come in only
    /// after their body was checked against their header, so a second copy is the same block.)
    fn insert(&mut self, block: ProposedBlock) {
        let hash = block.hash();
        let stored = match self.blocks.entry(hash) {
            Entry::Occupied(stored) => stored.into_mut(),
            Entry::Vacant(slot) => {
                let size = block.encoded_len();
                self.bytes += size;
                *self.per_height.entry(block.number()).or_default() += 1;
                slot.insert(StoredBlock { block, size })
            }
        };
        if let Some(waiters) = self.waiters.remove(&hash) {
            for w in waiters {
                let _ = w.send(stored.block.clone());
            }
        }
    }

    /// Forgets a stored block above the decided chain (a catching-up validator fetches it
    /// again when it needs it).
    fn forget(&mut self, hash: &B256) {
        if let Some(stored) = self.blocks.remove(hash) {
            self.bytes -= stored.size;
            if let Some(count) = self.per_height.get_mut(&stored.block.number()) {
                *count = count.saturating_sub(1);
            }
        }
    }

    /// The stored block `hash`.
    fn get(&self, hash: &B256) -> Option<ProposedBlock> {
        self.blocks.get(hash).map(|stored| stored.block.clone())
    }

    /// Whether a block from a peer is worth keeping: one asked for, or one nobody asked for yet
    /// (a proposal that arrived before its vote) just above the decided chain, within the
    /// per-height and byte bounds.
    fn wanted(&self, block: &ProposedBlock) -> bool {
        if self.blocks.contains_key(&block.hash()) {
            // A copy of a stored block: nothing to keep, and no body to hash again.
            return false;
        }
        if self.waiters.contains_key(&block.hash()) {
            return true;
        }
        let (decided, _) = self.decided;
        block.number() > decided
            && block.number() <= decided + MAX_BLOCKS_AHEAD
            && self.per_height.get(&block.number()).copied().unwrap_or(0)
                < MAX_UNSOLICITED_PER_HEIGHT
            && self.bytes < self.unsolicited_budget
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
        let (bytes, per_height) = (&mut self.bytes, &mut self.per_height);
        self.blocks.retain(|_, stored| {
            let keep = stored.block.number() >= floor;
            if !keep {
                *bytes -= stored.size;
            }
            keep
        });
        per_height.retain(|number, _| *number >= floor);
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
    /// Permits for answering block requests.
    answering: Arc<Semaphore>,
    /// The chain's block time (block timestamps follow from it, see `rules`).
    block_time: Duration,
    /// When this validator last said its clock is behind (once a minute at most).
    clock_warned: Mutex<Option<SystemTime>>,
    /// Block bodies held while catching up (see [`CATCH_UP_BLOCKS`]).
    catch_up_blocks: usize,
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

    /// Sends on the block channel. A message over the p2p limit is dropped (commonware's
    /// sender asserts the size: it would panic the validator); no block that large is proposed
    /// here, but one can come from the execution client to answer a request.
    fn send(&self, recipients: Recipients<PublicKey>, message: Vec<u8>) {
        if message.len() > MAX_MESSAGE_SIZE as usize {
            warn!(target: "sequencer::consensus", bytes = message.len(), max = MAX_MESSAGE_SIZE, "block message over the p2p size limit; not sent");
            return;
        }
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
        if let Some(b) = self.store().get(&hash) {
            return Some(b);
        }
        if let Some(b) = self.execution.block(hash).await {
            self.store().insert(b.clone());
            return Some(b);
        }
        loop {
            let arrived = {
                let mut store = self.store();
                if let Some(b) = store.get(&hash) {
                    return Some(b);
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
        // A block no peer can receive would only run out the view's timer.
        let size = block_message(&block).len();
        if size > MAX_MESSAGE_SIZE as usize {
            warn!(target: "sequencer::consensus", number = block.number(), bytes = size, max = MAX_MESSAGE_SIZE, "built block is over the p2p message limit; declining the view");
            metrics::counter!(m::PROPOSALS_DECLINED).increment(1);
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
        if let Err(e) =
            crate::rules::check_proposal(block, &parent, self.block_time, self.context.current())
        {
            return refuse(&e.to_string());
        }
        // The timestamp follows from the parent's, so it says how far the chain's clock is
        // from ours. A little ahead is a clock difference: vote now (sleeping until our clock
        // reaches it would run out the view's timer). Far ahead, one of us is wrong.
        if self.clock_behind(block) {
            return refuse("its timestamp is too far ahead of this validator's clock");
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

    /// Whether `block`'s timestamp is further ahead of this validator's clock than honest
    /// clocks differ ([`rules::MAX_CLOCK_DRIFT`]); if so, says once a minute that this clock
    /// looks behind, with the numbers.
    fn clock_behind(&self, block: &ProposedBlock) -> bool {
        let now = self.context.current();
        let at = UNIX_EPOCH + Duration::from_secs(block.timestamp());
        let Ok(ahead) = at.duration_since(now) else { return false };
        if ahead <= rules::MAX_CLOCK_DRIFT {
            return false;
        }
        metrics::counter!(m::CLOCK_BEHIND).increment(1);
        let mut warned = self.clock_warned.lock().unwrap_or_else(|p| p.into_inner());
        let due = warned.is_none_or(|last| {
            now.duration_since(last).unwrap_or_default() >= CLOCK_WARNING_INTERVAL
        });
        if due {
            *warned = Some(now);
            warn!(
                target: "sequencer::consensus",
                number = block.number(),
                ahead_secs = ahead.as_secs(),
                allowed_secs = rules::MAX_CLOCK_DRIFT.as_secs(),
                "the chain's blocks are ahead of this validator's clock by more than validators allow: this clock is behind (check NTP); it cannot vote until it is fixed"
            );
        }
        true
    }

    /// A message on the block channel.
    async fn on_message(&self, peer: PublicKey, message: &[u8]) {
        match message.split_first() {
            Some((&TAG_BLOCK, rest)) => match ProposedBlock::decode(rest) {
                Ok(block) => {
                    // The cheap look first: hashing the body is work done only for a block
                    // that would be kept.
                    if !self.store().wanted(&block) {
                        metrics::counter!(m::BLOCKS_DROPPED, "reason" => "unwanted").increment(1);
                        return;
                    }
                    if let Err(e) = block.check_body() {
                        metrics::counter!(m::BLOCKS_DROPPED, "reason" => "body").increment(1);
                        debug!(target: "sequencer::consensus", %peer, %e, "dropping a block from a peer");
                        return;
                    }
                    self.store().insert(block);
                }
                Err(e) => {
                    debug!(target: "sequencer::consensus", %peer, %e, "undecodable block from peer")
                }
            },
            Some((&TAG_REQUEST, rest)) if rest.len() == 32 => {
                let hash = B256::from_slice(rest);
                let known = self.store().get(&hash);
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
    ///
    /// The ancestors are found walking back by parent hash from the finalized block, the only
    /// way a block is known to be on the finalized chain. Far behind, that walk is long: only
    /// the hashes are kept all the way, the bodies of the `catch_up_blocks` oldest ones
    /// fetched so far, and the others are fetched again (by hash, so the same blocks) on the
    /// way forward, as the node takes them (at most as many at once as bodies are held).
    async fn on_finalized(
        &self,
        finalization: Finalization,
        decided: &mpsc::Sender<Decided>,
    ) -> Result<(), ConsensusError> {
        let certificate = FinalityCertificate::from_finalization(&finalization);
        let target = block_hash(&finalization.proposal.payload);
        // Newest first.
        let mut chain: Vec<B256> = Vec::new();
        // The oldest bodies fetched so far: the back is the oldest.
        let mut bodies: std::collections::VecDeque<ProposedBlock> = Default::default();
        let mut next = target;
        loop {
            let (number, hash) = self.store().decided;
            if next == hash {
                break;
            }
            let block =
                self.fetch(next, std::future::pending()).await.ok_or(ConsensusError::Closed)?;
            if chain.is_empty() {
                // A validator that cannot vote because its clock is behind still follows the
                // set's decisions: this is where it hears why.
                self.clock_behind(&block);
            }
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
            let at = block.number();
            chain.push(block.hash());
            bodies.push_back(block);
            if bodies.len() > self.catch_up_blocks
                && let Some(newer) = bodies.pop_front()
            {
                self.store().forget(&newer.hash());
            }
            if chain.len().is_multiple_of(CATCH_UP_PROGRESS) {
                info!(target: "sequencer::consensus", fetched = chain.len(), at, decided = number, "catching up: walking the finalized chain back to the decided block");
            }
        }
        for hash in chain.into_iter().rev() {
            let kept = bodies.back().is_some_and(|b| b.hash() == hash);
            let block = match if kept { bodies.pop_back() } else { None } {
                Some(block) => block,
                None => {
                    self.fetch(hash, std::future::pending()).await.ok_or(ConsensusError::Closed)?
                }
            };
            self.store().decide(&block);
            metrics::gauge!(m::DECIDED_HEIGHT).set(block.number() as f64);
            debug!(target: "sequencer::consensus", number = block.number(), hash = %block.hash(), view = certificate.view(), "decided");
            // Waits while the node has `catch_up_blocks` decisions to commit.
            decided
                .send(Decided { block, certificate: certificate.clone() })
                .await
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
        block_time: Duration,
        catch_up_blocks: usize,
    ) -> (Self, mpsc::Receiver<Decided>)
    where
        R: commonware_p2p::Receiver<PublicKey = PublicKey>,
    {
        let (sender, mut receiver) = blocks;
        let inner = Arc::new(Inner {
            context: context.child("tasks"),
            execution,
            blocks_out: Mutex::new(sender),
            store: Mutex::new(Store::new(decided)),
            answering: Arc::new(Semaphore::new(MAX_CONCURRENT_ANSWERS)),
            block_time,
            clock_warned: Mutex::new(None),
            catch_up_blocks: catch_up_blocks.max(1),
        });
        let (finalized_tx, mut finalized_rx) = mpsc::unbounded_channel::<Finalization>();
        let (decided_tx, decided_rx) = mpsc::channel(catch_up_blocks.max(1));

        let net = inner.clone();
        context.child("blocks").spawn(move |_| async move {
            while let Ok((peer, message)) = receiver.recv().await {
                if message.as_ref().first() != Some(&TAG_REQUEST) {
                    net.on_message(peer, message.as_ref()).await;
                    continue;
                }
                // Answering a request may read the execution client: do not hold up the
                // channel, and answer only so many at once.
                let Ok(permit) = net.answering.clone().try_acquire_owned() else {
                    metrics::counter!(m::REQUESTS_DROPPED).increment(1);
                    continue;
                };
                let net = net.clone();
                net.context.child("block_request").spawn(move |_| async move {
                    net.on_message(peer, message.as_ref()).await;
                    drop(permit);
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
        let Some(block) = self.inner.store().get(&hash) else {
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

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_consensus::{Block, BlockBody, Header};
    use alloy_primitives::Bytes;

    /// A block at `number`, told apart by `tag`, of about `size` bytes of extra data.
    fn block(number: u64, tag: u8, size: usize) -> ProposedBlock {
        let mut extra = vec![0; size.max(1)];
        extra[0] = tag;
        ProposedBlock::new(
            Block {
                header: Header { number, extra_data: Bytes::from(extra), ..Default::default() },
                body: BlockBody::default(),
            },
            None,
        )
    }

    #[test]
    fn unsolicited_blocks_are_bounded_per_height_and_in_bytes() {
        let mut store = Store { unsolicited_budget: 4_000, ..Store::new((10, B256::ZERO)) };
        for tag in 0..10 {
            let b = block(11, tag, 1);
            if store.wanted(&b) {
                store.insert(b);
            }
        }
        assert_eq!(store.blocks.len(), MAX_UNSOLICITED_PER_HEIGHT, "per height");
        assert!(!store.wanted(&block(10, 0, 1)), "at or below the decided height");
        assert!(!store.wanted(&block(11 + MAX_BLOCKS_AHEAD, 0, 1)), "too far ahead");

        // A block asked for by hash is kept whatever the bounds.
        let asked = block(11, 99, 1);
        let (tx, _rx) = oneshot::channel();
        store.waiters.insert(asked.hash(), vec![tx]);
        assert!(store.wanted(&asked));
        store.insert(asked);
        assert_eq!(store.per_height[&11], MAX_UNSOLICITED_PER_HEIGHT + 1);

        // Bytes: big blocks fill the budget, then nothing unsolicited is kept.
        let big = store.unsolicited_budget / 4;
        let mut number = 12;
        while store.wanted(&block(number, 0, big)) {
            store.insert(block(number, 0, big));
            number += 1;
        }
        assert!(store.bytes >= store.unsolicited_budget);
        assert!(number - 12 <= 5, "about four big blocks fit");
        assert!(!store.wanted(&block(number, 0, 1)));

        // Deciding past them frees their bytes and their heights.
        store.decide(&block(number + KEEP_DECIDED, 0, 1));
        assert_eq!(store.bytes, 0);
        assert!(store.blocks.is_empty() && store.per_height.is_empty());
    }

    #[test]
    fn a_stored_block_is_never_replaced() {
        let mut store = Store::new((0, B256::ZERO));
        let first = block(1, 1, 1);
        store.insert(first.clone());
        let (mut other, requests) = first.clone().into_parts();
        other.body.withdrawals = Some(Default::default());
        let same_hash = ProposedBlock::new(other, requests);
        assert_eq!(same_hash.hash(), first.hash());
        store.insert(same_hash);
        assert_eq!(store.get(&first.hash()), Some(first.clone()));
        assert_eq!(store.per_height[&1], 1);
        // A copy arriving again is not even looked at (its body would be hashed for nothing).
        assert!(!store.wanted(&first));
    }
}
