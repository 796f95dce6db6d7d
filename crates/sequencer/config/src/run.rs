//! The `sequencer run` TOML file and its validation.

use crate::{
    genesis::SequencerGenesisInfo,
    keys::{ValidatorKey, ValidatorPublicKey},
};
use alloy_genesis::Genesis;
use alloy_primitives::Address;
use alloy_rpc_types_engine::JwtSecret;
use sequencer_da::{Namespace, redact_url};
use serde::Deserialize;
use std::{
    collections::HashSet,
    fmt,
    net::{SocketAddr, ToSocketAddrs},
    path::{Path, PathBuf},
    str::FromStr,
    time::Duration,
};
use url::Url;

/// The config file as written (strings, before validation).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// EIP-155 chain id of the rollup.
    pub chain_id: u64,
    /// Optional path of the genesis written by `sequencer genesis`; when given, its chain id,
    /// validator set and forks are checked against this file.
    #[serde(default)]
    pub genesis_path: Option<PathBuf>,
    /// `[consensus]`.
    pub consensus: RawConsensus,
    /// `[celestia]`.
    pub celestia: RawCelestia,
    /// `[execution]`.
    pub execution: RawExecution,
    /// `[rpc]`.
    pub rpc: RawRpc,
    /// `[sequencer]` (optional: block time, back-pressure).
    #[serde(default)]
    pub sequencer: RawSequencer,
    /// `[metrics]` (optional).
    #[serde(default)]
    pub metrics: RawMetrics,
}

/// `[consensus]` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConsensus {
    /// Hex ed25519 public keys of the validator set.
    pub validators: Vec<String>,
    /// This validator's key file (written by `sequencer keygen`).
    pub private_key_path: PathBuf,
    /// P2P listen address (`host:port`).
    pub listen_addr: String,
    /// The other validators' p2p addresses, `"<public key>@host:port"` (every other validator
    /// of a set needs one; a single validator needs none).
    #[serde(default)]
    pub peers: Vec<String>,
}

/// `[celestia]` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCelestia {
    /// `local` (the local DA node, `sequencer da`), `mocha`, `arabica` or `mainnet`.
    pub network: String,
    /// Hex namespace, at most 10 bytes.
    pub namespace: String,
    /// The Celestia node's JSON-RPC URL (default for `local`: `http://127.0.0.1:26658`).
    #[serde(default)]
    pub rpc_url: Option<String>,
    /// File holding the node's auth token (mode 0600); the `CELESTIA_AUTH_TOKEN` environment
    /// variable is used when unset.
    #[serde(default)]
    pub auth_token_path: Option<PathBuf>,
    /// Gas price offered per submission (default: the node's estimate).
    #[serde(default)]
    pub gas_price: Option<f64>,
    /// Highest gas price offered after failed submissions raised it (default: 5 x
    /// `gas_price`).
    #[serde(default)]
    pub max_gas_price: Option<f64>,
    /// After a submission without an answer, how long (ms) the batch is looked for on DA before
    /// it is sent again (default 90 000).
    #[serde(default)]
    pub resubmit_after_ms: Option<u64>,
}

/// `[execution]` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawExecution {
    /// reth's authenticated Engine API URL (`http://host:8551`).
    pub reth_url: String,
    /// File holding the 32-byte hex JWT secret shared with reth (`--authrpc.jwtsecret`).
    pub jwt_secret_path: PathBuf,
    /// Optional reth public JSON-RPC URL: the sequencer's mempool asks it for senders' balances
    /// and nonces (`eth_getBalance`, `eth_getTransactionCount`) and the latest base fee, and
    /// refuses transactions the chain's state cannot pay for. Without it nothing is checked
    /// against the state (a warning at startup says so): anyone can fill the mempool from keys
    /// holding nothing.
    #[serde(default)]
    pub rpc_url: Option<String>,
    /// Optional fee recipient of built blocks (default: zero address).
    #[serde(default)]
    pub fee_recipient: Option<String>,
}

/// `[rpc]` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRpc {
    /// JSON-RPC listen address.
    pub listen_addr: String,
}

