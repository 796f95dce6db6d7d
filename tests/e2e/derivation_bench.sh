#!/usr/bin/env bash
# Validator derivation throughput: an L1 that already holds BLOCKS L2 blocks of batches (with
# transfers in them), then a fresh L1-only validator syncing from it. Prints L2 blocks/s derived,
# the time to reach the sequencer's safe head, and where the time went (engine, L1 reads, the rest).
# Usage: ./tests/e2e/derivation_bench.sh [BLOCKS]   (default 5000; skipped where `rollup` is not built)
set -uo pipefail
cd "$(dirname "$0")/../.."

BLOCKS=${1:-5000}
# shellcheck source=tests/e2e/lib.sh
. tests/e2e/lib.sh
e2e_setup "derivation bench"

export DEVNET_DIR=${BENCH_DIR:-$(mktemp -d)} L2_BLOCK_TIME=1 L1_BLOCK_TIME=2 VALIDATORS=0
# The L2 chain starts BLOCKS seconds ago: the sequencer builds it as fast as it can.
export L1_HISTORY_SECS=$((BLOCKS + 30))
export SEQUENCER_FLAGS="--txpool.max-account-slots 100000 --txpool.pending-max-count 100000"
# Below the ephemeral port range (32768+): an outgoing connection can take a port up there
# just before a node binds it (seen: kona RPC "Address already in use" on a validator start).
export L1_PORT=23545 BEACON_PORT=23052 L2_HTTP_PORT=24545 KONA_RPC_PORT=24546 METRICS_PORT=24001
export L2_P2P_PORT=23303 L2_AUTH_PORT=23551 KONA_P2P_PORT=24222
L2="http://127.0.0.1:$L2_HTTP_PORT"
devnet_pid=
cleanup() {
    [ -n "$devnet_pid" ] && { kill -TERM "$devnet_pid" 2>/dev/null; wait "$devnet_pid" 2>/dev/null; }
    pkill -f "datadir $DEVNET_DIR/" 2>/dev/null
    jobs -p | xargs -r kill 2>/dev/null
}
trap cleanup EXIT
say() { echo "[bench] $*"; }
head_of() { sync_head "http://127.0.0.1:$1" "$2"; } # KONA_PORT LABEL
start_devnet() {
    ./etc/devnet/devnet.sh > "$DEVNET_DIR/devnet.out" 2>&1 &
    devnet_pid=$!
    for _ in $(seq 1 600); do grep -q "logs " "$DEVNET_DIR/devnet.out" 2>/dev/null && return 0; sleep 0.2; done
    echo "devnet did not start"; tail "$DEVNET_DIR/devnet.out"; exit 1
}

say "phase 1: the sequencer builds $BLOCKS blocks of history with transfers; the batcher posts them"
started=$SECONDS
start_devnet
# Transfers from the ten dev accounts while the sequencer catches up (nonces explicit: no lookups).
keys=(ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80 59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d
      5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a 7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6
      47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a 8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba
      92db14e403b83dfe3df233f83dfa3a0d7096f21ca9b0d6d6b8d88b2b4ec1564e 4bbbf85ce3377467afe5d46f804f221813b2bb87f24d81f60f1fcdbf7cbf4356
      dbda1821b80551c9d65939329250298aa3472ba22feea921c0cf5d620ea67b97 2a871d0798f97d79848a013d4936a73bf4cc922c825d33c1cf7073dff6d409c6)
# Four senders, looking at the head every 25 transactions: the generator must not starve the
# node of the machine's two cores.
for k in "${keys[@]:2:4}"; do
    ( n=0; while [ "$(head_of "$KONA_RPC_PORT" unsafe_l2)" -lt "$BLOCKS" ]; do
        for _ in $(seq 1 25); do
            "$CAST" send --async --rpc-url "$L2" --private-key "0x$k" --nonce "$n" --gas-limit 21000 \
                --gas-price 2gwei --priority-gas-price 1gwei 0x000000000000000000000000000000000000dEaD --value 1 > /dev/null 2>&1 && n=$((n + 1)) || sleep 0.5
        done
    done ) &
