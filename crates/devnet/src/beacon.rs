//! The beacon API adapter that lets kona 0.1.3 run against anvil.
//!
//! anvil serves `/eth/v1/beacon/genesis` but not `/eth/v1/config/spec` (kona panics at start-up
//! without it) and answers 410 to `/eth/v1/beacon/blob_sidecars/{slot}`, which kona 0.1.3 asks
//! for blobs; it serves the blobs themselves as `/eth/v1/beacon/blobs/{block}`. The adapter
//! answers the spec itself (the slot time is the L1 block time the devnet runs anvil with) and the
//! genesis (the timestamp of L1 block 0: anvil's own beacon genesis is the time its process
//! started, which moves when anvil restarts from its state file and would shift every slot), and
//! builds blob sidecars:
//!
//! - slot → L1 block: the block whose timestamp falls in the slot, found by binary search over
//!   block timestamps (kona 0.1.3 computes the slot it asks for as `(timestamp - genesis) /
//!   seconds_per_slot` and keeps the sidecars whose index it wants, so a slot must hold one block).
//!   Two blocks in one slot is an error the adapter answers with its cause, never a guess.
//! - one block per slot, whatever happens to anvil: on its own clock, anvil stamps a block with
//!   the second it is mined, so a late interval tick or an `anvil_reorg` (which re-mines at the
//!   common ancestor's time) puts two blocks in one slot and that slot's blobs can never be
//!   served. The adapter therefore pins anvil to the slot grid
//!   (`anvil_setBlockTimestampInterval`: every block is its parent + one slot, also the blocks a
//!   reorg re-mines) before it serves, and again every slot in case anvil restarted under it. An
//!   L1 that stood still (a devnet resumed after a pause) first jumps to the clock: the slots in
//!   between are empty, as missed slots are on a beacon chain.
//! - the block's blobs from anvil, each with its real KZG commitment and proof (c-kzg, the
//!   Ethereum trusted setup): kona checks both against the transaction's versioned hashes.
//! - there is no beacon chain behind anvil, so the sidecar's beacon block header carries only the
//!   slot (zero roots, proposer and signature) and the commitment inclusion proof is empty; kona
//!   reads neither.

use crate::DevnetError;
use alloy_eips::{BlockNumberOrTag, eip4844::Blob};
use alloy_primitives::{B256, Bytes as AlloyBytes};
use alloy_provider::{Provider, RootProvider};
use alloy_rpc_types_beacon::{
    header::{BeaconBlockHeader, Header},
    sidecar::{BeaconBlobBundle, BlobData},
};
use http_body_util::Full;
use hyper::{Request, Response, StatusCode, body::Bytes, service::service_fn};
use hyper_util::rt::TokioIo;
use std::{
    convert::Infallible,
    net::SocketAddr,
    sync::Arc,
    time::{Duration, SystemTime, UNIX_EPOCH},
};
use tokio::{net::TcpListener, sync::OnceCell};
use tracing::{debug, info, warn};
use url::Url;

/// The adapter's configuration.
#[derive(Debug, Clone)]
pub struct BeaconAdapter {
    l1: Url,
    seconds_per_slot: u64,
    client: reqwest::Client,
    provider: RootProvider,
    genesis_time: OnceCell<u64>,
}

impl BeaconAdapter {
    /// An adapter in front of anvil at `l1`, whose blocks come every `seconds_per_slot` seconds.
    pub fn new(l1: Url, seconds_per_slot: u64) -> Self {
        let provider = RootProvider::new_http(l1.clone());
        Self {
            l1,
            seconds_per_slot,
            client: reqwest::Client::new(),
            provider,
            genesis_time: OnceCell::new(),
        }
    }

