//! The sequencer's mempool, with the rules that keep one sender from owning it (in the spirit of
//! reth's pool): at most `max_per_sender` transactions per sender, nonces at most
//! `max_nonce_gap` past the sender's next one, replacement of a pending nonce only with both
//! fees bumped by `price_bump_percent`, a lifetime after which a transaction that never made it
//! into a block is evicted, and, when full, queued (gapped) transactions evicted before a
//! pending one is refused. With the sender's balance at the chain's latest state (looked up by
//! the RPC, see [`crate::rpc`]), a sender's pooled transactions together may not cost more than
//! it holds: keys without funds cannot take the slots. Every transaction that leaves without being included is recorded with
//! its [`EvictionReason`]; `sequencer_transactionStatus` answers with it.

use crate::{NodeError, metrics as m};
use alloy_consensus::{Transaction, TxEnvelope, transaction::SignerRecoverable};
use alloy_eips::eip2718::Decodable2718;
use alloy_primitives::{Address, B256, Bytes, U256};
use serde::{Deserialize, Serialize};
use std::{
    collections::{BTreeMap, HashMap, VecDeque},
    time::{Duration, Instant},
};

/// How many evictions are remembered for `sequencer_transactionStatus`.
const EVICTIONS_KEPT: usize = 4096;
/// How many of them `sequencer_mempoolStatus` lists.
const EVICTIONS_LISTED: usize = 64;

/// The mempool's limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MempoolLimits {
    /// Transactions held in all.
    pub capacity: usize,
    /// Transactions held per sender (reth's `max_account_slots` is 16; sequencer users batch).
    pub max_per_sender: usize,
    /// Largest accepted distance between a transaction's nonce and its sender's next nonce.
    pub max_nonce_gap: u64,
    /// A transaction not included within this time is evicted (reth: 3 h for queued ones).
    pub lifetime: Duration,
    /// A replacement must raise both fees by at least this percentage (reth: 10).
    pub price_bump_percent: u128,
}

impl Default for MempoolLimits {
    fn default() -> Self {
        Self {
            capacity: 100_000,
            max_per_sender: 64,
            max_nonce_gap: 64,
            lifetime: Duration::from_secs(3 * 3600),
            price_bump_percent: 10,
        }
    }
}

/// Why a transaction left the mempool without being included.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "reason")]
pub enum EvictionReason {
    /// Replaced by a transaction with the same sender and nonce and higher fees.
    Replaced {
        /// The replacement.
        by: B256,
    },
    /// Not included within the mempool's lifetime.
    Expired,
    /// A queued transaction pushed out to make room in a full mempool.
    PoolFull,
    /// Its nonce was used by another transaction that was included.
    NonceUsed,
    /// The execution client refused it for good (e.g. intrinsic gas too low).
    Rejected {
        /// The execution client's message.
        message: String,
    },
}

impl EvictionReason {
    /// Label for metrics.
    pub const fn label(&self) -> &'static str {
        match self {
            Self::Replaced { .. } => "replaced",
            Self::Expired => "expired",
            Self::PoolFull => "pool_full",
            Self::NonceUsed => "nonce_used",
            Self::Rejected { .. } => "rejected",
        }
    }
}

/// A transaction that left the mempool without being included.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Eviction {
    /// Transaction hash.
    pub hash: B256,
    /// Sender.
    pub sender: Address,
    /// Nonce.
    pub nonce: u64,
    /// Why.
    #[serde(flatten)]
    pub reason: EvictionReason,
}

/// What the mempool knows of a transaction hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "status")]
pub enum TxLookup {
    /// Held and includable.
    Pending,
    /// Held behind a nonce gap.
    Queued,
    /// Evicted (recently), with the reason.
    Evicted(Eviction),
    /// Not held and not recently evicted: included, or never seen.
    Unknown,
}

/// A transaction in the mempool.
#[derive(Debug, Clone)]
pub struct PooledTx {
    /// Hash.
    pub hash: B256,
    /// Recovered sender.
    pub sender: Address,
    /// Nonce.
    pub nonce: u64,
    /// EIP-2718 bytes.
    pub raw: Bytes,
    /// Arrival order.
    pub seq: u64,
    /// Head height when last forwarded to reth.
    pub forwarded_at: Option<u64>,
    /// Head height when reth last refused it for now (underpriced, no funds yet, pool full).
    pub refused_at: Option<u64>,
    /// Refusals for now in a row: each doubles the blocks before the next try.
    pub refusals: u32,
    /// Max fee per gas (the gas price of a legacy transaction).
    pub max_fee_per_gas: u128,
    /// Max priority fee per gas (the gas price of a legacy transaction).
    pub max_priority_fee_per_gas: u128,
    /// The most it can take from its sender's balance ([`max_cost`]).
    pub cost: U256,
    /// When it was accepted.
    pub accepted_at: Instant,
}

/// Largest transaction the mempool takes, encoded: geth's and reth's pool limit (128 KiB), so
/// that nothing is accepted here that reth's pool would refuse, and one transaction cannot fill
/// a DA blob.
pub const MAX_TX_BYTES: usize = 128 * 1024;