done
while [ "$(head_of "$KONA_RPC_PORT" unsafe_l2)" -lt "$BLOCKS" ]; do sleep 2; done
say "sequencer built $BLOCKS blocks in $((SECONDS - started)) s; waiting for its safe head (batches on L1)"
while [ "$(head_of "$KONA_RPC_PORT" safe_l2)" -lt "$BLOCKS" ]; do sleep 2; done
target=$(head_of "$KONA_RPC_PORT" safe_l2)
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
l1_head=$("$CAST" block-number --rpc-url "http://127.0.0.1:$L1_PORT")
say "sequencer safe head $target after $((SECONDS - started)) s: $txs transfers in blocks 1..$target, L1 head $l1_head"

say "phase 2: a fresh L1-only validator derives the chain"
kill -TERM "$devnet_pid"; wait "$devnet_pid" 2>/dev/null; devnet_pid=
export VALIDATORS=1 NO_P2P_VALIDATORS=1
start_devnet
v_kona=$((KONA_RPC_PORT + 10))
v_started=$SECONDS
while [ "$(head_of "$v_kona" safe_l2)" -lt "$target" ]; do sleep 1; done
elapsed=$((SECONDS - v_started))
a=$("$CAST" block "$target" --field hash --rpc-url "$L2"); b=$("$CAST" block "$target" --field hash --rpc-url "http://127.0.0.1:$((L2_HTTP_PORT + 10))")
[ "$a" = "$b" ] || { echo "validator block $target $b differs from the sequencer's $a"; exit 1; }

# Where the time went. Engine: kona's own per-block build + import times from the validator log.
# L1: the same reads derivation makes (every L1 block with its transactions and receipts, once),
# replayed afterwards against the same anvil; the rest is derivation itself (and waiting).
python3 - "$DEVNET_DIR/validator-1/rollup.log" "$target" "$elapsed" "http://127.0.0.1:$L1_PORT" "$l1_head" "$txs" <<'PY'
import json, re, sys, time, urllib.request
log, target, elapsed, l1, l1_head, txs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], int(sys.argv[5]), int(sys.argv[6])
ansi = re.compile(r"\x1b\[[0-9;]*m")
def ms(v):
    v = v.strip()
    for unit, f in (("ms", 1.0), ("µs", 1e-3), ("us", 1e-3), ("ns", 1e-6), ("s", 1000.0)):
        if v.endswith(unit):
            return float(v[: -len(unit)]) * f
    return 0.0
engine, built = 0.0, 0
for line in open(log, errors="replace"):
    line = ansi.sub("", line)
    if "built and imported block" in line and "safe=true" in line:
        f = dict(re.findall(r"(fcu_us|import_us)=(\d+)", line))
        engine += (int(f.get("fcu_us", 0)) + int(f.get("import_us", 0))) / 1000
        built += 1
t0 = time.monotonic()
for n in range(0, l1_head + 1, 100):
    calls = []
    for b in range(n, min(n + 100, l1_head + 1)):
        calls += [{"jsonrpc": "2.0", "id": 2 * b, "method": "eth_getBlockByNumber", "params": [hex(b), True]},
                  {"jsonrpc": "2.0", "id": 2 * b + 1, "method": "eth_getBlockReceipts", "params": [hex(b)]}]
    for c in calls:  # one request per call, as kona's providers make them
        urllib.request.urlopen(urllib.request.Request(l1, json.dumps(c).encode(), {"content-type": "application/json"})).read()
l1_secs = time.monotonic() - t0
engine_secs = engine / 1000
rest = max(elapsed - engine_secs - l1_secs, 0)
print(f"[bench] validator derived {target} L2 blocks ({txs} transfers, {l1_head} L1 blocks) in {elapsed} s: {target / elapsed:.1f} blocks/s")
print(f"[bench] split: engine {engine_secs:.1f} s ({built} blocks built+imported, {engine / max(built, 1):.2f} ms each), "
      f"L1 reads ~{l1_secs:.1f} s (replayed: {l1_head + 1} blocks + receipts), derivation and waits ~{rest:.1f} s")
PY
