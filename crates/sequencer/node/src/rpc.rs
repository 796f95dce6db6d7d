//! JSON-RPC: `eth_sendRawTransaction`, `eth_chainId`, and `sequencer_*` status methods.
//!
//! With `execution.rpc_url` (reth's public RPC) a transaction is admitted only if the chain's
//! latest state can pay for it: its max fee per gas at least the latest block's base fee, and its
//! sender's balance covering all its pooled transactions ([`Mempool::insert`]). Otherwise keys
//! holding nothing could fill the mempool's slots. What reth says is kept per SOFT head, for a
//! bounded number of senders: one look-up per sender and block, not per transaction.

use crate::{
    InsertOutcome, Mempool, MempoolStatus, NodeError, PendingDa, SequencerStatus, StatusHandle,
    TxLookup,
};
use alloy_consensus::{Transaction, TxEnvelope};
use alloy_primitives::{Address, B256, Bytes, U64, U256};
use alloy_rpc_client::RpcClient;
use jsonrpsee::{
    core::{RpcResult, async_trait},
    proc_macros::rpc,
    types::{ErrorObject, ErrorObjectOwned},
};
use parking_lot::Mutex;
use sequencer_engine::BlockRef;
use serde::Deserialize;
use std::{collections::HashMap, sync::Arc};

/// Most senders whose balance and nonce are kept for one head. The keys are addresses anyone can
/// make up: past this many, senders are still looked up for each transaction but not kept, until
/// the next head empties the cache.
pub const MAX_CACHED_ACCOUNTS: usize = 16_384;
/// How long a state look-up may take before the transaction is refused: a reth RPC that hangs
/// must not hang the sender's `eth_sendRawTransaction` with it.
const STATE_LOOKUP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// The sequencer's RPC API.
#[rpc(server)]
pub trait SequencerApi {
    /// Standard: accepts a signed EIP-2718 transaction, returns its hash. Nonce gaps are
    /// accepted (the transaction waits) and reported by `sequencer_sendRawTransaction` and
    /// `sequencer_mempoolStatus`.
    #[method(name = "eth_sendRawTransaction")]
    async fn send_raw_transaction(&self, raw: Bytes) -> RpcResult<B256>;

    /// Like `eth_sendRawTransaction`, but returns sender, nonce, pending/queued and the
    /// missing nonces.
    #[method(name = "sequencer_sendRawTransaction")]
    async fn send_raw_transaction_detailed(&self, raw: Bytes) -> RpcResult<InsertOutcome>;

    /// Chain id.
    #[method(name = "eth_chainId")]
    fn chain_id(&self) -> RpcResult<U64>;

    /// Everything below in one answer.
    #[method(name = "sequencer_status")]
    fn status(&self) -> RpcResult<SequencerStatus>;

    /// SOFT head.
    #[method(name = "sequencer_softHead")]
    fn soft_head(&self) -> RpcResult<BlockRef>;

    /// FIRM head.
    #[method(name = "sequencer_firmHead")]
    fn firm_head(&self) -> RpcResult<BlockRef>;

    /// Blocks awaiting DA finality.
    #[method(name = "sequencer_pendingSubmissions")]
    fn pending_submissions(&self) -> RpcResult<Vec<PendingDa>>;

    /// Mempool counts, nonce gaps and the most recent evictions.
    #[method(name = "sequencer_mempoolStatus")]
    fn mempool_status(&self) -> RpcResult<MempoolStatus>;

    /// What the mempool knows of a transaction: pending, queued, evicted (with the reason), or
    /// unknown (included, or never seen).
    #[method(name = "sequencer_transactionStatus")]
    fn transaction_status(&self, hash: B256) -> RpcResult<TxLookup>;
}

/// A sender's balance and nonce at the chain's latest state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Account {
    balance: U256,
    nonce: u64,
}

/// What reth said of the chain's latest state while the SOFT head was `head`. A new head empties
/// it (balances and nonces change with every block), so it holds at most one block's worth of
/// senders, and never more than `max_accounts`.
#[derive(Debug)]
struct StateCache {
    /// The SOFT head the entries belong to.
    head: B256,
    /// Base fee per gas of the latest block: `None` not looked up yet; `Some(None)` the block
    /// has none (pre-London).
    base_fee: Option<Option<u128>>,
    accounts: HashMap<Address, Account>,
    max_accounts: usize,
}