/// The most `tx` can take from its sender's balance: gas limit x max fee per gas + value, plus
/// blob gas x max fee per blob gas for a blob transaction (geth's and reth's `cost`). Saturating:
/// absurd fees make the cost huge (and the transaction refused), never wrap it small.
pub fn max_cost(tx: &TxEnvelope) -> U256 {
    let gas = U256::from(tx.gas_limit()).saturating_mul(U256::from(tx.max_fee_per_gas()));
    let blob = match (tx.blob_gas_used(), tx.max_fee_per_blob_gas()) {
        (Some(gas), Some(fee)) => U256::from(gas).saturating_mul(U256::from(fee)),
        _ => U256::ZERO,
    };
    gas.saturating_add(tx.value()).saturating_add(blob)
}

/// Longest pause, in blocks, between two tries of a transaction reth keeps refusing for now.
pub(crate) const MAX_REFUSAL_BACKOFF_BLOCKS: u64 = 64;

impl PooledTx {
    /// Whether it is due to go to reth's pool at head `head`: never sent; sent `reforward_after`
    /// blocks ago and still here (reth may have dropped it); or refused for now and its backoff
    /// (1, 2, 4 … up to `MAX_REFUSAL_BACKOFF_BLOCKS` (64) blocks) has passed.
    pub fn forward_due(&self, head: u64, reforward_after: u64) -> bool {
        if let Some(refused_at) = self.refused_at {
            let shift = self.refusals.saturating_sub(1).min(6);
            let backoff = (1u64 << shift).min(MAX_REFUSAL_BACKOFF_BLOCKS);
            return head >= refused_at.saturating_add(backoff);
        }
        self.forwarded_at.is_none_or(|at| head >= at.saturating_add(reforward_after))
    }
}

/// Whether an accepted transaction can be included now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum TxStatus {
    /// Its nonce follows the sender's executed nonce and pending transactions.
    Pending,
    /// A nonce gap precedes it; it waits for the missing nonces.
    Queued,
}

/// What `insert` did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InsertOutcome {
    /// Transaction hash.
    pub hash: B256,
    /// Sender.
    pub sender: Address,
    /// Nonce.
    pub nonce: u64,
    /// Pending or queued behind a gap.
    pub status: TxStatus,
    /// The nonce the sender needs next (executed nonce plus contiguous pending ones).
    pub next_nonce: u64,
    /// Nonces missing below this transaction, if any.
    pub missing_nonces: Vec<u64>,
}

/// A sender with a nonce gap.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SenderGap {
    /// Sender.
    pub sender: Address,
    /// Nonce it needs next.
    pub next_nonce: u64,
    /// Nonces waiting behind the gap.
    pub queued_nonces: Vec<u64>,
}

/// Mempool summary.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MempoolStatus {
    /// Includable transactions.
    pub pending: usize,
    /// Transactions behind a nonce gap.
    pub queued: usize,
    /// Senders with gaps.
    pub gaps: Vec<SenderGap>,
    /// The most recent evictions, newest first.
    pub recent_evictions: Vec<Eviction>,
}

#[derive(Debug, Default)]
struct SenderState {
    /// Executed nonce (next nonce the chain expects), when known.
    base: Option<u64>,
    txs: BTreeMap<u64, PooledTx>,
}

impl SenderState {
    /// Start of the includable run: the executed nonce, or (unknown) the lowest pooled nonce.
    fn start(&self) -> Option<u64> {
        self.base.or_else(|| self.txs.keys().next().copied())
    }

    fn next_nonce(&self) -> u64 {
        let Some(mut n) = self.start() else { return 0 };
        while self.txs.contains_key(&n) {
            n += 1;
        }
        n
    }
}

/// The sequencer's mempool (see the module docs).
#[derive(Debug)]
pub struct Mempool {
    chain_id: u64,
    limits: MempoolLimits,
    senders: HashMap<Address, SenderState>,
    hashes: HashMap<B256, (Address, u64)>,
    seq: u64,
    evictions: VecDeque<Eviction>,
    evicted: HashMap<B256, Eviction>,
}

impl Mempool {
    /// An empty mempool for `chain_id` holding at most `capacity` transactions, with the
    /// default per-sender limits.
    pub fn new(chain_id: u64, capacity: usize) -> Self {
        Self::with_limits(chain_id, MempoolLimits { capacity, ..Default::default() })
    }

    /// An empty mempool for `chain_id` with `limits`.
    pub fn with_limits(chain_id: u64, limits: MempoolLimits) -> Self {
        Self {
            chain_id,
            limits,
            senders: HashMap::new(),
            hashes: HashMap::new(),
            seq: 0,
            evictions: VecDeque::new(),
            evicted: HashMap::new(),
        }
    }

    /// Stateless checks: EIP-2718 decoding, signature, chain id, no blob transactions.
    pub fn decode(chain_id: u64, raw: &[u8]) -> Result<(TxEnvelope, Address), NodeError> {
        // Before any decoding or signature recovery: the size is what a flood pays for.
        if raw.len() > MAX_TX_BYTES {
            return Err(NodeError::TooLarge { size: raw.len(), max: MAX_TX_BYTES });
        }
        let mut buf = raw;
        let tx = TxEnvelope::decode_2718(&mut buf).map_err(|e| NodeError::Decode(e.to_string()))?;
        if !buf.is_empty() {
            return Err(NodeError::Decode(format!("{} trailing bytes", buf.len())));
        }
        if tx.is_eip4844() {
            return Err(NodeError::BlobTransaction);
        }
        if tx.chain_id() != Some(chain_id) {
            return Err(NodeError::ChainId { got: tx.chain_id(), expected: chain_id });
        }
        let sender = tx.recover_signer().map_err(|e| NodeError::Signature(e.to_string()))?;
        Ok((tx, sender))
    }

