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

    /// The node's folder in the devnet state.
    pub const fn dir(self) -> &'static str {
        match self {
            Self::Sequencer => "sequencer",
            Self::P2pValidator => "validator-1",
            Self::L1Validator => "validator-2",
        }
    }

    const fn index(self) -> u16 {
        match self {
            Self::Sequencer => 0,
            Self::P2pValidator => 1,
            Self::L1Validator => 2,
        }
    }
}

/// How the devnet runs; every field has the harness default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DevnetSettings {
    /// Isthmus activation, seconds after L2 genesis.
    pub isthmus_delay: u64,
    /// L2 block time, seconds.
    pub l2_block_time: u64,
    /// L1 block (slot) time, seconds.
    pub l1_block_time: u64,
    /// Whether the batcher posts blobs (else calldata).
    pub blobs: bool,
    /// The hex key the batcher posts with (`None`: the devnet's genesis batcher).
    pub batcher_key: Option<&'static str>,
    /// The node that runs the built-in proposer.
    pub proposer: Node,
}

impl Default for DevnetSettings {
    /// Isthmus 150 s after genesis, 2 s L2 and L1 blocks, and the batcher posting what
    /// `BATCHER_DA` says (`blobs`, or calldata by default).
    fn default() -> Self {
        let blobs = std::env::var("BATCHER_DA").is_ok_and(|da| da == "blobs");
        Self {
            isthmus_delay: 150,
            l2_block_time: 2,
            l1_block_time: 2,
            blobs,
            batcher_key: None,
            proposer: Node::Sequencer,
        }
    }
}

impl DevnetSettings {
    /// Isthmus `seconds` after genesis.
    pub const fn isthmus_delay(self, seconds: u64) -> Self {
        Self { isthmus_delay: seconds, ..self }
    }

    /// The batcher posts with `key` (hex).
    pub const fn batcher_key(self, key: &'static str) -> Self {
        Self { batcher_key: Some(key), ..self }
    }

    /// `node` runs the built-in proposer (devnet.sh's `PROPOSER_NODE`).
    pub const fn proposer(self, node: Node) -> Self {
        Self { proposer: node, ..self }
    }

    /// L2 blocks every `seconds`.
    pub const fn l2_block_time(self, seconds: u64) -> Self {
        Self { l2_block_time: seconds, ..self }
    }
}

/// A running devnet.
#[derive(Debug)]
pub struct Devnet {
    child: Child,
    /// Nodes the harness restarted itself: reaped when the devnet stops (a node that exited but
    /// was never waited for keeps its pid, and reth takes a database lock held by a live pid).
    restarted: Vec<Child>,
    dir: tempfile::TempDir,
    /// How it runs.
    pub settings: DevnetSettings,
}

impl Devnet {
    /// Starts the devnet and waits until all three nodes answer over RPC.
    pub async fn start(settings: DevnetSettings) -> Self {
        let dir = tempfile::Builder::new().prefix("op-chain-e2e-").tempdir().unwrap();
        let child = spawn_devnet(dir.path(), &settings);
        let mut devnet = Self { child, restarted: Vec::new(), dir, settings };
        devnet.wait_for_nodes().await;
        devnet
    }

    /// Stops the devnet (every node, gracefully) and starts it again from its state: the
    /// sequencer, its batcher and the validators resume where they were.
    pub async fn restart(&mut self) {
        self.restart_with(self.settings).await;
    }

    /// [`Self::restart`] with other settings (a new batcher key, say). Settings that shape the
    /// chain (block times, Isthmus) only matter at the first start.
    pub async fn restart_with(&mut self, settings: DevnetSettings) {
        self.settings = settings;
        self.stop();
        self.child = spawn_devnet(self.dir.path(), &self.settings);
        self.wait_for_nodes().await;
    }

