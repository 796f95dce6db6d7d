#!/usr/bin/env bash
# Validator-set benchmark against real reths: runs etc/sequencer/devnet.sh with VALIDATORS
# validators at BLOCK_TIME_MS, sends TX_PER_SEC signed transfers for SECONDS round-robin to the
# validators' RPCs, and prints decided blocks/s, transfers included, latency from
# eth_sendRawTransaction to SOFT on every validator (p50/p99), and the views skipped.
# BENCH_KEEP_LOGS=DIR keeps the devnet's logs (sequencer.log and reth.log of each validator) in
# DIR, to read where a run's time went; by default they go with the devnet's folder.
# Usage: RETH_BIN=/path/to/reth ./tests/e2e/validator_set_bench.sh [SECONDS] [TX_PER_SEC] [VALIDATORS] [BLOCK_TIME_MS]
set -euo pipefail
cd "$(dirname "$0")/../.."

SECS=${1:-60}
TPS=${2:-20}
TARGET=${CARGO_TARGET_DIR:-$HOME/.cache/rollup-target}
export VALIDATORS=${3:-4} BLOCK_TIME_MS=${4:-1000} DA_BLOCK_TIME_MS=${DA_BLOCK_TIME_MS:-6000}
export SEQUENCER_BIN=${SEQUENCER_BIN:-$TARGET/release/sequencer}
SEQ_DEVNET_DIR=$(mktemp -d)
export SEQ_DEVNET_DIR
# Ports below the kernel's ephemeral range (32768-60999), which outgoing connections use.
export RETH_HTTP_PORT=21545 RETH_AUTH_PORT=21551 RETH_P2P_PORT=21303 RETH_METRICS_PORT=22001
export SEQ_RPC_PORT=21547 SEQ_METRICS_PORT=22002 SEQ_P2P_PORT=21656 DA_RPC_PORT=21658

./etc/sequencer/devnet.sh > "$SEQ_DEVNET_DIR/devnet.out" 2>&1 &
devnet_pid=$!
# The devnet ends on SIGTERM (status 143): under set -e an unguarded wait would make that the
# script's status, and the benchmark would count as failed.
cleanup() {
    kill -TERM "$devnet_pid" 2>/dev/null || true
    wait "$devnet_pid" 2>/dev/null || true
    if [ -n "${BENCH_KEEP_LOGS:-}" ]; then
        mkdir -p "$BENCH_KEEP_LOGS"
        (cd "$SEQ_DEVNET_DIR" && find . -name '*.log' -exec cp --parents {} "$BENCH_KEEP_LOGS" \;)
    fi
    rm -rf "$SEQ_DEVNET_DIR"
}
trap cleanup EXIT
for _ in $(seq 1 600); do
    grep -q "Ctrl-C stops everything" "$SEQ_DEVNET_DIR/devnet.out" && break
    kill -0 "$devnet_pid" 2>/dev/null || {
        cat "$SEQ_DEVNET_DIR/devnet.out"; tail -n 5 "$SEQ_DEVNET_DIR"/v*/sequencer.log; exit 1
    }
    sleep 0.2
done
sleep 5 # past the first views (validators connecting)

python3 -c 'import eth_account' 2>/dev/null || pip install --quiet eth-account
chain_id=$(grep '^chain_id' "$SEQ_DEVNET_DIR/genesis-config.toml" | head -1 | tr -dc 0-9)
python3 tests/e2e/validator_set_bench.py "$SEQ_DEVNET_DIR" "$chain_id" "$TPS" "$SECS" \
    "$SEQ_RPC_PORT" "$RETH_HTTP_PORT" "$VALIDATORS"
skipped=$(curl -s "http://127.0.0.1:$SEQ_METRICS_PORT" | awk '/^sequencer_consensus_nullifications_total/ {print $2}')
echo "views skipped (nullifications) on validator 0 over the run: ${skipped:-0}"
echo "build: $("$SEQUENCER_BIN" --version) ($(basename "$(dirname "$SEQUENCER_BIN")") profile)"
