"""``neurodl benchmark eeg``: decoders across many subjects, resumable, on a cluster.

::

    neurodl benchmark eeg --data FOLDER --subjects 1-8 --task left-right hands-feet
        --pipelines csp-lda riemann convnet --scheme within|runs|loso
        [--protocol mne|moabb] [--align none|ea|recenter|tangent]
        [--calibration 0 4 8 16] [--seeds 0 1 2]
        [--n-jobs N | --scheduler local:N|tcp://host:8786] --out DIR [--json]

``FOLDER`` holds ``S###`` subject folders, as PhysioNet lays out eegmmidb.
``--task``, ``--pipelines``, ``--calibration``, ``--seeds`` and ``--runs`` take
several values after one flag. ``DIR`` receives ``cache/`` (one file per finished
unit: a restart computes only what is missing), ``results.json``, ``report.md``
and ``pairs.png`` (the first two pipelines' per-subject scores against each other).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from typer.core import TyperCommand

from neurodl.cli._common import (
    JSON,
    check_writable,
    cli_errors,
    echo_json,
    show_progress,
)
from neurodl.cli.imaging import spread_values

app = typer.Typer(help="Benchmarks across many subjects.")

MULTI_VALUE = ("--task", "--pipelines", "--calibration", "--seeds", "--runs")


class _MultiValueCommand(TyperCommand):
    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        return super().parse_args(ctx, spread_values(list(args), MULTI_VALUE))


@app.callback()
def _benchmark() -> None:
    """Benchmarks across many subjects."""


@app.command(cls=_MultiValueCommand)
@cli_errors(tasks="--task", cv_seed="--cv-seed", min_trials_per_class="--min-trials")
def eeg(
    data: Path = typer.Option(
        ..., "--data", help="Folder of S### subject folders (PhysioNet's layout)."
    ),
    subjects: str = typer.Option(
        None, "--subjects", help="e.g. 1-8 or 1,3,5 (default: every S### folder)."
    ),
    task: list[str] = typer.Option(
        ["left-right"], "--task", help="left-right and/or hands-feet."
    ),
    pipelines: list[str] = typer.Option(
        ["csp-lda", "riemann"],
        "--pipelines",
        help="csp-lda, riemann, mdm, fbcsp, convnet, eegnet.",
    ),
    scheme: str = typer.Option(
        "within", "--scheme", help="within, runs (leave one run out) or loso."
    ),
    protocol: str = typer.Option(
        "mne", "--protocol", help="mne (MNE's example) or moabb (MOABB's paradigm)."
    ),
    align: str = typer.Option(
        "none",
        "--align",
        help="none, ea, recenter or tangent (loso: unlabelled alignment; tangent: "
        "riemann only).",
    ),
    calibration: list[int] = typer.Option(
        [], "--calibration", help="loso: labelled trials per class, e.g. 0 4 8 16."
    ),
    seeds: list[int] = typer.Option(
        [0], "--seeds", help="Seeds of the stochastic pipelines (fbcsp, ConvNets)."
    ),
    cv_seed: int = typer.Option(42, "--cv-seed", help="Seed of the folds."),
    runs: list[int] = typer.Option(
        [], "--runs", help="Other runs of the task's kind (e.g. executed 3 7 11)."
    ),
    min_trials: int = typer.Option(
        5, "--min-trials", help="Fewest trials per class a subject may have."
    ),
    n_jobs: int = typer.Option(None, "--n-jobs", help="Units in parallel (joblib)."),
    scheduler: str = typer.Option(
        None, "--scheduler", help="Dask: local:N or tcp://host:8786."
    ),
    out: Path = typer.Option(..., "--out", help="Folder for the cache and results."),
    quiet: bool = typer.Option(False, "--quiet", help="No progress bar."),
    as_json: bool = JSON,
) -> None:
    """Evaluate EEG decoders on many subjects (within, run-wise or across subjects)."""
    from neurodl.decode.benchmark import evaluate_subjects
    from neurodl.decode.report import to_markdown
    from neurodl.decode.subjects import parse_subjects, subject_folders
    from neurodl.errors import ValidationError
    from neurodl.viz import save_pair_scores

    check_writable("--out", out, folder=True)
    subj = subject_folders(data) if subjects is None else parse_subjects(subjects)
    if not subj:
        raise ValidationError(
            f"'data' folder {str(data)!r} holds no S### subject folders."
        )
    doc = evaluate_subjects(
        data,
        subj,
        tasks=task,
        pipelines=pipelines,
        scheme=scheme,
        protocol=protocol,
        align=align,
        calibration=calibration or None,
        seeds=seeds,
        cv_seed=cv_seed,
        runs=runs or None,
        min_trials_per_class=min_trials,
        out=out,
        n_jobs=n_jobs,
        scheduler=scheduler,
        progress=show_progress(quiet or as_json),
    )
    text = to_markdown(doc)
    (out / "report.md").write_text(text, encoding="utf-8")
    names = list(doc["pipelines"])
    if len(names) >= 2:
        save_pair_scores(doc, names[0], names[1], out / "pairs.png")
    if as_json:
        echo_json(doc["report"] | {"run": doc["run"]})
        return
    typer.echo(text)
    r = doc["run"]
    typer.echo(
        f"{r['units']} units ({r['computed']} computed, {r['reused']} from the "
        f"cache) on {r['backend']} ({r['workers']} "
        f"worker{'' if r['workers'] == 1 else 's'}) in {r['wall_s']:.1f} s; "
        f"results in {out}/results.json"
    )
