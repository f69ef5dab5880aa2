"""Credit-assignment rules (bp, fa, dfa, sign, kp): step time and accuracy tables.

What is measured
----------------
(a) **Step time.** ``neurodl.learning.trainer.train_step`` (what ``fit`` runs for
    every minibatch) for each rule on the same network and batch: 784-256-256-10
    and 40-256-256-10, tanh, softmax + cross-entropy, float32, batch 100, with
    plain SGD (the fused in-place path) and with Adam. Everything on one thread;
    after a warm-up the steps per block are calibrated to about
    ``--block-seconds``; each repeat times one block of every rule, interleaved
    (order reversed every other repeat), from the same starting weights
    (``--clock cpu`` times the thread's CPU time, for a shared machine). The table
    gives the median seconds per step and the ratio of medians to bp, against the
    issue's target (fa, dfa, sign <= 1.1x bp), the range of the per-repeat ratios,
    and the ratio of the fastest blocks (less sensitive to a busy machine).
(b) **MNIST-1D.** :func:`neurodl.learning.rule_runs.train_rule`: 40-256-256-10
    tanh, Adam lr 1e-3, batch 100, 60 epochs, seeds 0..n-1, test accuracy mean and
    sample sd, and the final angle between each layer's update and the BP gradient.
    Targets: bp >= 68 %, sign within 3 points of bp, fa and dfa >= 58 %.
(c) **MNIST.** The same with 784-256-256-10 and 5 epochs. Targets: every rule
    >= 96.5 %, fa and dfa within 1 point of bp.

Run
---
From the repository root::

    PYTHONPATH=src python benchmarks/learning_rules.py --json out.json
    PYTHONPATH=src python benchmarks/learning_rules.py --part steps --repeats 21
    PYTHONPATH=src python benchmarks/learning_rules.py --part mnist --seeds 3

The exit status is 0 whether targets are met or missed (PASS / MISS column).
"""

from __future__ import annotations

import os

os.environ["OMP_NUM_THREADS"] = "1"
os.environ["MKL_NUM_THREADS"] = "1"

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch

from neurodl.learning.feedback import make_feedback
from neurodl.learning.optimizers import make_optimizer
from neurodl.learning.rule_runs import load_rule_data, train_rule
from neurodl.learning.trainer import RULES, train_step
from neurodl.networks import FeedForward
from neurodl.networks.losses import get_loss

STEP_NETS = {"mnist": (784, 256, 256, 10), "mnist1d": (40, 256, 256, 10)}


def _step_timing(args: argparse.Namespace) -> list[dict]:
    fn = get_loss("cross_entropy")
    clock = time.thread_time if args.clock == "cpu" else time.perf_counter
    rows = []
    for sizes in STEP_NETS.values():
        gen = torch.Generator().manual_seed(0)
        x = torch.rand(args.batch, sizes[0], generator=gen)
        labels = torch.randint(0, sizes[-1], (args.batch,), generator=gen)
        for opt_name, lr in (("sgd", 0.01), ("adam", 1e-3)):
            runs = {}
            for rule in RULES:
                net = FeedForward(sizes, "tanh", "softmax", init="pytorch", seed=0)
                y = net._check_target(fn, x, labels)
                w = net.weights()
                fb = make_feedback(net, rule, seed=0, kp_decay=1.0)
                opt = make_optimizer(opt_name, w, lr)
                start = [p.clone() for p in w]

                def block(n, net=net, w=w, x=x, y=y, opt=opt, fb=fb, start=start):
                    torch._foreach_copy_(w, start)
                    t0 = clock()
                    for _ in range(n):
                        train_step(net, w, x, y, fn, opt, None, feedback=fb)
                    return (clock() - t0) / n

                block(20)
                runs[rule] = block
            per = max(5, int(args.block_seconds / runs["bp"](20)))
            times: dict[str, list[float]] = {r: [] for r in RULES}
            for rep in range(args.repeats):
                order = list(RULES) if rep % 2 == 0 else list(reversed(RULES))
                for rule in order:
                    times[rule].append(runs[rule](per))
            med = {r: statistics.median(t) for r, t in times.items()}
            for rule in RULES:
                ratio = med[rule] / med["bp"]
                target = rule in ("fa", "dfa", "sign")
                rows.append(
                    {
                        "net": "-".join(map(str, sizes)),
                        "optimizer": opt_name,
                        "rule": rule,
                        "ms_per_step": 1e3 * med[rule],
                        "ratio_to_bp": ratio,
                        "ratio_of_minima": min(times[rule]) / min(times["bp"]),
                        "ratio_min": min(
                            a / b for a, b in zip(times[rule], times["bp"], strict=True)
                        ),
                        "ratio_max": max(
                            a / b for a, b in zip(times[rule], times["bp"], strict=True)
                        ),
                        "target": "<= 1.1" if target else "",
                        "status": ("PASS" if ratio <= 1.1 else "MISS")
                        if target
                        else "",
                    }
                )
                r = rows[-1]
                print(
                    f"{r['net']:>15} {opt_name:>5} {rule:>5} "
                    f"{r['ms_per_step']:8.3f} ms  x{ratio:5.3f} "
                    f"[{r['ratio_min']:.3f}, {r['ratio_max']:.3f}] "
                    f"min/min x{r['ratio_of_minima']:.3f} {r['status']}",
                    flush=True,
                )
    return rows


