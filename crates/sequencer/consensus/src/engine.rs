//! Wiring: the Simplex engine, the application, and the p2p channels between validators.

use crate::{
    ConsensusError, Decided, ValidatorSet,
    application::{Application, Execution},
    block::digest,
    validators::public_key,
};
use alloy_primitives::B256;
use commonware_consensus::{
    simplex::{self, elector::RoundRobin},
    types::{Epoch, ViewDelta},
};
use commonware_cryptography::{Sha256, ed25519::PublicKey};
use commonware_p2p::{Address, AddressableManager as _, Blocker, Receiver, Sender};
use commonware_parallel::Sequential;
use commonware_runtime::{
    BufferPooler, Clock, Handle, Metrics, Quota, Spawner, Storage, Supervisor as _,
    buffer::paged::CacheRef,
};
use commonware_utils::{NZU16, NZU32, NZUsize, ordered::Map};
use rand::CryptoRng;
use sequencer_config::{ValidatorKey, ValidatorPublicKey};
use std::{net::SocketAddr, num::NonZeroU32, time::Duration};
use tokio::sync::mpsc;

/// p2p channel of votes.
pub const CHANNEL_VOTES: u64 = 0;
/// p2p channel of certificates.
pub const CHANNEL_CERTIFICATES: u64 = 1;
/// p2p channel of the engine's certificate backfill.
pub const CHANNEL_RESOLVER: u64 = 2;
/// p2p channel of blocks (proposals, and answers to requests by hash).
pub const CHANNEL_BLOCKS: u64 = 3;

/// Largest p2p message: a block with its transactions.
pub const MAX_MESSAGE_SIZE: u32 = 16 * 1024 * 1024;
/// Messages per second a peer may send on one channel (a per-peer flood guard; votes and
/// blocks of one view are a handful).
const CHANNEL_RATE: NonZeroU32 = NZU32!(1_000);
/// Messages queued per channel before the network drops new ones.
const CHANNEL_BACKLOG: usize = 1_024;

/// Settings of one validator's consensus.
#[derive(Debug, Clone)]
pub struct BftConfig {
    /// The validator set.
    pub validators: ValidatorSet,
    /// This validator's key (its public key is in the set).
    pub key: ValidatorKey,
    /// The chain's block time: a block's timestamp is its parent's plus this (see `rules`).
    pub block_time: Duration,
    /// Storage partition of the vote journal (replayed on restart, so a validator never signs
    /// two different things for one view).
    pub partition: String,
    /// How long a view waits for the leader's proposal before it is nullified.
    pub leader_timeout: Duration,
    /// How long a view waits for a notarization before it is nullified.
    pub certification_timeout: Duration,
    /// How often a stuck view re-broadcasts its votes.
    pub timeout_retry: Duration,
    /// How long the engine waits for a certificate it asked a peer for.
    pub fetch_timeout: Duration,
    /// Views behind the last finalized one the engine keeps state for.
    pub activity_timeout: u64,
    /// After this many views without activity from a leader, its views are skipped at once.
    pub skip_timeout: u64,
    /// Block bodies held while catching up, and decisions queued to the node at once.
    pub catch_up_blocks: usize,
}

impl BftConfig {
    /// Timeouts for blocks every `block_time`: the leader waits out the block time and builds
    /// before it proposes, so a view is given two block times plus a second before it counts as
    /// failed, and twice that to gather a notarization.
    pub fn new(validators: ValidatorSet, key: ValidatorKey, block_time: Duration) -> Self {
        let leader_timeout = block_time * 2 + Duration::from_secs(1);
        Self {
            validators,
            key,
            block_time,
            partition: "sequencer-consensus".into(),
            leader_timeout,
            certification_timeout: leader_timeout * 2,
            timeout_retry: leader_timeout * 4,
            fetch_timeout: Duration::from_secs(1),
            activity_timeout: 256,
            skip_timeout: 8,
            catch_up_blocks: crate::application::CATCH_UP_BLOCKS,
        }
    }

    /// Sets the storage partition of the vote journal.
    pub fn with_partition(mut self, partition: impl Into<String>) -> Self {
        self.partition = partition.into();
        self
    }
}

/// The p2p channel pairs consensus runs on.
#[derive(Debug)]
pub struct Channels<S, R> {
    /// Votes.
    pub votes: (S, R),
    /// Certificates.
    pub certificates: (S, R),
    /// Certificate backfill.
    pub resolver: (S, R),
    /// Blocks.
    pub blocks: (S, R),
}

/// A running consensus: decisions in order, and the engine's task.
pub struct Running {
    /// Blocks the validator set finalized, oldest first, each once, starting above the block
    /// given to [`start`]. Ends when consensus stops.
    pub decisions: mpsc::Receiver<Decided>,
    /// The Simplex engine.
    pub engine: Handle<()>,
}

impl std::fmt::Debug for Running {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Running").finish_non_exhaustive()
    }
}

