#!/usr/bin/env bash
# One-command local sequencer devnet: reth (Ethereum, v1.6.0) as the execution client and
# `sequencer run` driving it through the Engine API, posting to the local Celestia-compatible DA
# node (`sequencer da`, celestia-node's JSON-RPC) through the same Celestia client as a real network.
#
# Needs a reth binary: RETH_BIN (default: `reth` on PATH), e.g. from reth's v1.6.0 release.
# State lives in $SEQ_DEVNET_DIR (default .devnet-sequencer/): Ctrl-C stops, running again resumes
# from reth's heads; delete the folder to start over.
set -euo pipefail
cd "$(dirname "$0")/../.."

STATE=${SEQ_DEVNET_DIR:-.devnet-sequencer}
TARGET=${CARGO_TARGET_DIR:-$HOME/.cache/rollup-target}
RETH=${RETH_BIN:-$(command -v reth || true)}
SEQUENCER=${SEQUENCER_BIN:-$TARGET/release/sequencer}
CHAIN_ID=${CHAIN_ID:-1337}
BLOCK_TIME_MS=${BLOCK_TIME_MS:-1000}
DA_BLOCK_TIME_MS=${DA_BLOCK_TIME_MS:-6000}
MAX_SOFT_AHEAD=${MAX_SOFT_AHEAD:-64}
RETH_HTTP_PORT=${RETH_HTTP_PORT:-18545}
RETH_AUTH_PORT=${RETH_AUTH_PORT:-18551}
RETH_P2P_PORT=${RETH_P2P_PORT:-30313}
RETH_METRICS_PORT=${RETH_METRICS_PORT:-19001}
SEQ_RPC_PORT=${SEQ_RPC_PORT:-18547}
SEQ_METRICS_PORT=${SEQ_METRICS_PORT:-19002}
SEQ_P2P_PORT=${SEQ_P2P_PORT:-26656}
DA_RPC_PORT=${DA_RPC_PORT:-26658}
# anvil's first five development accounts, funded at genesis (never use them anywhere real).
DEV_ACCOUNTS=(0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266 0x70997970C51812dc3A010C7d01b50e0d17dc79C8
    0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC 0x90F79bf6EB2c4f870365E785982E1f101E93b906
    0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65)

LOG_TAG=sequencer-devnet
# shellcheck source=etc/devnet-lib.sh
. etc/devnet-lib.sh

[ -n "$RETH" ] && [ -x "$RETH" ] || { log "no reth binary: set RETH_BIN (reth v1.6.0)"; exit 1; }
[ -x "$SEQUENCER" ] || { log "missing $SEQUENCER: run 'just sequencer-devnet' or 'cargo build --release --locked --manifest-path bin/sequencer/Cargo.toml'"; exit 1; }
mkdir -p "$STATE"

if [ ! -f "$STATE/genesis.json" ]; then
    pubkey=$("$SEQUENCER" keygen --output "$STATE/validator.key")
    cat > "$STATE/genesis-config.toml" <<EOF
chain_id = $CHAIN_ID
validators = ["$pubkey"]
$(for account in "${DEV_ACCOUNTS[@]}"; do printf '[[accounts]]\naddress = "%s"\nbalance = "1000000000000000000000000"\n' "$account"; done)
EOF
    "$SEQUENCER" genesis --config "$STATE/genesis-config.toml" --output "$STATE/genesis.json"
    ( umask 077; od -An -tx1 -N32 /dev/urandom | tr -d ' \n' > "$STATE/jwt.hex" )
    cat > "$STATE/config.toml" <<EOF
chain_id = $CHAIN_ID
genesis_path = "genesis.json"

[consensus]
validators = ["$pubkey"]
private_key_path = "validator.key"
listen_addr = "127.0.0.1:$SEQ_P2P_PORT"

[celestia]
network = "local"
namespace = "0x726f6c6c7570" # "rollup"
rpc_url = "http://127.0.0.1:$DA_RPC_PORT"

[execution]
reth_url = "http://127.0.0.1:$RETH_AUTH_PORT"
jwt_secret_path = "jwt.hex"
rpc_url = "http://127.0.0.1:$RETH_HTTP_PORT"

[rpc]
listen_addr = "127.0.0.1:$SEQ_RPC_PORT"

[sequencer]
block_time_ms = $BLOCK_TIME_MS
max_soft_ahead = $MAX_SOFT_AHEAD

[metrics]
listen_addr = "127.0.0.1:$SEQ_METRICS_PORT"
EOF
    log "genesis and config written: $STATE/genesis.json, $STATE/config.toml"
else
    log "resuming from $STATE"
fi

pids=()
stop() {
    trap - INT TERM EXIT
    log "stopping"
    for ((i=${#pids[@]}-1; i>=0; i--)); do kill -TERM "${pids[i]}" 2>/dev/null || true; wait "${pids[i]}" 2>/dev/null || true; done
    log "stopped"
}
trap stop INT TERM EXIT

# reth's HTTP serves the eth namespace for reads (cast, the sequencer's nonce lookups); its
# eth_sendRawTransaction answers too, and a transaction sent there skips the sequencer's mempool
# rules (it is still included and counted as foreign). Send transactions to the sequencer's RPC.
# Every block is persisted before the next: with reth's defaults the newest blocks live only in
# memory, a restart loses them, and the sequencer would rebuild heights it already posted to DA.
"$RETH" node --chain "$STATE/genesis.json" --datadir "$STATE/reth" \
    --http --http.addr 127.0.0.1 --http.port "$RETH_HTTP_PORT" --http.api eth,net,web3 \
    --authrpc.addr 127.0.0.1 --authrpc.port "$RETH_AUTH_PORT" --authrpc.jwtsecret "$STATE/jwt.hex" \
    --port "$RETH_P2P_PORT" --disable-discovery --ipcdisable \
    --engine.persistence-threshold 0 --engine.memory-block-buffer-target 0 \
    --metrics "127.0.0.1:$RETH_METRICS_PORT" >> "$STATE/reth.log" 2>&1 &
pids+=($!)
wait_for "http://127.0.0.1:$RETH_HTTP_PORT" eth_chainId "reth"
log "reth up: http://127.0.0.1:$RETH_HTTP_PORT"

"$SEQUENCER" da --listen "127.0.0.1:$DA_RPC_PORT" --block-time-ms "$DA_BLOCK_TIME_MS" \
    --data-dir "$STATE/da" >> "$STATE/da.log" 2>&1 &
pids+=($!)
wait_for "http://127.0.0.1:$DA_RPC_PORT" header.NetworkHead "local DA node"
log "local DA node up: http://127.0.0.1:$DA_RPC_PORT (${DA_BLOCK_TIME_MS} ms blocks, blobs in $STATE/da)"

"$SEQUENCER" run --config "$STATE/config.toml" >> "$STATE/sequencer.log" 2>&1 &
pids+=($!)
wait_for "http://127.0.0.1:$SEQ_RPC_PORT" sequencer_status "sequencer"
log "sequencer RPC http://127.0.0.1:$SEQ_RPC_PORT (eth_sendRawTransaction, sequencer_status)"
log "metrics       http://127.0.0.1:$SEQ_METRICS_PORT (sequencer), http://127.0.0.1:$RETH_METRICS_PORT (reth)"
log "logs          $STATE/sequencer.log, $STATE/da.log, $STATE/reth.log; Ctrl-C stops everything"
wait "${pids[2]}"