    /// Waits until every node answers over RPC; fails at once if devnet.sh gave up.
    async fn wait_for_nodes(&mut self) {
        let started = Instant::now();
        for node in Node::ALL {
            let url = self.l2(node);
            while rpc(&url, "eth_chainId", serde_json::json!([])).await.is_none() {
                if let Ok(Some(status)) = self.child.try_wait() {
                    panic!(
                        "devnet.sh exited ({status}) before {node:?} answered; see {}",
                        self.dir.path().join("devnet.out").display()
                    );
                }
                assert!(
                    started.elapsed() < Duration::from_secs(600),
                    "{node:?} did not answer on {url} within 600 s"
                );
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        }
    }

    /// The pid of a node's `rollup` process.
    pub fn node_pid(&self, node: Node) -> Option<u32> {
        node_pid(&self.state(), node)
    }

    /// Kills a node with SIGKILL (no shutdown at all) and starts it again with the same
    /// command line, in the devnet's process group so that it is stopped with the devnet.
    pub async fn kill_and_restart(&mut self, node: Node) {
        let pid = self.node_pid(node).expect("the node runs");
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
        let mut args = cmdline
            .split(|b| *b == 0)
            .filter(|arg| !arg.is_empty())
            .map(|arg| String::from_utf8_lossy(arg).into_owned());
        let program = args.next().unwrap();
        Command::new("kill").args(["-KILL", &pid.to_string()]).status().unwrap();
        wait_until(|| async move { (!Path::new(&format!("/proc/{pid}")).exists()).then_some(()) })
            .within(Duration::from_secs(10), "the killed node gone")
            .await;
        let log = std::fs::OpenOptions::new()
            .append(true)
            .open(self.state().join(node.dir()).join("rollup.log"))
            .unwrap();
        let mut command = Command::new(program);
        command.args(args).stdout(log.try_clone().unwrap()).stderr(log).stdin(Stdio::null());
        std::os::unix::process::CommandExt::process_group(&mut command, self.child.id() as i32);
        self.restarted.push(command.spawn().unwrap());
    }

    fn stop(&mut self) {
        // devnet.sh stops the nodes it started on TERM; a node the harness restarted itself is
        // signalled by pid as well. A node still holding its database lock would keep the next
        // start's node from opening it, so this returns only once every node is gone.
        let group = format!("-{}", self.child.id());
        let state = self.state();
        let signal_all = |signal: &str| {
            let _ = Command::new("kill").args([signal, "--", &group]).status();
            for pid in Node::ALL.iter().filter_map(|node| node_pid(&state, *node)) {
                let _ = Command::new("kill").args([signal, &pid.to_string()]).status();
            }
        };
        signal_all("-TERM");
        for (signal, limit) in [(None, 30), (Some("-KILL"), 10)] {
            if let Some(signal) = signal {
                signal_all(signal);
            }
            let deadline = Instant::now() + Duration::from_secs(limit);
            while Instant::now() < deadline {
                let exited = matches!(self.child.try_wait(), Ok(Some(_)))
                    && self
                        .restarted
                        .iter_mut()
                        .all(|child| matches!(child.try_wait(), Ok(Some(_))));
                if exited && Node::ALL.iter().all(|node| node_pid(&state, *node).is_none()) {
                    self.restarted.clear();
                    return;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        let _ = self.child.wait();
        for mut child in self.restarted.drain(..) {
            let _ = child.wait();
        }
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

    /// The port reth's engine API (auth) server would listen on for a node.
    pub const fn auth_port(&self, node: Node) -> u16 {
        PORT_BASE + 8551 + 10 * node.index()
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
        self.stop();
        if std::thread::panicking() {
            // Keep what explains the failure.
            let kept =
                std::env::temp_dir().join(format!("op-chain-e2e-failed-{}", self.child.id()));
            let _ = std::fs::rename(self.dir.path(), &kept);
            eprintln!("devnet state and logs kept in {}", kept.display());
        }
    }
}

/// The pid of the `rollup` process of `node` in the devnet whose state is `state`.
fn node_pid(state: &Path, node: Node) -> Option<u32> {
    let datadir = state.join(node.dir()).join("data");
    let out = Command::new("pgrep")
        .args(["-f", &format!("datadir {}", datadir.display())])
        .output()
        .ok()?;
    String::from_utf8_lossy(&out.stdout).lines().next()?.trim().parse().ok()
}

/// Starts `etc/devnet/devnet.sh` on the harness ports with its state in `dir/state`, in a
/// process group of its own; its output goes to `dir/devnet.out` (earlier runs' kept beside it).
fn spawn_devnet(dir: &Path, settings: &DevnetSettings) -> Child {
    let rollup = std::env::var_os("ROLLUP_BIN").map(PathBuf::from).expect(
        "ROLLUP_BIN must name a release `rollup` build (cargo build --release in bin/rollup)",
    );
    assert!(rollup.is_file(), "ROLLUP_BIN={} is not a file", rollup.display());
    let out = dir.join("devnet.out");
    if out.exists() {
        let runs = std::fs::read_dir(dir).unwrap().count();
        std::fs::rename(&out, dir.join(format!("devnet.out.{runs}"))).unwrap();
    }
    let log = std::fs::File::create(out).unwrap();
    let mut command = Command::new(repo_root().join("etc/devnet/devnet.sh"));
    command
        .env("DEVNET_DIR", dir.join("state"))
        .env("ROLLUP_BIN", &rollup)
        .env("VALIDATORS", "2")
        .env("NO_P2P_VALIDATORS", "2")
        .env("ISTHMUS_DELAY", settings.isthmus_delay.to_string())
        .env("L2_BLOCK_TIME", settings.l2_block_time.to_string())
        .env("L1_BLOCK_TIME", settings.l1_block_time.to_string())
        .env("BATCHER_DA", if settings.blobs { "blobs" } else { "calldata" })
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
    command.env("PROPOSER_NODE", settings.proposer.index().to_string());
    if let Some(key) = settings.batcher_key {
        command.env("BATCHER_KEY", key);
    }
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    command.spawn().expect("start etc/devnet/devnet.sh")
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
