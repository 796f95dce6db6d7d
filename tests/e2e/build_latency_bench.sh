#!/usr/bin/env bash
# Block build latency (forkchoice + import, per block) of a sequencer at 1 s blocks, with empty
# blocks and under a transfer load, for each setup in one run on the same machine:
#   in-process   ROLLUP_BIN: `rollup node --kona.mode sequencer` (kona inside reth, typed engine calls)
#   before       ROLLUP_BEFORE_BIN (optional): an earlier `rollup` build, run the same way
#   two-process  KONA_NODE_BIN (optional): ROLLUP_BIN as plain op-reth plus kona-node over the
#                engine API with a JWT (the pair `rollup` replaces; kona-node 1.0.0-rc.1 from crates.io)
# No batcher and no validators in any setup. Setups alternate so that drift hits all of them.
# Usage: ./tests/e2e/build_latency_bench.sh [SECONDS] [TPS]   (default 60 s, 100 transfers/s)
set -uo pipefail
cd "$(dirname "$0")/../.."

# shellcheck source=tests/e2e/lib.sh
. tests/e2e/lib.sh
e2e_setup "build latency bench"
secs=${1:-60} tps=${2:-100}
export L2_BLOCK_TIME=1 L1_BLOCK_TIME=2 VALIDATORS=0 BATCHER=0
export L1_PORT=18545 BEACON_PORT=15052 L2_HTTP_PORT=19545 KONA_RPC_PORT=19546 METRICS_PORT=19001
export L2_P2P_PORT=10303 L2_AUTH_PORT=18551 KONA_P2P_PORT=19222
python3 -c 'import eth_account' 2>/dev/null || pip install --quiet eth-account

# run NAME TPS ENV...: a fresh devnet with ENV, SECONDS of blocks (after 10 s of warm-up), then
# the latency summary of its sequencer's log.
run() {
    local name=$1 load=$2 dir pid loader=
    shift 2
    dir=$(mktemp -d)
    env DEVNET_DIR="$dir" "$@" ./etc/devnet/devnet.sh > "$dir/devnet.out" 2>&1 &
    pid=$!
    for _ in $(seq 1 300); do grep -q "L2 producing blocks" "$dir/devnet.out" 2>/dev/null && break; sleep 0.2; done
    if [ "$load" -gt 0 ]; then
        python3 tests/e2e/send_transfers.py "http://127.0.0.1:$L2_HTTP_PORT" 42069 "$load" $((secs + 20)) > "$dir/load.out" 2>&1 &
        loader=$!
        for _ in $(seq 1 240); do grep -q "^signed" "$dir/load.out" && break; sleep 0.5; done
    fi
    sleep $((secs + 10))
    kill -TERM "$pid"; wait "$pid" 2>/dev/null
    [ -n "$loader" ] && { kill "$loader" 2>/dev/null; wait "$loader" 2>/dev/null; }
    echo "== $name, $load transfers/s"
    python3 tests/e2e/slot_bench.py "$dir/sequencer/rollup.log" 1 10 || tail -5 "$dir/devnet.out"
    rm -rf "$dir"
}

for load in 0 "$tps"; do
    run "in-process ($ROLLUP_BIN)" "$load"
    [ -n "${KONA_NODE_BIN:-}" ] && run "two-process (op-reth + $KONA_NODE_BIN)" "$load" KONA_NODE_BIN="$KONA_NODE_BIN"
    [ -n "${ROLLUP_BEFORE_BIN:-}" ] && run "before ($ROLLUP_BEFORE_BIN)" "$load" ROLLUP_BIN="$ROLLUP_BEFORE_BIN" AUTH_SERVER=1
done
