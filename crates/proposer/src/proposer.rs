//! [`OutputProposer`]: the proposal loop.

use crate::{L2Outputs, ProposalHead, ProposerError, ProposerResult};
use alloy_eips::{BlockNumHash, BlockNumberOrTag};
use alloy_network::{EthereumWallet, TransactionBuilder};
use alloy_primitives::{Address, B256, Bytes, U256};
use alloy_provider::{DynProvider, Provider, ProviderBuilder};
use alloy_rpc_types_eth::TransactionRequest;
use alloy_signer_local::PrivateKeySigner;
use alloy_sol_types::SolCall;
use metrics::{counter, gauge};
use rollup_batcher::{DEFAULT_FEE_LIMIT_MULTIPLIER, TxFees, transaction_fees};
use rollup_op_contracts::bindings::{self, L2OutputOracle, OptimismPortal};
use std::time::Duration;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};
use url::Url;

/// How often L1 and the L2 heads are looked at (op-proposer's default poll interval).
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(6);

/// How long a proposal may stay unmined before it is replaced at higher fees (four L1 slots).
pub const DEFAULT_RESUBMISSION_TIMEOUT: Duration = Duration::from_secs(48);

/// Longest pause between attempts while a step keeps failing.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// While one kind of failure lasts, it is logged at warn level once per this interval.
const FAILURE_LOG_INTERVAL: Duration = Duration::from_secs(60);

/// Headroom over the L1 node's gas estimate: the oracle's storage writes cost the same every
/// time, but the estimate runs against a block the proposal may not land in.
const GAS_HEADROOM_PERCENT: u64 = 20;

/// Where the L1 `L2OutputOracle` is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OracleAddress {
    /// At this (proxy) address.
    At(Address),
    /// Wherever this `OptimismPortal` (the rollup's deposit contract) says (`l2Oracle()`), read
    /// from L1 on the first step.
    FromPortal(Address),
}

/// The proposer's settings.
#[derive(Debug, Clone)]
pub struct ProposerConfig {
    /// L1 JSON-RPC.
    pub l1_rpc: Url,
    /// Where the L1 `L2OutputOracle` is.
    pub oracle: OracleAddress,
    /// Which L2 head bounds what is proposed.
    pub head: ProposalHead,
    /// How often L1 and the L2 heads are looked at.
    pub poll_interval: Duration,
    /// How long a proposal may stay unmined before it is replaced at higher fees.
    pub resubmission_timeout: Duration,
    /// A replacement never offers more than this many times the market's fees.
    pub fee_limit_multiplier: u64,
}

impl ProposerConfig {
    /// The defaults for proposing to `oracle` through the L1 node at `l1_rpc`.
    pub const fn new(l1_rpc: Url, oracle: OracleAddress) -> Self {
        Self {
            l1_rpc,
            oracle,
            head: ProposalHead::Finalized,
            poll_interval: DEFAULT_POLL_INTERVAL,
            resubmission_timeout: DEFAULT_RESUBMISSION_TIMEOUT,
            fee_limit_multiplier: DEFAULT_FEE_LIMIT_MULTIPLIER,
        }
    }

    /// Proposes up to `head` (default: finalized).
    pub const fn with_head(mut self, head: ProposalHead) -> Self {
        self.head = head;
        self
    }

    /// Looks at L1 and L2 every `interval`.
    pub const fn with_poll_interval(mut self, interval: Duration) -> Self {
        self.poll_interval = interval;
        self
    }

    /// Replaces a proposal unmined for `timeout`.
    pub const fn with_resubmission_timeout(mut self, timeout: Duration) -> Self {
        self.resubmission_timeout = timeout;
        self
    }

    /// Caps replacement fees at `multiplier` times the market's.
    pub const fn with_fee_limit_multiplier(mut self, multiplier: u64) -> Self {
        self.fee_limit_multiplier = multiplier;
        self
    }
}

/// Names of the proposer's metrics (recorded through the `metrics` facade).
#[derive(Debug, Clone, Copy)]
pub struct ProposerMetrics;

impl ProposerMetrics {
    /// Proposals confirmed on L1.
    pub const PROPOSALS: &'static str = "kona_proposer_proposals_total";
    /// The L2 block of the last proposal confirmed by this node.
    pub const PROPOSED_BLOCK: &'static str = "kona_proposer_proposed_block";
    /// The L2 block the oracle expects next.
    pub const NEXT_BLOCK: &'static str = "kona_proposer_next_block";
    /// The L2 head that bounds proposals (finalized or safe).
    pub const HEAD_BLOCK: &'static str = "kona_proposer_head_block";
    /// Proposal transactions sent, by `kind` (new, replacement).
    pub const TXS_SENT: &'static str = "kona_proposer_txs_sent_total";
    /// Failures, by `kind` (l1, l2, not_proposer, refused, reverted, send, insufficient_funds,
    /// fee_limit).
    pub const FAILURES: &'static str = "kona_proposer_failures_total";
    /// The proposer account's L1 balance, in wei, as last read before a send.
    pub const BALANCE: &'static str = "kona_proposer_balance_wei";

