"""Tables, statistics and a figure for an evaluation across subjects.

:func:`summarize` turns the units of :func:`neurodl.decode.benchmark.evaluate_subjects`
into

- a per-subject table: accuracy and ROC-AUC (averaged over folds, then over the
  seeds of a stochastic pipeline), trials per class, and the binomial chance
  threshold for that subject's trial count (Combrisson & Jerbi 2015: the
  accuracy a classifier guessing at random reaches with probability <= 0.05;
  each trial is a test trial once across k folds, so n is the subject's trials);
- a summary per pipeline: mean ± SD across subjects (SD with ddof 1, as MOABB's
  tables), median, range and the subjects above chance;
- paired comparisons of every two pipelines on the per-subject scores of the
  protocol's metric (:func:`neurodl.decode.stats.compare`: exact sign-flip test
  below 20 subjects, else Wilcoxon; Holm-adjusted; d_z and a 95 % t interval of
  the mean difference);
- the calibration learning curve of a leave-one-subject-out run.

:func:`to_markdown` renders it; :func:`neurodl.viz.save_pair_scores` draws the
per-subject scores of two pipelines against each other, as MOABB's ``paired_plot``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np

from neurodl.decode.stats import chance_threshold, compare

__all__ = ["compact", "other_versions", "summarize", "to_markdown"]

METRICS = ("accuracy", "roc_auc")


def _mean(values: Sequence[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return float(np.mean(vals)) if vals and len(vals) == len(values) else None


def summarize(doc: dict[str, Any]) -> dict[str, Any]:
    """Per-subject table, summaries, paired comparisons and the calibration curve."""
    metric = doc["protocol"]["metric"]
    grouped: dict[tuple[str, str, int], list[dict[str, Any]]] = defaultdict(list)
    for u in doc["units"]:
        s = u["spec"]
        grouped[s["task"], s["pipeline"], s["subject"]].append(u)
    rows = []
    for (task, pipe, subject), units in sorted(grouped.items()):
        counts = doc["subjects"][task][str(subject)].get("trials_per_class") or {}
        n = int(sum(counts.values())) if counts else None
        threshold = chance_threshold(n, max(2, len(counts))) if n else None
        row: dict[str, Any] = {"task": task, "pipeline": pipe, "subject": subject}
        for m in METRICS:
            row[m] = _mean([u["result"][m] for u in units])
        # a results file written before it was recorded has none (cached units
        # without it are computed again: UNIT_FIELDS)
        row["majority_share"] = _mean(
            [u["result"].get("majority_share") for u in units]
        )
        row["seeds"] = (
            {str(u["spec"]["seed"]): u["result"][metric] for u in units}
            if len(units) > 1
            else None
        )
        row.update(
            trials_per_class=counts,
            chance_threshold=threshold,
            above_chance=(
                None
                if threshold is None or row["accuracy"] is None
                else bool(row["accuracy"] >= threshold)
            ),
            fit_s=float(
                np.mean([sum(f["fit_s"] for f in u["result"]["folds"]) for u in units])
            ),
        )
        rows.append(row)
    return {
        "metric": metric,
        "table": rows,
        "summary": _summary(rows),
        "comparisons": _comparisons(rows, metric),
        "calibration": _calibration(doc, metric),
        "other_versions": other_versions(doc),
    }


def other_versions(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """Package versions some units were computed under that differ from the run's.

    One entry per (package, version) with how many units it computed; empty
    when every unit records the run's own versions (``doc["versions"]``). A unit
    stored without versions (by an earlier neurodl) counts under ``"unknown"``.
    """
    run = doc.get("versions") or {}
    counts: dict[tuple[str, str], int] = defaultdict(int)
    for u in doc["units"]:
        stored = u["result"].get("versions")
        if not isinstance(stored, dict):
            counts["all", "unknown"] += 1
            continue
        for pkg in sorted(set(run) | set(stored)):
            if stored.get(pkg) != run.get(pkg):
                counts[pkg, str(stored.get(pkg, "absent"))] += 1
    return [
        {"package": pkg, "version": ver, "units": n}
        for (pkg, ver), n in sorted(counts.items())
    ]


def _summary(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    by: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        by[r["task"], r["pipeline"]].append(r)
    out = []
    for (task, pipe), rs in by.items():
        entry: dict[str, Any] = {"task": task, "pipeline": pipe, "n_subjects": len(rs)}
        for m in METRICS:
            vals = np.array([r[m] for r in rs if r[m] is not None], dtype=float)
            if vals.size == 0:
                entry[m] = None
                continue
            entry[m] = {
                "mean": float(vals.mean()),
                "sd": float(vals.std(ddof=1)) if vals.size > 1 else None,
                "median": float(np.median(vals)),
                "min": float(vals.min()),
                "max": float(vals.max()),
            }
        flags = [r["above_chance"] for r in rs if r["above_chance"] is not None]
        entry["above_chance"] = int(sum(flags)) if flags else None
        entry["majority_share"] = _mean([r.get("majority_share") for r in rs])
        out.append(entry)
    return out


def _comparisons(rows: Sequence[dict[str, Any]], metric: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for task in dict.fromkeys(r["task"] for r in rows):
        per: dict[str, dict[int, float]] = defaultdict(dict)
        for r in rows:
            if r["task"] == task and r[metric] is not None:
                per[r["pipeline"]][r["subject"]] = r[metric]
        common = (
            sorted(set.intersection(*(set(v) for v in per.values()))) if per else []
        )
        if len(per) < 2:
            continue
        if len(common) < 2:
            out[task] = {"rows": None, "why": "paired tests need >= 2 subjects"}
            continue
        scores = {p: [v[s] for s in common] for p, v in per.items()}
        out[task] = {"subjects": common, "rows": compare(scores)}
    return out


def _calibration(doc: dict[str, Any], metric: str) -> dict[str, Any] | None:
    if not doc.get("calibration"):
        return None
    curve: dict[str, dict[str, dict[str, list[float]]]] = {}
    for u in doc["units"]:
        cal = u["result"].get("calibration")
        if not cal:
            continue
        s = u["spec"]
        entry = curve.setdefault(s["task"], {}).setdefault(s["pipeline"], {})
        for k, draws in cal.items():
            entry.setdefault(k, []).append(float(np.mean([d[metric] for d in draws])))
    # subjects' means (each subject: mean over draws and seeds)
    return {
        task: {
            pipe: {k: {"mean": float(np.mean(v)), "n": len(v)} for k, v in ks.items()}
            for pipe, ks in pipes.items()
        }
        for task, pipes in curve.items()
    }


def _fmt(x: float | None, digits: int = 3) -> str:
    return "—" if x is None else f"{x:.{digits}f}"


def to_markdown(doc: dict[str, Any]) -> str:
    """Markdown tables of the report: summary, per subject, comparisons, curve."""
    rep = doc["report"]
    metric = rep["metric"]
    proto = doc["protocol"]["name"]
    # a threshold-free metric hides a decoder whose threshold misses a new
    # user's trials: show the accuracy (the decisions it makes) beside it, and
    # across subjects how many of a new user's trials go to one class
    extra = metric != "accuracy"
    share = doc["scheme"] == "loso"
    lines = [
        f"Protocol `{proto}`, scheme `{doc['scheme']}`"
        + (f", alignment `{doc['align']}`" if doc["align"] != "none" else "")
        + f"; score: {metric} (mean over folds"
        + (", then seeds" if len(doc["seeds"]) > 1 else "")
        + ").",
        "",
        "| task | pipeline | subjects | mean ± SD | median | range | above chance |"
        + (" accuracy (mean) |" if extra else "")
        + (" majority share (mean) |" if share else ""),
        "|---|---|---|---|---|---|---|"
        + ("---|" if extra else "")
        + ("---|" if share else ""),
    ]
    for e in rep["summary"]:
        s = e[metric]
        acc = e.get("accuracy") or {}
        lines.append(
            f"| {e['task']} | {e['pipeline']} | {e['n_subjects']} | "
            f"{_fmt(s['mean'])} ± {_fmt(s['sd'])} | {_fmt(s['median'])} | "
            f"{_fmt(s['min'])} to {_fmt(s['max'])} | "
            f"{e['above_chance'] if e['above_chance'] is not None else '—'}"
            f"/{e['n_subjects']} |"
            + (f" {_fmt(acc.get('mean'))} |" if extra else "")
            + (f" {_fmt(e.get('majority_share'), 2)} |" if share else "")
        )
    if share:
        lines += [
            "",
            "Majority share: the fraction of a new user's trials the decoder gives to "
            "the class it predicts most often (near the classes' own shares when its "
            "threshold sits among the trials; 1.0 when it sends one command whatever "
            "the user imagines).",
        ]
    pipes = list(dict.fromkeys(r["pipeline"] for r in rep["table"]))
    for task in dict.fromkeys(r["task"] for r in rep["table"]):
        lines += [
            "",
            f"**{task}**: {metric} per subject (accuracy chance threshold "
            "at p = 0.05 for the subject's trials)",
            "",
        ]
        names = next(
            (
                list(r["trials_per_class"])
                for r in rep["table"]
                if r["task"] == task and r["trials_per_class"]
            ),
            [],
        )
        lines.append(
            f"| subject | trials ({'/'.join(names)}) | threshold | "
            + " | ".join(pipes)
            + " |"
        )
        lines.append("|---|---|---|" + "---|" * len(pipes))
        by = {
            (r["pipeline"], r["subject"]): r for r in rep["table"] if r["task"] == task
        }
        for subject in sorted({k[1] for k in by}):
            first = next(by[p, subject] for p in pipes if (p, subject) in by)
            counts = first["trials_per_class"] or {}
            cells = [
                _fmt(by[p, subject][metric])
                + ("*" if by[p, subject]["above_chance"] else "")
                if (p, subject) in by
                else "—"
                for p in pipes
            ]
            lines.append(
                f"| S{subject:03d} | {'/'.join(str(v) for v in counts.values())} | "
                f"{_fmt(first['chance_threshold'])} | " + " | ".join(cells) + " |"
            )
        comp = rep["comparisons"].get(task)
        if comp and comp.get("rows"):
            lines += [
                "",
                "| a vs b | mean diff [95 % CI] | d_z | test | p | p (Holm) |",
                "|---|---|---|---|---|---|",
            ]
            for c in comp["rows"]:
                lines.append(
                    f"| {c['a']} vs {c['b']} | {c['mean_diff']:+.3f} "
                    f"[{c['ci_low']:+.3f}, {c['ci_high']:+.3f}] | "
                    f"{_fmt(c['d_z'], 2)} | "
                    f"{c['test']} | {c['p']:.3g} | {c['p_holm']:.3g} |"
                )
    cal = rep.get("calibration")
    if cal:
        for task, per in cal.items():
            ks = sorted({int(k) for v in per.values() for k in v})
            lines += [
                "",
                f"**{task}**: calibration trials per class of the new user "
                f"-> {metric} on its other trials (mean over subjects)",
                "",
                "| pipeline | " + " | ".join(str(k) for k in ks) + " |",
                "|---|" + "---|" * len(ks),
            ]
            for pipe, v in per.items():
                lines.append(
                    f"| {pipe} | "
                    + " | ".join(_fmt(v[str(k)]["mean"]) for k in ks)
                    + " |"
                )
    lines += ["", "`*`: accuracy at or above the subject's chance threshold."]
    others = rep.get("other_versions")
    if others:
        versions = doc.get("versions") or {}
        lines += [
            "",
            "Some units were computed under other package versions than this run's "
            "(each unit records its own; delete their files in the cache folder to "
            "compute them again): "
            + "; ".join(
                (
                    "no versions recorded"
                    if o["version"] == "unknown"
                    else f"{o['package']} {o['version']} (this run: "
                    f"{versions.get(o['package'], 'absent')})"
                )
                + f" in {o['units']} of {len(doc['units'])} units"
                for o in others
            )
            + ".",
        ]
    return "\n".join(lines) + "\n"


def compact(doc: dict[str, Any], command: str = "") -> dict[str, Any]:
    """Return an evaluation's report with its provenance, without fold details.

    Enough to draw its tables and figure again (:func:`to_markdown`,
    :func:`neurodl.viz.save_pair_scores`): protocol, scheme, alignment, seeds,
    the run files' SHA-256 per subject, versions, the command, and the report.
    """
    return {
        "command": command,
        "protocol": doc["protocol"],
        "scheme": doc["scheme"],
        "align": doc["align"],
        "calibration": doc["calibration"],
        "seeds": doc["seeds"],
        "cv_seed": doc["cv_seed"],
        "tasks": doc["tasks"],
        "pipelines": doc["pipelines"],
        "files": {
            task: {s: info.get("files", {}) for s, info in per.items()}
            for task, per in doc["subjects"].items()
        },
        "versions": doc["versions"],
        "report": doc["report"],
    }
