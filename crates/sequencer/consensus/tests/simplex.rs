//! Four validators on commonware's deterministic runtime and simulated network, with an
//! in-memory execution client (a test fixture: it links blocks by hash, refuses blocks marked
//! invalid and, as reth does, a block whose body is not the one its header commits to; it
//! executes no transactions and, as reth, accepts any withdrawals).
//!
//! Beside honest runs, a byzantine harness: a member that proposes blocks the others refuse,
//! mints through withdrawals, relays altered bodies, floods blocks and requests, equivocates
//! (two engines with its key, each proposing and voting for its own block), or builds blocks at
//! the p2p message size limit; and crashes (a validator's tasks killed mid-view, or the whole
//! runtime stopped with its unsynced writes lost) followed by a replay of the vote journal. Every
//! run records the application's counters: where no member signs conflicting votes, no
//! validator may report one ([`m::FAULTS`]).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_arguments, missing_docs)]

use alloy_consensus::{Block, BlockBody, Header, TxEnvelope};
use alloy_eips::{
    eip4895::{Withdrawal, Withdrawals},
    eip7685::Requests,
};
use alloy_primitives::{Address, B256, Bytes, U256};
use commonware_codec::DecodeExt as _;
use commonware_consensus::{
    Viewable as _,
    simplex::types::{Proposal, Vote},
};
use commonware_cryptography::{ed25519::PublicKey, sha256};
use commonware_p2p::{
    Receiver as _, Recipients, Sender as _,
    simulated::{
        self, Link, Network, Oracle, SplitForwarder, SplitOrigin, SplitSender, SplitTarget,
    },
};
use commonware_runtime::{
    Clock, Handle, IoBuf, Quota, Runner, Spawner as _, Supervisor as _, deterministic,
};
use commonware_utils::NZUsize;
use rand::{Rng as _, RngExt as _};
use sequencer_config::ValidatorKey;
use sequencer_consensus::{
    BftConfig, CHANNEL_BLOCKS, CHANNEL_CERTIFICATES, CHANNEL_RESOLVER, CHANNEL_VOTES, Channels,
    ConsensusError, Decided, Execution, FinalityCertificate, MAX_MESSAGE_SIZE, ProposedBlock,
    Scheme, ValidatorSet, Verdict, block_hash, block_message, block_request, decode_block_message,
    metrics as m, public_key, rules,
};
use std::{
    collections::{BTreeMap, BTreeSet, HashMap, HashSet},
    future::Future,
    num::NonZeroU32,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

const CHAIN_ID: u64 = 1337;
const BLOCK_TIME: Duration = Duration::from_secs(1);
/// Marks a block its builder made invalid on purpose; every honest fixture refuses it.
const INVALID: &[u8] = b"invalid";

fn genesis() -> ProposedBlock {
    ProposedBlock::new(Block { header: Header::default(), body: BlockBody::default() }, None)
}

/// What a validator's execution client builds when it leads.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Builds {
    /// Blocks by the protocol's rules.
    Honest,
    /// Blocks every other execution client refuses.
    Invalid,
    /// Blocks that pay the builder through a withdrawal: valid to an execution client, which
    /// does not judge withdrawals; the protocol has none.
    Minting,
    /// Blocks by the rules with a random salt in their extra data: two builds on one parent
    /// (after a restart, or by twins) are two different blocks, as reth's would be with other
    /// transactions.
    Salted,
    /// Blocks by the rules carrying this many bytes of execution requests (EIP-7685), to make
    /// them that large on the wire. (Requests rather than transactions only to keep the test
    /// quick: their commitment is a sha256, which a debug build computes over 16 MiB in half a
    /// second, where keccak over as many bytes of transactions takes seconds.)
    Large(usize),
}

/// A withdrawal of 1000 ETH (in gwei) to `to`.
fn mint(to: u8) -> Withdrawal {
    Withdrawal {
        index: 0,
        validator_index: 0,
        address: Address::repeat_byte(to),
        amount: 1_000_000_000_000,
    }
}

/// The blocks an execution client executed, by hash: what survives its validator's crash.
type Executed = Arc<Mutex<HashMap<B256, ProposedBlock>>>;

/// An execution client that executed only the genesis.
fn new_execution_client() -> Executed {
    let g = genesis();
    Arc::new(Mutex::new(HashMap::from([(g.hash(), g)])))
}

/// One validator's execution client: the blocks it executed.
#[derive(Clone)]
struct MemoryChain {
    context: Arc<deterministic::Context>,
    executed: Executed,
    /// Written into each built block's extra data (who built it).
    builder: u8,
    builds: Builds,
}

impl MemoryChain {
    fn new(context: deterministic::Context, builder: u8, builds: Builds) -> Self {
        Self::reopen(context, builder, builds, &new_execution_client())
    }

    /// The execution client that executed `executed` (before its validator crashed).
    fn reopen(
        context: deterministic::Context,
        builder: u8,
        builds: Builds,
        executed: &Executed,
    ) -> Self {
        Self { context: Arc::new(context), executed: executed.clone(), builder, builds }
    }
}

impl Execution for MemoryChain {
    async fn build(&self, parent: &ProposedBlock) -> Result<ProposedBlock, ConsensusError> {
        // One block per second, paced as the node's leader paces it.
        self.context.sleep(rules::leader_wait(parent, BLOCK_TIME, self.context.current())).await;
        let mut extra =
            if self.builds == Builds::Invalid { INVALID.to_vec() } else { vec![self.builder] };
        if self.builds == Builds::Salted {
            let salt = self.context.child("salt").next_u64();
            extra.extend_from_slice(&salt.to_be_bytes());
        }
        let withdrawals = Withdrawals::new(if self.builds == Builds::Minting {
            vec![mint(self.builder)]
        } else {
            Vec::new()
        });
        let requests = match self.builds {
            Builds::Large(size) => Some(Requests::from_requests([Bytes::from(vec![0; size])])),
            _ => None,
        };
        let header = Header {
            parent_hash: parent.hash(),
            number: parent.number() + 1,
            timestamp: rules::child_timestamp(parent, BLOCK_TIME, self.context.current()),
            extra_data: Bytes::from(extra),
            mix_hash: rules::prev_randao(parent.hash()),
            // The header fields of the forks before the beacon root's (Cancun): the RLP of a
            // header cannot skip an optional field.
            base_fee_per_gas: Some(1),
            blob_gas_used: Some(0),
            excess_blob_gas: Some(0),
            parent_beacon_block_root: Some(rules::parent_beacon_block_root(parent.hash())),
            requests_hash: requests.as_ref().map(Requests::requests_hash),
            withdrawals_root: Some(alloy_consensus::proofs::calculate_withdrawals_root(
                &withdrawals,
            )),
            ..Default::default()
        };
        let body = BlockBody { withdrawals: Some(withdrawals), ..Default::default() };
        let block = ProposedBlock::new(Block::<TxEnvelope> { header, body }, requests);
        self.executed.lock().unwrap().insert(block.hash(), block.clone());
        Ok(block)
    }