/// `[sequencer]` as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSequencer {
    /// Block time in milliseconds (default 1000).
    pub block_time_ms: Option<u64>,
    /// Most soft blocks allowed ahead of the firm head before production pauses (default 64).
    pub max_soft_ahead: Option<u64>,
    /// Grace period for in-flight work on SIGTERM/SIGINT, in milliseconds (default 10000).
    pub shutdown_timeout_ms: Option<u64>,
    /// Where the last FIRM block is recorded (default `sequencer-state.json` beside the config).
    pub state_path: Option<PathBuf>,
}

/// `[metrics]` as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMetrics {
    /// Prometheus listen address; metrics are off when absent.
    pub listen_addr: Option<String>,
}

/// One problem with one field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// Dotted field name, e.g. `execution.reth_url`.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// Every problem found in a config file (never empty).
#[derive(Debug, Clone, thiserror::Error)]
pub struct ConfigErrors {
    /// The config file.
    pub path: PathBuf,
    /// The problems, in field order.
    pub errors: Vec<ConfigError>,
}

impl ConfigErrors {
    fn single(path: &Path, field: &str, message: String) -> Self {
        Self {
            path: path.to_path_buf(),
            errors: vec![ConfigError { field: field.into(), message }],
        }
    }

    /// Whether some error names `field`.
    pub fn has(&self, field: &str) -> bool {
        self.errors.iter().any(|e| e.field == field)
    }
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.errors.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{}: {e}", self.path.display())?;
        }
        Ok(())
    }
}

/// The default RPC URL of the local DA node (celestia-node's default RPC port).
pub const LOCAL_DA_RPC_URL: &str = "http://127.0.0.1:26658";

/// A Celestia node auth token. Never printed: `Debug` shows its length only.
#[derive(Clone, PartialEq, Eq)]
pub struct AuthToken(String);

impl AuthToken {
    /// The token.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for AuthToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AuthToken(<{} bytes>)", self.0.len())
    }
}

/// Reads an auth token file, which must be readable by its owner only.
fn load_auth_token(path: &Path) -> Result<AuthToken, String> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(format!(
            "{}: mode {mode:04o} is too open, the token must be readable by its owner only (chmod 600)",
            path.display()
        ));
    }
    let token = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let token = token.trim();
    if token.is_empty() {
        return Err(format!("{}: empty", path.display()));
    }
    Ok(AuthToken(token.to_owned()))
}

/// Which Celestia network the blobs go to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CelestiaNetwork {
    /// The local Celestia-compatible DA node (`sequencer da`).
    Local,
    /// Celestia Mocha testnet.
    Mocha,
    /// Celestia Arabica devnet.
    Arabica,
    /// Celestia mainnet.
    Mainnet,
}

impl FromStr for CelestiaNetwork {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "local" => Ok(Self::Local),
            "mocha" | "mocha-4" => Ok(Self::Mocha),
            "arabica" | "arabica-11" => Ok(Self::Arabica),
            "mainnet" | "celestia" => Ok(Self::Mainnet),
            other => Err(format!(
                "unknown network {other:?} (expected local, mocha, arabica or mainnet)"
            )),
        }
    }
}

/// Validated `[consensus]`.
#[derive(Debug, Clone)]
pub struct ConsensusConfig {
    /// The validator set, in config order.
    pub validators: Vec<ValidatorPublicKey>,
    /// This validator's key (its public key is in `validators`).
    pub key: ValidatorKey,
    /// P2P listen address.
    pub listen_addr: SocketAddr,
    /// The other validators and their p2p addresses (resolved at start).
    pub peers: Vec<(ValidatorPublicKey, SocketAddr)>,
}

/// Validated `[celestia]`.
#[derive(Clone)]
pub struct DaConfig {
    /// Network.
    pub network: CelestiaNetwork,
    /// Namespace of this chain's blobs.
    pub namespace: Namespace,
    /// The Celestia node's JSON-RPC URL.
    pub rpc_url: Url,
    /// Its auth token, if any.
    pub auth_token: Option<AuthToken>,
    /// Gas price per submission, if set.
    pub gas_price: Option<f64>,
    /// Highest gas price, if set.
    pub max_gas_price: Option<f64>,
    /// Look-up window before a batch without an answer is sent again.
    pub resubmit_after: Duration,
}

