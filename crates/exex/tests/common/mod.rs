//! Test fixtures: a real anvil process as L1 and a minimal beacon API.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

use std::{
    io::{BufRead, BufReader},
    net::TcpListener,
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use url::Url;

/// A port that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The anvil binary: `$ANVIL_BIN`, else the one `tests/run.sh` installs from npm.
fn anvil_bin() -> PathBuf {
    if let Some(bin) = std::env::var_os("ANVIL_BIN") {
        return bin.into();
    }
    let local = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil");
    assert!(
        local.exists(),
        "anvil not found: run ./tests/run.sh (it installs @foundry-rs/anvil-linux-amd64) or set ANVIL_BIN"
    );
    local
}

/// A running anvil, killed on drop.
pub struct Anvil {
    child: Child,
    pub port: u16,
    pub chain_id: u64,
}

impl Anvil {
    pub fn start() -> Self {
        Self::start_on(free_port())
    }

    pub fn start_on(port: u16) -> Self {
        let mut child = Command::new(anvil_bin())
            .args(["--port", &port.to_string(), "--host", "127.0.0.1"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn anvil");
        let stdout = child.stdout.take().unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut lines = BufReader::new(stdout).lines();
        loop {
            assert!(Instant::now() < deadline, "anvil did not start within 30s");
            match lines.next() {
                Some(Ok(line)) if line.contains("Listening on") => break,
                Some(_) => continue,
                None => panic!("anvil exited before listening"),
            }
        }
        // Keep draining stdout so anvil never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Self { child, port, chain_id: 31337 }
    }

    pub fn url(&self) -> Url {
        format!("http://127.0.0.1:{}", self.port).parse().unwrap()
    }
}

impl Drop for Anvil {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Serves `/eth/v1/config/spec` and `/eth/v1/beacon/genesis`, the two beacon endpoints kona
/// reads at start-up.
pub struct BeaconFixture {
    port: u16,
    task: tokio::task::JoinHandle<()>,
}

impl BeaconFixture {
    pub const GENESIS_TIME: u64 = 1_700_000_000;

    pub async fn start(seconds_per_slot: u64) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut socket, _)) = listener.accept().await else { return };
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 4096];
                    let n = socket.read(&mut buf).await.unwrap_or(0);
                    let request = String::from_utf8_lossy(&buf[..n]);
                    let path = request.split_whitespace().nth(1).unwrap_or("");
                    let (status, body) = match path.trim_start_matches('/') {
                        "eth/v1/config/spec" => (
                            "200 OK",
                            format!(r#"{{"data":{{"SECONDS_PER_SLOT":"{seconds_per_slot}"}}}}"#),
                        ),
                        "eth/v1/beacon/genesis" => (
                            "200 OK",
                            format!(r#"{{"data":{{"genesis_time":"{}"}}}}"#, Self::GENESIS_TIME),
                        ),
                        _ => ("404 Not Found", String::from("{}")),
                    };
                    let response = format!(
                        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = socket.write_all(response.as_bytes()).await;
                });
            }
        });
        Self { port, task }
    }

    pub fn url(&self) -> Url {
        format!("http://127.0.0.1:{}", self.port).parse().unwrap()
    }
}

impl Drop for BeaconFixture {
    fn drop(&mut self) {
        self.task.abort();
    }
}
