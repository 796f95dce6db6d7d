//! Withdrawals from L2 to L1 against the real contracts: proving a withdrawal with an output
//! root the proposer posted, and finalizing it after the finalization period.
//!
//! A withdrawal starts on L2 with `L2ToL1MessagePasser.initiateWithdrawal` (directly, or through
//! the L2 bridge and messenger), which records the withdrawal's hash in the passer's
//! `sentMessages` mapping and emits `MessagePassed`. To use it on L1:
//!
//! 1. **Prove** ([`prove_withdrawal`]): find the first output the `L2OutputOracle` holds at or
//!    after the withdrawal's L2 block, rebuild that output root from the L2 node (the block's
//!    state root and hash, and the passer's storage root with a Merkle proof of the withdrawal's
//!    slot, `eth_getProof`), check it equals the oracle's, and call
//!    `OptimismPortal.proveWithdrawalTransaction`.
//! 2. **Finalize** ([`finalize_withdrawal`]): once the finalization period has passed since the
//!    proof (and since the output), call `OptimismPortal.finalizeWithdrawalTransaction`, which
//!    makes the withdrawal's call on L1 (for ETH sent to an account: the transfer).

use crate::DevnetError;
use alloy_eips::BlockNumberOrTag;
use alloy_network::{EthereumWallet, TransactionBuilder};
use alloy_primitives::{Address, B256, Bytes, U256, keccak256};
use alloy_provider::{DynProvider, Provider, ProviderBuilder, RootProvider};
use alloy_rpc_types_eth::TransactionRequest;
use alloy_signer_local::PrivateKeySigner;
use alloy_sol_types::{SolCall, SolEvent, SolValue};
use rollup_op_contracts::{
    bindings::{
        self, L2OutputOracle, L2ToL1MessagePasser, OptimismPortal, OutputRootProof,
        WithdrawalTransaction,
    },
    predeploys::L2_TO_L1_MESSAGE_PASSER,
};
use std::time::Duration;
use tracing::info;
use url::Url;

/// Headroom over the L1 node's gas estimate for the portal's calls.
const GAS_HEADROOM_PERCENT: u64 = 30;

/// A withdrawal, as the L2 transaction that started it recorded it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Withdrawal {
    /// What the portal proves and finalizes.
    pub transaction: WithdrawalTransaction,
    /// Its hash (the passer's `sentMessages` key).
    pub hash: B256,
    /// The L2 block that holds it.
    pub l2_block: u64,
}

/// What a proof used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Proven {
    /// The withdrawal's hash.
    pub hash: B256,
    /// The oracle's output index the proof is against.
    pub output_index: u64,
    /// That output's L2 block.
    pub output_block: u64,
    /// The L1 transaction that proved it (`None` when it was proven before).
    pub tx: Option<B256>,
}

/// The L1 and L2 endpoints and the portal a withdrawal goes through, and the L1 account that
/// sends the proof and the finalization (anyone may).
#[derive(Debug, Clone)]
pub struct WithdrawalClient {
    l1: DynProvider,
    l2: RootProvider,
    l1_url: String,
    l2_url: String,
    portal: Address,
}

impl WithdrawalClient {
    /// A client proving and finalizing through `portal` on `l1_rpc`, reading L2 from `l2_rpc`,
    /// sending from `signer`'s account.
    pub fn new(l1_rpc: &Url, l2_rpc: &Url, portal: Address, signer: PrivateKeySigner) -> Self {
        let l1 = ProviderBuilder::new()
            .wallet(EthereumWallet::from(signer))
            .connect_http(l1_rpc.clone())
            .erased();
        Self {
            l1,
            l2: RootProvider::new_http(l2_rpc.clone()),
            l1_url: l1_rpc.to_string(),
            l2_url: l2_rpc.to_string(),
            portal,
        }
    }

    fn l1_error(&self, reason: impl ToString) -> DevnetError {
        DevnetError::L1 { url: self.l1_url.clone(), reason: reason.to_string() }
    }

    fn l2_error(&self, reason: impl ToString) -> DevnetError {
        DevnetError::Withdrawal(format!("L2 RPC {}: {}", self.l2_url, reason.to_string()))
    }