// URLs are shown redacted: node providers put tokens in them.
impl fmt::Debug for DaConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DaConfig")
            .field("network", &self.network)
            .field("namespace", &self.namespace)
            .field("rpc_url", &redact_url(self.rpc_url.as_str()))
            .field("auth_token", &self.auth_token)
            .field("gas_price", &self.gas_price)
            .field("max_gas_price", &self.max_gas_price)
            .field("resubmit_after", &self.resubmit_after)
            .finish()
    }
}

/// Validated `[execution]`.
#[derive(Clone)]
pub struct ExecutionConfig {
    /// Engine API URL.
    pub reth_url: Url,
    /// JWT secret.
    pub jwt_secret: JwtSecret,
    /// Public RPC URL of reth, if configured: balances, nonces and the base fee checked before
    /// a transaction is admitted (`execution.rpc_url`).
    pub rpc_url: Option<Url>,
    /// Fee recipient.
    pub fee_recipient: Address,
    /// Whether Prague is active at genesis (Engine API V4 methods); `true` unless a genesis
    /// without Prague is configured.
    pub prague: bool,
}

impl fmt::Debug for ExecutionConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExecutionConfig")
            .field("reth_url", &redact_url(self.reth_url.as_str()))
            .field("jwt_secret", &self.jwt_secret)
            .field("rpc_url", &self.rpc_url.as_ref().map(|u| redact_url(u.as_str())))
            .field("fee_recipient", &self.fee_recipient)
            .field("prague", &self.prague)
            .finish()
    }
}

/// Validated `[rpc]`.
#[derive(Debug, Clone, Copy)]
pub struct RpcConfig {
    /// Listen address.
    pub listen_addr: SocketAddr,
}

/// Validated `[sequencer]`.
#[derive(Debug, Clone)]
pub struct SequencerConfig {
    /// Block time.
    pub block_time: Duration,
    /// Back-pressure bound: production pauses while `soft - firm >= max_soft_ahead`.
    pub max_soft_ahead: u64,
    /// Shutdown grace period.
    pub shutdown_timeout: Duration,
    /// The FIRM record file.
    pub state_path: PathBuf,
}

/// Validated `[metrics]`.
#[derive(Debug, Clone, Copy)]
pub struct MetricsConfig {
    /// Prometheus listen address.
    pub listen_addr: Option<SocketAddr>,
}

/// A config that passed [`Config::validate`].
#[derive(Debug, Clone)]
pub struct ValidatedConfig {
    /// Chain id.
    pub chain_id: u64,
    /// Consensus.
    pub consensus: ConsensusConfig,
    /// DA.
    pub da: DaConfig,
    /// Execution.
    pub execution: ExecutionConfig,
    /// RPC.
    pub rpc: RpcConfig,
    /// Block production.
    pub sequencer: SequencerConfig,
    /// Metrics.
    pub metrics: MetricsConfig,
}

fn parse_socket_addr(s: &str) -> Result<SocketAddr, String> {
    if let Ok(a) = s.parse::<SocketAddr>() {
        return Ok(a);
    }
    s.to_socket_addrs()
        .map_err(|e| format!("{s:?} is not a host:port address ({e})"))?
        .next()
        .ok_or_else(|| format!("{s:?} resolves to no address"))
}

fn parse_http_url(s: &str) -> Result<Url, String> {
    // A refused value is quoted redacted: it may still hold the credentials meant for the node.
    let shown = redact_url(s);
    let url = Url::parse(s).map_err(|e| format!("{shown:?} is not a URL ({e})"))?;
    match url.scheme() {
        "http" | "https" => {}
        other => {
            return Err(format!(
                "{shown:?}: scheme {other:?} is not supported (use http or https)"
            ));
        }
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("{shown:?} has no host"));
    }
    Ok(url)
}

/// A Celestia node URL: celestia-rpc speaks HTTP(S) and WebSocket.
fn parse_ws_or_http_url(s: &str) -> Result<Url, String> {
    let shown = redact_url(s);
    let url = Url::parse(s).map_err(|e| format!("{shown:?} is not a URL ({e})"))?;
    match url.scheme() {
        "http" | "https" | "ws" | "wss" => {}
        other => {
            return Err(format!("{shown:?}: scheme {other:?} is not supported (use http or ws)"));
        }
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("{shown:?} has no host"));
    }
    Ok(url)
}

