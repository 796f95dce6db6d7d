#!/usr/bin/env bash
# Throughput ceiling of the validator set on this machine: the highest transfers/s at which one
# sequencer with one reth (VALIDATORS=1), then four validators each with its own reth
# (VALIDATORS=4), accept and include every transfer with send -> SOFT-on-all p99 at most two
# block times. Each level is one run of tests/e2e/validator_set_bench.sh (SECONDS of load, after
# ~25 s of devnet start-up and the signing of every transfer up front). From START_TPS the rate
# doubles until a level does not pass (or MAX_TPS passes), then two runs bisect between the last
# pass and the first level that did not; the four-validator search starts at the single ceiling
# / 8. A level where the load generator could not send the rate asked is "generator-bound": it
# bounds the search but is no ceiling. Prints every level, the two ceilings, the per-machine
# ideal for four (single ceiling / 4: four reths execute every block on the same cores) and the
# ratio of the four-validator ceiling to it (goal >= 0.80).
# Usage: RETH_BIN=/path/to/reth [SEQUENCER_BIN=…] ./tests/e2e/validator_set_ceiling.sh [SECONDS] [START_TPS] [MAX_TPS]
set -euo pipefail
cd "$(dirname "$0")/../.."

SECS=${1:-30}
START_TPS=${2:-200}
MAX_TPS=${3:-4000}
BLOCK_TIME_MS=${BLOCK_TIME_MS:-1000}
TARGET=${CARGO_TARGET_DIR:-$HOME/.cache/rollup-target}
export RETH_BIN=${RETH_BIN:-$(command -v reth || true)}
export SEQUENCER_BIN=${SEQUENCER_BIN:-$TARGET/release/sequencer}
if [ -z "$RETH_BIN" ] || [ ! -x "$RETH_BIN" ]; then
    echo "SKIP validator_set_ceiling: no reth binary (set RETH_BIN to a reth v1.6.0 binary)"
    exit 0
fi
[ -x "$SEQUENCER_BIN" ] || {
    echo "no sequencer at $SEQUENCER_BIN: cargo build --release --locked --manifest-path bin/sequencer/Cargo.toml" >&2
    exit 1
}
for v in "$SECS" "$START_TPS" "$MAX_TPS" "$BLOCK_TIME_MS"; do
    [[ "$v" =~ ^[1-9][0-9]*$ ]] || { echo "'$v': SECONDS, START_TPS, MAX_TPS and BLOCK_TIME_MS are positive integers" >&2; exit 1; }
done
# Every transfer is signed before its level starts; without coincurve eth-keys signs in pure
# Python (about 4 ms a transfer on the 2-core machine: 7 minutes before a 30 s level at 3200/s).
python3 -c 'import coincurve' 2>/dev/null || pip install --quiet coincurve ||
    echo "coincurve not installed: signing up front in pure Python (slow)"

# The chain's own bound, whatever the machine: the block gas limit (GAS_LIMIT, which the devnet
# takes; 30M by default) / 21000 a transfer. Above it a level fails on gas, not on the machine.
GAS_LIMIT=${GAS_LIMIT:-30000000}
export GAS_LIMIT
GAS_BOUND=$((GAS_LIMIT * 1000 / 21000 / BLOCK_TIME_MS))
LIMIT=$(awk -v ms="$BLOCK_TIME_MS" 'BEGIN { printf "%.1f", 2 * ms / 1000 }')
MACHINE="$(nproc) cores, $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
# sed, not head: reth would fail writing its other lines to a closed pipe, and pipefail with it.
BUILDS="$("$SEQUENCER_BIN" --version); $("$RETH_BIN" --version | sed -n 1p)"

out=$(mktemp -d)
bench_pid=
cleanup() {
    # The bench runs in its own process group (setsid): its load generator and devnet go with it.
    if [ -n "$bench_pid" ]; then
        kill -TERM -- "-$bench_pid" 2>/dev/null || kill -TERM "$bench_pid" 2>/dev/null || true
        wait "$bench_pid" 2>/dev/null || true
    fi
    rm -rf "$out"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# judge VALIDATORS TPS BENCH_STATUS RESULT_LINE: the level's row, tab-separated: validators, TPS,
# pass / FAIL / generator-bound, sent/s, included/s, blocks/s, p50, p99, max, why.
judge() {
    awk -v n="$1" -v tps="$2" -v rc="$3" -v line="$4" -v limit="$LIMIT" 'BEGIN {
        OFS = "\t"
        if (line == "") { print n, tps, "FAIL", "-", "-", "-", "-", "-", "-", "bench exited " rc ", no RESULT line"; exit }
        k = split(line, f, " ")
        for (i = 2; i <= k; i++) { split(f[i], kv, "="); r[kv[1]] = kv[2] }
        sent = r["sent"] + 0; accepted = r["accepted"] + 0; included = r["included"] + 0
        # sent / send_s: each connection of the generator sends one request at a time and
        # catches up after a stall, so a rate short of the one asked means it could not go faster.
        rate = sent / r["send_s"]
        why = ""
        if (rc != 0) why = why "; bench exited " rc
        if (accepted < sent) why = why "; " sent - accepted " refused"
        if (included < accepted) why = why "; " accepted - included " not included"
        if (r["p99"] == "nan") why = why "; no latency"
        else if (r["p99"] + 0 > limit + 0) why = why "; p99 > " limit " s"
        if (rate < 0.95 * tps) status = "generator-bound"
        else if (why != "") status = "FAIL"
        else status = "pass"
        print n, tps, status, sprintf("%.1f", rate), sprintf("%.1f", included / r["send_s"]),
            sprintf("%.2f", r["blocks_per_s"]), r["p50"], r["p99"], r["max"], substr(why, 3)
    }'
}