impl StateCache {
    fn new(max_accounts: usize) -> Self {
        Self { head: B256::ZERO, base_fee: None, accounts: HashMap::new(), max_accounts }
    }

    /// Moves to SOFT head `head`: what was known at another head is forgotten.
    fn at(&mut self, head: B256) {
        if self.head != head {
            self.head = head;
            self.base_fee = None;
            self.accounts.clear();
        }
    }

    /// Keeps what was looked up while `head` was the SOFT head, unless the head has moved on
    /// meanwhile (it may predate the new block) or the cache is full.
    fn store(
        &mut self,
        head: B256,
        sender: Address,
        account: Option<Account>,
        base_fee: Option<Option<u128>>,
    ) {
        if self.head != head {
            return;
        }
        if let Some(account) = account
            && self.accounts.len() < self.max_accounts
        {
            self.accounts.insert(sender, account);
        }
        if base_fee.is_some() {
            self.base_fee = base_fee;
        }
    }
}

/// The part of `eth_getBlockByNumber`'s answer the fee check needs.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct LatestBlock {
    #[serde(default)]
    base_fee_per_gas: Option<U256>,
}

/// Implementation of [`SequencerApiServer`].
#[derive(Debug, Clone)]
pub struct SequencerRpc {
    mempool: Arc<Mutex<Mempool>>,
    status: StatusHandle,
    /// reth's public RPC (`execution.rpc_url`), when configured: senders' balances and nonces,
    /// the latest base fee. Without it nothing is checked against the chain's state.
    state_rpc: Option<RpcClient>,
    cache: Arc<Mutex<StateCache>>,
}

impl SequencerRpc {
    /// A handler over the shared mempool and status.
    pub fn new(
        mempool: Arc<Mutex<Mempool>>,
        status: StatusHandle,
        state_rpc: Option<RpcClient>,
    ) -> Self {
        let cache = Arc::new(Mutex::new(StateCache::new(MAX_CACHED_ACCOUNTS)));
        Self { mempool, status, state_rpc, cache }
    }

    async fn insert(&self, raw: Bytes) -> Result<InsertOutcome, NodeError> {
        let chain_id = self.mempool.lock().chain_id();
        let (tx, sender) = Mempool::decode(chain_id, &raw)?;
        let account = self.check_state(&tx, sender).await?;
        let outcome = self.mempool.lock().insert(
            raw,
            &tx,
            sender,
            account.map(|a| a.nonce),
            account.map(|a| a.balance),
            std::time::Instant::now(),
        )?;
        if !outcome.missing_nonces.is_empty() {
            tracing::info!(target: "sequencer::mempool", %sender, nonce = outcome.nonce, missing = ?outcome.missing_nonces, "nonce gap");
        }
        let st = self.mempool.lock().status();
        metrics::gauge!(crate::metrics::MEMPOOL_TXS).set((st.pending + st.queued) as f64);
        self.status.update(|s| s.mempool = st);
        Ok(outcome)
    }

    /// Refuses `tx` if its max fee per gas is below the latest block's base fee, and returns
    /// its sender's balance and nonce at the latest state (`None` without `execution.rpc_url`:
    /// nothing checked). Both come from the cache of the current SOFT head when there; whatever
    /// is missing is asked of reth in one batch and kept.
    async fn check_state(
        &self,
        tx: &TxEnvelope,
        sender: Address,
    ) -> Result<Option<Account>, NodeError> {
        let Some(rpc) = &self.state_rpc else { return Ok(None) };
        let head = self.status.soft_head().hash;
        let (cached, base_fee) = {
            let mut cache = self.cache.lock();
            cache.at(head);
            (cache.accounts.get(&sender).copied(), cache.base_fee)
        };
        if let Some(base_fee) = base_fee {
            // Before any look-up: a transaction too cheap for the block costs no round trip.
            check_fee_cap(tx, sender, base_fee)?;
            if let Some(account) = cached {
                return Ok(Some(account));
            }
        }
        let (account, base_fee) = tokio::time::timeout(
            STATE_LOOKUP_TIMEOUT,
            lookup(rpc, sender, cached.is_none(), base_fee.is_none()),
        )
        .await
        .map_err(|_| {
            lookup_failed("batch request", &format!("no answer in {STATE_LOOKUP_TIMEOUT:?}"))
        })??;
        self.cache.lock().store(head, sender, account, base_fee);
        if let Some(base_fee) = base_fee {
            check_fee_cap(tx, sender, base_fee)?;
        }
        Ok(account.or(cached))
    }
}