    /// Whether the executed nonce of `sender` is known.
    pub fn knows_sender(&self, sender: &Address) -> bool {
        self.senders.get(sender).is_some_and(|s| s.base.is_some())
    }

    /// Adds a decoded transaction accepted at `now`. `state_nonce` is the sender's executed
    /// nonce if known (from reth's `eth_getTransactionCount`); without it the lowest pooled nonce
    /// starts the run. `balance` is the sender's balance at the latest state if known (from
    /// `eth_getBalance`): then the [`max_cost`] of all its pooled transactions with this one
    /// (replacing the one with the same nonce) must not exceed it. All of them, not only those
    /// below this nonce: otherwise nonces sent in descending order would each pass alone and
    /// together pool many times the balance.
    pub fn insert(
        &mut self,
        raw: Bytes,
        tx: &TxEnvelope,
        sender: Address,
        state_nonce: Option<u64>,
        balance: Option<U256>,
        now: Instant,
    ) -> Result<InsertOutcome, NodeError> {
        let hash = *tx.tx_hash();
        if self.hashes.contains_key(&hash) {
            return Err(NodeError::AlreadyKnown);
        }
        let nonce = tx.nonce();
        let limits = self.limits;
        let entry = self.senders.entry(sender).or_default();
        if entry.base.is_none() {
            entry.base = state_nonce;
        }
        if let Some(base) = entry.base
            && nonce < base
        {
            return Err(NodeError::NonceTooLow { sender, expected: base, got: nonce });
        }
        let fees =
            (tx.max_fee_per_gas(), tx.max_priority_fee_per_gas().unwrap_or(tx.max_fee_per_gas()));
        let replaced = match entry.txs.get(&nonce) {
            Some(old) => {
                let bumped =
                    |fee: u128| fee.saturating_mul(100 + limits.price_bump_percent).div_ceil(100);
                let (min_fee, min_tip) =
                    (bumped(old.max_fee_per_gas), bumped(old.max_priority_fee_per_gas));
                if fees.0 < min_fee || fees.1 < min_tip {
                    return Err(NodeError::ReplacementUnderpriced {
                        sender,
                        nonce,
                        min_max_fee_per_gas: min_fee,
                        min_max_priority_fee_per_gas: min_tip,
                    });
                }
                Some(old.hash)
            }
            None => {
                if entry.txs.len() >= limits.max_per_sender {
                    return Err(NodeError::SenderLimit { sender, limit: limits.max_per_sender });
                }
                let next = entry.next_nonce();
                if nonce > next.saturating_add(limits.max_nonce_gap) {
                    return Err(NodeError::NonceGapTooLarge {
                        sender,
                        next,
                        got: nonce,
                        max_gap: limits.max_nonce_gap,
                    });
                }
                None
            }
        };
        let cost = max_cost(tx);
        if let Some(balance) = balance {
            let total = entry
                .txs
                .values()
                .filter(|t| t.nonce != nonce)
                .fold(cost, |sum, t| sum.saturating_add(t.cost));
            if total > balance {
                return Err(NodeError::InsufficientFunds { sender, balance, cost: total });
            }
        }
        let gapped = entry.start().is_some_and(|start| nonce > entry.next_nonce().max(start));
        if replaced.is_none() && self.hashes.len() >= limits.capacity {
            // Full: a queued transaction makes room for an includable one; otherwise refuse.
            let victim = (!gapped).then(|| self.oldest_queued()).flatten();
            let Some((victim_sender, victim_nonce)) = victim else {
                return Err(NodeError::MempoolFull(limits.capacity));
            };
            self.evict(&victim_sender, victim_nonce, EvictionReason::PoolFull);
        }
        if let Some(old) = replaced {
            self.evict(&sender, nonce, EvictionReason::Replaced { by: hash });
            tracing::info!(target: "sequencer::mempool", %sender, nonce, replaced = %old, by = %hash, "transaction replaced");
        }
        self.seq += 1;
        let entry = self.senders.entry(sender).or_default();
        entry.txs.insert(
            nonce,
            PooledTx {
                hash,
                sender,
                nonce,
                raw,
                seq: self.seq,
                forwarded_at: None,
                refused_at: None,
                refusals: 0,
                max_fee_per_gas: fees.0,
                max_priority_fee_per_gas: fees.1,
                cost,
                accepted_at: now,
            },
        );
        self.hashes.insert(hash, (sender, nonce));
        self.evicted.remove(&hash);
        let entry = self.senders.entry(sender).or_default();
        let next_nonce = entry.next_nonce();
        let start = entry.start().unwrap_or(nonce);
        let missing: Vec<u64> = (start..nonce).filter(|n| !entry.txs.contains_key(n)).collect();
        let status = if missing.is_empty() { TxStatus::Pending } else { TxStatus::Queued };
        Ok(InsertOutcome { hash, sender, nonce, status, next_nonce, missing_nonces: missing })
    }