    async fn verify(&self, block: &ProposedBlock) -> Verdict {
        if block.block().header.extra_data.as_ref() == INVALID {
            return Verdict::Invalid("marked invalid".into());
        }
        if block.check_body().is_err() {
            // reth computes the block hash from the payload: another body gives another hash.
            return Verdict::Invalid("block hash mismatch".into());
        }
        let mut executed = self.executed.lock().unwrap();
        if !executed.contains_key(&block.parent_hash()) {
            return Verdict::Unknown("parent not executed".into());
        }
        executed.insert(block.hash(), block.clone());
        Verdict::Valid
    }

    async fn block(&self, hash: B256) -> Option<ProposedBlock> {
        self.executed.lock().unwrap().get(&hash).cloned()
    }
}

/// The application's counters (it counts through the `metrics` facade) over one simulation: the
/// recorder of the thread that runs the deterministic runtime, which polls every task on it.
/// Counters are summed over their labels.
#[derive(Default)]
struct Counters(Mutex<HashMap<String, Arc<AtomicU64>>>);

impl Counters {
    fn get(&self, name: &str) -> u64 {
        self.0.lock().unwrap().get(name).map_or(0, |c| c.load(Ordering::Relaxed))
    }
}

impl metrics::Recorder for Counters {
    fn describe_counter(
        &self,
        _: metrics::KeyName,
        _: Option<metrics::Unit>,
        _: metrics::SharedString,
    ) {
    }
    fn describe_gauge(
        &self,
        _: metrics::KeyName,
        _: Option<metrics::Unit>,
        _: metrics::SharedString,
    ) {
    }
    fn describe_histogram(
        &self,
        _: metrics::KeyName,
        _: Option<metrics::Unit>,
        _: metrics::SharedString,
    ) {
    }

    fn register_counter(&self, key: &metrics::Key, _: &metrics::Metadata<'_>) -> metrics::Counter {
        let counter = self.0.lock().unwrap().entry(key.name().to_owned()).or_default().clone();
        metrics::Counter::from_arc(counter)
    }

    fn register_gauge(&self, _: &metrics::Key, _: &metrics::Metadata<'_>) -> metrics::Gauge {
        metrics::Gauge::noop()
    }

    fn register_histogram(
        &self,
        _: &metrics::Key,
        _: &metrics::Metadata<'_>,
    ) -> metrics::Histogram {
        metrics::Histogram::noop()
    }
}

/// Checks a run in which no member signed conflicting votes: the recorder saw the validators
/// finalize (it does record the application's counters), and no validator reported a
/// conflicting vote.
fn assert_no_faults(counters: &Counters) {
    assert!(counters.get(m::FINALIZATIONS) > 0, "the recorder saw no finalization");
    assert_eq!(counters.get(m::FAULTS), 0, "a validator reported conflicting votes");
}

#[derive(Clone)]
struct Validator {
    key: ValidatorKey,
    public: PublicKey,
}

fn validators(n: u8) -> (Vec<Validator>, ValidatorSet) {
    let keys: Vec<_> = (1..=n).map(|i| ValidatorKey::from_secret_bytes([i; 32])).collect();
    let set =
        ValidatorSet::new(CHAIN_ID, &keys.iter().map(ValidatorKey::public).collect::<Vec<_>>())
            .unwrap();
    let vs = keys
        .into_iter()
        .map(|key| Validator { public: public_key(&key.public()).unwrap(), key })
        .collect();
    (vs, set)
}

type Sim = (simulated::Sender<PublicKey, deterministic::Context>, simulated::Receiver<PublicKey>);
type Control = simulated::Control<PublicKey, deterministic::Context>;

async fn channels(
    oracle: &Oracle<PublicKey, deterministic::Context>,
    me: &PublicKey,
) -> Channels<simulated::Sender<PublicKey, deterministic::Context>, simulated::Receiver<PublicKey>>
{
    let control = oracle.control(me.clone());
    let quota = Quota::per_second(NonZeroU32::MAX);
    let reg = async |c| -> Sim { control.register(c, quota).await.unwrap() };
    Channels {
        votes: reg(CHANNEL_VOTES).await,
        certificates: reg(CHANNEL_CERTIFICATES).await,
        resolver: reg(CHANNEL_RESOLVER).await,
        blocks: reg(CHANNEL_BLOCKS).await,
    }
}

/// A vote a member sent, as it left for the network.
struct Sent {
    member: usize,
    /// Which of the member's processes sent it: its life (0 before its crash, 1 after the
    /// restart), or which of its twins (0 primary, 1 secondary).
    process: u32,
    vote: Vote<Scheme, sha256::Digest>,
}

/// The votes members sent, in order.
type SentVotes = Arc<Mutex<Vec<Sent>>>;

