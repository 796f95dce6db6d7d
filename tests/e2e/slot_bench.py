#!/usr/bin/env python3
"""Block production of a devnet run, from `rollup node`'s log: missed slots and build latency.

Usage: slot_bench.py ROLLUP_LOG BLOCK_TIME [SKIP_SECONDS]
Reads the engine's "built and imported block ... safe=false" lines (number, timestamp, fcu_us,
import_us) — or, from a build before the in-process engine, kona's "Built and imported new unsafe
block" lines — skips the catch-up after start, and prints one summary.
"""
import re, statistics, sys

ansi = re.compile(r"\x1b\[[0-9;]*m")
line_re = re.compile(r"^(\S+)Z .*Built and imported new unsafe block l2_number=(\d+) l2_time=(\d+) "
                     r"fcu_duration=([\d.]+)(ms|µs|s) block_import_duration=([\d.]+)(ms|µs|s)")
scale = {"s": 1000.0, "ms": 1.0, "µs": 0.001}
# The in-process engine actor (crates/engine).
ours_re = re.compile(r"built and imported block number=(\d+) timestamp=(\d+) transactions=\d+ safe=false "
                     r"fcu_us=(\d+) import_us=(\d+)")

def main():
    path, block_time = sys.argv[1], int(sys.argv[2])
    skip = float(sys.argv[3]) if len(sys.argv) > 3 else 10.0
    blocks = []
    for raw in open(path, encoding="utf-8", errors="replace"):
        line = ansi.sub("", raw)
        m = ours_re.search(line)
        if m:
            blocks.append((int(m[1]), int(m[2]), (int(m[3]) + int(m[4])) / 1000.0))
            continue
        m = line_re.search(line)
        if m:
            blocks.append((int(m[2]), int(m[3]), float(m[4]) * scale[m[5]] + float(m[6]) * scale[m[7]]))
    if len(blocks) < 3:
        sys.exit(f"only {len(blocks)} blocks in {path}")
    # Skip the catch-up burst: blocks built while the L2 clock was behind wall time.
    start_time = blocks[0][1] + skip
    steady = [b for b in blocks if b[1] >= start_time]
    first, last = steady[0], steady[-1]
    expected = (last[1] - first[1]) // block_time + 1
    built = len({b[0] for b in steady})
    gaps = [b2[1] - b1[1] for b1, b2 in zip(steady, steady[1:])]
    latencies = sorted(b[2] for b in steady)
    pct = lambda p: latencies[min(len(latencies) - 1, int(p / 100 * len(latencies)))]
    print(f"slots: {expected} expected over {last[1] - first[1]} s of L2 time, {built} built, "
          f"missed {expected - built} ({(expected - built) / expected:.2%})")
    print(f"L2 timestamp gaps: all {block_time}s = {all(g == block_time for g in gaps)}")
    print(f"build latency (fcu + import) ms: p50 {pct(50):.1f}  p90 {pct(90):.1f}  p99 {pct(99):.1f}  "
          f"max {latencies[-1]:.1f}  mean {statistics.mean(latencies):.1f}  (budget {block_time * 1000} ms)")

main()
