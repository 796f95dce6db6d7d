#!/usr/bin/env bash
# Two sequencer builds under the same validator-set load, in one run: runs
# tests/e2e/validator_set_bench.sh with BASE_BIN, then with NEW_BIN (ROUNDS times, alternating,
# so a machine that slows down over the run does not favour one), and prints each run's
# included transfers/s, decided blocks/s and send -> SOFT-on-all latency, and the ratios of the
# new build's medians to the base build's.
# Usage: RETH_BIN=/path/to/reth BASE_BIN=/old/sequencer NEW_BIN=/new/sequencer \
#   ./tests/e2e/validator_set_bench_compare.sh [SECONDS] [TX_PER_SEC] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/../.."

SECS=${1:-60}
TPS=${2:-500}
ROUNDS=${3:-1}
[ -x "${BASE_BIN:-}" ] && [ -x "${NEW_BIN:-}" ] || {
    echo "set BASE_BIN and NEW_BIN to two sequencer binaries" >&2; exit 1
}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

for round in $(seq 1 "$ROUNDS"); do
    for which in base new; do
        bin=$BASE_BIN
        [ "$which" = new ] && bin=$NEW_BIN
        echo "== round $round: $which ($bin)"
        SEQUENCER_BIN=$bin ./tests/e2e/validator_set_bench.sh "$SECS" "$TPS" | tee "$out/$which-$round.txt"
    done
done

python3 - "$out" "$ROUNDS" "$SECS" <<'EOF'
import re, statistics, sys
out, rounds, secs = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
def read(which, r):
    text = open(f"{out}/{which}-{r}.txt").read()
    inc = re.search(r"transfers included: (\d+)/(\d+)", text)
    bps = re.search(r"decided blocks/s \(validator 0, during the load\): ([\d.]+)", text)
    lat = re.search(r"p50 ([\d.]+) s, p99 ([\d.]+) s", text)
    return {
        "included/s": int(inc.group(1)) / secs if inc else float("nan"),
        "blocks/s": float(bps.group(1)) if bps else float("nan"),
        "p50 s": float(lat.group(1)) if lat else float("nan"),
        "p99 s": float(lat.group(2)) if lat else float("nan"),
    }
runs = {w: [read(w, r) for r in range(1, rounds + 1)] for w in ("base", "new")}
print(f"\n{'':8}" + "".join(f"{k:>12}" for k in runs["base"][0]))
med = {}
for w in ("base", "new"):
    for i, run in enumerate(runs[w], 1):
        print(f"{w} {i:<3}" + "".join(f"{v:>12.2f}" for v in run.values()))
    med[w] = {k: statistics.median(r[k] for r in runs[w]) for k in runs[w][0]}
print("new/base" + "".join(f"{med['new'][k] / med['base'][k]:>12.3f}" for k in med["base"]))
EOF
