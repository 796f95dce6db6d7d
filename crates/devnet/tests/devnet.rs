//! Devnet genesis and rollup config (golden values measured with real op-reth v1.6.0), the
//! no-overwrite rule, and the beacon adapter in front of a real anvil.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use alloy_eips::BlockNumHash;
use alloy_primitives::{address, b256};
use kona_genesis::RollupConfig;
use kona_providers_alloy::{BeaconClient, OnlineBeaconClient};
use rollup_devnet::{
    BeaconAdapter, DevnetError, DevnetSpec, L1Origin, latest_l1_origin, write_all_atomically,
};
use std::{
    io::{BufRead, BufReader},
    process::{Child, Command, Stdio},
};

/// The L1 origin of a devnet whose genesis was loaded by op-reth v1.6.0 (`rollup init --chain
/// genesis.json` printed the hash asserted below).
const ORIGIN: L1Origin = L1Origin {
    block: BlockNumHash {
        number: 458,
        hash: b256!("b734e748214f33f2b8fa594414a251493be71ead17798bb9e83fe33ba84ab7ba"),
    },
    timestamp: 1_795_525_988,
    chain_id: 31_337,
};

#[test]
fn genesis_hash_matches_op_reth() {
    let artifacts = DevnetSpec::default().build(&ORIGIN).unwrap();
    assert_eq!(
        artifacts.genesis_hash,
        b256!("b18c69931b326364101f1fae44caf03bb6fbbd124cb6698bf4e924f31befe052")
    );
}

#[test]
fn rollup_config_matches_the_genesis_and_the_l1() {
    let spec = DevnetSpec { block_time: 1, ..DevnetSpec::default() };
    let artifacts = spec.build(&ORIGIN).unwrap();
    // What kona reads back from rollup.json.
    let json = serde_json::to_string(&artifacts.rollup).unwrap();
    let rollup: RollupConfig = serde_json::from_str(&json).unwrap();
    assert_eq!(rollup.genesis.l2, BlockNumHash::new(0, artifacts.genesis_hash));
    assert_eq!(rollup.genesis.l1, ORIGIN.block);
    assert_eq!(rollup.genesis.l2_time, ORIGIN.timestamp, "L2 genesis never precedes its L1 origin");
    assert_eq!(
        artifacts.genesis["timestamp"],
        serde_json::json!(format!("{:#x}", ORIGIN.timestamp))
    );
    assert_eq!(rollup.l1_chain_id, 31_337);
    assert_eq!(rollup.l2_chain_id.id(), 42_069);
    assert_eq!(rollup.block_time, 1);
    assert!(rollup.is_isthmus_active(ORIGIN.timestamp), "every fork through Isthmus at genesis");
    assert_eq!(rollup.batch_inbox_address, address!("ff0000000000000000000000000000000000a455"));
    let system = rollup.genesis.system_config.unwrap();
    assert_eq!(system.batcher_address, address!("70997970C51812dc3A010C7d01b50e0d17dc79C8"));
    assert_eq!(system.gas_limit, 30_000_000);
    assert_eq!(artifacts.genesis["config"]["chainId"], 42_069);
    assert_eq!(artifacts.genesis["alloc"].as_object().unwrap().len(), 10);
}

#[test]
fn bad_specs_are_rejected() {
    let err = DevnetSpec { block_time: 0, ..DevnetSpec::default() }.build(&ORIGIN).unwrap_err();
    assert_eq!(err.to_string(), "invalid devnet spec: block time must be at least 1 second");
    let err =
        DevnetSpec { l2_chain_id: 31_337, ..DevnetSpec::default() }.build(&ORIGIN).unwrap_err();
    assert!(err.to_string().contains("equals the L1 chain id"), "{err}");
}

#[test]
fn files_are_never_overwritten_without_force() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("genesis.json");
    let b = dir.path().join("rollup.json");
    write_all_atomically(&[(a.clone(), b"one".to_vec()), (b.clone(), b"one".to_vec())], false)
        .unwrap();
    std::fs::remove_file(&a).unwrap();
    // b exists: nothing is written, not even the missing a.
    let err =
        write_all_atomically(&[(a.clone(), b"two".to_vec()), (b.clone(), b"two".to_vec())], false)
            .unwrap_err();
    assert!(matches!(err, DevnetError::Exists(ref p) if *p == b), "{err}");
    assert!(!a.exists());
    assert_eq!(std::fs::read(&b).unwrap(), b"one");
    write_all_atomically(&[(a.clone(), b"two".to_vec()), (b.clone(), b"two".to_vec())], true)
        .unwrap();
    assert_eq!(std::fs::read(&b).unwrap(), b"two");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2, "no temporary files left");
}

struct Anvil(Child, u16);

impl Anvil {
    fn start() -> Self {
        let bin =
            std::env::var_os("ANVIL_BIN").map(std::path::PathBuf::from).unwrap_or_else(|| {
                std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                    .join("../../tests/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil")
            });
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut child = Command::new(bin)
            .args(["--port", &port.to_string(), "--host", "127.0.0.1"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("anvil (run ./tests/run.sh to install it, or set ANVIL_BIN)");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        while let Some(Ok(line)) = lines.next() {
            if line.contains("Listening on") {
                break;
            }
        }
        std::thread::spawn(move || for _ in lines {});
        Self(child, port)
    }

    fn url(&self) -> url::Url {
        format!("http://127.0.0.1:{}", self.1).parse().unwrap()
    }
}

impl Drop for Anvil {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn init_reads_the_l1_origin_from_anvil() {
    let anvil = Anvil::start();
    let origin = latest_l1_origin(&anvil.url()).await.unwrap();
    assert_eq!(origin.chain_id, 31_337);
    assert_eq!(origin.block.number, 0, "a fresh anvil is at genesis");
    let artifacts = DevnetSpec::default().build(&origin).unwrap();
    assert_eq!(artifacts.rollup.genesis.l1, origin.block);
}

#[tokio::test]
async fn unreachable_l1_is_one_clear_error() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url: url::Url = format!("http://127.0.0.1:{port}").parse().unwrap();
    let err = latest_l1_origin(&url).await.unwrap_err();
    assert!(err.to_string().starts_with(&format!("L1 RPC {url}: ")), "{err}");
}

#[tokio::test]
async fn beacon_adapter_serves_what_kona_reads() {
    let anvil = Anvil::start();
    let (addr, serve) =
        BeaconAdapter::new(anvil.url(), 12).bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let server = tokio::spawn(serve);
    let base = format!("http://{addr}");

    // kona's own beacon client, as its derivation pipeline uses it.
    let kona = OnlineBeaconClient::new_http(base.clone());
    assert_eq!(kona.config_spec().await.unwrap().data.seconds_per_slot, 12);
    let anvil_genesis: serde_json::Value =
        reqwest::get(anvil.url().join("eth/v1/beacon/genesis").unwrap())
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    let genesis_time = kona.beacon_genesis().await.unwrap().data.genesis_time;
    assert_eq!(serde_json::json!(genesis_time.to_string()), anvil_genesis["data"]["genesis_time"]);

    let sidecars = reqwest::get(format!("{base}/eth/v1/beacon/blob_sidecars/5")).await.unwrap();
    assert_eq!(sidecars.status().as_u16(), 501, "blob sidecars are refused, not faked");
    let unknown = reqwest::get(format!("{base}/eth/v1/node/version")).await.unwrap();
    assert_eq!(unknown.status().as_u16(), 404);
    server.abort();
}