    /// Describes every proposer metric.
    pub fn describe() {
        use metrics::{describe_counter, describe_gauge};
        describe_counter!(Self::PROPOSALS, "Output proposals confirmed on L1");
        describe_gauge!(Self::PROPOSED_BLOCK, "L2 block of the last confirmed proposal");
        describe_gauge!(Self::NEXT_BLOCK, "L2 block the L2OutputOracle expects next");
        describe_gauge!(Self::HEAD_BLOCK, "L2 head that bounds proposals");
        describe_counter!(Self::TXS_SENT, "Proposal transactions sent, by kind");
        describe_counter!(Self::FAILURES, "Proposer failures, by kind");
        describe_gauge!(Self::BALANCE, "Proposer account balance in wei");
    }
}

/// What one [`OutputProposer::tick`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tick {
    /// Nothing to propose: the block the oracle expects next is not final yet (or not older
    /// than the L1 head).
    NotDue {
        /// The block the oracle expects next.
        next: u64,
        /// The head that bounds proposals, if the node has one.
        head: Option<u64>,
    },
    /// A proposal transaction was sent (new, or a replacement at higher fees).
    Sent {
        /// The L2 block proposed.
        l2_block: u64,
        /// The transaction.
        tx: B256,
    },
    /// A proposal is in flight and was left as it is.
    Waiting {
        /// The L2 block proposed.
        l2_block: u64,
    },
    /// A proposal was mined.
    Proposed {
        /// The L2 block proposed.
        l2_block: u64,
        /// The oracle's index of the new output.
        index: u64,
        /// The transaction.
        tx: B256,
    },
}

/// The proposal in flight.
#[derive(Debug, Clone)]
struct InFlight {
    oracle: Address,
    l2_block: u64,
    calldata: Bytes,
    nonce: u64,
    gas_limit: u64,
    /// The fees last offered at the nonce (or refused there as too low to replace what the
    /// pool holds): a replacement must offer more.
    fees: TxFees,
    /// Every transaction sent for it, oldest first: any of them may be the one L1 mines.
    sent: Vec<B256>,
    since: Instant,
}

/// The proposer; see the crate docs.
#[derive(Debug)]
pub struct OutputProposer<O> {
    config: ProposerConfig,
    l1: DynProvider,
    proposer: Address,
    outputs: O,
    /// The oracle, once known.
    oracle: Option<Address>,
    in_flight: Option<InFlight>,
    /// Whether the oracle was seen to name this key as its proposer.
    authorized: bool,
    failures: u32,
    last_logged: Option<(&'static str, Instant)>,
}

impl<O: L2Outputs> OutputProposer<O> {
    /// A proposer sending from `signer`'s account, reading outputs from `outputs`.
    pub fn new(config: ProposerConfig, signer: PrivateKeySigner, outputs: O) -> Self {
        let proposer = signer.address();
        let l1 = ProviderBuilder::new()
            .wallet(EthereumWallet::from(signer))
            .connect_http(config.l1_rpc.clone())
            .erased();
        Self {
            l1,
            proposer,
            oracle: match config.oracle {
                OracleAddress::At(oracle) => Some(oracle),
                OracleAddress::FromPortal(_) => None,
            },
            config,
            outputs,
            in_flight: None,
            authorized: false,
            failures: 0,
            last_logged: None,
        }
    }

    /// The proposer's L1 address.
    pub const fn address(&self) -> Address {
        self.proposer
    }

    /// Runs until `cancellation` is cancelled. Never fails: trouble is retried with backoff.
    pub async fn run(mut self, cancellation: CancellationToken) {
        info!(target: "proposer", proposer = %self.proposer, oracle = ?self.config.oracle, head = %self.config.head, poll_interval_ms = self.config.poll_interval.as_millis() as u64, "proposer started");
        loop {
            let delay = match self.tick().await {
                Ok(tick) => {
                    if self.failures > 0 {
                        info!(target: "proposer", failures = self.failures, "proposer recovered");
                    }
                    self.failures = 0;
                    self.last_logged = None;
                    match tick {
                        // A confirmed proposal may be followed by one due already.
                        Tick::Proposed { .. } => Duration::ZERO,
                        _ => self.config.poll_interval,
                    }
                }
                Err(err) => self.failed(&err),
            };
            tokio::select! {
                _ = cancellation.cancelled() => break,
                _ = tokio::time::sleep(delay) => {}
            }
        }
        info!(target: "proposer", in_flight = self.in_flight.as_ref().map(|p| p.l2_block), "proposer stopped");
    }

