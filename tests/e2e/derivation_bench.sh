#!/usr/bin/env bash
# Validator derivation throughput on one L1 history, side by side with the pair `rollup`
# replaces. Phase 1: a devnet sequencer builds BLOCKS L2 blocks (with transfers) as fast as it
# can while its batcher posts them to anvil. Phase 2, against that same anvil process (the
# sequencer paused): ROUNDS rounds, each deriving the whole chain from L1 alone, from an empty
# datadir and without peers, by
#   rollup   a fresh `rollup node --kona.mode validator` (kona in reth, typed engine calls), and
#   anchor   the same binary as plain op-reth plus crates.io `kona-node` 1.0.0-rc.1 as a validator
#            over the engine API with a JWT (only with KONA_NODE_BIN=…, or INSTALL_ANCHOR=1 to
#            `cargo install` it into ~/.cache/kona-node-1.0.0-rc.1 first), and
#   before   an earlier `rollup` build run the same way (only with ROLLUP_BEFORE_BIN=…),
# alternating. Prints each run's L2 blocks/s (start of the process to the sequencer's safe head
# derived), the ratio rollup / anchor, and where our validator's time went: engine (reth building
# and importing the derived blocks, from the engine actor's per-block numbers) against the rest
# (start-up, derivation, L1 reads, waiting); for every contender reth's own counters (blocks
# executed a second time on import); with an anchor, the most any consensus layer could reach
# over it on this reth.
# Usage: ./tests/e2e/derivation_bench.sh [BLOCKS] [ROUNDS]   (default 5000 blocks, 1 round;
# skipped where `rollup` is not built)
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1

BLOCKS=${1:-5000}
ROUNDS=${2:-1}
# shellcheck source=tests/e2e/lib.sh
. tests/e2e/lib.sh
e2e_setup "derivation bench"

# kona-node 1.0.0-rc.1: the newest kona-node on crates.io (kona's later releases are git-only).
ANCHOR_VERSION=1.0.0-rc.1
if [ -z "${KONA_NODE_BIN:-}" ] && [ "${INSTALL_ANCHOR:-0}" = 1 ]; then
    KONA_NODE_BIN=$HOME/.cache/kona-node-$ANCHOR_VERSION/bin/kona-node
    [ -x "$KONA_NODE_BIN" ] || cargo install kona-node --version "$ANCHOR_VERSION" --locked \
        --root "$HOME/.cache/kona-node-$ANCHOR_VERSION" || { echo "installing kona-node failed"; exit 1; }
fi
KONA_NODE_BIN=${KONA_NODE_BIN:-}

export DEVNET_DIR=${BENCH_DIR:-$(mktemp -d)} L2_BLOCK_TIME=1 L1_BLOCK_TIME=2 VALIDATORS=0
mkdir -p "$DEVNET_DIR"
# The L2 chain starts BLOCKS seconds ago: the sequencer builds it as fast as it can.
export L1_HISTORY_SECS=$((BLOCKS + 30))
# Every batch is posted at the end of that history: each must still be inside its L1 origin's
# sequencing window (3600 L1 blocks by default, 2 h of 2 s blocks).
[ "$((L1_HISTORY_SECS / 2))" -lt 3000 ] || export SEQ_WINDOW_SIZE=$((L1_HISTORY_SECS / 2 + 3600))
export SEQUENCER_FLAGS="--txpool.max-account-slots 100000 --txpool.pending-max-count 100000"
# Below the ephemeral port range (32768+): an outgoing connection can take a port up there
# just before a node binds it (seen: kona RPC "Address already in use" on a validator start).
export L1_PORT=23545 BEACON_PORT=23052 L2_HTTP_PORT=24545 KONA_RPC_PORT=24546 METRICS_PORT=24001
export L2_P2P_PORT=23303 L2_AUTH_PORT=23551 KONA_P2P_PORT=24222
L1="http://127.0.0.1:$L1_PORT" L2="http://127.0.0.1:$L2_HTTP_PORT"
# The validator under test: every port the sequencer's + 10.
V_HTTP=$((L2_HTTP_PORT + 10)) V_KONA=$((KONA_RPC_PORT + 10)) V_AUTH=$((L2_AUTH_PORT + 10))
V_P2P=$((L2_P2P_PORT + 10)) V_KONA_P2P=$((KONA_P2P_PORT + 10)) V_METRICS=$((METRICS_PORT + 10))
# reth's engine settings of both validators: reth's defaults, as a validator runs (what it had
# not persisted at a crash it derives again). The devnet persists every block
# (RETH_ENGINE_FLAGS="--engine.persistence-threshold 0 --engine.memory-block-buffer-target 0"),
# which a sequencer needs and which costs a validator a database commit per block.
RETH_ENGINE_FLAGS=${RETH_ENGINE_FLAGS:-}
validator_pids=()
stop_validator() {
    for pid in "${validator_pids[@]}"; do kill -TERM "$pid" 2>/dev/null; done
    for pid in "${validator_pids[@]}"; do wait "$pid" 2>/dev/null; done
    validator_pids=()
}
devnet_pid="" sequencer_pid=""
cleanup() {
    [ -n "$sequencer_pid" ] && kill -CONT "$sequencer_pid" 2>/dev/null
    stop_validator
    [ -n "$devnet_pid" ] && { kill -TERM "$devnet_pid" 2>/dev/null; wait "$devnet_pid" 2>/dev/null; }
    pkill -f "datadir $DEVNET_DIR/" 2>/dev/null
    jobs -p | xargs -r kill 2>/dev/null
}
trap cleanup EXIT
say() { echo "[bench] $*"; }
head_of() { sync_head "http://127.0.0.1:$1" "$2"; } # KONA_PORT LABEL

