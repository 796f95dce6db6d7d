use crate::NodeError;
use alloy_consensus::{Transaction, TxEnvelope, transaction::SignerRecoverable};
use alloy_eips::eip2718::Decodable2718;
use alloy_primitives::{Address, B256, Bytes};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

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

/// The sequencer's mempool (see the crate docs).
#[derive(Debug)]
pub struct Mempool {
    chain_id: u64,
    capacity: usize,
    senders: HashMap<Address, SenderState>,
    hashes: HashMap<B256, (Address, u64)>,
    seq: u64,
}

impl Mempool {
    /// An empty mempool for `chain_id` holding at most `capacity` transactions.
    pub fn new(chain_id: u64, capacity: usize) -> Self {
        Self { chain_id, capacity, senders: HashMap::new(), hashes: HashMap::new(), seq: 0 }
    }

    /// Stateless checks: EIP-2718 decoding, signature, chain id, no blob transactions.
    pub fn decode(chain_id: u64, raw: &[u8]) -> Result<(TxEnvelope, Address), NodeError> {
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

    /// Adds a decoded transaction. `state_nonce` is the sender's executed nonce if known
    /// (from reth's `eth_getTransactionCount`); without it the lowest pooled nonce starts the run.
    pub fn insert(
        &mut self,
        raw: Bytes,
        tx: &TxEnvelope,
        sender: Address,
        state_nonce: Option<u64>,
    ) -> Result<InsertOutcome, NodeError> {
        let hash = *tx.tx_hash();
        if self.hashes.contains_key(&hash) {
            return Err(NodeError::AlreadyKnown);
        }
        if self.hashes.len() >= self.capacity {
            return Err(NodeError::MempoolFull(self.capacity));
        }
        let nonce = tx.nonce();
        let entry = self.senders.entry(sender).or_default();
        if entry.base.is_none() {
            entry.base = state_nonce;
        }
        if let Some(base) = entry.base
            && nonce < base
        {
            return Err(NodeError::NonceTooLow { sender, expected: base, got: nonce });
        }
        if entry.txs.contains_key(&nonce) {
            return Err(NodeError::Replacement { sender, nonce });
        }
        self.seq += 1;
        entry.txs.insert(
            nonce,
            PooledTx { hash, sender, nonce, raw, seq: self.seq, forwarded_at: None },
        );
        self.hashes.insert(hash, (sender, nonce));
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

    /// Records that `hashes` were forwarded to reth while the head was at `height`.
    pub fn mark_forwarded(&mut self, sender_nonces: &[(Address, u64)], height: u64) {
        for (sender, nonce) in sender_nonces {
            if let Some(tx) = self.senders.get_mut(sender).and_then(|s| s.txs.get_mut(nonce)) {
                tx.forwarded_at = Some(height);
            }
        }
    }

    /// Drops a transaction reth refused.
    pub fn remove(&mut self, sender: &Address, nonce: u64) {
        if let Some(s) = self.senders.get_mut(sender)
            && let Some(tx) = s.txs.remove(&nonce)
        {
            self.hashes.remove(&tx.hash);
        }
    }

    /// Applies an executed block: each sender's executed nonce moves past its included
    /// transactions, which leave the pool. Returns how many included transactions were ours.
    pub fn on_included(&mut self, included: &[(Address, u64)]) -> usize {
        let mut ours = 0;
        for (sender, nonce) in included {
            let s = self.senders.entry(*sender).or_default();
            s.base = Some(s.base.map_or(nonce + 1, |b| b.max(nonce + 1)));
            if let Some(tx) = s.txs.remove(nonce) {
                self.hashes.remove(&tx.hash);
                ours += 1;
            }
            let base = s.base.unwrap_or(0);
            let stale: Vec<u64> = s.txs.range(..base).map(|(n, _)| *n).collect();
            for n in stale {
                if let Some(tx) = s.txs.remove(&n) {
                    self.hashes.remove(&tx.hash);
                }
            }
        }
        self.senders.retain(|_, s| !s.txs.is_empty() || s.base.is_some());
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
    use sequencer_testing::{dev_address, transfer};

    const CHAIN: u64 = 7;

    fn add(
        pool: &mut Mempool,
        from: u8,
        nonce: u64,
        state: Option<u64>,
    ) -> Result<InsertOutcome, NodeError> {
        let raw = transfer(from, CHAIN, nonce, dev_address(9), 1);
        let (tx, sender) = Mempool::decode(CHAIN, &raw)?;
        pool.insert(raw, &tx, sender, state)
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
        assert!(matches!(add(&mut pool, 1, 5, None), Err(NodeError::AlreadyKnown)));
        let st = pool.status();
        assert_eq!((st.pending, st.queued), (1, 1));
        assert_eq!(st.gaps[0].next_nonce, 3);
        assert_eq!(pool.ready().iter().map(|t| t.nonce).collect::<Vec<_>>(), vec![2]);
        // Filling the gap makes everything pending, in nonce order.
        add(&mut pool, 1, 4, None).unwrap();
        add(&mut pool, 1, 3, None).unwrap();
        assert_eq!(pool.ready().iter().map(|t| t.nonce).collect::<Vec<_>>(), vec![2, 3, 4, 5]);
        assert!(pool.status().gaps.is_empty());
        // Inclusion of 2 and 3 leaves 4 and 5.
        assert_eq!(pool.on_included(&[(dev_address(1), 2), (dev_address(1), 3)]), 2);
        assert_eq!(pool.ready().iter().map(|t| t.nonce).collect::<Vec<_>>(), vec![4, 5]);
        assert_eq!(pool.len(), 2);
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
}