    /// The withdrawal L2 transaction `tx` started (its `MessagePassed` event).
    pub async fn withdrawal(&self, tx: B256) -> Result<Withdrawal, DevnetError> {
        let receipt = self
            .l2
            .get_transaction_receipt(tx)
            .await
            .map_err(|e| self.l2_error(e))?
            .ok_or_else(|| DevnetError::Withdrawal(format!("no L2 transaction {tx}")))?;
        if !receipt.status() {
            return Err(DevnetError::Withdrawal(format!("L2 transaction {tx} reverted")));
        }
        let l2_block = receipt
            .block_number
            .ok_or_else(|| DevnetError::Withdrawal(format!("L2 transaction {tx} is not mined")))?;
        let passed = receipt
            .inner
            .logs()
            .iter()
            .filter(|log| log.address() == L2_TO_L1_MESSAGE_PASSER)
            .find_map(|log| L2ToL1MessagePasser::MessagePassed::decode_log_data(log.data()).ok())
            .ok_or_else(|| {
                DevnetError::Withdrawal(format!(
                    "L2 transaction {tx} started no withdrawal (no MessagePassed event of the \
                     L2ToL1MessagePasser)"
                ))
            })?;
        let transaction = WithdrawalTransaction {
            nonce: passed.nonce,
            sender: passed.sender,
            target: passed.target,
            value: passed.value,
            gasLimit: passed.gasLimit,
            data: passed.data,
        };
        let hash = withdrawal_hash(&transaction);
        if hash != passed.withdrawalHash {
            return Err(DevnetError::Withdrawal(format!(
                "MessagePassed of {tx} names withdrawal hash {}, its fields hash to {hash}",
                passed.withdrawalHash
            )));
        }
        Ok(Withdrawal { transaction, hash, l2_block })
    }

    /// Proves the withdrawal L2 transaction `tx` started, against the first output at or after
    /// its block. Proving a withdrawal proven before is a no-op.
    pub async fn prove(&self, tx: B256) -> Result<Proven, DevnetError> {
        let withdrawal = self.withdrawal(tx).await?;
        let oracle: Address = self.view(self.portal, OptimismPortal::l2OracleCall {}).await?;
        let (proven_root, _, proven_index) = {
            let proven = self
                .view(
                    self.portal,
                    OptimismPortal::provenWithdrawalsCall { _withdrawalHash: withdrawal.hash },
                )
                .await?;
            (proven.outputRoot, proven.timestamp, proven.l2OutputIndex)
        };
        if !proven_root.is_zero() {
            let output_index = u64::try_from(proven_index).unwrap_or(u64::MAX);
            let output = self.output(oracle, output_index).await?;
            return Ok(Proven {
                hash: withdrawal.hash,
                output_index,
                output_block: u64::try_from(output.l2BlockNumber).unwrap_or(u64::MAX),
                tx: None,
            });
        }
        let latest: U256 = self.view(oracle, L2OutputOracle::latestBlockNumberCall {}).await?;
        if latest < U256::from(withdrawal.l2_block) {
            return Err(DevnetError::Withdrawal(format!(
                "no output covers L2 block {} yet: the L2OutputOracle's latest is block {latest}; \
                 wait for the proposer (it proposes finalized blocks)",
                withdrawal.l2_block
            )));
        }
        let index: U256 = self
            .view(
                oracle,
                L2OutputOracle::getL2OutputIndexAfterCall {
                    _l2BlockNumber: U256::from(withdrawal.l2_block),
                },
            )
            .await?;
        let output_index = u64::try_from(index)
            .map_err(|_| self.l1_error(format!("output index {index} out of range")))?;
        let output = self.output(oracle, output_index).await?;
        let output_block = u64::try_from(output.l2BlockNumber)
            .map_err(|_| self.l1_error("output block out of range"))?;

        let block = self
            .l2
            .get_block_by_number(BlockNumberOrTag::Number(output_block))
            .await
            .map_err(|e| self.l2_error(e))?
            .ok_or_else(|| self.l2_error(format!("no L2 block {output_block}")))?;
        let slot = withdrawal_slot(withdrawal.hash);
        let proof = self
            .l2
            .get_proof(L2_TO_L1_MESSAGE_PASSER, vec![slot])
            .block_id(output_block.into())
            .await
            .map_err(|e| {
                self.l2_error(format!(
                    "eth_getProof at L2 block {output_block}: {e} (reth answers proofs of blocks \
                     older than its head only within --rpc.eth-proof-window)"
                ))
            })?;
        let storage = proof
            .storage_proof
            .first()
            .ok_or_else(|| self.l2_error("eth_getProof answered no storage proof"))?;
        if storage.value != U256::from(1) {
            return Err(DevnetError::Withdrawal(format!(
                "the L2ToL1MessagePasser at L2 block {output_block} does not hold withdrawal {} \
                 (sentMessages = {})",
                withdrawal.hash, storage.value
            )));
        }
        let root_proof = OutputRootProof {
            version: B256::ZERO,
            stateRoot: block.header.state_root,
            messagePasserStorageRoot: proof.storage_hash,
            latestBlockhash: block.header.hash,
        };
        let computed = output_root(&root_proof);
        if computed != output.outputRoot {
            return Err(DevnetError::Withdrawal(format!(
                "the L2 node's output root of block {output_block} is {computed}, the \
                 L2OutputOracle holds {} at index {output_index}: this L2 node is not on the \
                 chain the proposer proposed",
                output.outputRoot
            )));
        }
        let call = OptimismPortal::proveWithdrawalTransactionCall {
            _tx: withdrawal.transaction.clone(),
            _l2OutputIndex: index,
            _outputRootProof: root_proof,
            _withdrawalProof: storage.proof.clone(),
        };
        let tx =
            self.send(self.portal, call.abi_encode().into(), "proveWithdrawalTransaction").await?;
        info!(target: "devnet", withdrawal = %withdrawal.hash, output_index, output_block, %tx, "withdrawal proven");
        Ok(Proven { hash: withdrawal.hash, output_index, output_block, tx: Some(tx) })
    }

