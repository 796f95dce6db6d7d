#!/usr/bin/env bash
# End-to-end test of the devnet: anvil + beacon adapter + `rollup node --kona.mode sequencer`.
# Needs the `rollup` binary, which needs network to build (reth is a git dependency): where it is
# not built, the test is skipped with a message. Run: ./tests/e2e/devnet_e2e.sh
set -uo pipefail
cd "$(dirname "$0")/../.."

# shellcheck source=tests/e2e/lib.sh
. tests/e2e/lib.sh
e2e_setup "devnet e2e"

export DEVNET_DIR=$(mktemp -d) L2_BLOCK_TIME=1 L1_BLOCK_TIME=2
export L1_PORT=28545 BEACON_PORT=25052 L2_HTTP_PORT=29545 KONA_RPC_PORT=29546 METRICS_PORT=29001
export L2_P2P_PORT=30403 L2_AUTH_PORT=28551 KONA_P2P_PORT=29222 VALIDATORS=0
L2="http://127.0.0.1:$L2_HTTP_PORT"
head_number() { "$CAST" block-number --rpc-url "$L2" 2>/dev/null || echo -1; }
start_devnet() {
    ./etc/devnet/devnet.sh > "$DEVNET_DIR/devnet.out" 2>&1 &
    devnet_pid=$!
    for _ in $(seq 1 300); do
        grep -q "L2 producing blocks" "$DEVNET_DIR/devnet.out" 2>/dev/null && return 0
        kill -0 "$devnet_pid" 2>/dev/null || break
        sleep 0.2
    done
    echo "devnet did not start:"; cat "$DEVNET_DIR/devnet.out"; return 1
}
rollup_pid() { pgrep -f "datadir $DEVNET_DIR/sequencer/data"; }
cleanup() { kill -TERM "$devnet_pid" 2>/dev/null; wait "$devnet_pid" 2>/dev/null; rm -rf "$DEVNET_DIR"; }
trap cleanup EXIT

start_devnet || exit 1

blocks_advance_at_block_time() {
    local a b
    a=$(head_number); sleep 6; b=$(head_number)
    local produced=$((b - a))
    echo "     $produced blocks in 6 s at ${L2_BLOCK_TIME}s blocks"
    [ "$produced" -ge 5 ] && [ "$produced" -le 7 ] || return 1
    local t1 t2
    t1=$("$CAST" block "$((b - 1))" --field timestamp --rpc-url "$L2")
    t2=$("$CAST" block "$b" --field timestamp --rpc-url "$L2")
    [ "$((t2 - t1))" -eq "$L2_BLOCK_TIME" ]
}
check "L2 blocks advance at the configured block time" blocks_advance_at_block_time

# EIP-1559 under Holocene: block 1's base fee follows from the genesis's (1 gwei) and the
# parameters in the genesis extraData (denominator 250): an empty parent lowers it by 1/250.
base_fee_follows_eip1559() {
    local genesis one
    genesis=$("$CAST" block 0 --field baseFeePerGas --rpc-url "$L2") || return 1
    one=$("$CAST" block 1 --field baseFeePerGas --rpc-url "$L2") || return 1
    echo "     baseFeePerGas: genesis $((genesis)), block 1 $((one)) (expected $((genesis - genesis / 250)))"
    [ "$((one))" -gt 0 ] && [ "$((one))" -lt "$((genesis))" ] && [ "$((one))" -eq "$((genesis - genesis / 250))" ]
}
check "block 1's base fee is the EIP-1559 successor of the genesis base fee" base_fee_follows_eip1559

unsafe_head() {
    curl -s -X POST -H 'content-type: application/json' \
        --data '{"jsonrpc":"2.0","id":1,"method":"optimism_syncStatus","params":[]}' \
        "http://127.0.0.1:$KONA_RPC_PORT" | python3 -c 'import json,sys; print(json.load(sys.stdin)["result"]["unsafe_l2"]["number"])'
}
sync_status_moves() { local a b; a=$(unsafe_head); sleep 3; b=$(unsafe_head); echo "     unsafe_l2 $a -> $b"; [ "$b" -gt "$a" ]; }
check "optimism_syncStatus reports a moving unsafe head" sync_status_moves

transfer_included() {
    local receipt
    receipt=$("$CAST" send --rpc-url "$L2" --private-key 0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d \
        --priority-gas-price 1gwei --gas-price 2gwei 0x000000000000000000000000000000000000dEaD --value 1ether 2>&1)
    echo "$receipt" | grep -E "^(status|blockNumber)" | sed 's/^/     /'
    echo "$receipt" | grep -q "^status *1"
}
check "a transaction sent with cast is included" transfer_included

