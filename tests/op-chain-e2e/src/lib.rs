//! The end-to-end harness: a devnet of real `rollup` nodes started through the operator's own
//! command (`etc/devnet/devnet.sh`), on ports of its own, and read back over RPC only.
//!
//! - [`Devnet`]: anvil + beacon adapter + the OP contracts + a sequencer, a P2P validator and an
//!   L1-only validator; stopped (the whole process group) when dropped.
//! - [`wait_until`]: polls a condition until it holds, `.within(limit, what)`, instead of fixed
//!   sleeps; a condition that never holds fails the test naming `what`.
//!
//! The scenarios (tests/op_chain.rs) need a release `rollup` binary in `ROLLUP_BIN`; without
//! one they are ignored, and nextest reports them as skipped, never as passed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use kona_genesis::RollupConfig;
use rollup_op_contracts::L1Deployment;
use std::{
    future::Future,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};
use url::Url;

/// Ports of the harness devnet: below 32768 (outgoing connections take ports above it) and apart
/// from `devnet.sh`'s defaults, so an operator's devnet can run beside it.
const PORT_BASE: u16 = 10_000;

/// A node of the devnet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Node {
    /// The sequencer (with the built-in batcher).
    Sequencer,
    /// Validator 1: derives from L1 and follows the sequencer over P2P.
    P2pValidator,
    /// Validator 2: derives from L1 only.
    L1Validator,
}

impl Node {
    /// All three.
    pub const ALL: [Self; 3] = [Self::Sequencer, Self::P2pValidator, Self::L1Validator];

    const fn index(self) -> u16 {
        match self {
            Self::Sequencer => 0,
            Self::P2pValidator => 1,
            Self::L1Validator => 2,
        }
    }
}

/// A running devnet.
#[derive(Debug)]
pub struct Devnet {
    child: Child,
    dir: tempfile::TempDir,
    /// Isthmus activation, seconds after L2 genesis.
    pub isthmus_delay: u64,
}

impl Devnet {
    /// Starts the devnet with Isthmus `isthmus_delay` seconds after genesis and waits until all
    /// three nodes answer over RPC.
    pub async fn start(isthmus_delay: u64) -> Self {
        let rollup = std::env::var_os("ROLLUP_BIN").map(PathBuf::from).expect(
            "ROLLUP_BIN must name a release `rollup` build (cargo build --release in bin/rollup)",
        );
        assert!(rollup.is_file(), "ROLLUP_BIN={} is not a file", rollup.display());
        let root = repo_root();
        let dir = tempfile::Builder::new().prefix("op-chain-e2e-").tempdir().unwrap();
        let log = std::fs::File::create(dir.path().join("devnet.out")).unwrap();
        let mut command = Command::new(root.join("etc/devnet/devnet.sh"));
        command
            .env("DEVNET_DIR", dir.path().join("state"))
            .env("ROLLUP_BIN", &rollup)
            .env("VALIDATORS", "2")
            .env("NO_P2P_VALIDATORS", "2")
            .env("ISTHMUS_DELAY", isthmus_delay.to_string())
            .env("L1_PORT", (PORT_BASE + 8545).to_string())
            .env("BEACON_PORT", (PORT_BASE + 5052).to_string())
            .env("L2_HTTP_PORT", (PORT_BASE + 9545).to_string())
            .env("KONA_RPC_PORT", (PORT_BASE + 9546).to_string())
            .env("METRICS_PORT", (PORT_BASE + 9001).to_string())
            .env("L2_P2P_PORT", (PORT_BASE + 10303).to_string())
            .env("L2_AUTH_PORT", (PORT_BASE + 8551).to_string())
            .env("KONA_P2P_PORT", (PORT_BASE + 9222).to_string())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .stdin(Stdio::null());
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let child = command.spawn().expect("start etc/devnet/devnet.sh");
        let devnet = Self { child, dir, isthmus_delay };
        for node in Node::ALL {
            let url = devnet.l2(node);
            wait_until(|| {
                let url = url.clone();
                async move { rpc(&url, "eth_chainId", serde_json::json!([])).await }
            })
            .within(Duration::from_secs(600), &format!("{node:?} answers on {url}"))
            .await;
        }
        devnet
    }