/// Reads the 32-byte hex JWT secret (reth's `--authrpc.jwtsecret` format). Like the validator
/// key, it must be readable by its owner only: whoever reads it drives reth's Engine API.
pub(crate) fn load_jwt(path: &Path) -> Result<JwtSecret, String> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(format!(
            "{}: mode {mode:04o} is too open, the JWT secret must be readable by its owner only \
             (chmod 600)",
            path.display()
        ));
    }
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let t = text.trim();
    JwtSecret::from_hex(t)
        .map_err(|e| format!("{}: not a 32-byte hex JWT secret ({e})", path.display()))
}

impl Config {
    /// Parses a config file (syntax and types only; see [`Self::validate`]).
    pub fn load(path: &Path) -> Result<Self, ConfigErrors> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigErrors::single(path, "config", format!("cannot read: {e}")))?;
        Self::parse(path, &text)
    }

    /// Parses config text; `path` is used in messages.
    pub fn parse(path: &Path, text: &str) -> Result<Self, ConfigErrors> {
        crate::toml_file::parse_toml(text)
            .map_err(|message| ConfigErrors::single(path, "config", message))
    }

    /// Loads and validates in one step.
    pub fn load_validated(path: &Path) -> Result<ValidatedConfig, ConfigErrors> {
        Self::load(path)?.validate(path)
    }

    /// Checks every field; relative paths resolve against the directory of `config_path`.
    pub fn validate(&self, config_path: &Path) -> Result<ValidatedConfig, ConfigErrors> {
        let base = config_path.parent().map(Path::to_path_buf).unwrap_or_default();
        let resolve = |p: &Path| if p.is_absolute() { p.to_path_buf() } else { base.join(p) };
        let mut errs: Vec<ConfigError> = Vec::new();
        let mut err = |field: &str, message: String| {
            errs.push(ConfigError { field: field.to_owned(), message });
        };

        if self.chain_id == 0 {
            err("chain_id", "must be non-zero".into());
        }

        // [consensus]
        let mut validators = Vec::new();
        let mut seen = HashSet::new();
        if self.consensus.validators.is_empty() {
            err("consensus.validators", "empty: at least one validator is required".into());
        }
        for (i, v) in self.consensus.validators.iter().enumerate() {
            match v.parse::<ValidatorPublicKey>() {
                Ok(pk) if !seen.insert(pk) => {
                    err(&format!("consensus.validators[{i}]"), format!("duplicate validator {pk}"))
                }
                Ok(pk) => validators.push(pk),
                Err(e) => err(&format!("consensus.validators[{i}]"), format!("{v:?}: {e}")),
            }
        }
        let key = match ValidatorKey::load(&resolve(&self.consensus.private_key_path)) {
            Ok(k) => Some(k),
            Err(e) => {
                err("consensus.private_key_path", e.to_string());
                None
            }
        };
        if let Some(k) = &key
            && validators.len() == self.consensus.validators.len()
            && !validators.contains(&k.public())
        {
            err(
                "consensus.private_key_path",
                format!("this validator ({}) is not in consensus.validators", k.public()),
            );
        }
        let listen = parse_socket_addr(&self.consensus.listen_addr)
            .map_err(|e| err("consensus.listen_addr", e))
            .ok();
        let mut peers: Vec<(ValidatorPublicKey, SocketAddr)> = Vec::new();
        for (i, p) in self.consensus.peers.iter().enumerate() {
            let field = format!("consensus.peers[{i}]");
            let Some((pk, addr)) = p.split_once('@') else {
                err(&field, format!("{p:?} is not <validator public key>@host:port"));
                continue;
            };
            let pk = match pk.parse::<ValidatorPublicKey>() {
                Ok(pk) => pk,
                Err(e) => {
                    err(&field, format!("{pk:?}: {e}"));
                    continue;
                }
            };
            let ok = addr
                .rsplit_once(':')
                .is_some_and(|(h, port)| !h.is_empty() && port.parse::<u16>().is_ok());
            let addr = match parse_socket_addr(addr) {
                Ok(a) if ok => a,
                Ok(_) => {
                    err(&field, format!("{addr:?} is not host:port"));
                    continue;
                }
                Err(e) => {
                    err(&field, e);
                    continue;
                }
            };
            if !validators.contains(&pk) {
                err(&field, format!("{pk} is not in consensus.validators"));
            } else if key.as_ref().is_some_and(|k| k.public() == pk) {
                err(&field, format!("{pk} is this validator (list the others)"));
            } else if peers.iter().any(|(seen, _)| *seen == pk) {
                err(&field, format!("{pk} is listed twice"));
            } else {
                peers.push((pk, addr));
            }
        }
        if validators.len() > 1
            && validators.len() == self.consensus.validators.len()
            && let Some(k) = &key
        {
            for v in &validators {
                if *v != k.public() && !peers.iter().any(|(p, _)| p == v) {
                    err("consensus.peers", format!("no address for validator {v}"));
                }
            }
        }

        // [celestia]
        let network = self
            .celestia
            .network
            .parse::<CelestiaNetwork>()
            .map_err(|e| err("celestia.network", e))
            .ok();
        let namespace = self
            .celestia
            .namespace
            .parse::<Namespace>()
            .map_err(|e| err("celestia.namespace", format!("{:?}: {e}", self.celestia.namespace)))
            .ok();
        let da_rpc_url = match (&self.celestia.rpc_url, network) {
            (Some(url), _) => {
                parse_ws_or_http_url(url).map_err(|e| err("celestia.rpc_url", e)).ok()
            }
            (None, Some(CelestiaNetwork::Local)) => Url::parse(LOCAL_DA_RPC_URL).ok(),
            (None, Some(_)) => {
                err("celestia.rpc_url", "required for a Celestia network (your node's RPC)".into());
                None
            }
            (None, None) => None,
        };
        let auth_token = match &self.celestia.auth_token_path {
            Some(path) => {
                load_auth_token(&resolve(path)).map_err(|e| err("celestia.auth_token_path", e)).ok()
            }
            None => std::env::var("CELESTIA_AUTH_TOKEN")
                .ok()
                .filter(|t| !t.trim().is_empty())
                .map(|t| AuthToken(t.trim().to_owned())),
        };
        for (field, price) in [
            ("celestia.gas_price", self.celestia.gas_price),
            ("celestia.max_gas_price", self.celestia.max_gas_price),
        ] {
            if let Some(price) = price
                && !(price.is_finite() && price > 0.0)
            {
                err(field, format!("{price}: must be a positive number"));
            }
        }
        if self.celestia.resubmit_after_ms == Some(0) {
            err("celestia.resubmit_after_ms", "must be at least 1".into());
        }
        if let (Some(price), Some(max)) = (self.celestia.gas_price, self.celestia.max_gas_price)
            && max < price
        {
            err("celestia.max_gas_price", format!("{max}: below gas_price {price}"));
        }

        // [execution]
        let reth_url =
            parse_http_url(&self.execution.reth_url).map_err(|e| err("execution.reth_url", e)).ok();
        let jwt = load_jwt(&resolve(&self.execution.jwt_secret_path))
            .map_err(|e| err("execution.jwt_secret_path", e))
            .ok();
        let rpc_url = match &self.execution.rpc_url {
            Some(u) => parse_http_url(u).map_err(|e| err("execution.rpc_url", e)).ok(),
            None => None,
        };
        let fee_recipient = match &self.execution.fee_recipient {
            Some(a) => a
                .parse::<Address>()
                .map_err(|e| {
                    err("execution.fee_recipient", format!("{a:?} is not an address ({e})"))
                })
                .unwrap_or_default(),
            None => Address::ZERO,
        };

        // [rpc], [metrics]
        let rpc_listen =
            parse_socket_addr(&self.rpc.listen_addr).map_err(|e| err("rpc.listen_addr", e)).ok();
        let metrics_listen = match &self.metrics.listen_addr {
            Some(a) => parse_socket_addr(a).map_err(|e| err("metrics.listen_addr", e)).ok(),
            None => None,
        };

        // [sequencer]
        let block_time_ms = self.sequencer.block_time_ms.unwrap_or(1000);
        if block_time_ms == 0 {
            err("sequencer.block_time_ms", "must be at least 1".into());
        } else if !block_time_ms.is_multiple_of(1000) && self.consensus.validators.len() > 1 {
            // A validator set's block timestamp is its parent's plus the block time, and block
            // timestamps are whole seconds.
            err(
                "sequencer.block_time_ms",
                format!("{block_time_ms}: a validator set needs whole seconds (1000, 2000, ...)"),
            );
        }
        let max_soft_ahead = self.sequencer.max_soft_ahead.unwrap_or(64);
        if max_soft_ahead == 0 {
            err("sequencer.max_soft_ahead", "must be at least 1".into());
        }
        let shutdown_timeout =
            Duration::from_millis(self.sequencer.shutdown_timeout_ms.unwrap_or(10_000));
        let state_path = resolve(
            self.sequencer.state_path.as_deref().unwrap_or(Path::new("sequencer-state.json")),
        );
        match state_path.parent().filter(|d| !d.as_os_str().is_empty()) {
            Some(dir) if !dir.is_dir() => err(
                "sequencer.state_path",
                format!("{}: directory {} does not exist", state_path.display(), dir.display()),
            ),
            _ if state_path.is_dir() => err(
                "sequencer.state_path",
                format!("{} is a directory, expected a file path", state_path.display()),
            ),
            _ => {}
        }

        // genesis_path: cross-checks.
        let mut prague = true;
        if let Some(gp) = &self.genesis_path {
            let gp = resolve(gp);
            match std::fs::read_to_string(&gp)
                .map_err(|e| e.to_string())
                .and_then(|t| serde_json::from_str::<Genesis>(&t).map_err(|e| e.to_string()))
            {
                Err(e) => err("genesis_path", format!("{}: {e}", gp.display())),
                Ok(g) => {
                    if g.config.chain_id != self.chain_id {
                        err(
                            "chain_id",
                            format!(
                                "{} but {} has chain id {}",
                                self.chain_id,
                                gp.display(),
                                g.config.chain_id
                            ),
                        );
                    }
                    prague = g.config.prague_time == Some(0);
                    match SequencerGenesisInfo::from_genesis(&g) {
                        Ok(info) => {
                            let mut a = info.validators.clone();
                            let mut b = validators.clone();
                            a.sort_by_key(|k| k.to_bytes());
                            b.sort_by_key(|k| k.to_bytes());
                            if validators.len() == self.consensus.validators.len() && a != b {
                                err(
                                    "consensus.validators",
                                    format!(
                                        "differ from the validator set recorded in {}",
                                        gp.display()
                                    ),
                                );
                            }
                        }
                        Err(e) => err("genesis_path", format!("{}: {e}", gp.display())),
                    }
                }
            }
        }

        if !errs.is_empty() {
            return Err(ConfigErrors { path: config_path.to_path_buf(), errors: errs });
        }
        // Every Option below is Some when no error was recorded.
        match (key, listen, network, namespace, reth_url, jwt, rpc_listen, da_rpc_url) {
            (
                Some(key),
                Some(listen_addr),
                Some(network),
                Some(namespace),
                Some(reth_url),
                Some(jwt_secret),
                Some(rpc),
                Some(da_rpc_url),
            ) => Ok(ValidatedConfig {
                chain_id: self.chain_id,
                consensus: ConsensusConfig { validators, key, listen_addr, peers },
                da: DaConfig {
                    network,
                    namespace,
                    rpc_url: da_rpc_url,
                    auth_token,
                    gas_price: self.celestia.gas_price,
                    max_gas_price: self.celestia.max_gas_price,
                    resubmit_after: Duration::from_millis(
                        self.celestia.resubmit_after_ms.unwrap_or(90_000),
                    ),
                },
                execution: ExecutionConfig { reth_url, jwt_secret, rpc_url, fee_recipient, prague },
                rpc: RpcConfig { listen_addr: rpc },
                sequencer: SequencerConfig {
                    block_time: Duration::from_millis(block_time_ms),
                    max_soft_ahead,
                    shutdown_timeout,
                    state_path,
                },
                metrics: MetricsConfig { listen_addr: metrics_listen },
            }),
            _ => Err(ConfigErrors::single(
                config_path,
                "config",
                "internal: incomplete validation".into(),
            )),
        }
    }
}