/// How member `member`'s split senders forward a message (commonware's twins,
/// [`simulated::Sender::split_with`]): to the recipients its engine chose, narrowed to
/// `only[origin]` when set; every vote is recorded in `votes`, as sent by `processes[origin]`.
fn forwarder(
    member: usize,
    processes: [u32; 2],
    only: [Option<Vec<PublicKey>>; 2],
    votes: Option<SentVotes>,
) -> impl SplitForwarder<PublicKey> {
    move |origin: SplitOrigin, to: &Recipients<PublicKey>, message: &IoBuf| {
        let side = usize::from(origin == SplitOrigin::Secondary);
        if let Some(votes) = &votes {
            let vote = Vote::decode(message.clone()).expect("a vote on the vote channel");
            votes.lock().unwrap().push(Sent { member, process: processes[side], vote });
        }
        let Some(only) = &only[side] else { return Some(to.clone()) };
        let to = match to {
            Recipients::All => only.clone(),
            Recipients::Some(peers) => peers.iter().filter(|p| only.contains(p)).cloned().collect(),
            Recipients::One(peer) => only.iter().filter(|p| *p == peer).cloned().collect(),
        };
        Some(Recipients::Some(to))
    }
}

/// The channels of member `i` (`v`), every vote it sends recorded in `votes` as sent by its
/// `life`-th process.
async fn tapped_channels(
    oracle: &Oracle<PublicKey, deterministic::Context>,
    v: &Validator,
    i: usize,
    life: u32,
    votes: &SentVotes,
) -> Channels<
    SplitSender<PublicKey, deterministic::Context, impl SplitForwarder<PublicKey>>,
    simulated::Receiver<PublicKey>,
> {
    let control = oracle.control(v.public.clone());
    let quota = Quota::per_second(NonZeroU32::MAX);
    let reg = async |c| {
        let (sender, receiver) = control.register(c, quota).await.unwrap();
        let log = (c == CHANNEL_VOTES).then(|| votes.clone());
        (sender.split_with(forwarder(i, [life; 2], [None, None], log)).0, receiver)
    };
    Channels {
        votes: reg(CHANNEL_VOTES).await,
        certificates: reg(CHANNEL_CERTIFICATES).await,
        resolver: reg(CHANNEL_RESOLVER).await,
        blocks: reg(CHANNEL_BLOCKS).await,
    }
}

/// The channels of member `i` (`v`) split between two twins (two engines with its key): what
/// twin `t` sends on any channel (votes, certificates, blocks, answers) reaches only the peers in
/// `groups[t]`; what peers send reaches both. Every vote is recorded in `votes` (process `t`).
async fn twin_channels(
    context: &deterministic::Context,
    oracle: &Oracle<PublicKey, deterministic::Context>,
    v: &Validator,
    i: usize,
    groups: [Vec<PublicKey>; 2],
    votes: &SentVotes,
) -> [Channels<
    SplitSender<PublicKey, deterministic::Context, impl SplitForwarder<PublicKey>>,
    simulated::Receiver<PublicKey>,
>; 2] {
    let control = oracle.control(v.public.clone());
    let quota = Quota::per_second(NonZeroU32::MAX);
    let reg = async |c| {
        let (sender, receiver) = control.register(c, quota).await.unwrap();
        let log = (c == CHANNEL_VOTES).then(|| votes.clone());
        let only = groups.clone().map(Some);
        let (primary, secondary) = sender.split_with(forwarder(i, [0, 1], only, log));
        let (inbox_primary, inbox_secondary) =
            receiver.split_with(context.child("twins"), |_: &(PublicKey, IoBuf)| SplitTarget::Both);
        ((primary, inbox_primary), (secondary, inbox_secondary))
    };
    let (votes_p, votes_s) = reg(CHANNEL_VOTES).await;
    let (certificates_p, certificates_s) = reg(CHANNEL_CERTIFICATES).await;
    let (resolver_p, resolver_s) = reg(CHANNEL_RESOLVER).await;
    let (blocks_p, blocks_s) = reg(CHANNEL_BLOCKS).await;
    [
        Channels {
            votes: votes_p,
            certificates: certificates_p,
            resolver: resolver_p,
            blocks: blocks_p,
        },
        Channels {
            votes: votes_s,
            certificates: certificates_s,
            resolver: resolver_s,
            blocks: blocks_s,
        },
    ]
}

/// What a member signed twice where it may sign once: two notarize votes for different proposals
/// in one view, two finalize votes for different proposals, or a nullify and a finalize vote.
/// Keyed by (member, view, what), with the block hashes involved.
fn double_signed(votes: &[Sent]) -> BTreeMap<(usize, u64, &'static str), BTreeSet<B256>> {
    type Signed = HashMap<(usize, u64), Vec<Proposal<sha256::Digest>>>;
    let (mut notarized, mut finalized, mut nullified) =
        (Signed::new(), Signed::new(), HashSet::new());
    for sent in votes {
        let key = (sent.member, sent.vote.view().get());
        let (signed, proposal) = match &sent.vote {
            Vote::Notarize(n) => (&mut notarized, &n.proposal),
            Vote::Finalize(f) => (&mut finalized, &f.proposal),
            Vote::Nullify(_) => {
                nullified.insert(key);
                continue;
            }
        };
        let proposals = signed.entry(key).or_default();
        if !proposals.contains(proposal) {
            proposals.push(proposal.clone());
        }
    }
    let hashes =
        |ps: &[Proposal<sha256::Digest>]| ps.iter().map(|p| block_hash(&p.payload)).collect();
    let mut found = BTreeMap::new();
    for (what, signed) in [("notarize", &notarized), ("finalize", &finalized)] {
        for ((member, view), ps) in signed.iter().filter(|(_, ps)| ps.len() > 1) {
            found.insert((*member, *view, what), hashes(ps));
        }
    }
    for ((member, view), ps) in finalized.iter().filter(|(key, _)| nullified.contains(key)) {
        found.insert((*member, *view, "nullify and finalize"), hashes(ps));
    }
    found
}

const LINK: Link = Link {
    latency: Duration::from_millis(20),
    jitter: Duration::from_millis(5),
    success_rate: 1.0,
};

async fn link_all(
    oracle: &Oracle<PublicKey, deterministic::Context>,
    vs: &[Validator],
    up: &[usize],
) {
    for &a in up {
        for &b in up {
            if a != b {
                let _ = oracle.add_link(vs[a].public.clone(), vs[b].public.clone(), LINK).await;
            }
        }
    }
}

