"""Tables across eegmmidb S001-S008 for RESULTS.md and the tour (issue 14).

    python benchmarks/subjects_tables.py            # uses benchmarks/results/* caches
    python benchmarks/subjects_tables.py --n-jobs 2
    python benchmarks/subjects_tables.py --only loso loso-tangent --pipelines riemann

Runs (or reads back from each evaluation's cache in ``benchmarks/results/``) the
evaluations below with :func:`neurodl.decode.evaluate_subjects`, prints their
Markdown reports, the comparison with MOABB's published 109-subject means, the
alignment comparison and the calibration curve, and writes the compact results
the tour draws (``src/neurodl/tasks/recorded/eegmmidb_subjects.json``).

All under MOABB's protocol (8-32 Hz IIR, 0-3 s, µV, ROC-AUC), the one its published
table uses; the within-subject run under MNE's protocol too (neurodl's default,
where the ConvNet and tangent-space defaults were chosen on S001).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
ALL = ["csp-lda", "riemann", "mdm", "fbcsp", "convnet", "eegnet"]
TASKS = ["left-right", "hands-feet"]
SEEDS = [0, 1, 2]

EVALUATIONS = {
    "within": ("within_moabb", dict(scheme="within", protocol="moabb", pipelines=ALL)),
    "within-mne": (
        "ms_within_mne",
        dict(
            scheme="within",
            protocol="mne",
            pipelines=["csp-lda", "riemann", "mdm", "fbcsp", "convnet"],
        ),
    ),
    # one seed for the ConvNets across subjects (315 training trials per fit)
    "loso": (
        "loso_moabb_none",
        dict(scheme="loso", protocol="moabb", pipelines=ALL, seeds=[0]),
    ),
    "loso-ea": (
        "loso_moabb_ea",
        dict(scheme="loso", protocol="moabb", align="ea", pipelines=ALL, seeds=[0]),
    ),
    # the ConvNet across subjects over seeds 0-1-2, without and with EA
    "loso-convnet": (
        "loso_moabb_none_convnet",
        dict(scheme="loso", protocol="moabb", pipelines=["convnet"]),
    ),
    "loso-ea-convnet": (
        "loso_moabb_ea_convnet",
        dict(scheme="loso", protocol="moabb", align="ea", pipelines=["convnet"]),
    ),
    "loso-recenter": (
        "loso_moabb_recenter",
        dict(
            scheme="loso",
            protocol="moabb",
            align="recenter",
            pipelines=["csp-lda", "riemann", "mdm"],
        ),
    ),
    # leave-one-subject-out under neurodl's default protocol (MNE's example:
    # 1-2 s, 7-30 Hz FIR, average reference, accuracy)
    "loso-mne": (
        "loso_mne_none",
        dict(
            scheme="loso",
            protocol="mne",
            pipelines=["csp-lda", "riemann", "mdm", "convnet"],
            seeds=[0],
        ),
    ),
    "loso-mne-ea": (
        "loso_mne_ea",
        dict(
            scheme="loso",
            protocol="mne",
            align="ea",
            pipelines=["csp-lda", "riemann", "mdm", "convnet"],
            seeds=[0],
        ),
    ),
    "loso-mne-recenter": (
        "loso_mne_recenter",
        dict(
            scheme="loso",
            protocol="mne",
            align="recenter",
            pipelines=["csp-lda", "riemann", "mdm"],
        ),
    ),
    # the ConvNet under MNE's protocol over seeds 0-1-2, without and with EA
    "loso-mne-convnet": (
        "loso_mne_none_convnet",
        dict(scheme="loso", protocol="mne", pipelines=["convnet"]),
    ),
    "loso-mne-ea-convnet": (
        "loso_mne_ea_convnet",
        dict(scheme="loso", protocol="mne", align="ea", pipelines=["convnet"]),
    ),
    # tangent-space centring (the tangent-space pipeline only)
    "loso-tangent": (
        "loso_moabb_tangent",
        dict(scheme="loso", protocol="moabb", align="tangent", pipelines=["riemann"]),
    ),
    "loso-mne-tangent": (
        "loso_mne_tangent",
        dict(scheme="loso", protocol="mne", align="tangent", pipelines=["riemann"]),
    ),
    "calibration": (
        "calib_moabb_ea",
        dict(
            scheme="loso",
            protocol="moabb",
            align="ea",
            calibration=[0, 4, 8, 16],
            pipelines=["csp-lda", "riemann"],
        ),
    ),
}

# Chevallier et al. 2024 (arXiv:2404.15319), PhysionetMI, WithinSession, ROC-AUC,
# left vs right hand, 109 subjects: mean, SD across subjects
MOABB_PUBLISHED = {
    "csp-lda": ("CSP+LDA", 0.6575, 0.1737),
    "riemann": ("TS+LR", 0.6728, 0.1919),
    "mdm": ("MDM", 0.5476, None),
    "fbcsp": ("FilterBank+SVM", 0.5845, 0.1393),
    "convnet": ("ShallowConvNet", 0.6519, 0.1580),
    "eegnet": ("EEGNet_8_2", 0.5955, 0.1595),
}


def _summary(doc: dict, metric: str | None = None) -> dict:
    metric = metric or doc["report"]["metric"]
    return {(e["task"], e["pipeline"]): e[metric] for e in doc["report"]["summary"]}


def _per_subject(doc: dict, metric: str) -> dict:
    return {
        (r["task"], r["pipeline"], r["subject"]): r[metric]
        for r in doc["report"]["table"]
    }


def _diff(row: dict) -> str:
    """Format a paired comparison's mean difference, 95 % interval and p (2 cells)."""
    return (
        f"{row['mean_diff']:+.3f} [{row['ci_low']:+.3f}, {row['ci_high']:+.3f}] | "
        f"{row['p']:.3f}"
    )


