#!/usr/bin/env bash
# End-to-end derivation: anvil L1 + `rollup node` sequencer with the built-in batcher + two
# validators (validator-1 follows the sequencer over P2P too, validator-2 derives from L1 only).
# Checks the safe and finalized heads, validators agreeing with the sequencer, an L1 reorg that
# drops a batch, a batcher restart, and a validator killed with SIGKILL.
# BATCHER_DA=blobs runs it all with the batcher posting blobs (default: calldata).
# Needs the `rollup` binary (reth is a git dependency): skipped with a message where it is not built.
set -uo pipefail
cd "$(dirname "$0")/../.."

# shellcheck source=tests/e2e/lib.sh
. tests/e2e/lib.sh
e2e_setup "derivation e2e"

export DEVNET_DIR=$(mktemp -d) L2_BLOCK_TIME=1 L1_BLOCK_TIME=2 L1_SLOTS_PER_EPOCH=2
export VALIDATORS=2 NO_P2P_VALIDATORS=2 BATCHER=1 BATCHER_DA=${BATCHER_DA:-calldata}
echo "batcher data availability: $BATCHER_DA"
# Below the ephemeral port range (32768+): an outgoing connection can take a port up there
# just before a node binds it (seen: kona RPC "Address already in use" on a validator start).
export L1_PORT=21545 BEACON_PORT=21052 L2_HTTP_PORT=22545 KONA_RPC_PORT=22546 METRICS_PORT=22001
export L2_P2P_PORT=21303 L2_AUTH_PORT=21551 KONA_P2P_PORT=22222
L1="http://127.0.0.1:$L1_PORT"
devnet_pid=
cleanup() {
    [ -n "$devnet_pid" ] && { kill -TERM "$devnet_pid" 2>/dev/null; wait "$devnet_pid" 2>/dev/null; }
    pkill -f "datadir $DEVNET_DIR/" 2>/dev/null
    if [ "$failed" -eq 0 ]; then rm -rf "$DEVNET_DIR"; else echo "state kept in $DEVNET_DIR"; fi
}
trap cleanup EXIT

# node_rpc N: the L2 RPC of node N (0 = sequencer); kona_rpc N: its kona RPC.
node_rpc() { echo "http://127.0.0.1:$((L2_HTTP_PORT + 10 * $1))"; }
kona_rpc() { echo "http://127.0.0.1:$((KONA_RPC_PORT + 10 * $1))"; }
# head N LABEL: number of unsafe_l2 / safe_l2 / finalized_l2 on node N (-1 when not answering).
head_of() { sync_head "$(kona_rpc "$1")" "$2"; }
hash_at() { "$CAST" block "$2" --field hash --rpc-url "$(node_rpc "$1")" 2>/dev/null; }
# at_least NODE LABEL TARGET: whether that head of NODE has reached TARGET (evaluated per call).
at_least() { [ "$(head_of "$1" "$2")" -ge "$3" ]; }
# wait_until SECONDS COMMAND...: polls COMMAND every second.
wait_until() { local t=$1; shift; for _ in $(seq 1 "$t"); do "$@" && return 0; sleep 1; done; return 1; }
nodes_gone() { ! pgrep -f "datadir $DEVNET_DIR/" > /dev/null; }

start_devnet() {
    # A restart keeps the first run's output (devnet.out.<seconds into the test>).
    [ -s "$DEVNET_DIR/devnet.out" ] && mv "$DEVNET_DIR/devnet.out" "$DEVNET_DIR/devnet.out.$SECONDS"
    ./etc/devnet/devnet.sh > "$DEVNET_DIR/devnet.out" 2>&1 &
    devnet_pid=$!
    for _ in $(seq 1 600); do
        grep -q "logs " "$DEVNET_DIR/devnet.out" 2>/dev/null && return 0
        kill -0 "$devnet_pid" 2>/dev/null || break
        sleep 0.2
    done
    echo "devnet did not start:"; tail -20 "$DEVNET_DIR/devnet.out"; return 1
}
start_devnet || exit 1

safe_moves() { [ "$(head_of 0 safe_l2)" -gt 3 ]; }
safe_head_is_the_sequencers_block() {
    local started=$SECONDS
    wait_until 120 safe_moves || { echo "     sequencer safe head stayed at $(head_of 0 safe_l2)"; return 1; }
    local safe unsafe
    safe=$(head_of 0 safe_l2); unsafe=$(head_of 0 unsafe_l2)
    echo "     sequencer: safe $safe (after $((SECONDS - started)) s), unsafe $unsafe; safe hash $(hash_at 0 "$safe" | cut -c1-18)"
    [ -n "$(hash_at 0 "$safe")" ]
}
check "the safe head advances (batches posted and derived)" safe_head_is_the_sequencers_block