say "phase 1: the sequencer builds $BLOCKS blocks of history with transfers; the batcher posts them"
started=$SECONDS
# KONA_NODE_BIN names the anchor here; to devnet.sh it would mean a two-process sequencer.
env -u KONA_NODE_BIN ./etc/devnet/devnet.sh > "$DEVNET_DIR/devnet.out" 2>&1 &
devnet_pid=$!
# anvil mines the whole L1 history first: minutes for a 50 000-block history.
for _ in $(seq 1 $((600 + BLOCKS / 10))); do grep -q "logs " "$DEVNET_DIR/devnet.out" 2>/dev/null && break; sleep 0.2; done
grep -q "logs " "$DEVNET_DIR/devnet.out" || { echo "devnet did not start"; tail "$DEVNET_DIR/devnet.out"; exit 1; }
# Transfers from four dev accounts while the sequencer catches up (nonces explicit: no lookups),
# looking at the head every 25 transactions: the generator must not starve the node of the
# machine's two cores.
keys=(5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a 7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6
      47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a 8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba)
senders=()
for k in "${keys[@]}"; do
    ( n=0; while [ "$(head_of "$KONA_RPC_PORT" unsafe_l2)" -lt "$BLOCKS" ]; do
        for _ in $(seq 1 25); do
            "$CAST" send --async --rpc-url "$L2" --private-key "0x$k" --nonce "$n" --gas-limit 21000 \
                --gas-price 2gwei --priority-gas-price 1gwei 0x000000000000000000000000000000000000dEaD --value 1 > /dev/null 2>&1 && n=$((n + 1)) || sleep 0.5
        done
    done ) &
    senders+=($!)
done
while [ "$(head_of "$KONA_RPC_PORT" unsafe_l2)" -lt "$BLOCKS" ]; do sleep 2; done
say "sequencer built $BLOCKS blocks in $((SECONDS - started)) s; waiting for its safe head (batches on L1)"
while [ "$(head_of "$KONA_RPC_PORT" safe_l2)" -lt "$BLOCKS" ]; do sleep 2; done
target=$(head_of "$KONA_RPC_PORT" safe_l2)
target_hash=$("$CAST" block "$target" --field hash --rpc-url "$L2")
txs=$(python3 - "$L2" "$target" <<'PY'
import json, sys, urllib.request
url, last = sys.argv[1], int(sys.argv[2])
total = 0
for start in range(1, last + 1, 500):
    batch = [{"jsonrpc": "2.0", "id": n, "method": "eth_getBlockTransactionCountByNumber", "params": [hex(n)]}
             for n in range(start, min(start + 500, last + 1))]
    req = urllib.request.Request(url, json.dumps(batch).encode(), {"content-type": "application/json"})
    total += sum(int(r["result"], 16) - 1 for r in json.load(urllib.request.urlopen(req)))  # minus the L1-info deposit
print(total)
PY
)
# Block 1 as an unsafe payload: what kona-node needs to leave EL sync without peers (its engine
# starts derivation only after its first forkchoice update, which a validator gets from an
# unsafe block; `admin_postUnsafePayload` hands it one).
python3 - "$L2" > "$DEVNET_DIR/block1.json" <<'PY'
import json, sys, urllib.request
url = sys.argv[1]
def call(method, *params):
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}).encode()
    return json.load(urllib.request.urlopen(urllib.request.Request(url, body, {"content-type": "application/json"})))["result"]