    /// Finalizes the withdrawal L2 transaction `tx` started, waiting up to `max_wait` for the
    /// finalization period to pass. Returns the L1 transaction (`None` when it was finalized
    /// before).
    pub async fn finalize(
        &self,
        tx: B256,
        max_wait: Duration,
    ) -> Result<Option<B256>, DevnetError> {
        let withdrawal = self.withdrawal(tx).await?;
        let finalized: bool = self
            .view(
                self.portal,
                OptimismPortal::finalizedWithdrawalsCall { _withdrawalHash: withdrawal.hash },
            )
            .await?;
        if finalized {
            return Ok(None);
        }
        let proven = self
            .view(
                self.portal,
                OptimismPortal::provenWithdrawalsCall { _withdrawalHash: withdrawal.hash },
            )
            .await?;
        if proven.timestamp == 0 {
            return Err(DevnetError::Withdrawal(format!(
                "withdrawal {} is not proven yet: prove it first",
                withdrawal.hash
            )));
        }
        let oracle: Address = self.view(self.portal, OptimismPortal::l2OracleCall {}).await?;
        let period: U256 =
            self.view(oracle, L2OutputOracle::finalizationPeriodSecondsCall {}).await?;
        let output =
            self.output(oracle, u64::try_from(proven.l2OutputIndex).unwrap_or(u64::MAX)).await?;
        let period = u64::try_from(period).unwrap_or(u64::MAX);
        // The portal wants both the proof and the output older than the period, by L1 time.
        let ready_at = u64::try_from(proven.timestamp.max(output.timestamp))
            .unwrap_or(u64::MAX)
            .saturating_add(period)
            .saturating_add(1);
        let deadline = tokio::time::Instant::now() + max_wait;
        loop {
            let now = self
                .l1
                .get_block_by_number(BlockNumberOrTag::Latest)
                .await
                .map_err(|e| self.l1_error(e))?
                .ok_or_else(|| self.l1_error("no latest block"))?
                .header
                .timestamp;
            if now >= ready_at {
                break;
            }
            let wait = Duration::from_secs(ready_at - now);
            if tokio::time::Instant::now() + wait > deadline {
                return Err(DevnetError::Withdrawal(format!(
                    "withdrawal {} can be finalized in {} s (finalization period {period} s); \
                     try again then",
                    withdrawal.hash,
                    ready_at - now
                )));
            }
            info!(target: "devnet", withdrawal = %withdrawal.hash, wait_secs = wait.as_secs(), "waiting for the finalization period");
            tokio::time::sleep(wait.min(Duration::from_secs(2))).await;
        }
        let call = OptimismPortal::finalizeWithdrawalTransactionCall {
            _tx: withdrawal.transaction.clone(),
        };
        let tx = self
            .send(self.portal, call.abi_encode().into(), "finalizeWithdrawalTransaction")
            .await?;
        let receipt = self
            .l1
            .get_transaction_receipt(tx)
            .await
            .map_err(|e| self.l1_error(e))?
            .ok_or_else(|| self.l1_error(format!("no receipt for {tx}")))?;
        let succeeded = receipt
            .inner
            .logs()
            .iter()
            .find_map(|log| OptimismPortal::WithdrawalFinalized::decode_log_data(log.data()).ok())
            .map(|event| event.success);
        if succeeded != Some(true) {
            return Err(DevnetError::Withdrawal(format!(
                "the portal finalized withdrawal {} but its call on L1 failed (transaction {tx}); \
                 it cannot be replayed through the portal",
                withdrawal.hash
            )));
        }
        info!(target: "devnet", withdrawal = %withdrawal.hash, %tx, "withdrawal finalized");
        Ok(Some(tx))
    }