# show: the rows on stdin as table lines.
show() {
    awk -F'\t' '{ printf "%-3s %6s %8s %11s %9s %7s %7s %7s  %s%s\n", $1, $2, $4, $5, $6, $7, $8, $9, $3, ($10 == "" ? "" : " (" $10 ")") }'
}

# run_level VALIDATORS TPS: one bench run; appends its row to $out/rows and sets STATUS.
run=0
run_level() {
    local n=$1 tps=$2 log row senders rc=0
    run=$((run + 1))
    log=$out/run-$run.txt
    # The mempool holds at most 64 transactions per sender: about 10/s each keeps that limit out
    # of the measurement (at most 400 senders: each is funded with 1000 of the funder's 1M ETH).
    senders=$((tps / 10 < 40 ? 40 : tps / 10 > 400 ? 400 : tps / 10))
    echo "[ceiling] run $run ($(date +%T)): $n validator(s), $tps transfers/s for $SECS s, $senders senders"
    # A fee cap of 1000 gwei: blocks fuller than the gas target raise the base fee up to 12.5% a
    # block, and the bench's default 10 gwei would be refused after ~20 full blocks.
    # A connection that fell behind sends up to 16 due transfers in one JSON-RPC batch: one
    # Python request a transfer topped out below one validator on these two cores.
    BENCH_SENDERS=$senders BENCH_MAX_FEE_GWEI=1000 BENCH_SEND_BATCH=${BENCH_SEND_BATCH:-16} \
        setsid ./tests/e2e/validator_set_bench.sh \
        "$SECS" "$tps" "$n" "$BLOCK_TIME_MS" > "$log" 2>&1 &
    bench_pid=$!
    wait "$bench_pid" || rc=$?
    bench_pid=
    row=$(judge "$n" "$tps" "$rc" "$(grep '^RESULT ' "$log" | tail -n 1 || true)")
    echo "$row" >> "$out/rows"
    STATUS=$(cut -f3 <<< "$row")
    echo "[ceiling]   $(show <<< "$row")"
    [ "$rc" -eq 0 ] || tail -n 15 "$log" | sed 's/^/[ceiling]   | /'
}

# search VALIDATORS FROM_TPS: doubles the rate from FROM_TPS until a level does not pass or
# MAX_TPS passes, then bisects twice between the last pass and the first level that did not.
# Sets CEILING (0: no level passed) and ABOVE (what the next level up did).
search() {
    local n=$1 tps=$2 lo=0 hi=0 mid
    ABOVE="MAX_TPS $MAX_TPS reached"
    while :; do
        run_level "$n" "$tps"
        if [ "$STATUS" != pass ]; then hi=$tps; ABOVE="$STATUS at $tps/s"; break; fi
        lo=$tps
        [ "$tps" -lt "$MAX_TPS" ] || break
        tps=$((tps * 2 < MAX_TPS ? tps * 2 : MAX_TPS))
    done
    for _ in 1 2; do
        mid=$(((lo + hi) / 2))
        if [ "$hi" -eq 0 ] || [ "$mid" -le "$lo" ]; then break; fi
        run_level "$n" "$mid"
        if [ "$STATUS" = pass ]; then lo=$mid; else hi=$mid; ABOVE="$STATUS at $mid/s"; fi
    done
    CEILING=$lo
}

# ceiling_text CEILING ABOVE: the ceiling; "at least" where the level above it did not fail.
ceiling_text() {
    if [ "$1" -eq 0 ]; then
        echo "none ($2)"
    elif [[ "$2" == FAIL* ]]; then
        echo "$1 transfers/s (above it: $2)"
    else
        echo "at least $1 transfers/s (above it: $2, not the set's limit)"
    fi
}

echo "[ceiling] machine: $MACHINE; builds: $BUILDS"
echo "[ceiling] each level: ~25 s start-up, signing, $SECS s of load, ~10 s of reading; pass: every transfer accepted and included, p99 <= $LIMIT s"
search 1 "$START_TPS"
single=$CEILING single_above=$ABOVE
from=$(( (single > 0 ? single : START_TPS) / 8 ))
from=$((from < 10 ? 10 : from > MAX_TPS ? MAX_TPS : from))
search 4 "$from"
four=$CEILING four_above=$ABOVE

echo
echo "Validator-set throughput ceiling: ${BLOCK_TIME_MS} ms blocks, $SECS s of load a level; pass = every transfer accepted and included, send -> SOFT on all p99 <= $LIMIT s"
printf "%-3s %6s %8s %11s %9s %7s %7s %7s  %s\n" val TPS sent/s included/s blocks/s "p50 s" "p99 s" "max s" result
show < "$out/rows"
echo
echo "single-validator ceiling: $(ceiling_text "$single" "$single_above")"
echo "four-validator ceiling:   $(ceiling_text "$four" "$four_above")"
awk -v one="$single" -v four="$four" 'BEGIN {
    printf "ideal for four on this machine (single / 4: four reths execute every block): %.0f transfers/s\n", one / 4
    if (one > 0) printf "four / ideal: %.2f (goal >= 0.80)\n", four / (one / 4)
    else print "four / ideal: n/a (no single-validator level passed)"
}'
[[ "$single_above" == FAIL* && "$four_above" == FAIL* ]] ||
    echo "(an 'at least' ceiling is a lower bound: the ideal or the ratio it enters is not exact)"
[ "$single" -lt $((GAS_BOUND * 9 / 10)) ] ||
    echo "(the single ceiling is near the chain's bound, $GAS_BOUND transfers/s ($GAS_LIMIT gas a block): the machine's may be higher; raise GAS_LIMIT)"
echo "machine: $MACHINE"
echo "builds: $BUILDS"