b = call("eth_getBlockByNumber", "0x1", False)
raw = [call("eth_getRawTransactionByBlockNumberAndIndex", "0x1", hex(i)) for i in range(len(b["transactions"]))]
payload = {k: b[v] for k, v in (("parentHash", "parentHash"), ("feeRecipient", "miner"), ("stateRoot", "stateRoot"),
           ("receiptsRoot", "receiptsRoot"), ("logsBloom", "logsBloom"), ("prevRandao", "mixHash"),
           ("blockNumber", "number"), ("gasLimit", "gasLimit"), ("gasUsed", "gasUsed"), ("timestamp", "timestamp"),
           ("extraData", "extraData"), ("baseFeePerGas", "baseFeePerGas"), ("blockHash", "hash"),
           ("blobGasUsed", "blobGasUsed"), ("excessBlobGas", "excessBlobGas"))}
payload["transactions"], payload["withdrawals"] = raw, []
if b.get("requestsHash"):  # Isthmus at genesis: the V4 payload names the withdrawals root
    payload["withdrawalsRoot"] = b["withdrawalsRoot"]
print(json.dumps({"parentBeaconBlockRoot": b["parentBeaconBlockRoot"], "executionPayload": payload}))
PY
l1_head=$("$CAST" block-number --rpc-url "$L1")
say "sequencer safe head $target after $((SECONDS - started)) s: $txs transfers in blocks 1..$target, L1 head $l1_head"
# The sequencer (and its batcher) stop using the machine; anvil and the beacon adapter go on.
wait "${senders[@]}"
sequencer_pid=$(pgrep -f "datadir $DEVNET_DIR/sequencer/data" | head -1)
kill -STOP "$sequencer_pid"