    /// Includable transactions: per sender the contiguous run from the executed nonce, merged
    /// across senders in arrival order (a sender's nonces stay in order).
    pub fn ready(&self) -> Vec<PooledTx> {
        let mut out: Vec<PooledTx> = Vec::new();
        for s in self.senders.values() {
            let Some(mut n) = s.start() else { continue };
            while let Some(tx) = s.txs.get(&n) {
                out.push(tx.clone());
                n += 1;
            }
        }
        out.sort_by_key(|t| (t.seq, t.nonce));
        // Arrival order can put a later nonce first (sent out of order); restore nonce order
        // per sender by assigning each sender's nonces to that sender's slots in sequence.
        let mut per_sender: HashMap<Address, Vec<PooledTx>> = HashMap::new();
        for t in &out {
            per_sender.entry(t.sender).or_default().push(t.clone());
        }
        for v in per_sender.values_mut() {
            v.sort_by_key(|t| std::cmp::Reverse(t.nonce));
        }
        out.iter().filter_map(|t| per_sender.get_mut(&t.sender).and_then(Vec::pop)).collect()
    }

    /// Every pooled transaction `keep` selects, also those behind a nonce gap, per sender in
    /// nonce order: what a validator of a set forwards, because the missing nonces may sit in
    /// another validator's mempool and meet these in the reths' pools. Only the selected ones are
    /// copied (this runs every 100 ms over a pool of up to its capacity).
    pub fn all_where(&self, keep: impl Fn(&PooledTx) -> bool) -> Vec<PooledTx> {
        self.senders.values().flat_map(|s| s.txs.values()).filter(|t| keep(t)).cloned().collect()
    }

    /// Records that `hashes` were forwarded to reth while the head was at `height`.
    pub fn mark_forwarded(&mut self, sender_nonces: &[(Address, u64)], height: u64) {
        for (sender, nonce) in sender_nonces {
            if let Some(tx) = self.senders.get_mut(sender).and_then(|s| s.txs.get_mut(nonce)) {
                tx.forwarded_at = Some(height);
                tx.refused_at = None;
                tx.refusals = 0;
            }
        }
    }

    /// Claims these transactions for a forwarding about to send them at head `height`: they are
    /// not due again (a second forwarding running at the same time leaves them), and a refusal
    /// in a row still counts as one more (unlike [`Self::mark_forwarded`]).
    pub fn mark_in_flight(&mut self, sender_nonces: &[(Address, u64)], height: u64) {
        for (sender, nonce) in sender_nonces {
            if let Some(tx) = self.senders.get_mut(sender).and_then(|s| s.txs.get_mut(nonce)) {
                tx.forwarded_at = Some(height);
                tx.refused_at = None;
            }
        }
    }

    /// Notes that these transactions did not reach reth (no answer): due again at once.
    pub fn mark_unsent(&mut self, sender_nonces: &[(Address, u64)]) {
        for (sender, nonce) in sender_nonces {
            if let Some(tx) = self.senders.get_mut(sender).and_then(|s| s.txs.get_mut(nonce)) {
                tx.forwarded_at = None;
            }
        }
    }

    /// Notes that reth refused these transactions for now at head `height`: each is tried
    /// again only after a backoff that doubles with every refusal in a row (see
    /// [`PooledTx::forward_due`]), not on every forwarding tick.
    pub fn mark_refused(&mut self, sender_nonces: &[(Address, u64)], height: u64) {
        for (sender, nonce) in sender_nonces {
            if let Some(tx) = self.senders.get_mut(sender).and_then(|s| s.txs.get_mut(nonce)) {
                tx.refused_at = Some(height);
                tx.refusals = tx.refusals.saturating_add(1);
            }
        }
    }

    /// Evicts a transaction, recording why. Returns whether it was held.
    pub fn evict(&mut self, sender: &Address, nonce: u64, reason: EvictionReason) -> bool {
        let Some(state) = self.senders.get_mut(sender) else { return false };
        let Some(tx) = state.txs.remove(&nonce) else { return false };
        if state.txs.is_empty() {
            self.senders.remove(sender);
        }
        self.hashes.remove(&tx.hash);
        metrics::counter!(m::MEMPOOL_EVICTIONS, "reason" => reason.label()).increment(1);
        tracing::info!(target: "sequencer::mempool", hash = %tx.hash, %sender, nonce, reason = reason.label(), "transaction evicted");
        let eviction = Eviction { hash: tx.hash, sender: *sender, nonce, reason };
        self.evicted.insert(tx.hash, eviction.clone());
        self.evictions.push_front(eviction);
        if self.evictions.len() > EVICTIONS_KEPT
            && let Some(old) = self.evictions.pop_back()
        {
            self.evicted.remove(&old.hash);
        }
        true
    }

    /// Evicts every transaction accepted more than the lifetime before `now`. Returns how many.
    pub fn evict_expired(&mut self, now: Instant) -> usize {
        let lifetime = self.limits.lifetime;
        let expired: Vec<(Address, u64)> = self
            .senders
            .values()
            .flat_map(|s| s.txs.values())
            .filter(|tx| now.saturating_duration_since(tx.accepted_at) > lifetime)
            .map(|tx| (tx.sender, tx.nonce))
            .collect();
        for (sender, nonce) in &expired {
            self.evict(sender, *nonce, EvictionReason::Expired);
        }
        expired.len()
    }

