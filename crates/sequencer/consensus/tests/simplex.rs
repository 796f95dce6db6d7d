//! Four validators on commonware's deterministic runtime and simulated network, with an
//! in-memory execution client (a test fixture: it links blocks by hash, refuses blocks marked
//! invalid and, as reth does, a block whose body is not the one its header commits to; it
//! executes no transactions and, as reth, accepts any withdrawals).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_arguments, missing_docs)]

use alloy_consensus::{Block, BlockBody, Header, TxEnvelope};
use alloy_eips::eip4895::{Withdrawal, Withdrawals};
use alloy_primitives::{Address, B256, Bytes};
use commonware_cryptography::ed25519::PublicKey;
use commonware_p2p::{
    Receiver as _, Recipients, Sender as _,
    simulated::{self, Link, Network, Oracle},
};
use commonware_runtime::{
    Clock, IoBuf, Quota, Runner, Spawner as _, Supervisor as _, deterministic,
};
use commonware_utils::NZUsize;
use sequencer_config::ValidatorKey;
use sequencer_consensus::{
    BftConfig, CHANNEL_BLOCKS, CHANNEL_CERTIFICATES, CHANNEL_RESOLVER, CHANNEL_VOTES, Channels,
    ConsensusError, Decided, Execution, FinalityCertificate, ProposedBlock, ValidatorSet, Verdict,
    block_message, block_request, decode_block_message, public_key, rules,
};
use std::{
    collections::{HashMap, HashSet},
    num::NonZeroU32,
    sync::{Arc, Mutex},
    time::{Duration, UNIX_EPOCH},
};

const CHAIN_ID: u64 = 1337;
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

/// One validator's execution client: the blocks it executed.
#[derive(Clone)]
struct MemoryChain {
    context: Arc<deterministic::Context>,
    executed: Arc<Mutex<HashMap<B256, ProposedBlock>>>,
    /// Written into each built block's extra data (who built it).
    builder: u8,
    builds: Builds,
}

impl MemoryChain {
    fn new(context: deterministic::Context, builder: u8, builds: Builds) -> Self {
        let g = genesis();
        let executed = HashMap::from([(g.hash(), g)]);
        Self {
            context: Arc::new(context),
            executed: Arc::new(Mutex::new(executed)),
            builder,
            builds,
        }
    }
}