    /// The devnet's state folder (genesis, rollup config, addresses, logs).
    pub fn state(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    /// The L1 (anvil).
    pub fn l1(&self) -> Url {
        local(PORT_BASE + 8545)
    }

    /// A node's L2 JSON-RPC.
    pub fn l2(&self, node: Node) -> Url {
        local(PORT_BASE + 9545 + 10 * node.index())
    }

    /// A node's Prometheus endpoint.
    pub fn metrics(&self, node: Node) -> Url {
        local(PORT_BASE + 9001 + 10 * node.index()).join("metrics").unwrap()
    }

    /// The value of the first metric whose name contains `name` on a node (the process-wide
    /// prefix reth adds is left out of `name`).
    pub async fn metric(&self, node: Node, name: &str) -> Option<f64> {
        let text = reqwest::get(self.metrics(node)).await.ok()?.text().await.ok()?;
        text.lines()
            .filter(|line| !line.starts_with('#'))
            .find(|line| line.split(['{', ' ']).next().is_some_and(|metric| metric.contains(name)))
            .and_then(|line| line.rsplit(' ').next()?.parse().ok())
    }

    /// A node's kona RPC (`optimism_*`).
    pub fn kona(&self, node: Node) -> Url {
        local(PORT_BASE + 9546 + 10 * node.index())
    }

    /// The L1 contracts, from `addresses.json`.
    pub fn addresses(&self) -> L1Deployment {
        serde_json::from_slice(&std::fs::read(self.state().join("addresses.json")).unwrap())
            .unwrap()
    }

    /// The rollup config the nodes run.
    pub fn rollup_config(&self) -> RollupConfig {
        serde_json::from_slice(&std::fs::read(self.state().join("rollup.json")).unwrap()).unwrap()
    }

    /// A node's sync status: (unsafe, safe, finalized) L2 block numbers.
    pub async fn heads(&self, node: Node) -> Option<(u64, u64, u64)> {
        let status = rpc(&self.kona(node), "optimism_syncStatus", serde_json::json!([])).await?;
        let number = |key: &str| status[key]["number"].as_u64();
        Some((number("unsafe_l2")?, number("safe_l2")?, number("finalized_l2")?))
    }
}

impl Drop for Devnet {
    fn drop(&mut self) {
        // devnet.sh stops its nodes on TERM; the whole group gets it in case the script is gone.
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-TERM", "--", &group]).status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.child.wait();
        if std::thread::panicking() {
            // Keep what explains the failure.
            let kept =
                std::env::temp_dir().join(format!("op-chain-e2e-failed-{}", self.child.id()));
            let _ = std::fs::rename(self.dir.path(), &kept);
            eprintln!("devnet state and logs kept in {}", kept.display());
        }
    }
}

fn local(port: u16) -> Url {
    format!("http://127.0.0.1:{port}").parse().unwrap()
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

/// One JSON-RPC call; `None` when the node does not answer or answers with an error.
pub async fn rpc(url: &Url, method: &str, params: serde_json::Value) -> Option<serde_json::Value> {
    use alloy_provider::Provider;
    let provider = alloy_provider::RootProvider::<alloy_network::Ethereum>::new_http(url.clone());
    provider.raw_request::<_, serde_json::Value>(method.to_string().into(), params).await.ok()
}

/// A condition polled until it yields a value.
#[derive(Debug)]
pub struct WaitUntil<F> {
    condition: F,
    poll: Duration,
}

/// Polls `condition` (every 250 ms) until it returns `Some`; bound it with
/// [`WaitUntil::within`].
pub const fn wait_until<F>(condition: F) -> WaitUntil<F> {
    WaitUntil { condition, poll: Duration::from_millis(250) }
}

impl<F, Fut, T> WaitUntil<F>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    /// The condition's value, or a panic naming `what` once `limit` has passed without it.
    pub async fn within(mut self, limit: Duration, what: &str) -> T {
        let started = Instant::now();
        loop {
            if let Some(value) = (self.condition)().await {
                return value;
            }
            assert!(started.elapsed() < limit, "{what}: did not happen within {limit:?}");
            tokio::time::sleep(self.poll).await;
        }
    }
}