# kona drives reth in-process: with reth's engine API server off (the devnet's default) nothing
# listens on the auth port, and the chain above was built, derived and made safe regardless.
no_engine_rpc() {
    local node dir
    for node in 0 1 2; do
        dir=sequencer; [ "$node" -gt 0 ] && dir=validator-$node
        if ss -ltn | grep -q ":$((L2_AUTH_PORT + 10 * node)) "; then echo "     node $node: auth port open"; return 1; fi
        if grep -q "RPC auth server started" "$DEVNET_DIR/$dir/rollup.log"; then echo "     node $node: auth server started"; return 1; fi
    done
    # reth's log colours its fields: strip the escapes before matching.
    sed 's/\x1b\[[0-9;]*m//g' "$DEVNET_DIR/sequencer/rollup.log" | grep -q 'starting kona node .*engine="in-process"'
    sed 's/\x1b\[[0-9;]*m//g' "$DEVNET_DIR/sequencer/rollup.log" | grep -q 'built and imported block'
    echo "     no auth server on ports $L2_AUTH_PORT/$((L2_AUTH_PORT + 10))/$((L2_AUTH_PORT + 20)); engine: in-process"
}
check "no engine RPC: reth's auth server is off on every node and kona drives reth in-process" no_engine_rpc

validators_agree() {
    local n target ok=0
    target=$(head_of 0 safe_l2)
    for n in 1 2; do
        wait_until 120 at_least $n safe_l2 "$target" || { echo "     validator-$n safe head $(head_of $n safe_l2) < $target"; return 1; }
        local a b
        a=$(hash_at 0 "$target"); b=$(hash_at $n "$target")
        echo "     validator-$n: safe $(head_of $n safe_l2), unsafe $(head_of $n unsafe_l2); block $target ${b:0:18} (sequencer ${a:0:18})"
        [ -n "$a" ] && [ "$a" = "$b" ] || ok=1
    done
    return $ok
}
check "both validators (P2P and L1-only) reach the sequencer's safe head with the same hashes" validators_agree

p2p_follows_unsafe() {
    local s v
    s=$(head_of 0 unsafe_l2); v=$(head_of 1 unsafe_l2)
    echo "     unsafe: sequencer $s, validator-1 (P2P) $v, validator-2 (L1 only) $(head_of 2 unsafe_l2)"
    [ "$v" -ge $((s - 3)) ]
}
check "the P2P validator follows the sequencer's unsafe head" p2p_follows_unsafe

finalized_moves() { [ "$(head_of 0 finalized_l2)" -gt 0 ] && [ "$(head_of 2 finalized_l2)" -gt 0 ]; }
finalized_advances() {
    local started=$SECONDS
    wait_until 180 finalized_moves || { echo "     finalized: sequencer $(head_of 0 finalized_l2), validator-2 $(head_of 2 finalized_l2)"; return 1; }
    echo "     finalized after $((SECONDS - started)) s: sequencer $(head_of 0 finalized_l2), validator-2 $(head_of 2 finalized_l2); hashes $(hash_at 0 "$(head_of 2 finalized_l2)" | cut -c1-18) / $(hash_at 2 "$(head_of 2 finalized_l2)" | cut -c1-18)"
}
check "the finalized head advances" finalized_advances

# The newest L1 block holding a batcher transaction (to the batch inbox).
inbox=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["batch_inbox_address"])' "$DEVNET_DIR/rollup.json")
last_batch_block() {
    local head n
    head=$("$CAST" block-number --rpc-url "$L1")
    for n in $(seq "$head" -1 $((head - 10))); do
        if "$CAST" block "$n" --json --full --rpc-url "$L1" | python3 -c 'import json,sys
b = json.load(sys.stdin); inbox = sys.argv[1].lower()
sys.exit(0 if any((t.get("to") or "").lower() == inbox for t in b["transactions"]) else 1)' "$inbox"; then
            echo "$n"; return 0
        fi
    done
    return 1
}
reorg_is_healed() {
    local batch head depth safe_before target
    for _ in $(seq 1 30); do batch=$(last_batch_block) && break; sleep 1; done
    [ -n "${batch:-}" ] || { echo "     no batcher transaction found on L1"; return 1; }
    # L1 holds still between reading its head and the reorg, so the reorg takes out the block
    # with the batch (a block mined in between once made it take out a later one instead).
    "$CAST" rpc evm_setIntervalMining 0 --rpc-url "$L1" > /dev/null || return 1
    head=$("$CAST" block-number --rpc-url "$L1"); depth=$((head - batch + 1))
    safe_before=$(head_of 0 safe_l2)
    # Shallower than the sequencer's L1 confirmation depth (4): the L2 chain's origins survive.
    if [ "$depth" -le 3 ]; then "$CAST" rpc anvil_reorg "$depth" '[]' --rpc-url "$L1" > /dev/null; fi
    "$CAST" rpc evm_setIntervalMining "$L1_BLOCK_TIME" --rpc-url "$L1" > /dev/null || return 1
    [ "$depth" -le 3 ] || { echo "     batch too deep ($depth)"; return 1; }
    target=$(head_of 0 unsafe_l2)
    echo "     reorged $depth L1 blocks (batch in $batch, head $head); safe before $safe_before; waiting for safe >= $target"
    wait_until 120 at_least 2 safe_l2 "$target" || { echo "     validator-2 safe stuck at $(head_of 2 safe_l2)"; return 1; }
    local a b
    a=$(hash_at 0 "$target"); b=$(hash_at 2 "$target")
    echo "     healed: validator-2 safe $(head_of 2 safe_l2); block $target ${b:0:18} (sequencer ${a:0:18}); batcher: $(grep -c "left the L1 chain" "$DEVNET_DIR/sequencer/rollup.log") reorg(s) seen"
    [ "$a" = "$b" ]
}
check "an L1 reorg that drops a batch transaction is healed" reorg_is_healed