    /// The queued (gapped) transaction accepted first, if any.
    fn oldest_queued(&self) -> Option<(Address, u64)> {
        self.senders
            .values()
            .flat_map(|s| s.txs.range(s.next_nonce()..).map(|(_, tx)| tx))
            .min_by_key(|tx| tx.seq)
            .map(|tx| (tx.sender, tx.nonce))
    }

    /// What the mempool knows of `hash`.
    pub fn lookup(&self, hash: &B256) -> TxLookup {
        if let Some((sender, nonce)) = self.hashes.get(hash) {
            let next = self.senders.get(sender).map_or(0, SenderState::next_nonce);
            return if *nonce < next { TxLookup::Pending } else { TxLookup::Queued };
        }
        self.evicted.get(hash).cloned().map_or(TxLookup::Unknown, TxLookup::Evicted)
    }

    /// Applies an executed block of `included` `(hash, sender, nonce)`: each sender's executed
    /// nonce moves past its included transactions, which leave the pool; a pooled transaction
    /// whose nonce another included transaction used is evicted (`NonceUsed`). Returns how many
    /// included transactions were ours. A sender without transactions is forgotten: its nonce is
    /// asked of the execution client again when it sends the next one.
    pub fn on_included(&mut self, included: &[(B256, Address, u64)]) -> usize {
        let mut ours = 0;
        for (hash, sender, nonce) in included {
            let Some(state) = self.senders.get_mut(sender) else { continue };
            state.base = Some(state.base.map_or(nonce + 1, |b| b.max(nonce + 1)));
            if state.txs.get(nonce).is_some_and(|tx| tx.hash == *hash)
                && let Some(tx) = state.txs.remove(nonce)
            {
                self.hashes.remove(&tx.hash);
                ours += 1;
            }
            let base = state.base.unwrap_or(0);
            let stale: Vec<u64> = state.txs.range(..base).map(|(n, _)| *n).collect();
            for n in stale {
                self.evict(sender, n, EvictionReason::NonceUsed);
            }
        }
        self.senders.retain(|_, s| !s.txs.is_empty());
        ours
    }

    /// Sender and nonce of a pooled transaction.
    pub fn get(&self, hash: &B256) -> Option<(Address, u64)> {
        self.hashes.get(hash).copied()
    }

    /// Number of transactions held.
    pub fn len(&self) -> usize {
        self.hashes.len()
    }

    /// Whether empty.
    pub fn is_empty(&self) -> bool {
        self.hashes.is_empty()
    }

    /// Pending / queued counts and the senders with gaps.
    pub fn status(&self) -> MempoolStatus {
        let mut st = MempoolStatus::default();
        for (sender, s) in &self.senders {
            let next = s.next_nonce();
            let queued: Vec<u64> = s.txs.range(next..).map(|(n, _)| *n).collect();
            st.pending += s.txs.len() - queued.len();
            st.queued += queued.len();
            if !queued.is_empty() {
                st.gaps.push(SenderGap {
                    sender: *sender,
                    next_nonce: next,
                    queued_nonces: queued,
                });
            }
        }
        st.gaps.sort_by_key(|g| g.sender);
        st.recent_evictions = self.evictions.iter().take(EVICTIONS_LISTED).cloned().collect();
        st
    }