    /// Counts and logs a failed step (once when a kind of trouble starts, then once a minute
    /// while it lasts) and returns the pause before the next.
    fn failed(&mut self, err: &ProposerError) -> Duration {
        self.failures = self.failures.saturating_add(1);
        let kind = err.kind();
        counter!(ProposerMetrics::FAILURES, "kind" => kind).increment(1);
        let factor = 1u32.checked_shl(self.failures.min(6)).unwrap_or(64);
        let delay = self.config.poll_interval.saturating_mul(factor).min(MAX_BACKOFF);
        let now = Instant::now();
        let logged_recently = self.last_logged.is_some_and(|(last, at)| {
            last == kind && now.duration_since(at) < FAILURE_LOG_INTERVAL
        });
        if logged_recently {
            debug!(target: "proposer", %err, kind, failures = self.failures, "proposer step failed; retrying");
        } else {
            warn!(target: "proposer", %err, kind, failures = self.failures, retry_in_ms = delay.as_millis() as u64, "proposer step failed; retrying");
            self.last_logged = Some((kind, now));
        }
        delay
    }

    /// One step: follow the proposal in flight, or propose the block the oracle expects next
    /// if it is final.
    pub async fn tick(&mut self) -> ProposerResult<Tick> {
        if let Some(tick) = self.follow_in_flight().await? {
            return Ok(tick);
        }
        let l1_head = self
            .l1
            .get_block_by_number(BlockNumberOrTag::Latest)
            .await
            .map_err(ProposerError::L1)?
            .ok_or_else(|| ProposerError::L1Answer("no latest block".to_owned()))?;
        let oracle = self.oracle().await?;
        let next = self.next_block_number(oracle).await?;
        gauge!(ProposerMetrics::NEXT_BLOCK).set(next as f64);
        let head = self.outputs.head(self.config.head).await.map_err(ProposerError::L2)?;
        if let Some(head) = head {
            gauge!(ProposerMetrics::HEAD_BLOCK).set(head as f64);
        }
        if head.is_none_or(|head| head < next) {
            debug!(target: "proposer", next, head, rule = %self.config.head, "next output not final yet");
            return Ok(Tick::NotDue { next, head });
        }
        let output = self.outputs.output(next).await.map_err(ProposerError::L2)?;
        if output.block.number != next {
            return Err(ProposerError::L2(
                format!(
                    "asked for the output of L2 block {next}, got block {}",
                    output.block.number
                )
                .into(),
            ));
        }
        // The oracle refuses outputs of blocks not strictly older than the block including
        // them; the L1 head's time is a lower bound on that block's.
        if output.timestamp >= l1_head.header.timestamp {
            return Ok(Tick::NotDue { next, head });
        }
        self.check_authorized(oracle).await?;
        // The proposal commits to the L1 chain it was made on (the oracle checks the hash with
        // `blockhash`, so a reorg that drops that block makes it revert). The head's parent:
        // `blockhash` of the block a call executes in is zero, so the head itself would fail the
        // gas estimate run against it.
        let l1_block = match l1_head.header.number {
            0 => BlockNumHash::default(),
            number => BlockNumHash::new(number - 1, l1_head.header.parent_hash),
        };
        self.propose(oracle, output.root, next, l1_block).await
    }

