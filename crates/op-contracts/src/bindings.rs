//! Typed calls into the OP contracts of [`crate::PINNED_VERSION`]: the functions this crate and
//! its users call, with the signatures of that version's ABI.

#![allow(missing_docs)]

alloy_sol_types::sol! {
    /// `ResourceMetering.ResourceConfig`: the deposit gas market of the portal.
    #[derive(Debug, PartialEq, Eq)]
    struct ResourceConfig {
        uint32 maxResourceLimit;
        uint8 elasticityMultiplier;
        uint8 baseFeeMaxChangeDenominator;
        uint32 minimumBaseFee;
        uint32 systemTxMaxGas;
        uint128 maximumBaseFee;
    }

    /// `SystemConfig.Addresses`.
    #[derive(Debug, PartialEq, Eq)]
    struct SystemConfigAddresses {
        address l1CrossDomainMessenger;
        address l1ERC721Bridge;
        address l1StandardBridge;
        address disputeGameFactory;
        address optimismPortal;
        address optimismMintableERC20Factory;
        address gasPayingToken;
    }

    /// `Types.OutputProposal`: an output root the L2OutputOracle holds.
    #[derive(Debug, PartialEq, Eq)]
    struct OutputProposal {
        bytes32 outputRoot;
        uint128 timestamp;
        uint128 l2BlockNumber;
    }

    /// `Types.WithdrawalTransaction`: a message from L2 to L1, as the portal proves and
    /// finalizes it.
    #[derive(Debug, PartialEq, Eq)]
    struct WithdrawalTransaction {
        uint256 nonce;
        address sender;
        address target;
        uint256 value;
        uint256 gasLimit;
        bytes data;
    }

    /// `Types.OutputRootProof`: the preimage of a version-0 output root.
    #[derive(Debug, PartialEq, Eq)]
    struct OutputRootProof {
        bytes32 version;
        bytes32 stateRoot;
        bytes32 messagePasserStorageRoot;
        bytes32 latestBlockhash;
    }

    interface ProxyAdmin {
        function upgradeAndCall(address _proxy, address _implementation, bytes _data) external payable;
        function owner() external view returns (address);
        function getProxyImplementation(address _proxy) external view returns (address);
    }

    interface SuperchainConfig {
        function initialize(address _guardian, bool _paused) external;
        function guardian() external view returns (address);
    }

    interface SystemConfig {
        function initialize(
            address _owner,
            uint32 _basefeeScalar,
            uint32 _blobbasefeeScalar,
            bytes32 _batcherHash,
            uint64 _gasLimit,
            address _unsafeBlockSigner,
            ResourceConfig _config,
            address _batchInbox,
            SystemConfigAddresses _addresses
        ) external;
        function setGasLimit(uint64 _gasLimit) external;
        function setBatcherHash(bytes32 _batcherHash) external;
        function setGasConfigEcotone(uint32 _basefeeScalar, uint32 _blobbasefeeScalar) external;
        function gasLimit() external view returns (uint64);
        function batcherHash() external view returns (bytes32);
        function scalar() external view returns (uint256);
        function optimismPortal() external view returns (address);
        function startBlock() external view returns (uint256);
        function owner() external view returns (address);
    }

    interface OptimismPortal {
        function initialize(address _l2Oracle, address _systemConfig, address _superchainConfig) external;
        function depositTransaction(address _to, uint256 _value, uint64 _gasLimit, bool _isCreation, bytes _data) external payable;
        function l2Oracle() external view returns (address);
        function systemConfig() external view returns (address);
        function proveWithdrawalTransaction(
            WithdrawalTransaction _tx,
            uint256 _l2OutputIndex,
            OutputRootProof _outputRootProof,
            bytes[] _withdrawalProof
        ) external;
        function finalizeWithdrawalTransaction(WithdrawalTransaction _tx) external;
        function provenWithdrawals(bytes32 _withdrawalHash) external view returns (bytes32 outputRoot, uint128 timestamp, uint128 l2OutputIndex);
        function finalizedWithdrawals(bytes32 _withdrawalHash) external view returns (bool);
        event TransactionDeposited(address indexed from, address indexed to, uint256 indexed version, bytes opaqueData);
        event WithdrawalProven(bytes32 indexed withdrawalHash, address indexed from, address indexed to);
        event WithdrawalFinalized(bytes32 indexed withdrawalHash, bool success);
    }

    interface L2OutputOracle {
        function initialize(
            uint256 _submissionInterval,
            uint256 _l2BlockTime,
            uint256 _startingBlockNumber,
            uint256 _startingTimestamp,
            address _proposer,
            address _challenger,
            uint256 _finalizationPeriodSeconds
        ) external;
        function startingTimestamp() external view returns (uint256);
        function submissionInterval() external view returns (uint256);
        function proposer() external view returns (address);
        function startingBlockNumber() external view returns (uint256);
        function finalizationPeriodSeconds() external view returns (uint256);
        function nextBlockNumber() external view returns (uint256);
        function nextOutputIndex() external view returns (uint256);
        function latestBlockNumber() external view returns (uint256);
        function computeL2Timestamp(uint256 _l2BlockNumber) external view returns (uint256);
        function getL2Output(uint256 _l2OutputIndex) external view returns (OutputProposal);
        function getL2OutputIndexAfter(uint256 _l2BlockNumber) external view returns (uint256);
        function proposeL2Output(bytes32 _outputRoot, uint256 _l2BlockNumber, bytes32 _l1BlockHash, uint256 _l1BlockNumber) external payable;
        event OutputProposed(bytes32 indexed outputRoot, uint256 indexed l2OutputIndex, uint256 indexed l2BlockNumber, uint256 l1Timestamp);
    }

    interface L1CrossDomainMessenger {
        function initialize(address _superchainConfig, address _portal, address _systemConfig) external;
        function portal() external view returns (address);
    }

    interface L1StandardBridge {
        function initialize(address _messenger, address _superchainConfig, address _systemConfig) external;
        function depositETH(uint32 _minGasLimit, bytes _extraData) external payable;
        function depositETHTo(address _to, uint32 _minGasLimit, bytes _extraData) external payable;
        function messenger() external view returns (address);
    }

    interface L1ERC721Bridge {
        function initialize(address _messenger, address _superchainConfig) external;
    }

    interface OptimismMintableERC20Factory {
        function initialize(address _bridge) external;
        function bridge() external view returns (address);
    }

    interface L2CrossDomainMessenger {
        function initialize(address _l1CrossDomainMessenger) external;
        function OTHER_MESSENGER() external view returns (address);
    }

    interface L2StandardBridge {
        function initialize(address _otherBridge) external;
        function OTHER_BRIDGE() external view returns (address);
        function withdraw(address _l2Token, uint256 _amount, uint32 _minGasLimit, bytes _extraData) external payable;
        function withdrawTo(address _l2Token, address _to, uint256 _amount, uint32 _minGasLimit, bytes _extraData) external payable;
    }

    interface L2ERC721Bridge {
        function initialize(address _l1ERC721Bridge) external;
    }

    interface GasPriceOracle {
        function setEcotone() external;
        function setFjord() external;
        function isEcotone() external view returns (bool);
        function isFjord() external view returns (bool);
        function baseFeeScalar() external view returns (uint32);
        function getL1Fee(bytes _data) external view returns (uint256);
    }

    interface L1Block {
        function number() external view returns (uint64);
        function basefee() external view returns (uint256);
        function baseFeeScalar() external view returns (uint32);
        function batcherHash() external view returns (bytes32);
        function operatorFeeScalar() external view returns (uint32);
        function version() external view returns (string);
    }

    interface L2ToL1MessagePasser {
        function initiateWithdrawal(address _target, uint256 _gasLimit, bytes _data) external payable;
        function sentMessages(bytes32 _withdrawalHash) external view returns (bool);
        event MessagePassed(
            uint256 indexed nonce,
            address indexed sender,
            address indexed target,
            uint256 value,
            uint256 gasLimit,
            bytes data,
            bytes32 withdrawalHash
        );
    }

    interface FeeVault {
        function RECIPIENT() external view returns (address);
    }
}

/// Calls the view function `call` of the contract at `to`, at the L1 head, and decodes its
/// answer. At the head explicitly: a node asked without a block may answer from its pending
/// block (anvil does), where a transaction still in the pool has already changed the contract.
pub async fn view<P: alloy_provider::Provider, C: alloy_sol_types::SolCall>(
    provider: &P,
    to: alloy_primitives::Address,
    call: C,
) -> Result<C::Return, crate::OpContractsError> {
    use alloy_network::TransactionBuilder;
    let failed =
        |why: String| crate::OpContractsError::View { contract: to, function: C::SIGNATURE, why };
    let request = alloy_rpc_types_eth::TransactionRequest::default()
        .with_to(to)
        .with_input(call.abi_encode());
    let answer = provider
        .call(request)
        .block(alloy_eips::BlockNumberOrTag::Latest.into())
        .await
        .map_err(|err| failed(err.to_string()))?;
    C::abi_decode_returns(&answer)
        .map_err(|err| failed(format!("cannot decode its {}-byte answer: {err}", answer.len())))
}