    /// The chain id transactions must carry.
    pub const fn chain_id(&self) -> u64 {
        self.chain_id
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sequencer_testing::{dev_address, transfer, transfer_with_fees};

    const CHAIN: u64 = 7;

    fn add_at(
        pool: &mut Mempool,
        raw: Bytes,
        state: Option<u64>,
        now: Instant,
    ) -> Result<InsertOutcome, NodeError> {
        let (tx, sender) = Mempool::decode(CHAIN, &raw)?;
        pool.insert(raw, &tx, sender, state, None, now)
    }

    /// Inserts `raw` with the sender's `balance` known.
    fn add_funded(
        pool: &mut Mempool,
        raw: Bytes,
        balance: U256,
    ) -> Result<InsertOutcome, NodeError> {
        let (tx, sender) = Mempool::decode(CHAIN, &raw)?;
        pool.insert(raw, &tx, sender, Some(0), Some(balance), Instant::now())
    }

    fn add(
        pool: &mut Mempool,
        from: u8,
        nonce: u64,
        state: Option<u64>,
    ) -> Result<InsertOutcome, NodeError> {
        add_at(pool, transfer(from, CHAIN, nonce, dev_address(9), 1), state, Instant::now())
    }

    /// `(hash, sender, nonce)` of pooled transactions, as a block includes them.
    fn included(pool: &Mempool, from: u8, nonces: &[u64]) -> Vec<(B256, Address, u64)> {
        let sender = dev_address(from);
        let hashes: HashMap<(Address, u64), B256> =
            pool.hashes.iter().map(|(hash, key)| (*key, *hash)).collect();
        nonces.iter().map(|n| (hashes[&(sender, *n)], sender, *n)).collect()
    }

    #[test]
    fn a_transaction_refused_for_now_backs_off_by_blocks_not_ticks() {
        let mut pool = Mempool::new(CHAIN, 100);
        add(&mut pool, 1, 0, Some(0)).unwrap();
        let key = [(dev_address(1), 0)];
        let due = |pool: &Mempool, head| pool.all_where(|t| t.forward_due(head, 8)).len() == 1;
        assert!(due(&pool, 10), "never sent: due at once");
        // Refused at 10: the next try waits 1 block, then 2, 4, … up to 64.
        let mut at = 10;
        for backoff in [1, 2, 4, 8, 16, 32, 64, 64, 64] {
            pool.mark_refused(&key, at);
            assert!(!due(&pool, at), "refused at {at}: not again in the same block");
            assert!(!due(&pool, at + backoff - 1), "backoff {backoff} from {at}");
            assert!(due(&pool, at + backoff), "backoff {backoff} from {at}");
            at += backoff;
        }
        // Taken at last: the refusals are forgotten, and the usual re-forward rule applies.
        pool.mark_forwarded(&key, at);
        assert!(!due(&pool, at + 7));
        assert!(due(&pool, at + 8));
        pool.mark_refused(&key, at + 8);
        assert!(due(&pool, at + 9), "a refusal after a success starts the backoff over");
    }

    /// The real path claims a transaction (in flight) before each try: two forwardings at once
    /// never both send it, the refusal backoff still grows, and one that got no answer is due
    /// again at once.
    #[test]
    fn a_claimed_transaction_is_sent_once_and_keeps_its_backoff() {
        let mut pool = Mempool::new(CHAIN, 100);
        add(&mut pool, 1, 0, Some(0)).unwrap();
        let key = [(dev_address(1), 0)];
        let due = |pool: &Mempool, head| pool.all_where(|t| t.forward_due(head, 8)).len() == 1;
        pool.mark_in_flight(&key, 10);
        assert!(!due(&pool, 10), "claimed: a second forwarding leaves it");
        pool.mark_refused(&key, 10);
        assert!(due(&pool, 11), "first refusal: one block");
        pool.mark_in_flight(&key, 11);
        assert!(!due(&pool, 11));
        pool.mark_refused(&key, 11);
        assert!(!due(&pool, 12), "second refusal in a row: two blocks");
        assert!(due(&pool, 13));
        pool.mark_in_flight(&key, 13);
        pool.mark_unsent(&key);
        assert!(due(&pool, 13), "no answer: due again at once");
        pool.mark_in_flight(&key, 13);
        pool.mark_forwarded(&key, 13);
        assert!(!due(&pool, 20) && due(&pool, 21), "taken: re-forwarded after 8 blocks");
    }

    #[test]
    fn decode_checks() {
        assert!(matches!(Mempool::decode(CHAIN, b"\x02garbage"), Err(NodeError::Decode(_))));
        let raw = transfer(1, 8, 0, dev_address(9), 1);
        assert!(matches!(
            Mempool::decode(CHAIN, &raw),
            Err(NodeError::ChainId { got: Some(8), expected: 7 })
        ));
        let mut bad_sig = transfer(1, CHAIN, 0, dev_address(9), 1).to_vec();
        let n = bad_sig.len();
        bad_sig[n - 32..].fill(0xff); // s above the curve order: not a valid signature
        assert!(matches!(Mempool::decode(CHAIN, &bad_sig), Err(NodeError::Signature(_))));
        let (_, sender) =
            Mempool::decode(CHAIN, &transfer(1, CHAIN, 0, dev_address(9), 1)).unwrap();
        assert_eq!(sender, dev_address(1));
        let oversized = vec![0x02; MAX_TX_BYTES + 1];
        assert!(matches!(
            Mempool::decode(CHAIN, &oversized),
            Err(NodeError::TooLarge { size, max: MAX_TX_BYTES }) if size == MAX_TX_BYTES + 1
        ));
    }

    #[test]
    fn nonces_gaps_and_inclusion() {
        let mut pool = Mempool::new(CHAIN, 100);
        // Executed nonce 2: nonce 1 is too low.
        assert!(matches!(
            add(&mut pool, 1, 1, Some(2)),
            Err(NodeError::NonceTooLow { expected: 2, got: 1, .. })
        ));
        let o = add(&mut pool, 1, 2, Some(2)).unwrap();
        assert_eq!((o.status, o.next_nonce), (TxStatus::Pending, 3));
        // Gap: nonce 5 without 3 and 4.
        let o = add(&mut pool, 1, 5, None).unwrap();
        assert_eq!(o.status, TxStatus::Queued);
        assert_eq!(o.missing_nonces, vec![3, 4]);
        assert_eq!(pool.lookup(&o.hash), TxLookup::Queued);
        assert!(matches!(add(&mut pool, 1, 5, None), Err(NodeError::AlreadyKnown)));
        let st = pool.status();
        assert_eq!((st.pending, st.queued), (1, 1));
        assert_eq!(st.gaps[0].next_nonce, 3);
        assert_eq!(pool.ready().iter().map(|t| t.nonce).collect::<Vec<_>>(), vec![2]);
        assert_eq!(pool.all_where(|_| true).len(), pool.len(), "the queued ones too");
        assert!(pool.all_where(|t| t.nonce > 100).is_empty());
        // Filling the gap makes everything pending, in nonce order.
        add(&mut pool, 1, 4, None).unwrap();
        add(&mut pool, 1, 3, None).unwrap();
        assert_eq!(pool.ready().iter().map(|t| t.nonce).collect::<Vec<_>>(), vec![2, 3, 4, 5]);
        assert!(pool.status().gaps.is_empty());
        assert_eq!(pool.lookup(&o.hash), TxLookup::Pending);
        // Inclusion of 2 and 3 leaves 4 and 5.
        let block = included(&pool, 1, &[2, 3]);
        assert_eq!(pool.on_included(&block), 2);
        assert_eq!(pool.ready().iter().map(|t| t.nonce).collect::<Vec<_>>(), vec![4, 5]);
        assert_eq!(pool.len(), 2);
        assert_eq!(pool.lookup(&block[0].0), TxLookup::Unknown, "included: no longer held");
    }

    #[test]
    fn ready_interleaves_senders_by_arrival() {
        let mut pool = Mempool::new(CHAIN, 100);
        add(&mut pool, 1, 0, Some(0)).unwrap();
        add(&mut pool, 2, 0, Some(0)).unwrap();
        add(&mut pool, 1, 1, None).unwrap();
        let order: Vec<_> = pool.ready().iter().map(|t| (t.sender, t.nonce)).collect();
        assert_eq!(order, vec![(dev_address(1), 0), (dev_address(2), 0), (dev_address(1), 1)]);
        assert!(add(&mut pool, 3, 0, None).is_ok());
        let mut small = Mempool::new(CHAIN, 1);
        add(&mut small, 1, 0, None).unwrap();
        assert!(matches!(add(&mut small, 1, 1, None), Err(NodeError::MempoolFull(1))));
    }

    #[test]
    fn a_replacement_must_bump_both_fees() {
        let mut pool = Mempool::new(CHAIN, 100);
        let to = dev_address(9);
        let first = add_at(
            &mut pool,
            transfer_with_fees(1, CHAIN, 0, to, 1, 1_000, 100),
            Some(0),
            Instant::now(),
        )
        .unwrap();
        // +5 % is not enough; +10 % on one fee only is not either.
        for (fee, tip) in [(1_050, 105), (1_100, 100)] {
            let err = add_at(
                &mut pool,
                transfer_with_fees(1, CHAIN, 0, to, 1, fee, tip),
                None,
                Instant::now(),
            )
            .unwrap_err();
            assert!(
                matches!(
                    err,
                    NodeError::ReplacementUnderpriced {
                        min_max_fee_per_gas: 1_100,
                        min_max_priority_fee_per_gas: 110,
                        ..
                    }
                ),
                "{err}"
            );
        }
        let second = add_at(
            &mut pool,
            transfer_with_fees(1, CHAIN, 0, to, 1, 1_100, 110),
            None,
            Instant::now(),
        )
        .unwrap();
        assert_eq!(pool.len(), 1);
        assert_eq!(pool.ready()[0].hash, second.hash);
        let TxLookup::Evicted(eviction) = pool.lookup(&first.hash) else {
            panic!("the replaced transaction is reported: {:?}", pool.lookup(&first.hash))
        };
        assert_eq!(eviction.reason, EvictionReason::Replaced { by: second.hash });
        assert_eq!(pool.status().recent_evictions, vec![eviction]);
    }

    #[test]
    fn one_sender_cannot_fill_the_pool() {
        let limits = MempoolLimits { max_per_sender: 4, max_nonce_gap: 8, ..Default::default() };
        let mut pool = Mempool::with_limits(CHAIN, limits);
        for nonce in 0..4 {
            add(&mut pool, 1, nonce, Some(0)).unwrap();
        }
        assert!(matches!(add(&mut pool, 1, 4, None), Err(NodeError::SenderLimit { limit: 4, .. })));
        // Far-future nonces are refused, near ones queue.
        assert!(matches!(
            add(&mut pool, 2, 9, Some(0)),
            Err(NodeError::NonceGapTooLarge { next: 0, got: 9, max_gap: 8, .. })
        ));
        assert_eq!(add(&mut pool, 2, 8, Some(0)).unwrap().status, TxStatus::Queued);
        // Others still get in.
        assert!(add(&mut pool, 3, 0, Some(0)).is_ok());
    }

    #[test]
    fn a_full_pool_evicts_queued_transactions_for_pending_ones() {
        let mut pool =
            Mempool::with_limits(CHAIN, MempoolLimits { capacity: 3, ..Default::default() });
        add(&mut pool, 1, 0, Some(0)).unwrap();
        let queued = add(&mut pool, 2, 5, Some(0)).unwrap();
        add(&mut pool, 3, 0, Some(0)).unwrap();
        // Full. Another queued transaction is refused; a pending one pushes the queued one out.
        assert!(matches!(add(&mut pool, 4, 3, Some(0)), Err(NodeError::MempoolFull(3))));
        add(&mut pool, 4, 0, Some(0)).unwrap();
        assert_eq!(pool.len(), 3);
        assert!(matches!(
            pool.lookup(&queued.hash),
            TxLookup::Evicted(Eviction { reason: EvictionReason::PoolFull, .. })
        ));
        // Nothing queued left: a full pool of pending transactions refuses.
        assert!(matches!(add(&mut pool, 5, 0, Some(0)), Err(NodeError::MempoolFull(3))));
    }

    #[test]
    fn transactions_expire_and_senders_are_forgotten() {
        let lifetime = Duration::from_secs(60);
        let mut pool =
            Mempool::with_limits(CHAIN, MempoolLimits { lifetime, ..Default::default() });
        let start = Instant::now();
        let old =
            add_at(&mut pool, transfer(1, CHAIN, 0, dev_address(9), 1), Some(0), start).unwrap();
        let later = start + Duration::from_secs(30);
        let young =
            add_at(&mut pool, transfer(2, CHAIN, 0, dev_address(9), 1), Some(0), later).unwrap();
        assert_eq!(pool.evict_expired(start + Duration::from_secs(61)), 1);
        assert!(matches!(
            pool.lookup(&old.hash),
            TxLookup::Evicted(Eviction { reason: EvictionReason::Expired, .. })
        ));
        assert_eq!(pool.lookup(&young.hash), TxLookup::Pending);
        assert!(!pool.knows_sender(&dev_address(1)), "a sender without transactions is dropped");
        // Included: sender 2 is forgotten too; its nonce is asked of reth again next time.
        let block = included(&pool, 2, &[0]);
        pool.on_included(&block);
        assert!(!pool.knows_sender(&dev_address(2)));
        assert!(pool.is_empty());
    }

    #[test]
    fn a_foreign_transaction_using_a_pooled_nonce_evicts_it() {
        let mut pool = Mempool::new(CHAIN, 100);
        let ours = add(&mut pool, 1, 0, Some(0)).unwrap();
        add(&mut pool, 1, 1, None).unwrap();
        // The block holds another transaction of sender 1 with nonce 0 (sent to reth directly).
        assert_eq!(pool.on_included(&[(B256::repeat_byte(0xee), dev_address(1), 0)]), 0);
        assert!(matches!(
            pool.lookup(&ours.hash),
            TxLookup::Evicted(Eviction { reason: EvictionReason::NonceUsed, nonce: 0, .. })
        ));
        assert_eq!(pool.ready().iter().map(|t| t.nonce).collect::<Vec<_>>(), vec![1]);
    }

    #[test]
    fn the_cost_is_gas_times_max_fee_plus_value() {
        let raw = transfer_with_fees(1, CHAIN, 0, dev_address(9), 5, 3_000, 1);
        let (tx, _) = Mempool::decode(CHAIN, &raw).unwrap();
        assert_eq!(max_cost(&tx), U256::from(21_000u64 * 3_000 + 5));
        let raw = transfer_with_fees(1, CHAIN, 0, dev_address(9), 5, u128::MAX, 1);
        let (tx, _) = Mempool::decode(CHAIN, &raw).unwrap();
        assert_eq!(max_cost(&tx), U256::from(21_000u64) * U256::from(u128::MAX) + U256::from(5));
    }

    #[test]
    fn a_sender_pools_no_more_than_its_balance_covers() {
        let mut pool = Mempool::new(CHAIN, 100);
        let to = dev_address(9);
        let tx = |nonce, fee| transfer_with_fees(1, CHAIN, nonce, to, 1, fee, 1);
        let one = U256::from(21_000u64 * 1_000 + 1);
        // Nothing: refused, and nothing pooled.
        let err = add_funded(&mut pool, tx(0, 1_000), U256::ZERO).unwrap_err();
        assert!(
            matches!(err, NodeError::InsufficientFunds { balance, cost, .. } if balance.is_zero() && cost == one),
            "{err}"
        );
        assert!(err.to_string().starts_with("insufficient funds"), "{err}");
        assert!(pool.is_empty());
        // Enough for one and a half: the first in, the second out, whichever nonce comes first.
        let balance = one * U256::from(3) / U256::from(2);
        add_funded(&mut pool, tx(2, 1_000), balance).unwrap();
        let err = add_funded(&mut pool, tx(1, 1_000), balance).unwrap_err();
        assert!(
            matches!(err, NodeError::InsufficientFunds { cost, .. } if cost == one * U256::from(2)),
            "{err}"
        );
        assert_eq!(pool.len(), 1);
        // Another sender is not charged for sender 1's transactions.
        add_funded(&mut pool, transfer_with_fees(2, CHAIN, 0, to, 1, 1_000, 1), one).unwrap();
    }

    #[test]
    fn a_replacement_is_charged_instead_of_the_replaced_transaction() {
        let mut pool = Mempool::new(CHAIN, 100);
        let to = dev_address(9);
        let tx = |nonce, fee: u128| transfer_with_fees(1, CHAIN, nonce, to, 1, fee, fee / 10);
        let cost = |fee: u64| U256::from(21_000 * fee + 1);
        // Room for the first transaction and a 10 % dearer replacement, not for both at once.
        let balance = cost(1_150);
        add_funded(&mut pool, tx(0, 1_000), balance).unwrap();
        let replacement = add_funded(&mut pool, tx(0, 1_100), balance).unwrap();
        assert_eq!(pool.len(), 1);
        assert_eq!(pool.ready()[0].hash, replacement.hash);
        // A replacement dearer than the balance is refused; the pooled one stays.
        let err = add_funded(&mut pool, tx(0, 1_300), balance).unwrap_err();
        assert!(
            matches!(err, NodeError::InsufficientFunds { cost: c, .. } if c == cost(1_300)),
            "{err}"
        );
        assert_eq!(pool.ready()[0].hash, replacement.hash);
        // The next nonce is charged on top of the pooled one.
        let err = add_funded(&mut pool, tx(1, 1_000), balance).unwrap_err();
        assert!(
            matches!(err, NodeError::InsufficientFunds { cost: c, .. } if c == cost(1_100) + cost(1_000)),
            "{err}"
        );
    }
}