def _alignment_table(none, ea, others, metric, title) -> None:
    """Print EA (and re-centring, tangent centring) against none."""
    from neurodl.decode.stats import compare

    print(f"\n### {title}: unlabelled alignment against none\n")
    print(
        "| task | pipeline | none | EA | EA - none [95 % CI] | p (sign-flip) |"
        " recenter | recenter - none, p | tangent | tangent - none, p |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    a = _per_subject(none, metric)
    b = _per_subject(ea, metric)
    more = {k: _per_subject(d, metric) if d else {} for k, d in others.items()}
    for t in TASKS:
        for p in ALL:
            subj = [k[2] for k in a if k[:2] == (t, p) and (t, p, k[2]) in b]
            if len(subj) < 2:
                continue
            x = [a[t, p, s] for s in subj]
            y = [b[t, p, s] for s in subj]
            (row,) = compare({"ea": y, "none": x})
            cells = []
            for name in ("recenter", "tangent"):
                c = more.get(name, {})
                v = [c[t, p, s] for s in subj if (t, p, s) in c]
                if len(v) == len(subj):
                    (r,) = compare({name: v, "none": x})
                    cells += [
                        f"{sum(v) / len(v):.3f}",
                        f"{r['mean_diff']:+.3f}, {r['p']:.3f}",
                    ]
                else:
                    cells += ["—", "—"]
            print(
                f"| {t} | {p} | {sum(x) / len(x):.3f} | {sum(y) / len(y):.3f} | "
                f"{_diff(row)} | " + " | ".join(cells) + " |"
            )


def _seeds_table(docs, prefix, proto, metric) -> None:
    """Print the ConvNet's EA against none, each subject's score over the seeds."""
    from neurodl.decode.stats import compare

    print(
        f"\n### ConvNet across subjects over seeds 0-1-2, {proto} protocol, "
        f"{metric}: EA against none\n"
    )
    print("| task | none | EA | EA - none [95 % CI] | p (sign-flip) |")
    print("|---|---|---|---|---|")
    a = _per_subject(docs[f"{prefix}-convnet"], metric)
    b = _per_subject(docs[f"{prefix}-ea-convnet"], metric)
    for t in TASKS:
        subj = sorted(k[2] for k in a if k[0] == t and k in b)
        x = [a[t, "convnet", s] for s in subj]
        y = [b[t, "convnet", s] for s in subj]
        (row,) = compare({"ea": y, "none": x})
        print(f"| {t} | {sum(x) / len(x):.3f} | {sum(y) / len(y):.3f} | {_diff(row)} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared/data/eegmmidb")
    ap.add_argument("--n-jobs", type=int, default=None)
    ap.add_argument("--only", nargs="+", default=list(EVALUATIONS))
    ap.add_argument(
        "--pipelines",
        nargs="+",
        help="run only these of each evaluation's pipelines (the caches stay valid)",
    )
    ap.add_argument(
        "--recorded",
        type=Path,
        default=ROOT / "src/neurodl/tasks/recorded/eegmmidb_subjects.json",
    )
    args = ap.parse_args()
    from neurodl._json import json_ready, json_text
    from neurodl.decode.benchmark import evaluate_subjects
    from neurodl.decode.report import compact, to_markdown

    docs = {}
    for key in args.only:
        folder, kw = EVALUATIONS[key]
        if args.pipelines:
            kw = kw | {"pipelines": [p for p in kw["pipelines"] if p in args.pipelines]}
            if not kw["pipelines"]:
                continue
        docs[key] = evaluate_subjects(
            args.data,
            range(1, 9),
            out=RESULTS / folder,
            n_jobs=args.n_jobs,
            **({"seeds": SEEDS, "tasks": TASKS} | kw),
        )
        r = docs[key]["run"]
        print(f"\n### {key} ({r['computed']} computed, {r['reused']} cached)\n")
        print(to_markdown(docs[key]))

    if "within" in docs:
        s = _summary(docs["within"])
        print("\n### within-subject (MOABB protocol) beside MOABB's published means\n")
        print(
            "| pipeline | left-right, 8 subjects | MOABB 109 subjects | "
            "hands-feet, 8 subjects |"
        )
        print("|---|---|---|---|")
        for p in ALL:
            name, m, sd = MOABB_PUBLISHED[p]
            lr, hf = s["left-right", p], s["hands-feet", p]
            pub = f"{m:.3f}" + (f" ± {sd:.3f}" if sd else "")
            print(
                f"| {p} | {lr['mean']:.3f} ± {lr['sd']:.3f} | {pub} ({name}) | "
                f"{hf['mean']:.3f} ± {hf['sd']:.3f} |"
            )

    # ROC-AUC (the protocol's metric) ranks a new user's trials and ignores the
    # decoder's threshold; accuracy is what the new user gets with no calibration
    # (benchmarks/transfer_threshold.py shows the threshold is what alignment fixes)
    for metric in ("roc_auc", "accuracy"):
        for prefix, proto in (("loso", "MOABB"), ("loso-mne", "MNE")):
            if prefix in docs and f"{prefix}-ea" in docs:
                _alignment_table(
                    docs[prefix],
                    docs[f"{prefix}-ea"],
                    {a: docs.get(f"{prefix}-{a}") for a in ("recenter", "tangent")},
                    metric,
                    f"leave-one-subject-out, {proto} protocol, {metric}",
                )

        for prefix, proto in (("loso", "MOABB"), ("loso-mne", "MNE")):
            if f"{prefix}-convnet" in docs and f"{prefix}-ea-convnet" in docs:
                _seeds_table(docs, prefix, proto, metric)

    if "within-mne" in docs or "within" in docs:
        print(
            "\n### defaults on S002-S008: mean over the 7 subjects not used to "
            "choose them\n"
        )
        print("| protocol | task | csp-lda | riemann | convnet |")
        print("|---|---|---|---|---|")
        for key in ("within-mne", "within"):
            if key not in docs:
                continue
            metric = docs[key]["report"]["metric"]
            per = _per_subject(docs[key], metric)
            for t in TASKS:
                cells = []
                for p in ("csp-lda", "riemann", "convnet"):
                    v = [per[t, p, s] for s in range(2, 9) if (t, p, s) in per]
                    cells.append(f"{sum(v) / len(v):.3f}" if len(v) == 7 else "—")
                if cells == ["—"] * 3:
                    continue
                print(
                    f"| {docs[key]['protocol']['name']} ({metric}) | {t} | "
                    + " | ".join(cells)
                    + " |"
                )

    recorded = {
        k: compact(docs[k], f"python benchmarks/subjects_tables.py ({k})")
        for k in ("within", "loso", "loso-ea")
        if k in docs
    }
    if len(recorded) == 3 and not args.pipelines:  # the tour draws every pipeline
        args.recorded.parent.mkdir(parents=True, exist_ok=True)
        args.recorded.write_text(
            json_text(json_ready({"evaluations": recorded})) + "\n"
        )
        print(f"\nwrote {args.recorded}", file=sys.stderr)


if __name__ == "__main__":
    main()