/// Refuses a transaction whose max fee per gas is below `base_fee` (`None`: no base fee).
fn check_fee_cap(
    tx: &TxEnvelope,
    sender: Address,
    base_fee: Option<u128>,
) -> Result<(), NodeError> {
    match base_fee {
        Some(base_fee) if tx.max_fee_per_gas() < base_fee => {
            Err(NodeError::FeeCapTooLow { sender, max_fee_per_gas: tx.max_fee_per_gas(), base_fee })
        }
        _ => Ok(()),
    }
}

/// Asks reth, in one batch, for what is missing: the balance and nonce of `sender` (if
/// `account`), the latest block's base fee (if `base_fee`).
async fn lookup(
    rpc: &RpcClient,
    sender: Address,
    account: bool,
    base_fee: bool,
) -> Result<(Option<Account>, Option<Option<u128>>), NodeError> {
    let mut batch = rpc.new_batch();
    let account_calls = if account {
        let balance = batch
            .add_call::<_, U256>("eth_getBalance", &(sender, "latest"))
            .map_err(|e| lookup_failed("eth_getBalance", &e))?;
        let nonce = batch
            .add_call::<_, U64>("eth_getTransactionCount", &(sender, "latest"))
            .map_err(|e| lookup_failed("eth_getTransactionCount", &e))?;
        Some((balance, nonce))
    } else {
        None
    };
    let block_call = if base_fee {
        let block = batch
            .add_call::<_, Option<LatestBlock>>("eth_getBlockByNumber", &("latest", false))
            .map_err(|e| lookup_failed("eth_getBlockByNumber", &e))?;
        Some(block)
    } else {
        None
    };
    batch.send().await.map_err(|e| lookup_failed("batch request", &e))?;
    let account = match account_calls {
        Some((balance, nonce)) => {
            let balance = balance.await.map_err(|e| lookup_failed("eth_getBalance", &e))?;
            let nonce = nonce.await.map_err(|e| lookup_failed("eth_getTransactionCount", &e))?;
            Some(Account { balance, nonce: nonce.to::<u64>() })
        }
        None => None,
    };
    let base_fee = match block_call {
        Some(block) => {
            let block = block.await.map_err(|e| lookup_failed("eth_getBlockByNumber", &e))?;
            let block = block.ok_or_else(|| {
                NodeError::StateLookup("eth_getBlockByNumber: no latest block".into())
            })?;
            Some(block.base_fee_per_gas.map(|fee| fee.saturating_to::<u128>()))
        }
        None => None,
    };
    Ok((account, base_fee))
}

fn lookup_failed(method: &str, e: &dyn std::fmt::Display) -> NodeError {
    // The HTTP client's error quotes the URL, credentials and all, and this error goes back to
    // whoever sent the transaction.
    NodeError::StateLookup(format!("{method}: {}", sequencer_da::redact_urls(&e.to_string())))
}

fn rpc_error(e: NodeError) -> ErrorObjectOwned {
    let code = match e {
        NodeError::Decode(_) => -32602,
        _ => -32000,
    };
    ErrorObject::owned(code, e.to_string(), None::<()>)
}

#[async_trait]
impl SequencerApiServer for SequencerRpc {
    async fn send_raw_transaction(&self, raw: Bytes) -> RpcResult<B256> {
        self.insert(raw).await.map(|o| o.hash).map_err(rpc_error)
    }

    async fn send_raw_transaction_detailed(&self, raw: Bytes) -> RpcResult<InsertOutcome> {
        self.insert(raw).await.map_err(rpc_error)
    }

    fn chain_id(&self) -> RpcResult<U64> {
        Ok(U64::from(self.status.get().chain_id))
    }

