//! The `sequencer` binary: keygen, genesis, config errors, and a run stopped by SIGTERM.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use alloy_rpc_types_engine::JwtSecret;
use jsonrpsee::{core::client::ClientT, http_client::HttpClientBuilder, rpc_params};
use sequencer_engine::BlockRef;
use sequencer_testing::{MockEngine, MockEngineConfig};
use std::{
    fs,
    os::unix::fs::PermissionsExt,
    path::Path,
    process::{Command, Stdio},
    time::Duration,
};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sequencer"))
}

fn keygen(path: &Path) -> String {
    let out = bin().args(["keygen", "--output"]).arg(path).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

#[test]
fn keygen_writes_0600_and_refuses_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v.key");
    let pk = keygen(&path);
    assert!(pk.starts_with("0x") && pk.len() == 66, "{pk}");
    assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    let before = fs::read(&path).unwrap();
    let out = bin().args(["keygen", "--output"]).arg(&path).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--output") && err.contains("already exists"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert_eq!(fs::read(&path).unwrap(), before, "key untouched");
}

#[test]
fn genesis_writes_reth_genesis() {
    let dir = tempfile::tempdir().unwrap();
    let pk = keygen(&dir.path().join("v.key"));
    let cfg = dir.path().join("genesis-config.toml");
    fs::write(
        &cfg,
        format!("chain_id = 1337\nvalidators = [\"{pk}\"]\n[[accounts]]\naddress = \"0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266\"\nbalance = \"0x3635c9adc5dea00000\"\n"),
    )
    .unwrap();
    let out_path = dir.path().join("genesis.json");
    let out = bin()
        .args(["genesis", "--config"])
        .arg(&cfg)
        .arg("--output")
        .arg(&out_path)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let g: alloy_genesis::Genesis =
        serde_json::from_str(&fs::read_to_string(&out_path).unwrap()).unwrap();
    assert_eq!(g.config.chain_id, 1337);
    assert_eq!(g.config.prague_time, Some(0));
    let raw: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(&out_path).unwrap()).unwrap();
    assert_eq!(raw["config"]["sequencer"]["validators"][0], pk);
    assert_eq!(raw["config"]["terminalTotalDifficulty"], 0);

    fs::write(&cfg, "chain_id = 1337\nvalidators = [\"0x12\"]\n").unwrap();
    let out = bin()
        .args(["genesis", "--config"])
        .arg(&cfg)
        .arg("--output")
        .arg(dir.path().join("g2.json"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("validators[0]"), "{err}");
}

fn write_run_config(
    dir: &Path,
    pk: &str,
    reth_url: &str,
    rpc_port: u16,
    da_url: &str,
) -> std::path::PathBuf {
    let path = dir.join("config.toml");
    fs::write(
        &path,
        format!(
            r#"chain_id = 1337

[consensus]
validators = ["{pk}"]
private_key_path = "v.key"
listen_addr = "127.0.0.1:0"

[celestia]
network = "local"
namespace = "0xc0ffee"
rpc_url = "{da_url}"

[execution]
reth_url = "{reth_url}"
jwt_secret_path = "jwt.hex"

[rpc]
listen_addr = "127.0.0.1:{rpc_port}"

[sequencer]
block_time_ms = 50
shutdown_timeout_ms = 3000
"#
        ),
    )
    .unwrap();
    path
}

#[test]
fn run_reports_every_bad_field() {
    let dir = tempfile::tempdir().unwrap();
    let pk = keygen(&dir.path().join("v.key"));
    fs::set_permissions(dir.path().join("v.key"), fs::Permissions::from_mode(0o644)).unwrap();
    let cfg = write_run_config(dir.path(), &pk, "ftp://x", 0, "unix:/nowhere");
    let out = bin().args(["run", "--config"]).arg(&cfg).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    for field in [
        "consensus.private_key_path",
        "execution.reth_url",
        "execution.jwt_secret_path",
        "celestia.rpc_url",
    ] {
        assert!(err.contains(field), "{field} missing from: {err}");
    }
    assert!(err.contains("0644"), "{err}");
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_produces_blocks_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let pk = keygen(&dir.path().join("v.key"));
    let secret = JwtSecret::random();
    fs::write(dir.path().join("jwt.hex"), hex_secret(&secret)).unwrap();
    fs::set_permissions(dir.path().join("jwt.hex"), fs::Permissions::from_mode(0o600)).unwrap();
    let engine = MockEngine::start(MockEngineConfig::new(1337, secret)).await.unwrap();
    // The local DA node, as its own process: the sequencer reaches it over celestia-rpc.
    let da_port = free_port();
    let mut da = bin()
        .args(["da", "--listen", &format!("127.0.0.1:{da_port}"), "--block-time-ms", "50"])
        .arg("--data-dir")
        .arg(dir.path().join("da"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let port = free_port();
    // Credentials in both URLs, as node providers hand them out: never to be logged.
    let da_url = format!("http://da:dapass@127.0.0.1:{da_port}/?token=datoken");
    let reth_url = format!("{}?token=enginesecret", engine.url());
    let cfg = write_run_config(dir.path(), &pk, &reth_url, port, &da_url);
    let mut child = bin()
        .args(["run", "--config"])
        .arg(&cfg)
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();

    let rpc = HttpClientBuilder::default().build(format!("http://127.0.0.1:{port}")).unwrap();
    let mut firm = 0;
    for _ in 0..400 {
        if let Ok(b) = rpc.request::<BlockRef, _>("sequencer_firmHead", rpc_params![]).await {
            firm = b.number;
            if firm >= 2 {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(firm >= 2, "no FIRM blocks");
    assert!(engine.violations().is_empty(), "{:?}", engine.violations());

    let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let out = tokio::task::spawn_blocking(move || {
        // The shutdown grace is 3 s; allow generous slack before calling it hung.
        for _ in 0..300 {
            if child.try_wait().unwrap().is_some() {
                return child.wait_with_output().unwrap();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        panic!("sequencer did not exit after SIGTERM");
    })
    .await
    .unwrap();
    assert!(out.status.success(), "exit {:?}", out.status);
    let logs = String::from_utf8_lossy(&out.stdout);
    for needle in ["SOFT", "PENDING", "FIRM", "SIGTERM received", "stopped cleanly"] {
        assert!(logs.contains(needle), "{needle} not logged:\n{logs}");
    }
    // The start-up line names both nodes, redacted.
    let starting = logs.lines().find(|l| l.contains("starting sequencer")).unwrap();
    assert!(
        starting.contains(&format!("http://***@127.0.0.1:{da_port}/?token=***"))
            && starting.contains(&format!("{}?token=***", engine.url())),
        "{starting}"
    );
    let all = format!("{logs}{}", String::from_utf8_lossy(&out.stderr));
    for secret in ["dapass", "datoken", "enginesecret"] {
        assert!(!all.contains(secret), "{secret} logged:\n{all}");
    }
    let _ = da.kill();
    let _ = da.wait();
    // The blocks are on the DA node's disk.
    assert!(dir.path().join("da").join("celestia-blobs.json").exists());
}

fn hex_secret(secret: &JwtSecret) -> String {
    secret.as_bytes().iter().map(|b| format!("{b:02x}")).collect()
}