/// A validator's settings. A catching-up validator holds at most 4 bodies here (256 in the
/// node), so a late joiner or a restarted validator a few blocks behind walks its gap back by
/// hash and fetches most of it again on the way forward: that path runs in every such test.
fn bft(set: &ValidatorSet, key: &ValidatorKey, partition: String) -> BftConfig {
    BftConfig { catch_up_blocks: 4, ..BftConfig::new(set.clone(), key.clone(), BLOCK_TIME) }
        .with_partition(partition)
}

/// Where a validator's node collects the decisions: what survives its crash.
type Decisions = Arc<Mutex<Vec<Decided>>>;

/// Starts consensus for `v` on `channels` over `chain`, its votes journaled in `partition`. Its
/// decisions start above the last one in `out` (the genesis if none; a restarted node commits
/// from where it stopped) and are appended to `out` and given to `chain`, as the node gives them
/// to its execution client.
fn launch<S, R>(
    context: &deterministic::Context,
    set: &ValidatorSet,
    v: &Validator,
    partition: String,
    chain: MemoryChain,
    blocker: Control,
    channels: Channels<S, R>,
    out: &Decisions,
) where
    S: commonware_p2p::Sender<PublicKey = PublicKey>,
    R: commonware_p2p::Receiver<PublicKey = PublicKey>,
{
    let executed = chain.executed.clone();
    let g = genesis();
    let decided = out
        .lock()
        .unwrap()
        .last()
        .map_or((g.number(), g.hash()), |d| (d.block.number(), d.block.hash()));
    let mut running = sequencer_consensus::start(
        context.child("validator").with_attribute("partition", &partition),
        bft(set, &v.key, partition),
        chain,
        blocker,
        channels,
        g.hash(),
        decided,
    )
    .unwrap();
    let collected = out.clone();
    context.child("collector").spawn(move |_| async move {
        while let Some(d) = running.decisions.recv().await {
            // What the node does on a decision: its execution client gets the block.
            executed.lock().unwrap().insert(d.block.hash(), d.block.clone());
            collected.lock().unwrap().push(d);
        }
    });
}

/// Starts validator `i` (its own in-memory chain, building what `builds` says when it leads)
/// and returns where its decisions are collected.
async fn start_validator(
    context: &deterministic::Context,
    oracle: &Oracle<PublicKey, deterministic::Context>,
    set: &ValidatorSet,
    v: &Validator,
    i: usize,
    builds: Builds,
) -> Decisions {
    let out = Decisions::default();
    launch(
        context,
        set,
        v,
        format!("validator-{i}"),
        MemoryChain::new(context.child("chain"), i as u8, builds),
        oracle.control(v.public.clone()),
        channels(oracle, &v.public).await,
        &out,
    );
    out
}

/// What of validator `i` survives its crash: its execution client's blocks and its node's
/// decisions (and, in the runtime's storage, its vote journal).
#[derive(Clone)]
struct Disk {
    executed: Executed,
    decided: Decisions,
}

impl Disk {
    fn new() -> Self {
        Self { executed: new_execution_client(), decided: Decisions::default() }
    }
}

/// Starts validator `i` on what it kept in `disk`, building what `builds` says when it leads;
/// every vote it sends is recorded in `votes` as sent by its `life`-th process.
async fn start_recorded(
    context: &deterministic::Context,
    oracle: &Oracle<PublicKey, deterministic::Context>,
    set: &ValidatorSet,
    v: &Validator,
    i: usize,
    builds: Builds,
    disk: &Disk,
    life: u32,
    votes: &SentVotes,
) {
    launch(
        context,
        set,
        v,
        format!("validator-{i}"),
        MemoryChain::reopen(context.child("chain"), i as u8, builds, &disk.executed),
        oracle.control(v.public.clone()),
        tapped_channels(oracle, v, i, life, votes).await,
        &disk.decided,
    );
}

/// Starts validator `i` as a process: one task under which its consensus, block channel and
/// node run, so that aborting it kills them at once, mid-whatever, as a crash does (nothing is
/// closed; what its journal had not written to storage is lost). It builds salted blocks, starts
/// from `disk`, and every vote it sends is recorded in `votes` as its `life`-th process.
fn start_process(
    context: &deterministic::Context,
    oracle: &Oracle<PublicKey, deterministic::Context>,
    set: &ValidatorSet,
    v: &Validator,
    i: usize,
    disk: &Disk,
    life: u32,
    votes: &SentVotes,
) -> Handle<()> {
    let (oracle, set, v) = (oracle.clone(), set.clone(), v.clone());
    let (disk, votes) = (disk.clone(), votes.clone());
    context.child("process").with_attribute("index", i).spawn(move |context| async move {
        start_recorded(&context, &oracle, &set, &v, i, Builds::Salted, &disk, life, &votes).await;
        futures::future::pending::<()>().await;
    })
}

async fn wait_for(context: &deterministic::Context, outs: &[Decisions], height: usize) {
    loop {
        if outs.iter().all(|o| o.lock().unwrap().len() >= height) {
            return;
        }
        context.sleep(Duration::from_millis(100)).await;
    }
}

/// Each list is 1, 2, 3, … linked by parent hash, every certificate verifies and names this
/// block or a later one of the list, and all lists agree on their common prefix.
fn assert_one_chain(set: &ValidatorSet, outs: &[Decisions], height: usize) -> Vec<ProposedBlock> {
    let reference: Vec<ProposedBlock> =
        outs[0].lock().unwrap()[..height].iter().map(|d| d.block.clone()).collect();
    for out in outs {
        let out = out.lock().unwrap();
        let mut parent = genesis();
        for (i, d) in out.iter().enumerate() {
            assert_eq!(d.block.number(), i as u64 + 1);
            assert_eq!(d.block.parent_hash(), parent.hash(), "decisions linked by hash");
            let cert = FinalityCertificate::verify(
                d.certificate.bytes(),
                &set.clone().bound_to(genesis().hash()),
            )
            .unwrap();
            assert!(
                out[i..].iter().any(|later| later.block.hash() == cert.finalized()),
                "certificate of #{} names a block at or after it",
                i + 1
            );
            parent = d.block.clone();
        }
        let blocks: Vec<_> = out[..height].iter().map(|d| d.block.clone()).collect();
        assert_eq!(blocks, reference, "validators decided the same blocks");
    }
    reference
}