    /// Pins anvil to the slot grid, binds `addr` and serves until the task is dropped (re-pinning
    /// every slot). Returns the bound address (useful with port 0) and the serving future. Fails
    /// when the L1 is not an anvil that takes the pin.
    pub async fn bind(
        self,
        addr: SocketAddr,
    ) -> Result<(SocketAddr, impl Future<Output = ()> + Send), DevnetError> {
        self.pin_to_slot_grid().await?;
        self.resume_on_the_clock().await?;
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|e| DevnetError::Beacon(format!("bind {addr}: {e}")))?;
        let local = listener.local_addr().map_err(|e| DevnetError::Beacon(e.to_string()))?;
        info!(target: "devnet::beacon", %local, l1 = %self.l1, seconds_per_slot = self.seconds_per_slot, "beacon adapter listening");
        let adapter = Arc::new(self);
        let keeper = adapter.clone();
        let accept = async move {
            loop {
                let (stream, _) = match listener.accept().await {
                    Ok(conn) => conn,
                    Err(e) => {
                        warn!(target: "devnet::beacon", %e, "accept failed");
                        continue;
                    }
                };
                let adapter = adapter.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req| {
                        let adapter = adapter.clone();
                        async move { Ok::<_, Infallible>(adapter.answer(req).await) }
                    });
                    if let Err(e) = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await
                    {
                        debug!(target: "devnet::beacon", %e, "connection ended");
                    }
                });
            }
        };
        // One future: dropping it stops the re-pinning with the server.
        let serve = async move {
            tokio::join!(keeper.keep_pinned(), accept);
        };
        Ok((local, serve))
    }

    async fn answer<B>(&self, req: Request<B>) -> Response<Full<Bytes>> {
        let path = req.uri().path().trim_matches('/').to_string();
        debug!(target: "devnet::beacon", %path, "request");
        match path.as_str() {
            "eth/v1/config/spec" => json(
                StatusCode::OK,
                format!(r#"{{"data":{{"SECONDS_PER_SLOT":"{}"}}}}"#, self.seconds_per_slot),
            ),
            "eth/v1/beacon/genesis" => match self.genesis_time().await {
                Ok(genesis_time) => json(
                    StatusCode::OK,
                    serde_json::json!({ "data": {
                        "genesis_time": genesis_time.to_string(),
                        "genesis_validators_root": B256::ZERO,
                        "genesis_fork_version": "0x00000000",
                    }})
                    .to_string(),
                ),
                Err(message) => json(StatusCode::BAD_GATEWAY, error_body(&message)),
            },
            p if p.starts_with(SIDECARS_PREFIX) => {
                let slot = &p[SIDECARS_PREFIX.len()..];
                let Ok(slot) = slot.parse::<u64>() else {
                    return json(
                        StatusCode::BAD_REQUEST,
                        error_json(400, &format!("slot {slot:?} is not a number")),
                    );
                };
                match self.blob_sidecars(slot).await {
                    Ok(bundle) => match serde_json::to_string(&bundle) {
                        Ok(body) => json(StatusCode::OK, body),
                        Err(e) => {
                            json(StatusCode::INTERNAL_SERVER_ERROR, error_json(500, &e.to_string()))
                        }
                    },
                    Err((status, message)) => {
                        warn!(target: "devnet::beacon", slot, %message, "blob sidecars not served");
                        json(status, error_json(status.as_u16(), &message))
                    }
                }
            }
            _ => json(StatusCode::NOT_FOUND, r#"{"code":404,"message":"not found"}"#.into()),
        }
    }

    /// The sidecars of every blob in the L1 block of `slot`.
    async fn blob_sidecars(&self, slot: u64) -> Result<BeaconBlobBundle, (StatusCode, String)> {
        let unavailable = |e: String| (StatusCode::BAD_GATEWAY, e);
        let genesis_time = self.genesis_time().await.map_err(unavailable)?;
        let start = genesis_time + slot * self.seconds_per_slot;
        let end = start + self.seconds_per_slot;
        let number = match self.block_in(start, end).await {
            Ok(Some(number)) => number,
            Ok(None) => return Err((StatusCode::NOT_FOUND, format!("no L1 block in slot {slot}"))),
            Err(SlotLookupError::L1(e)) => return Err(unavailable(e)),
            Err(SlotLookupError::Shared { first, second }) => {
                return Err((
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!(
                        "slot {slot} holds two L1 blocks, {first} and {second}: the L1 left the \
                         slot grid, so this slot's blobs cannot be served (the sidecars of both \
                         blocks would share indices)"
                    ),
                ));
            }
        };
        let blobs: serde_json::Value =
            self.get_json(&format!("eth/v1/beacon/blobs/{number}")).await.map_err(unavailable)?;
        let hex_blobs = blobs["data"]
            .as_array()
            .ok_or_else(|| unavailable(format!("anvil's blobs of block {number}: no data")))?;
        // Decoded in place: a blob is 128 KiB, too big to pass around on the stack.
        let mut blobs = Vec::new();
        blobs.resize(hex_blobs.len(), Blob::ZERO);
        for (hex, blob) in hex_blobs.iter().zip(blobs.iter_mut()) {
            hex.as_str()
                .and_then(|hex| {
                    alloy_primitives::hex::decode_to_slice(hex, blob.as_mut_slice()).ok()
                })
                .ok_or_else(|| {
                    unavailable(format!("anvil's blobs of block {number}: not a blob"))
                })?;
        }
        let sidecar = rollup_batcher::blob::sidecar(blobs)
            .map_err(|e| (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
        debug!(target: "devnet::beacon", slot, l1_block = number, blobs = sidecar.blobs.len(), "blob sidecars");
        let header = Header {
            message: BeaconBlockHeader { slot, proposer_index: 0, ..Default::default() },
            signature: AlloyBytes::from(vec![0; 96]),
        };
        let data = sidecar
            .into_iter()
            .map(|item| BlobData {
                index: item.index,
                blob: item.blob,
                kzg_commitment: item.kzg_commitment,
                kzg_proof: item.kzg_proof,
                signed_block_header: header.clone(),
                kzg_commitment_inclusion_proof: Vec::<B256>::new(),
            })
            .collect();
        Ok(BeaconBlobBundle::new(data))
    }

    /// The beacon genesis time: L1 block 0's timestamp, read once.
    async fn genesis_time(&self) -> Result<u64, String> {
        self.genesis_time
            .get_or_try_init(|| self.timestamp(BlockNumberOrTag::Number(0)))
            .await
            .copied()
    }

    /// The number of the one L1 block with a timestamp in `start..end`, if there is one.
    async fn block_in(&self, start: u64, end: u64) -> Result<Option<u64>, SlotLookupError> {
        let timestamp = |number: u64| async move { self.timestamp(number.into()).await };
        let head = self.provider.get_block_number().await.map_err(|e| format!("L1 head: {e}"))?;
        // The first block at or after `start`.
        let (mut low, mut high) = (0, head + 1);
        while low < high {
            let mid = low + (high - low) / 2;
            if timestamp(mid).await? < start {
                low = mid + 1;
            } else {
                high = mid;
            }
        }
        if low > head || timestamp(low).await? >= end {
            return Ok(None);
        }
        if low < head && timestamp(low + 1).await? < end {
            return Err(SlotLookupError::Shared { first: low, second: low + 1 });
        }
        Ok(Some(low))
    }

    /// The timestamp of L1 block `at`.
    async fn timestamp(&self, at: BlockNumberOrTag) -> Result<u64, String> {
        // Block numbers in messages in decimal, as everywhere else in the logs.
        let name = match at {
            BlockNumberOrTag::Number(number) => number.to_string(),
            tag => tag.to_string(),
        };
        self.provider
            .get_block_by_number(at)
            .await
            .map_err(|e| format!("L1 block {name}: {e}"))?
            .map(|block| block.header.timestamp)
            .ok_or_else(|| format!("L1 block {name} is gone"))
    }

    /// Sets anvil's block timestamp interval to the slot time: from now on every block anvil
    /// mines (on its interval, on request, or re-mined by `anvil_reorg`) is its parent + one
    /// slot, so no two blocks ever share a slot.
    async fn pin_to_slot_grid(&self) -> Result<(), DevnetError> {
        self.provider
            .raw_request::<_, serde_json::Value>(
                "anvil_setBlockTimestampInterval".into(),
                (self.seconds_per_slot,),
            )
            .await
            .map(drop)
            .map_err(|e| {
                DevnetError::Beacon(format!(
                    "{}: anvil_setBlockTimestampInterval failed ({e}); the adapter needs anvil as \
                     the L1 and keeps its blocks one per slot",
                    self.l1
                ))
            })
    }

    /// Moves an L1 that stood still (anvil resumed from its state file after a pause) to the
    /// clock: once pinned, anvil would otherwise stamp every later block from the old head on and
    /// L1 time would trail the clock by the pause for good. The next block is stamped now; the
    /// slots in between stay empty. Runs after [`Self::pin_to_slot_grid`], so a block anvil mines
    /// meanwhile is the old head + one slot, still a slot below now.
    async fn resume_on_the_clock(&self) -> Result<(), DevnetError> {
        let l1 = |e: String| DevnetError::Beacon(format!("{}: {e}", self.l1));
        let head = self.timestamp(BlockNumberOrTag::Latest).await.map_err(l1)?;
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        if head + 2 * self.seconds_per_slot > now {
            return Ok(());
        }
        self.provider
            .raw_request::<_, serde_json::Value>("evm_setNextBlockTimestamp".into(), (now,))
            .await
            .map_err(|e| l1(format!("evm_setNextBlockTimestamp: {e}")))?;
        info!(target: "devnet::beacon", head_timestamp = head, next_timestamp = now, empty_slots = (now - head) / self.seconds_per_slot - 1, "L1 resumes on the clock");
        Ok(())
    }

    /// Re-pins anvil every slot, so an anvil restarted under a running adapter is back on the
    /// grid within a slot. A failure is logged once until the pin takes again.
    async fn keep_pinned(&self) {
        let mut failing = false;
        loop {
            tokio::time::sleep(Duration::from_secs(self.seconds_per_slot.max(1))).await;
            match self.pin_to_slot_grid().await {
                Ok(()) if failing => {
                    failing = false;
                    info!(target: "devnet::beacon", "anvil pinned to the slot grid again");
                }
                Ok(()) => {}
                Err(e) if !failing => {
                    failing = true;
                    warn!(target: "devnet::beacon", %e, "cannot pin anvil to the slot grid");
                }
                Err(_) => {}
            }
        }
    }

    async fn get_json(&self, path: &str) -> Result<serde_json::Value, String> {
        let url = self.l1.join(path).map_err(|e| e.to_string())?;
        let response =
            self.client.get(url).send().await.map_err(|e| format!("L1 unreachable: {e}"))?;
        let status = response.status();
        let body = response.text().await.map_err(|e| e.to_string())?;
        if !status.is_success() {
            return Err(format!("anvil answered {status} to {path}: {body}"));
        }
        serde_json::from_str(&body).map_err(|e| format!("anvil's {path}: {e}"))
    }
}

/// Why a slot has no one L1 block.
enum SlotLookupError {
    /// The L1 did not answer.
    L1(String),
    /// Two blocks have timestamps in the slot.
    Shared { first: u64, second: u64 },
}

impl From<String> for SlotLookupError {
    fn from(error: String) -> Self {
        Self::L1(error)
    }
}

const SIDECARS_PREFIX: &str = "eth/v1/beacon/blob_sidecars/";

fn error_body(message: &str) -> String {
    error_json(502, message)
}

fn error_json(code: u16, message: &str) -> String {
    serde_json::json!({ "code": code, "message": message }).to_string()
}

fn json(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    json_bytes(status, Bytes::from(body))
}

fn json_bytes(status: StatusCode, body: Bytes) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    response
}