    fn status(&self) -> RpcResult<SequencerStatus> {
        let mut s = self.status.get();
        s.mempool = self.mempool.lock().status();
        Ok(s)
    }

    fn soft_head(&self) -> RpcResult<BlockRef> {
        Ok(self.status.get().soft_head)
    }

    fn firm_head(&self) -> RpcResult<BlockRef> {
        Ok(self.status.get().firm_head)
    }

    fn pending_submissions(&self) -> RpcResult<Vec<PendingDa>> {
        Ok(self.status.get().pending_da)
    }

    fn mempool_status(&self) -> RpcResult<MempoolStatus> {
        Ok(self.mempool.lock().status())
    }

    fn transaction_status(&self, hash: B256) -> RpcResult<TxLookup> {
        Ok(self.mempool.lock().lookup(&hash))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_rpc_types_engine::JwtSecret;
    use sequencer_testing::{
        BASE_FEE_PER_GAS, DEFAULT_BALANCE, MockEngine, MockEngineConfig, dev_address, transfer,
        transfer_with_fees,
    };

    const CHAIN: u64 = 7;

    /// What [`transfer`] of 1 wei may cost: 21 000 gas at 2 gwei, plus the wei.
    fn transfer_cost() -> U256 {
        U256::from(21_000u64 * 2_000_000_000 + 1)
    }

    fn send(from: u8, nonce: u64) -> Bytes {
        transfer(from, CHAIN, nonce, dev_address(9), 1)
    }

    struct Setup {
        engine: MockEngine,
        status: StatusHandle,
        mempool: Arc<Mutex<Mempool>>,
        rpc: SequencerRpc,
    }

    /// A handler whose `execution.rpc_url` is the fixture's public endpoint.
    async fn setup() -> Setup {
        let engine =
            MockEngine::start(MockEngineConfig::new(CHAIN, JwtSecret::random())).await.unwrap();
        let status = StatusHandle::new(CHAIN, head(engine.genesis_hash()));
        let mempool = Arc::new(Mutex::new(Mempool::new(CHAIN, 100)));
        let client = RpcClient::new_http(engine.rpc_url());
        let rpc = SequencerRpc::new(mempool.clone(), status.clone(), Some(client));
        Setup { engine, status, mempool, rpc }
    }

    fn head(hash: B256) -> BlockRef {
        BlockRef { number: 0, hash, parent_hash: B256::ZERO, timestamp: 0 }
    }

    /// The producer reports a new SOFT block.
    fn new_head(status: &StatusHandle) {
        status.update(|s| {
            s.soft_head.number += 1;
            s.soft_head.hash = B256::with_last_byte(s.soft_head.number as u8);
        });
    }

    #[tokio::test]
    async fn a_sender_without_funds_is_refused() {
        let Setup { engine, mempool, rpc, .. } = setup().await;
        engine.set_balance(dev_address(1), U256::ZERO);
        let err = rpc.insert(send(1, 0)).await.unwrap_err();
        assert!(
            matches!(&err, NodeError::InsufficientFunds { sender, balance, cost }
                if *sender == dev_address(1) && balance.is_zero() && *cost == transfer_cost()),
            "{err}"
        );
        let message = err.to_string();
        assert!(message.starts_with("insufficient funds"), "{message}");
        assert!(message.contains(&dev_address(1).to_string()), "{message}");
        assert!(message.contains("has 0 wei"), "{message}");
        assert!(message.contains(&transfer_cost().to_string()), "{message}");
        assert_eq!(rpc_error(err).code(), -32000);
        assert!(mempool.lock().is_empty());
        // Others (the fixture's default balance) are admitted.
        rpc.insert(send(2, 0)).await.unwrap();
    }

    #[tokio::test]
    async fn a_balance_for_one_transaction_admits_one() {
        let Setup { engine, mempool, rpc, .. } = setup().await;
        let balance = transfer_cost() * U256::from(3) / U256::from(2);
        engine.set_balance(dev_address(1), balance);
        rpc.insert(send(1, 0)).await.unwrap();
        let err = rpc.insert(send(1, 1)).await.unwrap_err();
        assert!(
            matches!(&err, NodeError::InsufficientFunds { balance: b, cost, .. }
                if *b == balance && *cost == transfer_cost() * U256::from(2)),
            "{err}"
        );
        assert_eq!(mempool.lock().len(), 1);
    }

    #[tokio::test]
    async fn a_replacement_the_balance_cannot_pay_is_refused() {
        let Setup { engine, mempool, rpc, .. } = setup().await;
        let to = dev_address(9);
        // Enough for a max fee of 2.1 gwei, not for the 2.2 gwei of a 10 % bump.
        engine.set_balance(dev_address(1), U256::from(21_000u64 * 2_100_000_000 + 1));
        let first = rpc.insert(send(1, 0)).await.unwrap();
        let bumped = transfer_with_fees(1, CHAIN, 0, to, 1, 2_200_000_000, 1_100_000);
        let err = rpc.insert(bumped).await.unwrap_err();
        assert!(
            matches!(&err, NodeError::InsufficientFunds { cost, .. }
                if *cost == U256::from(21_000u64 * 2_200_000_000 + 1)),
            "{err}"
        );
        let pooled = mempool.lock().ready();
        assert_eq!(pooled.iter().map(|t| t.hash).collect::<Vec<_>>(), vec![first.hash]);
    }

    #[tokio::test]
    async fn a_max_fee_below_the_base_fee_is_refused() {
        let Setup { engine, mempool, rpc, .. } = setup().await;
        let to = dev_address(9);
        let base_fee = u128::from(BASE_FEE_PER_GAS);
        let cheap = |from| transfer_with_fees(from, CHAIN, 0, to, 1, base_fee - 1, 1);
        let err = rpc.insert(cheap(1)).await.unwrap_err();
        assert!(
            matches!(&err, NodeError::FeeCapTooLow { max_fee_per_gas, base_fee: b, .. }
                if *max_fee_per_gas == base_fee - 1 && *b == base_fee),
            "{err}"
        );
        let message = err.to_string();
        assert!(message.starts_with("max fee per gas less than block base fee"), "{message}");
        assert!(message.contains(&(base_fee - 1).to_string()), "{message}");
        assert!(message.contains(&base_fee.to_string()), "{message}");
        assert_eq!(rpc_error(err).code(), -32000);
        // With the base fee known for this head, a new sender's cheap transaction is refused
        // without looking the sender up.
        let lookups = engine.balance_requests();
        assert!(matches!(rpc.insert(cheap(2)).await, Err(NodeError::FeeCapTooLow { .. })));
        assert_eq!(engine.balance_requests(), lookups);
        // Exactly the base fee is enough.
        rpc.insert(transfer_with_fees(1, CHAIN, 0, to, 1, base_fee, 1)).await.unwrap();
        assert_eq!(mempool.lock().len(), 1);
    }

    #[tokio::test]
    async fn balances_are_looked_up_once_per_head() {
        let Setup { engine, status, mempool, rpc } = setup().await;
        let poor = dev_address(3);
        engine.set_balance(poor, U256::ZERO);
        assert!(matches!(rpc.insert(send(3, 0)).await, Err(NodeError::InsufficientFunds { .. })));
        let lookups = engine.balance_requests();
        // Funded at the execution client, but this head's balance is what counts until the next
        // block: refused again, and reth is not asked again.
        engine.set_balance(poor, DEFAULT_BALANCE);
        assert!(matches!(rpc.insert(send(3, 0)).await, Err(NodeError::InsufficientFunds { .. })));
        assert_eq!(engine.balance_requests(), lookups);
        // A new SOFT head: looked up again, admitted.
        new_head(&status);
        rpc.insert(send(3, 0)).await.unwrap();
        assert_eq!(engine.balance_requests(), lookups + 1);
        rpc.insert(send(3, 1)).await.unwrap();
        assert_eq!(engine.balance_requests(), lookups + 1, "the same head: from the cache");
        assert_eq!(mempool.lock().len(), 2);
    }

    #[tokio::test]
    async fn the_cache_is_bounded() {
        let Setup { engine, status, mempool, mut rpc } = setup().await;
        rpc.cache = Arc::new(Mutex::new(StateCache::new(2)));
        for from in 1..=5 {
            rpc.insert(send(from, 0)).await.unwrap();
        }
        assert_eq!(rpc.cache.lock().accounts.len(), 2, "the first two senders only");
        // Senders beyond the bound are still checked, with a look-up per transaction.
        let lookups = engine.balance_requests();
        rpc.insert(send(5, 1)).await.unwrap();
        assert_eq!(engine.balance_requests(), lookups + 1);
        rpc.insert(send(1, 1)).await.unwrap();
        assert_eq!(engine.balance_requests(), lookups + 1, "a cached sender");
        engine.set_balance(dev_address(4), U256::ZERO);
        assert!(matches!(rpc.insert(send(4, 1)).await, Err(NodeError::InsufficientFunds { .. })));
        assert_eq!(mempool.lock().len(), 7);
        // A new head starts empty.
        new_head(&status);
        rpc.insert(send(2, 1)).await.unwrap();
        assert_eq!(rpc.cache.lock().accounts.len(), 1);
    }

    #[test]
    fn a_lookup_that_outlived_its_head_is_not_kept() {
        let mut cache = StateCache::new(10);
        let (old, new) = (B256::with_last_byte(1), B256::with_last_byte(2));
        let account = Account { balance: U256::from(1), nonce: 0 };
        cache.at(old);
        cache.at(new);
        cache.store(old, dev_address(1), Some(account), Some(Some(7)));
        assert!(cache.accounts.is_empty());
        assert_eq!(cache.base_fee, None);
        cache.store(new, dev_address(1), Some(account), Some(Some(7)));
        assert_eq!(cache.accounts.get(&dev_address(1)), Some(&account));
        assert_eq!(cache.base_fee, Some(Some(7)));
    }

    #[tokio::test]
    async fn a_failed_lookup_refuses_the_transaction() {
        let mempool = Arc::new(Mutex::new(Mempool::new(CHAIN, 100)));
        let status = StatusHandle::new(CHAIN, head(B256::ZERO));
        // Nothing listens on port 1; the URL's credentials must not reach the sender.
        let url = url::Url::parse("http://user:s3cret@127.0.0.1:1").unwrap();
        let rpc = SequencerRpc::new(mempool.clone(), status, Some(RpcClient::new_http(url)));
        let err = rpc.insert(send(1, 0)).await.unwrap_err();
        assert!(matches!(err, NodeError::StateLookup(_)), "{err}");
        let message = err.to_string();
        assert!(message.contains("execution.rpc_url"), "{message}");
        assert!(!message.contains("s3cret"), "{message}");
        assert!(mempool.lock().is_empty());
    }

    #[tokio::test]
    async fn a_lookup_without_an_answer_refuses_the_transaction_in_time() {
        // A server that takes the connection and never answers.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = url::Url::parse(&format!("http://{}", listener.local_addr().unwrap())).unwrap();
        let silent = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((conn, _)) = listener.accept().await {
                held.push(conn);
            }
        });
        let mempool = Arc::new(Mutex::new(Mempool::new(CHAIN, 100)));
        let status = StatusHandle::new(CHAIN, head(B256::ZERO));
        let rpc = SequencerRpc::new(mempool.clone(), status, Some(RpcClient::new_http(url)));
        let answer = tokio::time::timeout(STATE_LOOKUP_TIMEOUT * 2, rpc.insert(send(1, 0))).await;
        let err = answer.expect("the look-up's own timeout answers first").unwrap_err();
        assert!(err.to_string().contains("no answer in 5s"), "{err}");
        assert!(mempool.lock().is_empty());
        silent.abort();
    }

    #[tokio::test]
    async fn without_an_rpc_url_nothing_is_checked() {
        let mempool = Arc::new(Mutex::new(Mempool::new(CHAIN, 100)));
        let status = StatusHandle::new(CHAIN, head(B256::ZERO));
        let rpc = SequencerRpc::new(mempool.clone(), status, None);
        let cheap = transfer_with_fees(1, CHAIN, 0, dev_address(9), 1, 1, 1);
        rpc.insert(cheap).await.unwrap();
        assert_eq!(mempool.lock().len(), 1);
    }
}