fn builder(b: &ProposedBlock) -> u8 {
    b.block().header.extra_data[0]
}

fn network(
    context: &deterministic::Context,
    vs: &[Validator],
) -> impl Future<Output = Oracle<PublicKey, deterministic::Context>> {
    let peers: Vec<_> = vs.iter().map(|v| v.public.clone()).collect();
    let ctx = context.child("network");
    async move {
        let (network, oracle) = Network::new_with_peers(
            ctx,
            simulated::Config {
                // As the validators' p2p network: a larger message panics its sender.
                max_size: MAX_MESSAGE_SIZE,
                disconnect_on_block: true,
                tracked_peer_sets: NZUsize!(1),
            },
            peers,
        )
        .await;
        network.start();
        oracle
    }
}

/// Four validators (not started) on a simulated network, those in `up` linked to each other.
async fn four(
    context: &deterministic::Context,
    up: &[usize],
) -> (Vec<Validator>, ValidatorSet, Oracle<PublicKey, deterministic::Context>) {
    let (vs, set) = validators(4);
    let oracle = network(context, &vs).await;
    link_all(&oracle, &vs, up).await;
    (vs, set, oracle)
}

fn runner(seed: u64) -> deterministic::Runner {
    deterministic::Runner::new(
        deterministic::Config::new().with_seed(seed).with_timeout(Some(Duration::from_secs(300))),
    )
}

/// Runs `f` on the deterministic runtime seeded with `seed`; returns its output and the
/// application's counters over the run.
fn simulate<F, Fut>(seed: u64, f: F) -> (Fut::Output, Counters)
where
    F: FnOnce(deterministic::Context) -> Fut,
    Fut: Future,
{
    let counters = Counters::default();
    let out = metrics::with_local_recorder(&counters, || runner(seed).start(f));
    (out, counters)
}

/// [`simulate`] for a run in which no member signs conflicting votes: checks afterwards that no
/// validator reported one ([`assert_no_faults`]).
fn run<F, Fut>(seed: u64, f: F) -> Fut::Output
where
    F: FnOnce(deterministic::Context) -> Fut,
    Fut: Future,
{
    let (out, counters) = simulate(seed, f);
    assert_no_faults(&counters);
    out
}

/// Every validator leads in turn and all decide the same chain, across seeds; nobody reports a
/// conflicting vote.
#[test]
fn four_validators_decide_one_chain_built_by_every_leader() {
    // Several seeds: message order and latencies differ in every run.
    for seed in 0..5 {
        four_validators_one_chain(seed);
    }
}

fn four_validators_one_chain(seed: u64) {
    run(seed, |context| async move {
        let (vs, set, oracle) = four(&context, &[0, 1, 2, 3]).await;
        let mut outs = Vec::new();
        for (i, v) in vs.iter().enumerate() {
            outs.push(start_validator(&context, &oracle, &set, v, i, Builds::Honest).await);
        }
        wait_for(&context, &outs, 20).await;
        let chain = assert_one_chain(&set, &outs, 20);
        let builders: HashSet<u8> = chain.iter().map(builder).collect();
        assert_eq!(
            builders.len(),
            4,
            "round-robin: every validator led and built a block ({builders:?})"
        );
    });
}

/// A validator that never comes up is skipped as leader; the other three decide one chain.
#[test]
fn a_crashed_validator_is_skipped_and_the_chain_goes_on() {
    run(7, |context| async move {
        // Validator 3 never comes up: 3 of 4 are a quorum.
        let (vs, set, oracle) = four(&context, &[0, 1, 2]).await;
        let mut outs = Vec::new();
        for (i, v) in vs.iter().take(3).enumerate() {
            outs.push(start_validator(&context, &oracle, &set, v, i, Builds::Honest).await);
        }
        wait_for(&context, &outs, 15).await;
        let chain = assert_one_chain(&set, &outs, 15);
        assert!(chain.iter().all(|b| builder(b) != 3), "the offline validator built nothing");
        let builders: HashSet<u8> = chain.iter().map(builder).collect();
        assert_eq!(builders.len(), 3, "the three live validators all led ({builders:?})");
    });
}

/// Proposals the other execution clients refuse are never decided; the others' blocks are.
#[test]
fn a_proposal_the_execution_client_refuses_is_never_decided() {
    run(7, |context| async move {
        let (vs, set, oracle) = four(&context, &[0, 1, 2, 3]).await;
        let mut outs = Vec::new();
        for (i, v) in vs.iter().enumerate() {
            // Validator 0 proposes only blocks the others' execution clients refuse.
            let builds = if i == 0 { Builds::Invalid } else { Builds::Honest };
            outs.push(start_validator(&context, &oracle, &set, v, i, builds).await);
        }
        wait_for(&context, &outs[1..], 12).await;
        let chain = assert_one_chain(&set, &outs[1..], 12);
        assert!(chain.iter().all(|b| b.block().header.extra_data.as_ref() != INVALID));
        let builders: HashSet<u8> = chain.iter().map(builder).collect();
        assert_eq!(builders, HashSet::from([1, 2, 3]));
    });
}

/// A validator that comes up ten blocks late fetches what it missed and leads again.
#[test]
fn a_validator_that_joins_late_fetches_the_blocks_it_missed() {
    run(7, |context| async move {
        let (vs, set, oracle) = four(&context, &[0, 1, 2]).await;
        let mut outs = Vec::new();
        for (i, v) in vs.iter().take(3).enumerate() {
            outs.push(start_validator(&context, &oracle, &set, v, i, Builds::Honest).await);
        }
        wait_for(&context, &outs[..3], 10).await;
        // Validator 3 comes up with an empty execution client, ten blocks behind.
        link_all(&oracle, &vs, &[0, 1, 2, 3]).await;
        outs.push(start_validator(&context, &oracle, &set, &vs[3], 3, Builds::Honest).await);
        wait_for(&context, &outs, 25).await;
        let chain = assert_one_chain(&set, &outs, 25);
        assert!(chain[15..].iter().any(|b| builder(b) == 3), "the late validator leads again");
    });
}