    /// Looks at the proposal in flight: `Some` when it decided this step, `None` when nothing is
    /// in flight (any more).
    async fn follow_in_flight(&mut self) -> ProposerResult<Option<Tick>> {
        let Some(in_flight) = self.in_flight.clone() else { return Ok(None) };
        // The nonce first, the receipts after: a proposal mined between the two reads shows in
        // the receipts (an L1 node may take a transaction before it mines it, as anvil's
        // automine does), so a used nonce without one of our receipts is someone else's.
        let confirmed = self.confirmed_nonce().await?;
        for &tx in in_flight.sent.iter().rev() {
            let Some(receipt) =
                self.l1.get_transaction_receipt(tx).await.map_err(ProposerError::L1)?
            else {
                continue;
            };
            self.in_flight = None;
            if !receipt.status() {
                // Someone else's proposal for this index came first, or the L1 block we
                // committed to was reorged away: the next step reads the oracle again.
                return Err(ProposerError::Reverted { l2_block: in_flight.l2_block, tx });
            }
            let index = receipt
                .inner
                .logs()
                .iter()
                .find_map(|log| log.log_decode::<L2OutputOracle::OutputProposed>().ok())
                .map(|log| log.inner.data.l2OutputIndex.saturating_to::<u64>())
                .ok_or_else(|| {
                    ProposerError::L1Answer(format!(
                        "proposal {tx} was mined without an OutputProposed event"
                    ))
                })?;
            counter!(ProposerMetrics::PROPOSALS).increment(1);
            gauge!(ProposerMetrics::PROPOSED_BLOCK).set(in_flight.l2_block as f64);
            info!(target: "proposer", index, l2_block = in_flight.l2_block, %tx, l1_block = receipt.block_number, transactions = in_flight.sent.len(), "output proposed");
            return Ok(Some(Tick::Proposed { l2_block: in_flight.l2_block, index, tx }));
        }
        if confirmed > in_flight.nonce {
            // The nonce was used by a transaction we hold no receipt for: a copy a previous run
            // sent, or a transaction of someone sharing the key. The oracle tells what landed.
            debug!(target: "proposer", l2_block = in_flight.l2_block, nonce = in_flight.nonce, "proposal nonce used; reading the oracle again");
            self.in_flight = None;
            return Ok(None);
        }
        if in_flight.since.elapsed() < self.config.resubmission_timeout {
            return Ok(Some(Tick::Waiting { l2_block: in_flight.l2_block }));
        }
        let market = self.market_fees().await?;
        match transaction_fees(market, Some(in_flight.fees), self.config.fee_limit_multiplier) {
            Ok(fees) => self.send(in_flight, fees, "replacement").await.map(Some),
            Err(needed) => {
                counter!(ProposerMetrics::FAILURES, "kind" => "fee_limit").increment(1);
                if let Some((name, fee, limit)) =
                    needed.first_above(&market.times(self.config.fee_limit_multiplier.max(1)))
                {
                    debug!(target: "proposer", l2_block = in_flight.l2_block, name, fee, limit, "a replacement would pass the fee limit; the proposal is left as it is");
                }
                Ok(Some(Tick::Waiting { l2_block: in_flight.l2_block }))
            }
        }
    }

    /// Sends the proposal of `l2_block` at the account's confirmed nonce.
    async fn propose(
        &mut self,
        oracle: Address,
        output_root: B256,
        l2_block: u64,
        l1_block: BlockNumHash,
    ) -> ProposerResult<Tick> {
        let calldata: Bytes = L2OutputOracle::proposeL2OutputCall {
            _outputRoot: output_root,
            _l2BlockNumber: U256::from(l2_block),
            _l1BlockHash: l1_block.hash,
            _l1BlockNumber: U256::from(l1_block.number),
        }
        .abi_encode()
        .into();
        let nonce = self.confirmed_nonce().await?;
        let estimate = TransactionRequest::default()
            .with_from(self.proposer)
            .with_to(oracle)
            .with_input(calldata.clone());
        // Against the L1 head, not the pending block: a proposal a previous run left in the
        // pool would make this one look like a duplicate there; the send then finds it.
        let gas = self
            .l1
            .estimate_gas(estimate)
            .block(BlockNumberOrTag::Latest.into())
            .await
            .map_err(|err| ProposerError::Refused { l2_block, reason: err.to_string() })?;
        let gas_limit = gas.saturating_add(gas * GAS_HEADROOM_PERCENT / 100);
        let fees = self.market_fees().await?;
        let in_flight = InFlight {
            oracle,
            l2_block,
            calldata,
            nonce,
            gas_limit,
            fees,
            sent: Vec::new(),
            since: Instant::now(),
        };
        debug!(target: "proposer", l2_block, %output_root, l1_block = l1_block.number, nonce, "proposing output");
        self.send(in_flight, fees, "new").await
    }

