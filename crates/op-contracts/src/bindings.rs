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
        event TransactionDeposited(address indexed from, address indexed to, uint256 indexed version, bytes opaqueData);
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

    interface FeeVault {
        function RECIPIENT() external view returns (address);
    }
}