validator_sigkill_catches_up() {
    local pid cmd before target
    pid=$(pgrep -f "datadir $DEVNET_DIR/validator-1/data") || return 1
    mapfile -d '' cmd < "/proc/$pid/cmdline"
    before=$(head_of 1 unsafe_l2)
    kill -KILL "$pid"; sleep 3
    "${cmd[@]}" >> "$DEVNET_DIR/validator-1/rollup.log" 2>&1 &
    target=$(head_of 0 unsafe_l2)
    wait_until 120 at_least 1 unsafe_l2 "$target" || { echo "     validator-1 at $(head_of 1 unsafe_l2) < $target"; return 1; }
    echo "     validator-1 killed at unsafe $before, restarted, reached $(head_of 1 unsafe_l2) (sequencer was at $target); hash $(hash_at 1 "$target" | cut -c1-18) = $(hash_at 0 "$target" | cut -c1-18)"
    [ "$(hash_at 1 "$target")" = "$(hash_at 0 "$target")" ]
}
check "a validator killed with SIGKILL restarts and catches up" validator_sigkill_catches_up

batcher_restart_leaves_no_gap() {
    local stopped_at target a b
    kill -TERM "$devnet_pid"; wait "$devnet_pid" 2>/dev/null
    # Nodes this script started itself (the SIGKILL check's restart) are not the devnet's: stop
    # them too, and wait until every one is gone (a graceful stop takes seconds; a node still
    # holding its database lock makes the restarted devnet's node fail to open it).
    pkill -f "datadir $DEVNET_DIR/" 2>/dev/null
    wait_until 30 nodes_gone || { echo "     nodes still running after 30 s"; return 1; }
    stopped_at=$("$CAST" block-number --rpc-url "$(node_rpc 0)" 2>/dev/null || echo "?")
    start_devnet || return 1
    target=$(( $(head_of 0 unsafe_l2) + 5 ))
    wait_until 150 at_least 2 safe_l2 "$target" || { echo "     validator-2 safe stuck at $(head_of 2 safe_l2) (< $target)"; return 1; }
    a=$(hash_at 0 "$target"); b=$(hash_at 2 "$target")
    echo "     restarted; batcher: $(grep -m1 -o 'batcher resumes.*' "$DEVNET_DIR/sequencer/rollup.log" | sed 's/\x1b\[[0-9;]*m//g' | tail -c 170)"
    echo "     validator-2 (L1 only) safe $(head_of 2 safe_l2) >= $target; block $target ${b:0:18} (sequencer ${a:0:18})"
    [ "$a" = "$b" ]
}
check "a batcher restart leaves no gap" batcher_restart_leaves_no_gap

# kona asks for an L1 block's blobs by its slot ((timestamp - genesis) / slot time): two blocks in
# one slot, e.g. after the reorg above, would leave that slot's blobs unservable for good.
l1_blocks_one_per_slot() {
    python3 - "$L1" "$L1_BLOCK_TIME" <<'EOF'
import json, sys, urllib.request
url, slot_time = sys.argv[1], int(sys.argv[2])
def call(method, params):
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).encode()
    request = urllib.request.Request(url, body, {"content-type": "application/json"})
    return json.load(urllib.request.urlopen(request))["result"]
def timestamp(number):
    return int(call("eth_getBlockByNumber", [hex(number), False])["timestamp"], 16)
head = int(call("eth_blockNumber", []), 16)
genesis = timestamp(0)
slots = [(timestamp(n) - genesis) // slot_time for n in range(head + 1)]
shared = [n for n in range(1, head + 1) if slots[n] <= slots[n - 1]]
print("     %d L1 blocks, %d in the slot of their parent %s" % (head + 1, len(shared), shared[:5]))
sys.exit(1 if shared else 0)
EOF
}
check "no two L1 blocks share a slot, after the reorg and the restart" l1_blocks_one_per_slot

echo "derivation e2e: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