/// Blocks that pay their leader through a withdrawal are never decided, across seeds.
#[test]
fn a_leader_minting_through_withdrawals_is_never_decided() {
    for seed in 0..3 {
        run(seed, |context| async move {
            let (vs, set, oracle) = four(&context, &[0, 1, 2, 3]).await;
            let mut outs = Vec::new();
            for (i, v) in vs.iter().enumerate() {
                // Validator 0's blocks pay it 1000 ETH each; its execution client finds them
                // valid, as reth would.
                let builds = if i == 0 { Builds::Minting } else { Builds::Honest };
                outs.push(start_validator(&context, &oracle, &set, v, i, builds).await);
            }
            wait_for(&context, &outs[1..], 12).await;
            let chain = assert_one_chain(&set, &outs[1..], 12);
            assert!(
                chain.iter().all(|b| b
                    .block()
                    .body
                    .withdrawals
                    .as_ref()
                    .is_some_and(|w| w.is_empty())),
                "no decided block carries a withdrawal"
            );
            let builders: HashSet<u8> = chain.iter().map(builder).collect();
            assert_eq!(builders, HashSet::from([1, 2, 3]), "seed {seed}");
        });
    }
}

/// `block` with another body under the same header (so the same hash): a withdrawal to the
/// tamperer added.
fn with_altered_body(block: &ProposedBlock) -> ProposedBlock {
    let (mut altered, requests) = block.clone().into_parts();
    altered.body.withdrawals = Some(Withdrawals::new(vec![mint(0xee)]));
    let altered = ProposedBlock::new(altered, requests);
    assert_eq!(altered.hash(), block.hash());
    altered
}

/// Member `v` runs no consensus; it only tampers on the block channel: every block it sees it
/// sends to everyone again with an altered body (same header, same hash), and it answers every
/// block request with such a copy, at once.
async fn start_body_tamperer(
    context: &deterministic::Context,
    oracle: &Oracle<PublicKey, deterministic::Context>,
    v: &Validator,
) {
    let (mut sender, mut receiver) = block_channel(oracle, v).await;
    context.child("tamperer").spawn(move |_| async move {
        let mut seen: HashMap<B256, ProposedBlock> = HashMap::new();
        while let Ok((peer, message)) = receiver.recv().await {
            let message: &[u8] = message.as_ref();
            if let Some(block) = decode_block_message(message) {
                let altered = with_altered_body(&block);
                seen.insert(block.hash(), altered.clone());
                let _ = sender.send(Recipients::All, IoBuf::from(block_message(&altered)), true);
            } else if message.len() == 33 {
                let hash = B256::from_slice(&message[1..]);
                if let Some(altered) = seen.get(&hash).filter(|_| block_request(hash) == message) {
                    let _ = sender.send(
                        Recipients::One(peer),
                        IoBuf::from(block_message(altered)),
                        true,
                    );
                }
            }
        }
    });
}

/// What the fourth member does; it runs no consensus.
#[derive(Clone, Copy)]
enum Faulty {
    /// [`start_body_tamperer`].
    Tamperer,
    /// [`start_flooder`].
    Flooder,
}

/// The chain three honest validators decided beside a `faulty` fourth member, once each decided
/// `height` blocks (checked to be one chain, with no conflicting vote reported). The three are a
/// quorum only if every one of them votes for every block.
fn decided_beside(seed: u64, faulty: Faulty, height: usize) -> Vec<ProposedBlock> {
    run(seed, |context| async move {
        let (vs, set, oracle) = four(&context, &[0, 1, 2, 3]).await;
        let mut outs = Vec::new();
        for (i, v) in vs.iter().take(3).enumerate() {
            outs.push(start_validator(&context, &oracle, &set, v, i, Builds::Honest).await);
        }
        match faulty {
            Faulty::Tamperer => start_body_tamperer(&context, &oracle, &vs[3]).await,
            Faulty::Flooder => start_flooder(&context, &oracle, &vs[3]).await,
        }
        wait_for(&context, &outs, height).await;
        assert_one_chain(&set, &outs, height)
    })
}

/// The block channel of member `v`, registered without a rate limit.
async fn block_channel(oracle: &Oracle<PublicKey, deterministic::Context>, v: &Validator) -> Sim {
    oracle
        .control(v.public.clone())
        .register(CHANNEL_BLOCKS, Quota::per_second(NonZeroU32::MAX))
        .await
        .unwrap()
}

/// Bodies altered under a block's header (same hash) are never stored nor decided.
#[test]
fn a_member_relaying_altered_bodies_changes_nothing() {
    for seed in 0..3 {
        for block in decided_beside(seed, Faulty::Tamperer, 12) {
            block.check_body().expect("the committed body is the header's");
            assert!(block.block().body.withdrawals.as_ref().is_some_and(|w| w.is_empty()));
        }
    }
}

/// Member `v` runs no consensus; it floods the block channel: for every block it sees, 40
/// blocks of its own (well formed, nobody asked for them) at the next heights and 40 requests
/// for blocks that do not exist, to every validator.
async fn start_flooder(
    context: &deterministic::Context,
    oracle: &Oracle<PublicKey, deterministic::Context>,
    v: &Validator,
) {
    let (mut sender, mut receiver) = block_channel(oracle, v).await;
    context.child("flooder").spawn(move |_| async move {
        let mut junk = 0u32;
        while let Ok((_, message)) = receiver.recv().await {
            let Some(seen) = decode_block_message(message.as_ref()) else { continue };
            for _ in 0..40 {
                junk += 1;
                let header = Header {
                    parent_hash: B256::with_last_byte(1),
                    number: seen.number() + 1 + u64::from(junk % 8),
                    extra_data: Bytes::from(junk.to_be_bytes().to_vec()),
                    ..Default::default()
                };
                let block = ProposedBlock::new(Block { header, body: BlockBody::default() }, None);
                let _ = sender.send(Recipients::All, IoBuf::from(block_message(&block)), false);
                let missing = B256::from(U256::from(junk));
                let _ = sender.send(Recipients::All, IoBuf::from(block_request(missing)), false);
            }
        }
    });
}

