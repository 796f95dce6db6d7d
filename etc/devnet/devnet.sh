#!/usr/bin/env bash
# One-command local OP Stack devnet: anvil as L1, the beacon adapter kona needs in front of it,
# and `rollup node` sequencing L2 blocks. State lives in $DEVNET_DIR (default .devnet/): stop with
# Ctrl-C and run again to resume from the same L1 and L2 heads; delete the folder to start over.
set -euo pipefail
cd "$(dirname "$0")/../.."

STATE=${DEVNET_DIR:-.devnet}
TARGET=${CARGO_TARGET_DIR:-target}
ROLLUP=${ROLLUP_BIN:-$TARGET/release/rollup}
DEVNET=${DEVNET_BIN:-$TARGET/release/rollup-devnet}
L2_BLOCK_TIME=${L2_BLOCK_TIME:-2}
L1_BLOCK_TIME=${L1_BLOCK_TIME:-2}
L1_PORT=${L1_PORT:-8545}
BEACON_PORT=${BEACON_PORT:-5052}
L2_HTTP_PORT=${L2_HTTP_PORT:-9545}
KONA_RPC_PORT=${KONA_RPC_PORT:-9546}
METRICS_PORT=${METRICS_PORT:-9001}
L2_P2P_PORT=${L2_P2P_PORT:-30303}
L2_AUTH_PORT=${L2_AUTH_PORT:-8551}
KONA_P2P_PORT=${KONA_P2P_PORT:-9222}
# anvil's first development key: the devnet's sequencer (never use it anywhere real).
DEV_SEQUENCER_KEY=ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80

LOG_TAG=devnet
# shellcheck source=etc/devnet-lib.sh
. etc/devnet-lib.sh

for bin in "$ROLLUP" "$DEVNET"; do
    [ -x "$bin" ] || { log "missing $bin: run 'just build-rollup' and 'cargo build --release -p rollup-devnet'"; exit 1; }
done
[ -x tests/node_modules/.bin/anvil ] || npm ci --prefix tests --no-audit --no-fund --silent
mkdir -p "$STATE"

pids=()
stop() {
    trap - INT TERM EXIT
    log "stopping"
    for ((i=${#pids[@]}-1; i>=0; i--)); do kill -TERM "${pids[i]}" 2>/dev/null || true; wait "${pids[i]}" 2>/dev/null || true; done
    log "stopped"
}
trap stop INT TERM EXIT

tests/node_modules/.bin/anvil --host 127.0.0.1 --port "$L1_PORT" --block-time "$L1_BLOCK_TIME" \
    --state "$STATE/anvil-state.json" > "$STATE/anvil.log" 2>&1 &
pids+=($!)
wait_for "http://127.0.0.1:$L1_PORT" eth_chainId "L1 (anvil)"
log "L1 up: http://127.0.0.1:$L1_PORT (anvil, ${L1_BLOCK_TIME}s blocks)"

"$DEVNET" beacon --l1-rpc "http://127.0.0.1:$L1_PORT" --listen "127.0.0.1:$BEACON_PORT" \
    --seconds-per-slot "$L1_BLOCK_TIME" > "$STATE/beacon.log" 2>&1 &
pids+=($!)
log "beacon adapter: http://127.0.0.1:$BEACON_PORT"

if [ ! -f "$STATE/rollup.json" ]; then
    "$DEVNET" init --l1-rpc "http://127.0.0.1:$L1_PORT" --out "$STATE" --block-time "$L2_BLOCK_TIME"
    "$ROLLUP" init --chain "$STATE/genesis.json" --datadir "$STATE/data" > "$STATE/init.log" 2>&1
    log "genesis written: $STATE/genesis.json, $STATE/rollup.json"
else
    log "resuming from $STATE"
fi
( umask 077; printf '%s' "$DEV_SEQUENCER_KEY" > "$STATE/sequencer.key" )

"$ROLLUP" node --chain "$STATE/genesis.json" --datadir "$STATE/data" \
    --http --http.port "$L2_HTTP_PORT" --metrics "127.0.0.1:$METRICS_PORT" --ipcdisable \
    --port "$L2_P2P_PORT" --disable-discovery --authrpc.port "$L2_AUTH_PORT" \
    --engine.persistence-threshold 0 --engine.memory-block-buffer-target 0 \
    --kona.mode sequencer --kona.config-file "$STATE/rollup.json" \
    --kona.l1-eth-rpc "http://127.0.0.1:$L1_PORT" --kona.l1-beacon "http://127.0.0.1:$BEACON_PORT" \
    --kona.l1-trust-rpc --kona.p2p.sequencer.key.path "$STATE/sequencer.key" \
    --kona.p2p.no-discovery --kona.p2p.listen.ip 127.0.0.1 \
    --kona.p2p.listen.tcp "$KONA_P2P_PORT" --kona.p2p.listen.udp "$((KONA_P2P_PORT + 1))" \
    --kona.rpc.addr 127.0.0.1 --kona.rpc.port "$KONA_RPC_PORT" > "$STATE/rollup.log" 2>&1 &
pids+=($!)
wait_for "http://127.0.0.1:$L2_HTTP_PORT" eth_chainId "rollup node"
start=$(rpc "http://127.0.0.1:$L2_HTTP_PORT" eth_blockNumber | sed 's/.*"result":"\(0x[0-9a-f]*\)".*/\1/')
for _ in $(seq 1 100); do
    now=$(rpc "http://127.0.0.1:$L2_HTTP_PORT" eth_blockNumber | sed 's/.*"result":"\(0x[0-9a-f]*\)".*/\1/')
    [ "$((now))" -gt "$((start))" ] && break
    sleep 0.2
done
log "L2 producing blocks: head $((now)) (${L2_BLOCK_TIME}s blocks)"
log "L2 JSON-RPC   http://127.0.0.1:$L2_HTTP_PORT"
log "kona RPC      http://127.0.0.1:$KONA_RPC_PORT (optimism_syncStatus)"
log "metrics       http://127.0.0.1:$METRICS_PORT"
log "logs          $STATE/rollup.log; Ctrl-C stops everything"
wait "${pids[2]}"
