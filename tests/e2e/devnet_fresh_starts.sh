#!/usr/bin/env bash
# Fresh devnet starts, many in a row: each starts from an empty state folder (new genesis, new
# datadir), waits for L2 block 3 and checks every block's base fee against the EIP-1559 rule of
# the parameters in the blocks' extraData. A start that crashes, stalls, restarts kona or builds
# a wrong base fee fails.
# Usage: ./tests/e2e/devnet_fresh_starts.sh [COUNT]   (default 20; skipped where `rollup` is not built)
set -uo pipefail
cd "$(dirname "$0")/../.."

COUNT=${1:-20}
# shellcheck source=tests/e2e/lib.sh
. tests/e2e/lib.sh
e2e_setup "fresh starts"

export L2_BLOCK_TIME=1 L1_BLOCK_TIME=2
# Below the ephemeral port range (32768+): an outgoing connection can take a port up there
# just before a node binds it (seen: kona RPC "Address already in use" on a validator start).
export L1_PORT=26545 BEACON_PORT=26052 L2_HTTP_PORT=27545 KONA_RPC_PORT=27546 METRICS_PORT=27001
export L2_P2P_PORT=26303 L2_AUTH_PORT=26551 KONA_P2P_PORT=27222 VALIDATORS=0 BATCHER=0
L2="http://127.0.0.1:$L2_HTTP_PORT"
devnet_pid=
cleanup() { [ -n "$devnet_pid" ] && { kill -TERM "$devnet_pid" 2>/dev/null; wait "$devnet_pid" 2>/dev/null; }; }
trap cleanup EXIT

# One fresh start; prints what it saw, returns non-zero on any failure.
fresh_start() {
    export DEVNET_DIR
    DEVNET_DIR=$(mktemp -d)
    ./etc/devnet/devnet.sh > "$DEVNET_DIR/devnet.out" 2>&1 &
    devnet_pid=$!
    local head=-1 i
    for i in $(seq 1 300); do
        head=$("$CAST" block-number --rpc-url "$L2" 2>/dev/null || echo -1)
        [ "$head" -ge 3 ] && break
        kill -0 "$devnet_pid" 2>/dev/null || break
        sleep 0.2
    done
    local ok=0
    if [ "$head" -ge 3 ]; then
        for i in 0 1 2 3; do "$CAST" block "$i" --json --rpc-url "$L2"; echo; done > "$DEVNET_DIR/blocks.jsonl"
        # Each block's base fee must be the EIP-1559 successor of its parent's (elasticity 6,
        # denominator 250: the parameters every block's extraData carries from genesis on).
        if python3 - "$DEVNET_DIR/blocks.jsonl" <<'PY'
import json, sys
blocks = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
q = lambda b, k: int(b[k], 16) if isinstance(b[k], str) and b[k].startswith("0x") else int(b[k])
fees, ok = [q(blocks[0], "baseFeePerGas")], True
for parent, child in zip(blocks, blocks[1:]):
    fee, used, target = q(parent, "baseFeePerGas"), q(parent, "gasUsed"), q(parent, "gasLimit") // 6
    if used == target:
        expected = fee
    elif used < target:
        expected = fee - fee * (target - used) // target // 250
    else:
        expected = fee + max(1, fee * (used - target) // target // 250)
    fees.append(q(child, "baseFeePerGas"))
    ok &= fees[-1] == expected and 0 < fees[-1]
    ok &= child["extraData"] == "0x00000000fa00000006"
print("baseFeePerGas", *fees, "extraData", blocks[0]["extraData"], end=" ")
sys.exit(0 if ok and blocks[0]["extraData"] == "0x00000000fa00000006" else 1)
PY
        then ok=1; fi
        echo "(head $head)"
    else
        echo "no block 3 within 60 s (head $head)"
        sed 's/\x1b\[[0-9;]*m//g' "$DEVNET_DIR/rollup.log" 2>/dev/null | grep -E "ERROR|panicked" | head -3 | cut -c1-240 | sed 's/^/       /'
    fi
    if grep -q "kona failed; restarting" "$DEVNET_DIR/rollup.log" 2>/dev/null; then
        echo "       kona restarted $(grep -c "kona failed; restarting" "$DEVNET_DIR/rollup.log") times"
        ok=0
    fi
    kill -TERM "$devnet_pid" 2>/dev/null; wait "$devnet_pid" 2>/dev/null; devnet_pid=
    [ "$ok" -eq 1 ] && rm -rf "$DEVNET_DIR"
    [ "$ok" -eq 1 ]
}

for n in $(seq 1 "$COUNT"); do
    printf 'start %2d/%d: ' "$n" "$COUNT"
    if fresh_start; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "       kept $DEVNET_DIR"; fi
done
echo "fresh starts: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