def _accuracy_table(data: str, args: argparse.Namespace) -> dict:
    arrays = load_rule_data(data)
    out: dict = {"data": data, "rules": {}}
    for rule in args.rules:
        runs = []
        for seed in range(args.seeds):
            r = train_rule(
                rule,
                data,
                seed=seed,
                arrays=arrays,
                epochs=args.epochs.get(data),
                kp_decay=args.kp_decay,
            )
            runs.append(r)
            print(
                f"{data:>8} {rule:>5} seed {seed}: {100 * r['test_accuracy']:.2f} % "
                f"({r['seconds']:.1f} s) angles "
                f"{[round(a, 1) for a in r['update_angle'][-1]]}",
                flush=True,
            )
        accs = [100 * r["test_accuracy"] for r in runs]
        out["rules"][rule] = {
            "accuracy": accs,
            "mean": statistics.fmean(accs),
            "sd": statistics.stdev(accs) if len(accs) > 1 else 0.0,
            "final_update_angle": [r["update_angle"][-1] for r in runs],
            "final_weight_angle": [r["weight_angle"][-1] for r in runs],
            "seconds": [r["seconds"] for r in runs],
            "config": runs[0]["config"],
            "sizes": runs[0]["sizes"],
        }
    return out


def _checks(table: dict) -> list[str]:
    rules = table["rules"]
    if set(rules) != set(RULES):
        return []  # the checks compare rules: all of them are needed
    bp = rules["bp"]["mean"]
    lines = []
    if table["data"] == "mnist1d":
        tests = [("bp >= 68", bp >= 68.0, bp)]
        s = rules["sign"]["mean"]
        tests.append(("sign >= bp - 3", s >= bp - 3, s))
        for r in ("fa", "dfa"):
            m = rules[r]["mean"]
            tests.append((f"{r} >= 58", m >= 58.0, m))
    else:
        tests = [
            (f"{r} >= 96.5", v["mean"] >= 96.5, v["mean"]) for r, v in rules.items()
        ]
        for r in ("fa", "dfa"):
            m = rules[r]["mean"]
            tests.append((f"{r} >= bp - 1", m >= bp - 1, m))
    for name, ok, val in tests:
        lines.append(f"{'PASS' if ok else 'MISS'} {name}: {val:.2f}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--part", choices=("steps", "mnist1d", "mnist", "all"), default="all"
    )
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--block-seconds", type=float, default=0.3)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument(
        "--clock",
        choices=("wall", "cpu"),
        default="wall",
        help="cpu: this thread's CPU time (less sensitive to a shared machine)",
    )
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--mnist-seeds", type=int, default=None)
    parser.add_argument("--mnist1d-epochs", type=int, default=None)
    parser.add_argument("--mnist-epochs", type=int, default=None)
    parser.add_argument("--kp-decay", type=float, default=None)
    parser.add_argument(
        "--rules", nargs="+", choices=RULES, default=list(RULES), help="tables only"
    )
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    args.epochs = {"mnist1d": args.mnist1d_epochs, "mnist": args.mnist_epochs}
    torch.set_num_threads(1)
    record: dict = {
        "command": "python benchmarks/learning_rules.py " + " ".join(sys.argv[1:]),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "load_before": os.getloadavg(),
    }
    if args.part in ("steps", "all"):
        record["steps"] = _step_timing(args)
    for data in ("mnist1d", "mnist"):
        if args.part in (data, "all"):
            seeds = args.seeds
            if data == "mnist" and args.mnist_seeds is not None:
                args.seeds = args.mnist_seeds
            table = _accuracy_table(data, args)
            args.seeds = seeds
            table["checks"] = _checks(table)
            for line in table["checks"]:
                print(line)
            for rule, v in table["rules"].items():
                print(f"{data:>8} {rule:>5}: {v['mean']:.2f} +- {v['sd']:.2f} %")
            record[data] = table
    record["load_after"] = os.getloadavg()
    if args.json is not None:
        args.json.write_text(json.dumps(record, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