    /// Sends `in_flight`'s proposal with `fees` and keeps it in flight.
    async fn send(
        &mut self,
        mut in_flight: InFlight,
        fees: TxFees,
        kind: &'static str,
    ) -> ProposerResult<Tick> {
        let cost = fees.max_cost(in_flight.gas_limit, 0);
        let balance = self.l1.get_balance(self.proposer).await.map_err(ProposerError::L1)?;
        gauge!(ProposerMetrics::BALANCE).set(f64::from(balance));
        if balance < cost {
            return Err(ProposerError::InsufficientFunds {
                account: self.proposer,
                balance,
                needed: cost,
            });
        }
        let tx = TransactionRequest::default()
            .with_to(in_flight.oracle)
            .with_input(in_flight.calldata.clone())
            .with_nonce(in_flight.nonce)
            .with_gas_limit(in_flight.gas_limit)
            .with_max_fee_per_gas(fees.max_fee_per_gas)
            .with_max_priority_fee_per_gas(fees.max_priority_fee_per_gas);
        let l2_block = in_flight.l2_block;
        let sent = self.l1.send_transaction(tx).await;
        in_flight.fees = fees;
        in_flight.since = Instant::now();
        match sent {
            Ok(pending) => {
                let hash = *pending.tx_hash();
                in_flight.sent.push(hash);
                counter!(ProposerMetrics::TXS_SENT, "kind" => kind).increment(1);
                if kind == "replacement" {
                    info!(target: "proposer", l2_block, %hash, nonce = in_flight.nonce, max_fee_per_gas = fees.max_fee_per_gas, "proposal unmined; replaced at higher fees");
                }
                self.in_flight = Some(in_flight);
                Ok(Tick::Sent { l2_block, tx: hash })
            }
            Err(err) => {
                let message = err.to_string().to_lowercase();
                if ["underpriced", "already known", "already imported"]
                    .iter()
                    .any(|known| message.contains(known))
                {
                    // The pool holds a transaction at this nonce: a previous run's proposal
                    // (it is the only one sent at the confirmed nonce). It is waited for like
                    // our own; a replacement must offer more than this did.
                    debug!(target: "proposer", l2_block, nonce = in_flight.nonce, "a transaction at the proposal's nonce is pending; waiting for it");
                    self.in_flight = Some(in_flight);
                    return Ok(Tick::Waiting { l2_block });
                }
                Err(ProposerError::Send(err))
            }
        }
    }

    /// Checks, once per run, that the oracle takes proposals from this key, so that a wrong key
    /// is one clear error instead of a failed gas estimate.
    async fn check_authorized(&mut self, oracle: Address) -> ProposerResult<()> {
        if self.authorized {
            return Ok(());
        }
        let expected: Address = self.view(oracle, L2OutputOracle::proposerCall {}).await?;
        if expected != self.proposer {
            return Err(ProposerError::NotProposer { oracle, expected, ours: self.proposer });
        }
        self.authorized = true;
        Ok(())
    }

    /// The oracle: configured, or read from the portal once.
    async fn oracle(&mut self) -> ProposerResult<Address> {
        if let Some(oracle) = self.oracle {
            return Ok(oracle);
        }
        let portal = match self.config.oracle {
            OracleAddress::At(oracle) => return Ok(oracle),
            OracleAddress::FromPortal(portal) => portal,
        };
        let oracle: Address = self.view(portal, OptimismPortal::l2OracleCall {}).await?;
        if oracle.is_zero() {
            return Err(ProposerError::L1Answer(format!(
                "the OptimismPortal {portal} names no L2OutputOracle"
            )));
        }
        info!(target: "proposer", %portal, %oracle, "L2OutputOracle read from the OptimismPortal");
        self.oracle = Some(oracle);
        Ok(oracle)
    }

    /// The L2 block the oracle expects next, at the L1 head.
    async fn next_block_number(&self, oracle: Address) -> ProposerResult<u64> {
        let next: U256 = self.view(oracle, L2OutputOracle::nextBlockNumberCall {}).await?;
        u64::try_from(next)
            .map_err(|_| ProposerError::L1Answer(format!("nextBlockNumber() = {next}")))
    }

    /// Calls a view function of the L1 contract at `to`, at the L1 head.
    async fn view<C: SolCall>(&self, to: Address, call: C) -> ProposerResult<C::Return> {
        bindings::view(&self.l1, to, call)
            .await
            .map_err(|err| ProposerError::L1Answer(err.to_string()))
    }

    /// The account's nonce at the L1 head: the one its next mined transaction takes.
    async fn confirmed_nonce(&self) -> ProposerResult<u64> {
        self.l1
            .get_transaction_count(self.proposer)
            .block_id(BlockNumberOrTag::Latest.into())
            .await
            .map_err(ProposerError::L1)
    }

    /// The fees the market asks now.
    async fn market_fees(&self) -> ProposerResult<TxFees> {
        let fees = self.l1.estimate_eip1559_fees().await.map_err(ProposerError::L1)?;
        Ok(TxFees {
            max_fee_per_gas: fees.max_fee_per_gas,
            max_priority_fee_per_gas: fees.max_priority_fee_per_gas,
            max_fee_per_blob_gas: None,
        })
    }
}
