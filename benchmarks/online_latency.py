"""End-to-end latency of online decoding over LSL on this machine (64 ch, 160 Hz).

    python benchmarks/online_latency.py              # 7 runs of 6 s
    python benchmarks/online_latency.py --runs 3 --seconds 4

Each run is :func:`neurodl.bci.loopback_demo`: an outlet thread replays eegmmidb
S001 run 6 (64 channels at 160 Hz, real time, chunks of 4 samples) and the runner
decodes it with CSP + LDA fitted on runs 10 and 14, one window every 16 samples.
Latency is from a sample's LSL timestamp to the command sent for the window that
ends with it (receive + decode; see :mod:`neurodl.bci.online`).

The target of the online issue is p95 <= 20 ms. This machine is shared and noisy,
so a single run says little: the script prints every run and the median over
runs, and writes ``benchmarks/records/online_latency.json``. The tests check that
latency is measured and that the loop keeps up (windows decoded, none dropped),
not the figure.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--seconds", type=float, default=6.0)
    ap.add_argument(
        "--json", type=Path, default=HERE / "records" / "online_latency.json"
    )
    args = ap.parse_args()
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = "1"
    from neurodl.bci import loopback_demo

    keys = ("p50_ms", "p95_ms", "max_ms", "receive_p95_ms", "decode_p95_ms")
    rows = []
    print("| run | windows | dropped | " + " | ".join(keys) + " |")
    print("|---|---|---|" + "---|" * len(keys))
    for i in range(args.runs):
        d = loopback_demo(seconds=args.seconds)
        row = {k: d[k] for k in keys} | {
            "windows": d["windows"],
            "dropped_samples": d["dropped_samples"],
        }
        rows.append(row)
        print(
            f"| {i + 1} | {d['windows']} | {d['dropped_samples']} | "
            + " | ".join(f"{d[k]:.2f}" for k in keys)
            + " |",
            flush=True,
        )
    med = {k: statistics.median(r[k] for r in rows) for k in keys}
    print("| median | — | — | " + " | ".join(f"{med[k]:.2f}" for k in keys) + " |")
    worst = max(r["p95_ms"] for r in rows)
    print(
        f"\np95 latency: median {med['p95_ms']:.2f} ms over {args.runs} runs "
        f"(worst run {worst:.2f} ms); target <= 20 ms"
    )
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(
        json.dumps(
            {"command": " ".join(sys.argv), "runs": rows, "median": med}, indent=1
        )
        + "\n"
    )


if __name__ == "__main__":
    main()