# SIGTERM while the node builds blocks full of transfers: every actor stops inside the bound, the
# node exits 0 (devnet.sh exits with its status), and the last block built is the head a restart
# resumes from (below).
last_built() { sed 's/\x1b\[[0-9;]*m//g' "$DEVNET_DIR/rollup.log" | grep -o 'built and imported block number=[0-9]*' | tail -1 | tr -dc 0-9; }
stop_within_10s() {
    local pid start load status stopped
    pid=$(rollup_pid) || return 1
    python3 -c 'import eth_account' 2>/dev/null || pip install --quiet eth-account
    python3 tests/e2e/send_transfers.py "$L2" 42069 100 30 > "$DEVNET_DIR/load.out" 2>&1 &
    load=$!
    # Signing comes first; stop the node 5 s into the sending.
    for _ in $(seq 1 120); do grep -q "^signed" "$DEVNET_DIR/load.out" && break; sleep 0.5; done
    sleep 5
    start=$(date +%s%N)
    kill -TERM "$pid"
    while kill -0 "$pid" 2>/dev/null; do
        [ $(( ($(date +%s%N) - start) / 1000000 )) -gt 10000 ] && return 1
        sleep 0.05
    done
    stopped=$(( ($(date +%s%N) - start) / 1000000 ))
    wait "$devnet_pid"; status=$?
    kill "$load" 2>/dev/null; wait "$load" 2>/dev/null
    before_stop=$(last_built)
    local carried
    carried=$(sed 's/\x1b\[[0-9;]*m//g' "$DEVNET_DIR/rollup.log" | grep -o 'built and imported block number=[0-9]* timestamp=[0-9]* transactions=[0-9]*' | tail -3 | grep -o 'transactions=[0-9]*' | tr '\n' ' ')
    echo "     stopped in $stopped ms at head $before_stop, node exit status $status; last blocks: $carried"
    sed 's/\x1b\[[0-9;]*m//g' "$DEVNET_DIR/rollup.log" | grep -o 'all actors stopped.*' | tail -1 | sed 's/^/     /'
    [ "$status" -eq 0 ] || return 1
    # Under load: the blocks before the stop carried transfers (the L1-info deposit is one).
    echo "$carried" | grep -qE 'transactions=([2-9]|[1-9][0-9]+)' || return 1
    sed 's/\x1b\[[0-9;]*m//g' "$DEVNET_DIR/rollup.log" | grep 'all actors stopped' | tail -1 | grep -q 'abandoned=\[\]'
}
check "SIGTERM under a transfer load: every actor stops within 10 s, the node exits 0" stop_within_10s
kill -TERM "$devnet_pid" 2>/dev/null; wait "$devnet_pid" 2>/dev/null

resumes_from_same_head() {
    start_devnet || return 1
    grep -q "resuming" "$DEVNET_DIR/devnet.out" || return 1
    local seeded
    seeded=$(sed 's/\x1b\[[0-9;]*m//g' "$DEVNET_DIR/rollup.log" | grep -o "L2 buffer seeded from the node's chain blocks=[0-9]* tip=Some([0-9]*)" | grep -o "Some([0-9]*)" | tr -dc 0-9)
    echo "     head before stop $before_stop, after restart $seeded"
    [ "$seeded" = "$before_stop" ]
}
check "a restart resumes from the same head" resumes_from_same_head
kill -TERM "$devnet_pid" 2>/dev/null; wait "$devnet_pid" 2>/dev/null

# A real kona failure: its P2P port is taken, so kona's network actor fails at every start. kona
# is restarted with backoff while reth keeps serving; once the port is free, blocks resume.
kona_failure_restarts_while_reth_serves() {
    python3 -c 'import socket,sys,time
s=socket.socket(); s.bind(("127.0.0.1",int(sys.argv[1]))); s.listen(); time.sleep(300)' "$KONA_P2P_PORT" &
    local squatter=$! i answered=0 before after
    sleep 0.5
    ./etc/devnet/devnet.sh > "$DEVNET_DIR/devnet.out" 2>&1 &
    devnet_pid=$!
    for i in $(seq 1 300); do
        grep -q "kona failed; restarting" "$DEVNET_DIR/rollup.log" 2>/dev/null && break
        sleep 0.2
    done
    grep -q "kona failed; restarting" "$DEVNET_DIR/rollup.log" || { kill "$squatter"; return 1; }
    sed 's/\x1b\[[0-9;]*m//g' "$DEVNET_DIR/rollup.log" | grep -m1 "kona failed; restarting" | cut -c1-260 | sed 's/^/     /'
    before=$(head_number)
    for i in $(seq 1 10); do
        [ "$(head_number)" -ge 0 ] && answered=$((answered + 1))
        sleep 0.3
    done
    echo "     while kona is down: eth_blockNumber answered $answered/10 times, head $before -> $(head_number)"
    kill "$squatter"; wait "$squatter" 2>/dev/null
    for i in $(seq 1 150); do
        after=$(head_number)
        [ "$after" -gt "$before" ] && break
        sleep 0.2
    done
    echo "     port freed: head $before -> $after after $(grep -c "kona failed; restarting" "$DEVNET_DIR/rollup.log") restarts"
    [ "$answered" -eq 10 ] && [ "$after" -gt "$before" ]
}
check "a kona failure restarts kona while reth keeps serving; blocks resume" kona_failure_restarts_while_reth_serves

echo "devnet e2e: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