/// Starts consensus for one validator. `genesis` is the chain's genesis block (the parent of
/// the first proposal); `decided` is the newest block the node has committed (the genesis on a
/// new chain): decisions start above it, and no proposal below it is voted for.
pub fn start<E, X, B, S, R>(
    context: E,
    cfg: BftConfig,
    execution: X,
    blocker: B,
    channels: Channels<S, R>,
    genesis: B256,
    decided: (u64, B256),
) -> Result<Running, ConsensusError>
where
    E: BufferPooler + Clock + CryptoRng + Spawner + Storage + Metrics,
    X: Execution,
    B: Blocker<PublicKey = PublicKey>,
    S: Sender<PublicKey = PublicKey>,
    R: Receiver<PublicKey = PublicKey>,
{
    let scheme = cfg.validators.clone().bound_to(genesis).signer(&cfg.key)?;
    let (application, decisions) = Application::start(
        context.child("application"),
        execution,
        channels.blocks,
        decided,
        cfg.block_time,
        cfg.catch_up_blocks,
    );
    let engine_cfg = simplex::Config {
        scheme,
        elector: RoundRobin::<Sha256>::default(),
        blocker,
        automaton: application.clone(),
        relay: application.clone(),
        reporter: application,
        strategy: Sequential,
        partition: cfg.partition,
        mailbox_size: NZUsize!(1024),
        epoch: Epoch::zero(),
        floor: simplex::Floor::Genesis(digest(genesis)),
        replay_buffer: NZUsize!(1024 * 1024),
        write_buffer: NZUsize!(1024 * 1024),
        page_cache: CacheRef::from_pooler(&context, NZU16!(16_384), NZUsize!(1_024)),
        leader_timeout: cfg.leader_timeout,
        certification_timeout: cfg.certification_timeout,
        timeout_retry: cfg.timeout_retry,
        fetch_timeout: cfg.fetch_timeout,
        activity_timeout: ViewDelta::new(cfg.activity_timeout),
        skip_timeout: ViewDelta::new(cfg.skip_timeout),
        fetch_concurrent: NZUsize!(16),
        forwarding: simplex::ForwardingPolicy::Disabled,
    };
    let engine = simplex::Engine::new(context.child("engine"), engine_cfg);
    let engine = engine.start(channels.votes, channels.certificates, channels.resolver);
    Ok(Running { decisions, engine })
}

/// The other validators and where to reach them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    /// Its key (in the validator set).
    pub key: ValidatorPublicKey,
    /// Its p2p address.
    pub address: SocketAddr,
}

/// The p2p network of the validator set over TCP: connections are encrypted and authenticated
/// with the validators' ed25519 keys; only keys of the set, from the addresses configured for
/// them, are let in.
pub type LookupSender =
    commonware_p2p::authenticated::lookup::Sender<PublicKey, commonware_runtime::tokio::Context>;
/// Receiving end of [`LookupSender`].
pub type LookupReceiver = commonware_p2p::authenticated::lookup::Receiver<PublicKey>;
/// The peer tracker (also the blocker of misbehaving peers).
pub type LookupOracle = commonware_p2p::authenticated::lookup::Oracle<PublicKey>;

/// The validators' p2p network, started.
pub struct Network {
    /// The consensus channels on it.
    pub channels: Channels<LookupSender, LookupReceiver>,
    /// The peer tracker; blocks misbehaving peers.
    pub oracle: LookupOracle,
    /// The network's task.
    pub handle: Handle<()>,
}

impl std::fmt::Debug for Network {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Network").finish_non_exhaustive()
    }
}

/// Starts the validators' p2p network on `listen`, with `peers` (every other validator).
pub fn start_network(
    context: &commonware_runtime::tokio::Context,
    validators: &ValidatorSet,
    key: &ValidatorKey,
    listen: SocketAddr,
    peers: &[Peer],
) -> Result<Network, ConsensusError> {
    use commonware_p2p::authenticated::lookup;
    // The network's listener panics in its own task when it cannot bind: find out here, as
    // one error naming the field.
    std::net::TcpListener::bind(listen).map_err(|e| {
        ConsensusError::Config(format!("consensus.listen_addr: cannot bind {listen}: {e}"))
    })?;
    let me = crate::validators::public_key(&key.public())?;
    let mut book = vec![(me, Address::Symmetric(listen))];
    for p in peers {
        let k = public_key(&p.key)?;
        if validators.participants().position(&k).is_none() {
            return Err(ConsensusError::Config(format!(
                "consensus.peers: {} is not in consensus.validators",
                p.key
            )));
        }
        book.push((k, Address::Symmetric(p.address)));
    }
    let book = Map::try_from(book).map_err(|_| {
        ConsensusError::Config(
            "consensus.peers: a validator is listed twice (or is this validator)".into(),
        )
    })?;
    // `local`: private addresses allowed (validators of a PoA network often share a private
    // network) and short reconnect cooldowns; several validators on one host share an IP.
    let mut cfg = lookup::Config::local(
        crate::validators::private_key(key)?,
        &validators.p2p_namespace(),
        listen,
        MAX_MESSAGE_SIZE,
    );
    // The handshake refuses a peer whose timestamp is further ahead than `synchrony_bound`
    // (5 s by default) or older than `max_handshake_age` (10 s): both kept at the clock
    // difference a proposal is allowed (the age plus the handshake's own time), so that a
    // validator whose clock is off by less, either way, is not cut off the network.
    cfg.synchrony_bound = crate::rules::MAX_CLOCK_DRIFT;
    cfg.max_handshake_age = crate::rules::MAX_CLOCK_DRIFT + cfg.handshake_timeout;
    let (mut network, mut oracle) = lookup::Network::new(context.child("p2p"), cfg);
    let _ = oracle.track(0, book);
    let quota = Quota::per_second(CHANNEL_RATE);
    let channels = Channels {
        votes: network.register(CHANNEL_VOTES, quota, CHANNEL_BACKLOG),
        certificates: network.register(CHANNEL_CERTIFICATES, quota, CHANNEL_BACKLOG),
        resolver: network.register(CHANNEL_RESOLVER, quota, CHANNEL_BACKLOG),
        blocks: network.register(CHANNEL_BLOCKS, quota, CHANNEL_BACKLOG),
    };
    let handle = network.start();
    Ok(Network { channels, oracle, handle })
}