/// Unsolicited blocks and requests for unknown blocks do not stop the honest three.
#[test]
fn a_member_flooding_blocks_and_requests_does_not_stop_the_chain() {
    for seed in 0..2 {
        let chain = decided_beside(seed, Faulty::Flooder, 12);
        let builders: HashSet<u8> = chain.iter().map(builder).collect();
        assert_eq!(builders, HashSet::from([0, 1, 2]), "seed {seed}");
    }
}

/// Member 3 equivocates (commonware's twins): two engines run with its key, each with its own
/// execution client, so that when member 3 leads a view each proposes its own valid block (the
/// primary an unsalted one, the secondary a salted one: two hashes) and notarizes and finalizes
/// what it sees. What the primary sends (votes, certificates, its block on the block channel,
/// answers to requests) reaches only validators 0 and 1; what the secondary sends reaches only
/// 1 and 2; both hear everyone. Validator 1 thus receives both conflicting votes.
///
/// Across seeds: member 3 did sign two notarize votes for different blocks in one view (so the
/// run tests something); the honest three (whose votes are recorded too) never sign twice, decide
/// one chain and keep deciding; no conflicting pair is decided; and the conflicting votes are
/// reported (the twins receive only honest votes, so the count is the honest validators').
#[test]
fn an_equivocating_leader_gets_at_most_one_of_its_blocks_decided() {
    for seed in 0..3 {
        let votes = SentVotes::default();
        let (chain, counters) = simulate(seed, |context| {
            let votes = votes.clone();
            async move {
                let (vs, set, oracle) = four(&context, &[0, 1, 2, 3]).await;
                let mut outs = Vec::new();
                for (i, v) in vs.iter().take(3).enumerate() {
                    let disk = Disk::new();
                    let honest = Builds::Honest;
                    start_recorded(&context, &oracle, &set, v, i, honest, &disk, 0, &votes).await;
                    outs.push(disk.decided);
                }
                let group = |members: [usize; 2]| members.map(|i| vs[i].public.clone()).to_vec();
                let groups = [group([0, 1]), group([1, 2])];
                let twins = twin_channels(&context, &oracle, &vs[3], 3, groups, &votes).await;
                for (t, (channels, builds)) in
                    twins.into_iter().zip([Builds::Honest, Builds::Salted]).enumerate()
                {
                    launch(
                        &context,
                        &set,
                        &vs[3],
                        format!("validator-3-twin-{t}"),
                        MemoryChain::new(context.child("chain"), 3, builds),
                        oracle.control(vs[3].public.clone()),
                        channels,
                        &Decisions::default(),
                    );
                }
                wait_for(&context, &outs, 12).await;
                assert_one_chain(&set, &outs, 12)
            }
        });
        let double = double_signed(&votes.lock().unwrap());
        assert!(
            double.keys().all(|(member, ..)| *member == 3),
            "seed {seed}: an honest validator signed twice: {double:?}"
        );
        let equivocations: Vec<_> = double
            .iter()
            .filter(|((_, _, what), _)| *what == "notarize")
            .map(|(_, blocks)| blocks)
            .collect();
        assert!(!equivocations.is_empty(), "seed {seed}: member 3 never proposed two blocks");
        let decided: HashSet<B256> = chain.iter().map(ProposedBlock::hash).collect();
        for blocks in equivocations {
            assert!(
                blocks.iter().filter(|b| decided.contains(*b)).count() <= 1,
                "seed {seed}: two blocks of one view decided"
            );
        }
        assert!(counters.get(m::FINALIZATIONS) > 0);
        assert!(counters.get(m::FAULTS) > 0, "seed {seed}: the equivocation went unreported");
    }
}

/// Execution requests that put a block message just under the p2p limit ([`MAX_MESSAGE_SIZE`]).
const NEAR_LIMIT: usize = MAX_MESSAGE_SIZE as usize - 64 * 1024;

/// The chain validators 0–2 decided (they build honest blocks) beside validator 3, whose blocks
/// are `size` bytes large; checked to be one chain, with no conflicting vote reported.
fn decided_beside_a_large_builder(seed: u64, size: usize, height: usize) -> Vec<ProposedBlock> {
    run(seed, |context| async move {
        let (vs, set, oracle) = four(&context, &[0, 1, 2, 3]).await;
        let mut outs = Vec::new();
        for (i, v) in vs.iter().enumerate() {
            let builds = if i == 3 { Builds::Large(size) } else { Builds::Honest };
            outs.push(start_validator(&context, &oracle, &set, v, i, builds).await);
        }
        wait_for(&context, &outs[..3], height).await;
        assert_one_chain(&set, &outs[..3], height)
    })
}

/// A leader whose blocks are just under the p2p message size limit (about 16 MiB each): they
/// travel, are decided like any other, and the chain goes on at every leader's turn. (One seed:
/// every copy of such a block costs the simulation about a second of hashing in a debug build.)
#[test]
fn a_leader_building_blocks_at_the_message_size_limit_keeps_the_chain_going() {
    // Validator 3 leads the second view: its block is #2, then every other leader's.
    let chain = decided_beside_a_large_builder(0, NEAR_LIMIT, 5);
    let large: Vec<_> = chain.iter().filter(|b| builder(b) == 3).collect();
    assert!(!large.is_empty(), "no large block decided");
    for b in large {
        let size = block_message(b).len();
        assert!(size > NEAR_LIMIT && size <= MAX_MESSAGE_SIZE as usize, "{size} bytes");
    }
    let builders: HashSet<u8> = chain.iter().map(builder).collect();
    assert_eq!(builders, HashSet::from([0, 1, 2, 3]));
}

/// A leader whose blocks are over the p2p message size limit: nobody can receive them, so its
/// views should time out and the other three keep deciding without its blocks.
#[test]
fn a_leader_building_blocks_over_the_message_size_limit_is_skipped() {
    let chain = decided_beside_a_large_builder(0, MAX_MESSAGE_SIZE as usize, 8);
    assert!(chain.iter().all(|b| builder(b) != 3), "an oversized block was decided");
}

