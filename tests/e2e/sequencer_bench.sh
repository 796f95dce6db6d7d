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
[ -x tests/node_modules/.bin/cast ] || npm ci --prefix tests --no-audit --no-fund --silent
CAST=tests/node_modules/.bin/cast
SEQ="http://127.0.0.1:$SEQ_RPC_PORT"
DEV_KEY=0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80

./etc/sequencer/devnet.sh > "$SEQ_DEVNET_DIR/devnet.out" 2>&1 &
devnet_pid=$!
trap 'kill -TERM $devnet_pid 2>/dev/null; wait $devnet_pid 2>/dev/null; rm -rf "$SEQ_DEVNET_DIR"' EXIT
for _ in $(seq 1 300); do
    grep -q "Ctrl-C stops everything" "$SEQ_DEVNET_DIR/devnet.out" && break
    kill -0 "$devnet_pid" 2>/dev/null || { cat "$SEQ_DEVNET_DIR/devnet.out"; exit 1; }
    sleep 0.2
done

# Sign the whole load up front (no RPC needed with explicit nonce, fees and chain id).
total=$((TPS * SECS))
chain_id=$(grep '^chain_id' "$SEQ_DEVNET_DIR/config.toml" | head -1 | tr -dc 0-9)
for nonce in $(seq 0 $((total - 1))); do
    "$CAST" mktx --private-key "$DEV_KEY" --chain "$chain_id" --nonce "$nonce" --gas-limit 21000 \
        --gas-price 10gwei --priority-gas-price 1gwei 0x70997970C51812dc3A010C7aebd7d7D2e4FC0f0E \
        --value 1
done > "$SEQ_DEVNET_DIR/txs"
echo "signed $total transfers; sending $TPS/s for $SECS s at ${BLOCK_MS} ms blocks"

start=$(date +%s.%N)
i=0
while read -r raw; do
    curl -s -o /dev/null -X POST -H 'content-type: application/json' \
        --data "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"eth_sendRawTransaction\",\"params\":[\"$raw\"]}" "$SEQ"
    i=$((i + 1))
    # Pace to TPS: sleep until transaction i is due.
    wait_s=$(awk -v s="$start" -v i="$i" -v t="$TPS" -v n="$(date +%s.%N)" 'BEGIN { printf "%.3f", s + i / t - n }')
    [[ $wait_s == -* ]] || sleep "$wait_s"
done < "$SEQ_DEVNET_DIR/txs"
sleep 2
python3 tests/e2e/sequencer_bench.py "$SEQ_DEVNET_DIR/sequencer.log" "$BLOCK_MS"
