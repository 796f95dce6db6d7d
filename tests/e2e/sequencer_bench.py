#!/usr/bin/env python3
"""Block production of a sequencer run against reth, from `sequencer run`'s log.

Usage: sequencer_bench.py SEQUENCER_LOG BLOCK_TIME_MS [SKIP_SECONDS]
Reads the SOFT lines (number, txs, latency_ms, wall-clock time) and the FIRM lines, skips the
first SKIP_SECONDS (default 5) after the first SOFT block, and prints one summary: blocks/s
against the configured rate, SOFT latency percentiles, transactions, how far FIRM trails
(p50/p99 over every block: from its SOFT line to the FIRM line that covers it), and the DA bytes
posted per L2 block (from the PENDING lines: one blob per DA submission).
"""
import re, statistics, sys
from datetime import datetime

ansi = re.compile(r"\x1b\[[0-9;]*m")
soft_re = re.compile(r"^(\S+?)Z? .*SOFT number=(\d+) hash=\S+ txs=(\d+) latency_ms=(\d+)")
firm_re = re.compile(r"^(\S+?)Z? .*FIRM number=(\d+)")
pending_re = re.compile(r"PENDING number=(\d+) hash=\S+ da_height=(\d+) blob_bytes=(\d+)")


def ts(s):
    return datetime.fromisoformat(s.rstrip("Z")[:26]).timestamp()


def main():
    path, block_ms = sys.argv[1], int(sys.argv[2])
    skip = float(sys.argv[3]) if len(sys.argv) > 3 else 5.0
    soft, firm = [], []
    batches = {}  # (da height, blob bytes) -> blocks in that blob
    for raw in open(path, encoding="utf-8", errors="replace"):
        line = ansi.sub("", raw)
        if m := pending_re.search(line):
            batches.setdefault((int(m[2]), int(m[3])), set()).add(int(m[1]))
        if m := soft_re.search(line):
            soft.append((ts(m[1]), int(m[2]), int(m[3]), int(m[4])))
        elif m := firm_re.search(line):
            firm.append((ts(m[1]), int(m[2])))
    if len(soft) < 3:
        sys.exit(f"only {len(soft)} SOFT blocks in {path}")
    steady = [b for b in soft if b[0] >= soft[0][0] + skip]
    span = steady[-1][0] - steady[0][0]
    rate = (len(steady) - 1) / span
    target = 1000.0 / block_ms
    lat = sorted(b[3] for b in steady)
    pct = lambda p: lat[min(len(lat) - 1, int(p / 100 * len(lat)))]
    txs = sum(b[2] for b in steady)
    print(f"blocks: {len(steady)} SOFT over {span:.1f} s = {rate:.2f} blocks/s "
          f"(target {target:.2f}, ratio {rate / target:.3f}); {txs} transactions")
    print(f"SOFT latency (build + newPayload + forkchoiceUpdated) ms: p50 {pct(50)}  p90 {pct(90)}  "
          f"p99 {pct(99)}  max {lat[-1]}  mean {statistics.mean(lat):.1f}  (block time {block_ms} ms)")
    if firm:
        # Every steady block's FIRM lag: from its SOFT line to the first FIRM line at or above it.
        lags = []
        for t_soft, n, _, _ in steady:
            t_firm = next((t for t, f in firm if f >= n and t >= t_soft), None)
            if t_firm is not None:
                lags.append(t_firm - t_soft)
        lags.sort()
        if lags:
            q = lambda p: lags[min(len(lags) - 1, int(p / 100 * len(lags)))] * 1000
            print(f"FIRM lag (SOFT -> FIRM) ms over {len(lags)} blocks: p50 {q(50):.0f}  "
                  f"p99 {q(99):.0f}  max {lags[-1] * 1000:.0f}; "
                  f"firm head {firm[-1][1]}, soft head {soft[-1][1]}")
    if batches:
        blocks = sum(len(v) for v in batches.values())
        posted = sum(size for (_, size) in batches)
        print(f"DA: {len(batches)} blobs, {posted} bytes for {blocks} blocks = "
              f"{posted / blocks:.0f} bytes per L2 block")


main()