/// Seeded from the runtime: a duration under `max_ms`.
fn random_ms(context: &deterministic::Context, max_ms: u64) -> Duration {
    Duration::from_millis(context.child("random").random_range(0..max_ms))
}

/// Starts the four validators as processes on `disks` (their `life`-th), every vote recorded in
/// `votes`.
async fn start_four(
    context: &deterministic::Context,
    disks: &[Disk],
    life: u32,
    votes: &SentVotes,
) -> (Vec<Validator>, ValidatorSet, Oracle<PublicKey, deterministic::Context>, Vec<Handle<()>>) {
    let (vs, set, oracle) = four(context, &[0, 1, 2, 3]).await;
    let mut processes = Vec::new();
    for (i, v) in vs.iter().enumerate() {
        processes.push(start_process(context, &oracle, &set, v, i, &disks[i], life, votes));
    }
    (vs, set, oracle, processes)
}

/// Where the validators on `disks` collect their decisions.
fn decisions(disks: &[Disk]) -> Vec<Decisions> {
    disks.iter().map(|d| d.decided.clone()).collect()
}

/// Waits until validator `member` has sent a notarize vote, in view 5 or later, for a block it
/// built (on `disk`): it leads that view and has just proposed. The point to crash it at: its
/// proposal and its vote are out, the others are voting.
async fn until_it_proposes(
    context: &deterministic::Context,
    votes: &SentVotes,
    disk: &Disk,
    member: usize,
) {
    let proposed = |s: &Sent| match &s.vote {
        Vote::Notarize(n) if s.member == member && n.view().get() >= 5 => {
            let executed = disk.executed.lock().unwrap();
            executed
                .get(&block_hash(&n.proposal.payload))
                .is_some_and(|b| builder(b) == member as u8)
        }
        _ => false,
    };
    while !votes.lock().unwrap().iter().any(proposed) {
        context.sleep(Duration::from_millis(1)).await;
    }
}

/// Checks the votes sent: each `restarted` member voted before its crash and after its restart,
/// and no member signed twice ([`double_signed`]).
fn assert_never_signed_twice(votes: &SentVotes, restarted: &[usize], seed: u64) {
    let votes = votes.lock().unwrap();
    for &member in restarted {
        for life in [0, 1] {
            assert!(
                votes.iter().any(|s| s.member == member && s.process == life),
                "seed {seed}: validator {member} sent no vote in life {life}"
            );
        }
    }
    let double = double_signed(&votes);
    assert!(double.is_empty(), "seed {seed}: signed twice: {double:?}");
}

/// A leader (one validator per seed) is killed mid-view — a random 0–60 ms after it sent its
/// proposal and notarize vote, while the others vote — its consensus, block channel and node
/// tasks aborted at once, nothing closed, and restarted 0–500 ms later from the same storage
/// (its vote journal) and key, with its execution client's blocks and its node's decisions.
/// Blocks are salted: had it forgotten its proposal, it would propose another block.
///
/// Across seeds: the chain goes on and all four decide the same blocks (the restarted one from
/// where its node stopped); the votes every validator sent (recorded as they left) never sign
/// two proposals in one view nor nullify and finalize one view, across the crash; and the other
/// validators, which kept its votes from before the crash, report no conflicting vote.
#[test]
fn a_validator_killed_mid_view_replays_its_journal_and_never_signs_twice() {
    for seed in 0..3 {
        let victim = (seed % 4) as usize;
        let votes = SentVotes::default();
        run(seed, |context| {
            let votes = votes.clone();
            async move {
                let disks: Vec<_> = (0..4).map(|_| Disk::new()).collect();
                let (vs, set, oracle, processes) = start_four(&context, &disks, 0, &votes).await;
                until_it_proposes(&context, &votes, &disks[victim], victim).await;
                context.sleep(random_ms(&context, 60)).await;
                processes[victim].abort();
                context.sleep(random_ms(&context, 500)).await;
                let (v, disk) = (&vs[victim], &disks[victim]);
                start_process(&context, &oracle, &set, v, victim, disk, 1, &votes);
                let outs = decisions(&disks);
                wait_for(&context, &outs, 16).await;
                assert_one_chain(&set, &outs, 16);
            }
        });
        assert_never_signed_twice(&votes, &[victim], seed);
    }
}

/// The whole runtime stops mid-view — a random 0–60 ms after a leader (one per seed) sent its
/// proposal and notarize vote — as on a power cut: no task finishes, no journal is closed, and
/// storage keeps only what was synced. The four validators restart from that storage (their vote
/// journals), their execution clients' blocks and their nodes' decisions, on a new network;
/// blocks are salted.
///
/// Across seeds: the chain goes on and all decide the same blocks; no validator's votes
/// (recorded as they left, before and after the crash) sign two proposals in one view nor
/// nullify and finalize one view; no conflicting vote is reported.
#[test]
fn a_crash_of_every_validator_mid_view_replays_the_journals_and_nobody_signs_twice() {
    for seed in 0..3 {
        let leader = (seed % 4) as usize;
        let votes = SentVotes::default();
        let disks: Vec<_> = (0..4).map(|_| Disk::new()).collect();
        let counters = Counters::default();
        metrics::with_local_recorder(&counters, || {
            let (_, checkpoint) = runner(seed).start_and_recover(|context| {
                let (disks, votes) = (disks.clone(), votes.clone());
                async move {
                    let _running = start_four(&context, &disks, 0, &votes).await;
                    until_it_proposes(&context, &votes, &disks[leader], leader).await;
                    context.sleep(random_ms(&context, 60)).await;
                    // Returning from the root stops the runtime with every task where it is.
                }
            });
            let (disks, votes) = (disks.clone(), votes.clone());
            deterministic::Runner::from(checkpoint).start(|context| async move {
                let (_, set, _oracle, _) = start_four(&context, &disks, 1, &votes).await;
                let outs = decisions(&disks);
                wait_for(&context, &outs, 16).await;
                assert_one_chain(&set, &outs, 16);
            });
        });
        assert_no_faults(&counters);
        assert_never_signed_twice(&votes, &[0, 1, 2, 3], seed);
    }
}
