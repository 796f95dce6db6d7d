#!/usr/bin/env bash
# Sequencer block production against a real reth: runs etc/sequencer/devnet.sh at BLOCK_TIME_MS
# for SECONDS with a steady load of signed transfers sent to the sequencer's RPC, then prints
# blocks/s (ratio to the configured rate) and SOFT latency from the sequencer's log.
# Usage: RETH_BIN=/path/to/reth ./tests/e2e/sequencer_bench.sh BLOCK_TIME_MS SECONDS [TX_PER_SEC]
set -euo pipefail
cd "$(dirname "$0")/../.."

BLOCK_MS=${1:?block time in ms}
SECS=${2:?duration in seconds}
TPS=${3:-20}
TARGET=${CARGO_TARGET_DIR:-$HOME/.cache/rollup-target}
export SEQUENCER_BIN=${SEQUENCER_BIN:-$TARGET/release/sequencer}
export SEQ_DEVNET_DIR=$(mktemp -d) BLOCK_TIME_MS=$BLOCK_MS DA_BLOCK_TIME_MS=6000
export RETH_HTTP_PORT=48545 RETH_AUTH_PORT=48551 RETH_P2P_PORT=48303 RETH_METRICS_PORT=49001
export SEQ_RPC_PORT=48547 SEQ_METRICS_PORT=49002 SEQ_P2P_PORT=48656
SEQ="http://127.0.0.1:$SEQ_RPC_PORT"

./etc/sequencer/devnet.sh > "$SEQ_DEVNET_DIR/devnet.out" 2>&1 &
devnet_pid=$!
# The devnet ends on SIGTERM (status 143): under set -e an unguarded wait would make that the
# script's status, and the benchmark would count as failed.
trap 'kill -TERM $devnet_pid 2>/dev/null; wait $devnet_pid 2>/dev/null || true; rm -rf "$SEQ_DEVNET_DIR"' EXIT
for _ in $(seq 1 300); do
    grep -q "Ctrl-C stops everything" "$SEQ_DEVNET_DIR/devnet.out" && break
    kill -0 "$devnet_pid" 2>/dev/null || { cat "$SEQ_DEVNET_DIR/devnet.out"; exit 1; }
    sleep 0.2
done

# The load: signed transfers from five funded senders, sent at TPS (tests/e2e/send_transfers.py).
python3 -c 'import eth_account' 2>/dev/null || pip install --quiet eth-account
chain_id=$(grep '^chain_id' "$SEQ_DEVNET_DIR/config.toml" | head -1 | tr -dc 0-9)
python3 tests/e2e/send_transfers.py "$SEQ" "$chain_id" "$TPS" "$SECS"
sleep 2
python3 tests/e2e/sequencer_bench.py "$SEQ_DEVNET_DIR/sequencer.log" "$BLOCK_MS"