# start_rollup DIR [BIN]: a `rollup` validator deriving from L1 alone (no P2P peers).
start_rollup() {
    local bin=${2:-$ROLLUP_BIN}
    "$bin" init --chain "$DEVNET_DIR/genesis.json" --datadir "$1/data" > "$1/init.log" 2>&1
    # shellcheck disable=SC2086 # RETH_ENGINE_FLAGS is a list of flags
    "$bin" node --chain "$DEVNET_DIR/genesis.json" --datadir "$1/data" --http --http.port "$V_HTTP" \
        --metrics "127.0.0.1:$V_METRICS" --ipcdisable --port "$V_P2P" --disable-discovery --disable-auth-server $RETH_ENGINE_FLAGS \
        --kona.mode validator --kona.config-file "$DEVNET_DIR/rollup.json" --kona.l1-eth-rpc "$L1" \
        --kona.l1-beacon "http://127.0.0.1:$BEACON_PORT" --kona.l1-trust-rpc --kona.p2p.unsafe.block.signer 0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266 \
        --kona.p2p.priv.path "$1/p2p.key" --kona.p2p.no-discovery --kona.p2p.listen.ip 127.0.0.1 \
        --kona.p2p.listen.tcp "$V_KONA_P2P" --kona.p2p.listen.udp "$((V_KONA_P2P + 1))" --kona.rpc.port "$V_KONA" \
        > "$1/rollup.log" 2>&1 &
    validator_pids+=($!)
}
start_before() { start_rollup "$1" "$ROLLUP_BEFORE_BIN"; }
# start_anchor DIR: op-reth (the same binary without --kona flags) + kona-node as a validator.
start_anchor() {
    "$ROLLUP_BIN" init --chain "$DEVNET_DIR/genesis.json" --datadir "$1/data" > "$1/init.log" 2>&1
    python3 -c 'import secrets; print(secrets.token_hex(32))' > "$1/jwt.hex"
    # shellcheck disable=SC2086 # RETH_ENGINE_FLAGS is a list of flags
    "$ROLLUP_BIN" node --chain "$DEVNET_DIR/genesis.json" --datadir "$1/data" --http --http.port "$V_HTTP" \
        --metrics "127.0.0.1:$V_METRICS" --ipcdisable --port "$V_P2P" --disable-discovery $RETH_ENGINE_FLAGS \
        --authrpc.port "$V_AUTH" --authrpc.jwtsecret "$1/jwt.hex" > "$1/reth.log" 2>&1 &
    validator_pids+=($!)
    for _ in $(seq 1 300); do curl -sf -o /dev/null -X POST -H 'content-type: application/json' \
        --data '{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}' "http://127.0.0.1:$V_HTTP" && break; sleep 0.1; done
    "$KONA_NODE_BIN" --chain "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["l2_chain_id"])' "$DEVNET_DIR/rollup.json")" \
        node --mode validator --l1-eth-rpc "$L1" --l1-beacon "http://127.0.0.1:$BEACON_PORT" \
        --l2-engine-rpc "http://127.0.0.1:$V_AUTH" --l2-engine-jwt-secret "$1/jwt.hex" \
        --l2-config-file "$DEVNET_DIR/rollup.json" --p2p.unsafe.block.signer 0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266 \
        --p2p.no-discovery --p2p.listen.ip 127.0.0.1 \
        --p2p.listen.tcp "$V_KONA_P2P" --p2p.listen.udp "$((V_KONA_P2P + 1))" \
        --rpc.addr 127.0.0.1 --port "$V_KONA" --rpc.enable-admin > "$1/rollup.log" 2>&1 &
    validator_pids+=($!)
    local answer=
    for _ in $(seq 1 300); do
        answer=$(curl -s -X POST -H 'content-type: application/json' \
            --data "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"admin_postUnsafePayload\",\"params\":[$(cat "$DEVNET_DIR/block1.json")]}" \
            "http://127.0.0.1:$V_KONA") && grep -q '"result"' <<< "$answer" && return 0
        sleep 0.1
    done
    echo "kona-node never took block 1: $answer"; tail -n 5 "$1/rollup.log"; exit 1
}
# derive NAME: one run from an empty datadir; prints its line and sets $rate.
derive() {
    local name=$1 dir="$DEVNET_DIR/run-$1-$round" t0 elapsed hash
    mkdir -p "$dir"
    t0=$(date +%s.%N)
    "start_$name" "$dir"
    # One poller process for the whole run: a shell loop spawning curl and python3 every 0.2 s
    # took ~14 % of this 2-core machine's samples away from the validator under test.
    python3 - "http://127.0.0.1:$V_KONA" "$target" "${validator_pids[0]}" <<'PY' ||
import json, os, sys, time, urllib.request
url, target, pid = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "optimism_syncStatus", "params": []}).encode()
while True:
    try:
        request = urllib.request.Request(url, body, {"content-type": "application/json"})
        if json.load(urllib.request.urlopen(request, timeout=5))["result"]["safe_l2"]["number"] >= target:
            break
    except (OSError, ValueError, KeyError, TypeError):
        pass  # not serving yet
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        sys.exit(1)
    time.sleep(0.2)