    async fn output(
        &self,
        oracle: Address,
        index: u64,
    ) -> Result<rollup_op_contracts::bindings::OutputProposal, DevnetError> {
        self.view(oracle, L2OutputOracle::getL2OutputCall { _l2OutputIndex: U256::from(index) })
            .await
    }

    async fn view<C: SolCall>(&self, to: Address, call: C) -> Result<C::Return, DevnetError> {
        Ok(bindings::view(&self.l1, to, call).await?)
    }

    /// Sends a call to `to` and waits for its receipt; a revert is an error naming `what`.
    async fn send(&self, to: Address, input: Bytes, what: &str) -> Result<B256, DevnetError> {
        let request = TransactionRequest::default().with_to(to).with_input(input);
        let gas = self
            .l1
            .estimate_gas(request.clone())
            .await
            .map_err(|e| DevnetError::Withdrawal(format!("{what} would revert: {e}")))?;
        let request = request.with_gas_limit(gas + gas * GAS_HEADROOM_PERCENT / 100);
        let receipt = self
            .l1
            .send_transaction(request)
            .await
            .map_err(|e| self.l1_error(format!("{what}: {e}")))?
            .get_receipt()
            .await
            .map_err(|e| self.l1_error(format!("{what}: {e}")))?;
        if !receipt.status() {
            return Err(DevnetError::Withdrawal(format!(
                "{what} reverted (transaction {})",
                receipt.transaction_hash
            )));
        }
        Ok(receipt.transaction_hash)
    }
}

/// `Hashing.hashWithdrawal`: keccak256 of the fields, ABI-encoded one after the other.
pub fn withdrawal_hash(tx: &WithdrawalTransaction) -> B256 {
    keccak256(
        (tx.nonce, tx.sender, tx.target, tx.value, tx.gasLimit, tx.data.clone())
            .abi_encode_params(),
    )
}

/// The passer's storage slot of a withdrawal: `sentMessages` is the mapping at slot 0.
pub fn withdrawal_slot(hash: B256) -> B256 {
    keccak256((hash, U256::ZERO).abi_encode())
}

/// `Hashing.hashOutputRootProof`: the version-0 output root.
pub fn output_root(proof: &OutputRootProof) -> B256 {
    keccak256(
        (proof.version, proof.stateRoot, proof.messagePasserStorageRoot, proof.latestBlockhash)
            .abi_encode(),
    )
}
