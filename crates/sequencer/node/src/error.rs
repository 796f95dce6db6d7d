use alloy_primitives::{Address, U256};

/// Errors of the sequencer node.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// The Engine API or forkchoice refused something.
    #[error(transparent)]
    Engine(#[from] sequencer_engine::EngineError),
    /// Consensus among the validator set failed.
    #[error(transparent)]
    Consensus(#[from] sequencer_consensus::ConsensusError),
    /// The DA layer failed.
    #[error(transparent)]
    Da(#[from] sequencer_da::DaError),
    /// A transaction could not be decoded.
    #[error("invalid transaction: {0}")]
    Decode(String),
    /// Bad signature.
    #[error("invalid transaction signature: {0}")]
    Signature(String),
    /// Wrong or missing chain id.
    #[error("wrong chain id: transaction has {got:?}, this chain is {expected}")]
    ChainId {
        /// Chain id of the transaction (`None`: pre-EIP-155).
        got: Option<u64>,
        /// This chain's id.
        expected: u64,
    },
    /// Nonce below the account's executed nonce.
    #[error("nonce too low: {sender} has nonce {expected}, transaction has {got}")]
    NonceTooLow {
        /// Sender.
        sender: Address,
        /// Executed nonce.
        expected: u64,
        /// Transaction nonce.
        got: u64,
    },
    /// Same transaction already in the mempool.
    #[error("already known")]
    AlreadyKnown,
    /// Another transaction with that sender and nonce is pooled and this one does not pay enough
    /// more to replace it.
    #[error(
        "replacement transaction underpriced: {sender} nonce {nonce} needs max fee per gas >= \
         {min_max_fee_per_gas} and max priority fee per gas >= {min_max_priority_fee_per_gas}"
    )]
    ReplacementUnderpriced {
        /// Sender.
        sender: Address,
        /// Nonce.
        nonce: u64,
        /// Lowest max fee per gas a replacement may offer.
        min_max_fee_per_gas: u128,
        /// Lowest max priority fee per gas a replacement may offer.
        min_max_priority_fee_per_gas: u128,
    },
    /// The sender already has as many pooled transactions as one sender may.
    #[error("{sender} already has {limit} pooled transactions, the most one sender may have")]
    SenderLimit {
        /// Sender.
        sender: Address,
        /// The per-sender limit.
        limit: usize,
    },
    /// The nonce is too far past the sender's next one.
    #[error("nonce {got} of {sender} is more than {max_gap} past its next nonce {next}")]
    NonceGapTooLarge {
        /// Sender.
        sender: Address,
        /// The sender's next nonce.
        next: u64,
        /// The transaction's nonce.
        got: u64,
        /// The largest accepted gap.
        max_gap: u64,
    },
    /// The sender's balance at the chain's latest state does not cover what its pooled
    /// transactions, this one included, may cost (geth's wording: clients match on
    /// "insufficient funds").
    #[error(
        "insufficient funds for gas * price + value: {sender} has {balance} wei, its pooled \
         transactions with this one may cost {cost} wei"
    )]
    InsufficientFunds {
        /// Sender.
        sender: Address,
        /// Its balance at the latest state.
        balance: U256,
        /// Gas limit x max fee per gas + value of its pooled transactions and this one.
        cost: U256,
    },
    /// The transaction's max fee per gas is below the base fee of the chain's latest block
    /// (geth's wording).
    #[error(
        "max fee per gas less than block base fee: {sender} offers {max_fee_per_gas}, the base \
         fee is {base_fee}"
    )]
    FeeCapTooLow {
        /// Sender.
        sender: Address,
        /// The transaction's max fee per gas (gas price of a legacy transaction).
        max_fee_per_gas: u128,
        /// Base fee per gas of the latest block.
        base_fee: u128,
    },
    /// Blob transactions need sidecars, which the sequencer does not handle.
    #[error("blob (EIP-4844) transactions are not accepted")]
    BlobTransaction,
    /// The transaction is larger than the mempool takes.
    #[error("transaction of {size} bytes; at most {max} are accepted")]
    TooLarge {
        /// Its encoded size.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// The mempool is full.
    #[error("mempool full ({0} transactions)")]
    MempoolFull(usize),
    /// A DA batch could not be decoded or verified.
    #[error("bad DA batch: {0}")]
    Batch(String),
    /// Invalid configuration detected at launch (names the field).
    #[error("{field}: {message}")]
    Config {
        /// Config field.
        field: &'static str,
        /// What is wrong.
        message: String,
    },
    /// I/O (binding the RPC server, ...).
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// Cause.
        source: std::io::Error,
    },
    /// Looking up the sender's balance and nonce, or the base fee, on reth's RPC failed: the
    /// transaction is refused, not admitted unchecked.
    #[error("state lookup via execution.rpc_url failed: {0}")]
    StateLookup(String),
    /// The sequencer cannot resume safely from the execution client's state.
    #[error("cannot resume: {0}")]
    Resume(String),
    /// A task ended unexpectedly.
    #[error("task failed: {0}")]
    Task(String),
}