PY
        { echo "$name validator exited"; tail -n 5 "$dir"/*.log; exit 1; }
    elapsed=$(python3 -c "import sys,time; print(f'{time.time() - float(sys.argv[1]):.2f}')" "$t0")
    hash=$("$CAST" block "$target" --field hash --rpc-url "http://127.0.0.1:$V_HTTP")
    [ "$hash" = "$target_hash" ] || { echo "$name: block $target $hash differs from the sequencer's $target_hash"; exit 1; }
    curl -s "http://127.0.0.1:$V_METRICS/metrics" > "$dir/metrics.txt"
    stop_validator
    rate=$(python3 -c "import sys; print(f'{int(sys.argv[1]) / float(sys.argv[2]):.1f}')" "$target" "$elapsed")
    printf '[bench] round %d %-7s derived %d L2 blocks in %6.2f s: %6.1f blocks/s\n' "$round" "$name" "$target" "$elapsed" "$rate"
    # Our validator's engine time: the engine actor's per-block forkchoice-with-attributes and
    # import durations (rollup_engine_build_seconds), i.e. reth building and importing each block.
    [ "$name" != anchor ] && python3 - "$dir/metrics.txt" "$elapsed" "$DEVNET_DIR/engine-ms-$name" <<'PY'
import re, sys
sums, counts = {}, {}
for line in open(sys.argv[1]):
    m = re.match(r'^(?:reth_)?rollup_engine_build_seconds_(sum|count)\{stage="(\w+)"\} (\S+)', line)
    if m:
        (sums if m[1] == "sum" else counts)[m[2]] = float(m[3])
elapsed = float(sys.argv[2])
engine = sum(sums.values())
blocks = int(counts.get("import", 0))
print(f"[bench]   engine (reth building + importing {blocks} blocks): {engine:.2f} s = {100 * engine / elapsed:.0f} % "
      f"({1000 * engine / max(blocks, 1):.2f} ms a block; forkchoice {sums.get('forkchoice', 0):.2f} s, import {sums.get('import', 0):.2f} s); "
      f"start-up, derivation, L1 reads and waits: {elapsed - engine:.2f} s = {100 * (elapsed - engine) / elapsed:.0f} %")
with open(sys.argv[3], "a") as out:
    out.write(f"{1000 * engine / max(blocks, 1)}\n")
PY
    # reth's side, the same for every contender: the built blocks reth's launch loop handed to
    # its tree (all of them, whether or not the consensus layer's import had got there first),
    # and the blocks reth executed and state-rooted on import, i.e. a second time.
    python3 - "$dir/metrics.txt" <<'PY'
import re, sys
values = {}
for line in open(sys.argv[1]):
    m = re.match(r'^(reth_[a-z_]+(?:_count)?) (\S+)$', line)
    if m:
        values[m[1]] = float(m[2])
get = lambda name: int(values.get(name, 0))
print(f"[bench]   reth: {get('reth_consensus_engine_beacon_new_payload_messages')} newPayload, "
      f"{get('reth_consensus_engine_beacon_forkchoice_updated_messages')} forkchoiceUpdated; "
      f"{get('reth_consensus_engine_beacon_inserted_already_executed_blocks')} built blocks handed to the tree, "
      f"{get('reth_sync_block_validation_state_root_histogram_count')} blocks executed and state-rooted on import")
PY
    rm -rf "$dir/data"
}

say "phase 2: $ROUNDS round(s) of fresh L1-only validators deriving blocks 1..$target ($txs transfers, $l1_head L1 blocks)"
declare -A rates=()
# Per-run engine times of this invocation only (a reused BENCH_DIR keeps the last one's).
rm -f "$DEVNET_DIR"/engine-ms-*
contenders=(rollup)
[ -n "${ROLLUP_BEFORE_BIN:-}" ] && contenders+=(before)
[ -n "$KONA_NODE_BIN" ] && contenders+=(anchor)
for round in $(seq 1 "$ROUNDS"); do
    for name in "${contenders[@]}"; do derive "$name"; rates[$name]+=" $rate"; done
done
python3 - "${rates[rollup]}" "${rates[before]:-}" "${rates[anchor]:-}" "$target" "$txs" "$l1_head" "$ROLLUP_BIN" "${ROLLUP_BEFORE_BIN:-}" "$KONA_NODE_BIN" "$DEVNET_DIR/engine-ms-rollup" <<'PY'
import os, statistics, sys
ours, before, anchor = ([float(x) for x in a.split()] for a in sys.argv[1:4])
target, txs, l1_head, rollup_bin, before_bin, kona_bin, engine_ms_file = sys.argv[4:11]
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
print(f"[bench] machine: {os.cpu_count()} cores, {cpu}; {target} L2 blocks ({txs} transfers) on {l1_head} L1 blocks")
med = statistics.median
print(f"[bench] rollup ({rollup_bin}): median {med(ours):.1f} blocks/s over {len(ours)} run(s)")
if before:
    print(f"[bench] before ({before_bin}): median {med(before):.1f} blocks/s; rollup / before: {med(ours) / med(before):.2f}x")
if anchor:
    print(f"[bench] anchor (op-reth + {kona_bin}): median {med(anchor):.1f} blocks/s over {len(anchor)} run(s)")
    print(f"[bench] rollup / anchor: {med(ours) / med(anchor):.2f}x (goal >= 3x)")
    # The most any consensus layer could gain over the anchor on this reth: the anchor's whole
    # time per block against what reth alone took per block when `rollup` drove it with no gaps
    # (building and importing each derived block, the engine actor's own numbers).
    engine_ms = med([float(x) for x in open(engine_ms_file).read().split()])
    anchor_ms = 1000 / med(anchor)
    print(f"[bench] reth alone: {engine_ms:.2f} ms a block (rollup's engine, median); the anchor: {anchor_ms:.2f} ms a block "
          f"in all; a consensus layer costing nothing would reach {anchor_ms / engine_ms:.2f}x the anchor on this reth")
PY