impl Execution for MemoryChain {
    async fn build(&self, parent: &ProposedBlock) -> Result<ProposedBlock, ConsensusError> {
        // One block per second, like the node's block time.
        let at = parent.timestamp() + 1;
        self.context.sleep_until(UNIX_EPOCH + Duration::from_secs(at)).await;
        let extra =
            if self.builds == Builds::Invalid { INVALID.to_vec() } else { vec![self.builder] };
        let withdrawals = Withdrawals::new(if self.builds == Builds::Minting {
            vec![mint(self.builder)]
        } else {
            Vec::new()
        });
        let header = Header {
            parent_hash: parent.hash(),
            number: parent.number() + 1,
            timestamp: at.max(
                self.context.current().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs(),
            ),
            extra_data: Bytes::from(extra),
            mix_hash: rules::prev_randao(parent.hash()),
            // The header fields of the forks before the beacon root's (Cancun): the RLP of a
            // header cannot skip an optional field.
            base_fee_per_gas: Some(1),
            blob_gas_used: Some(0),
            excess_blob_gas: Some(0),
            parent_beacon_block_root: Some(rules::parent_beacon_block_root(parent.hash())),
            withdrawals_root: Some(alloy_consensus::proofs::calculate_withdrawals_root(
                &withdrawals,
            )),
            ..Default::default()
        };
        let body = BlockBody { withdrawals: Some(withdrawals), ..Default::default() };
        let block = ProposedBlock::new(Block::<TxEnvelope> { header, body }, None);
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

fn bft(set: &ValidatorSet, key: &ValidatorKey, i: usize) -> BftConfig {
    BftConfig::new(set.clone(), key.clone(), Duration::from_secs(1))
        .with_partition(format!("validator-{i}"))
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
) -> Arc<Mutex<Vec<Decided>>> {
    let chain = MemoryChain::new(context.child("chain"), i as u8, builds);
    let executed = chain.executed.clone();
    let g = genesis();
    let mut running = sequencer_consensus::start(
        context.child("validator").with_attribute("index", i),
        bft(set, &v.key, i),
        chain,
        oracle.control(v.public.clone()),
        channels(oracle, &v.public).await,
        g.hash(),
        (g.number(), g.hash()),
    )
    .unwrap();
    let out = Arc::new(Mutex::new(Vec::new()));
    let collected = out.clone();
    context.child("collector").spawn(move |_| async move {
        while let Some(d) = running.decisions.recv().await {
            // What the node does on a decision: its execution client gets the block.
            executed.lock().unwrap().insert(d.block.hash(), d.block.clone());
            collected.lock().unwrap().push(d);
        }
    });
    out
}

async fn wait_for(
    context: &deterministic::Context,
    outs: &[Arc<Mutex<Vec<Decided>>>],
    height: usize,
) {
    loop {
        if outs.iter().all(|o| o.lock().unwrap().len() >= height) {
            return;
        }
        context.sleep(Duration::from_millis(100)).await;
    }
}

/// Each list is 1, 2, 3, … linked by parent hash, every certificate verifies and names this
/// block or a later one of the list, and all lists agree on their common prefix.
fn assert_one_chain(
    set: &ValidatorSet,
    outs: &[Arc<Mutex<Vec<Decided>>>],
    height: usize,
) -> Vec<ProposedBlock> {
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
) -> impl std::future::Future<Output = Oracle<PublicKey, deterministic::Context>> {
    let peers: Vec<_> = vs.iter().map(|v| v.public.clone()).collect();
    let ctx = context.child("network");
    async move {
        let (network, oracle) = Network::new_with_peers(
            ctx,
            simulated::Config {
                max_size: 16 * 1024 * 1024,
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

fn runner(seed: u64) -> deterministic::Runner {
    deterministic::Runner::new(
        deterministic::Config::new().with_seed(seed).with_timeout(Some(Duration::from_secs(300))),
    )
}

#[test]
fn four_validators_decide_one_chain_built_by_every_leader() {
    // Several seeds: message order and latencies differ in every run.
    for seed in 0..5 {
        four_validators_one_chain(seed);
    }
}

fn four_validators_one_chain(seed: u64) {
    runner(seed).start(|context| async move {
        let (vs, set) = validators(4);
        let oracle = network(&context, &vs).await;
        link_all(&oracle, &vs, &[0, 1, 2, 3]).await;
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

#[test]
fn a_crashed_validator_is_skipped_and_the_chain_goes_on() {
    runner(7).start(|context| async move {
        let (vs, set) = validators(4);
        let oracle = network(&context, &vs).await;
        // Validator 3 never comes up: 3 of 4 are a quorum.
        link_all(&oracle, &vs, &[0, 1, 2]).await;
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

#[test]
fn a_proposal_the_execution_client_refuses_is_never_decided() {
    runner(7).start(|context| async move {
        let (vs, set) = validators(4);
        let oracle = network(&context, &vs).await;
        link_all(&oracle, &vs, &[0, 1, 2, 3]).await;
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

#[test]
fn a_validator_that_joins_late_fetches_the_blocks_it_missed() {
    runner(7).start(|context| async move {
        let (vs, set) = validators(4);
        let oracle = network(&context, &vs).await;
        link_all(&oracle, &vs, &[0, 1, 2]).await;
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

#[test]
fn a_leader_minting_through_withdrawals_is_never_decided() {
    for seed in 0..3 {
        runner(seed).start(|context| async move {
            let (vs, set) = validators(4);
            let oracle = network(&context, &vs).await;
            link_all(&oracle, &vs, &[0, 1, 2, 3]).await;
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
/// `height` blocks (checked to be one chain). The three are a quorum only if every one of them
/// votes for every block.
fn decided_beside(seed: u64, faulty: Faulty, height: usize) -> Vec<ProposedBlock> {
    runner(seed).start(|context| async move {
        let (vs, set) = validators(4);
        let oracle = network(&context, &vs).await;
        link_all(&oracle, &vs, &[0, 1, 2, 3]).await;
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
                let missing = B256::from(alloy_primitives::U256::from(junk));
                let _ = sender.send(Recipients::All, IoBuf::from(block_request(missing)), false);
            }
        }
    });
}

#[test]
fn a_member_flooding_blocks_and_requests_does_not_stop_the_chain() {
    for seed in 0..2 {
        let chain = decided_beside(seed, Faulty::Flooder, 12);
        let builders: HashSet<u8> = chain.iter().map(builder).collect();
        assert_eq!(builders, HashSet::from([0, 1, 2]), "seed {seed}");
    }
}
