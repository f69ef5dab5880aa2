"""``neurodl imaging decode``: MVPA decoding of fMRI runs, bundled or from files.

Forms accepted (see :mod:`neurodl.imaging.runs` for the file formats)::

    neurodl imaging decode [--data haxby_slice]
    neurodl imaging decode --data BOLD.nii.gz --mask MASK --labels TABLE
    neurodl imaging decode --data RUN1.nii.gz RUN2.nii.gz ... --mask MASK
                           (--labels TABLE [TABLE ...] | --events E1.tsv E2.tsv ...)
    neurodl imaging decode --data BIDS_FOLDER --mask MASK

``--data``, ``--labels`` and ``--events`` take several values after one flag
(``--data a.nii.gz b.nii.gz``) or the flag repeated (``--data a --data b``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from typer.core import TyperCommand

from neurodl.cli._common import JSON, check_writable, cli_errors, echo_json, write_json
from neurodl.errors import DataFileError, ValidationError

app = typer.Typer(help="fMRI: decode volumes with leave-one-run-out CV.")

OUT_OPT = typer.Option(None, "--out", help="Also write the results as JSON here.")

MULTI_VALUE = ("--data", "--labels", "--events")
"""Options that take several values after one flag."""

OPTION_NAMES = {
    "data": "--data",
    "mask": "--mask",
    "labels": "--labels",
    "events": "--events",
    "tr": "--tr",
}
"""How :func:`neurodl.imaging.runs.load_runs` should name its parameters here."""

BUNDLED = "haxby_slice"


def spread_values(args: list[str], options: tuple[str, ...] = MULTI_VALUE) -> list[str]:
    """Rewrite ``--opt a b c`` as ``--opt a --opt b --opt c`` for ``options``.

    Values are the words after the flag up to the next word starting with "-";
    ``--opt=a b`` works as well.
    """
    out: list[str] = []
    current: str | None = None
    need_value = False
    for a in args:
        eq = next((o for o in options if a.startswith(o + "=")), None)
        if a in options:
            current, need_value = a, True
            out.append(a)
        elif eq is not None:
            current, need_value = eq, False
            out.append(a)
        elif current is not None and need_value:
            need_value = False
            out.append(a)
        elif current is not None and not a.startswith("-"):
            out += [current, a]
        else:
            current = None
            out.append(a)
    return out


class _MultiValueCommand(TyperCommand):
    """A command whose :data:`MULTI_VALUE` options take several values per flag."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        return super().parse_args(ctx, spread_values(list(args)))


def _task(task: str | None, default: str) -> str | tuple[str, ...]:
    from neurodl.imaging.mvpa import TASKS

    if task is None:
        return default
    if task in TASKS or task == "all":
        return task
    labels = tuple(t.strip() for t in task.split(",") if t.strip())
    if not labels:
        raise ValidationError(
            f"'--task' must be '8way', 'faces-houses', 'all' or labels separated by "
            f"commas (e.g. 'face,house'); got {task!r}."
        )
    return labels


@app.callback()
def _imaging() -> None:
    """FMRI: decode volumes with leave-one-run-out cross-validation."""


@app.command(cls=_MultiValueCommand)
@cli_errors(random_state="--seed", n_permutations="--permutations")
def decode(
    data: list[str] | None = typer.Option(
        None,
        "--data",
        metavar="NAME|FILE...|DIR",
        help="haxby_slice (bundled, the default), 4-D NIfTI files (one per run, or "
        "one with a run column in --labels), or a BIDS folder.",
    ),
    mask: Path | None = typer.Option(
        None, "--mask", help="3-D mask image on the runs' grid (files and folders)."
    ),
    labels: list[str] | None = typer.Option(
        None,
        "--labels",
        metavar="FILE...",
        help="Per-volume label table ('label run' per line, like PyMVPA's "
        "attributes_literal.txt), for all files or one per file.",
    ),
    events: list[str] | None = typer.Option(
        None,
        "--events",
        metavar="TSV...",
        help="BIDS events.tsv files (onset, duration, trial_type), one per run file.",
    ),
    task: str | None = typer.Option(
        None,
        "--task",
        help="8way, faces-houses, all (every label but rest) or labels separated by "
        "commas. Default: 8way for haxby_slice, all for files.",
    ),
    tr: float | None = typer.Option(
        None, "--tr", help="Repetition time in s for --events (default: the header's)."
    ),
    permutations: int = typer.Option(
        0, "--permutations", help="Also run a label-permutation test with N shuffles."
    ),
    seed: int = typer.Option(0, "--seed", help="Seed of the permutation test."),
    out: Path = OUT_OPT,
    as_json: bool = JSON,
) -> None:
    """Decode volume labels (linear SVM, leave-one-run-out, run-wise z-score).

    Volumes labelled from --events take the trial_type of the event whose
    [onset, onset + duration) holds the volume's start, i x TR; volumes outside
    every event are 'rest', which the default task leaves out.
    """
    import numpy as np

    from neurodl.imaging import decode_volumes, load_haxby
    from neurodl.imaging.mvpa import check_runs, select_task
    from neurodl.imaging.runs import load_runs

    check_writable("--out", out)
    values = list(data or [BUNDLED])
    bundled = values == [BUNDLED] and not Path(BUNDLED).exists()
    spec = _task(task, "8way" if bundled else "all")
    info: dict[str, Any]
    if bundled:
        given = [
            o
            for o, v in (
                ("--mask", mask),
                ("--labels", labels),
                ("--events", events),
                ("--tr", tr),
            )
            if v
        ]
        if given:
            raise ValidationError(
                f"{given[0]!r} applies to image files or a BIDS folder as '--data'; "
                f"the bundled {BUNDLED!r} brings its own mask, labels, runs and TR."
            )
        X, y, runs = load_haxby()
        run_names, runs_from = None, "--data"
        info = {"data": BUNDLED}
    else:
        if len(values) == 1 and not Path(values[0]).exists():
            raise DataFileError(
                f"'--data' must be {BUNDLED!r} (bundled), 4-D NIfTI files or a BIDS "
                f"folder; {values[0]!r} is none of these (no such file or folder)."
            )
        rd = load_runs(
            values,
            mask,
            labels=labels or None,
            events=events or None,
            tr=tr,
            names=OPTION_NAMES,
        )
        X, y, runs = rd.X, rd.labels, rd.runs
        run_names, runs_from = rd.run_names, OPTION_NAMES[rd.runs_from]
        trs = sorted({t for t in rd.tr if t is not None})
        folder = Path(values[0]).is_dir()
        info = {
            "data": values[0] if folder else rd.files,
            **({"files": rd.files} if folder else {}),
            "mask": str(mask),
            rd.labels_from: rd.label_files,
            "tr_s": trs[0] if len(trs) == 1 else (trs or None),
        }
    shown = spec if isinstance(spec, str) else ",".join(spec)
    kept = select_task(y, spec, name="--task")
    if len(kept) < 2:
        raise ValidationError(
            f"'--task' must keep at least two labels to decode; {shown!r} keeps "
            f"{list(kept)}."
        )
    sel = np.isin(y, kept)
    if len(np.unique(runs[sel])) < 2:
        where = (
            "; give one 4-D file per run, or a run column in '--labels'"
            if not bundled
            else ""
        )
        raise ValidationError(
            f"{runs_from!r} must hold at least two runs with the task's labels for "
            f"leave-one-run-out cross-validation; got "
            f"{len(np.unique(runs[sel]))}{where}."
        )
    check_runs(y[sel], runs[sel], name=runs_from, run_names=run_names)
    res = {
        **info,
        **decode_volumes(
            X,
            y,
            runs,
            task=spec,
            permutations=permutations,
            random_state=seed,
            run_names=run_names,
        ),
    }
    if out is not None:
        write_json(out, res)
    if as_json:
        echo_json(res)
        return
    where = values[0] if len(values) == 1 else f"{len(values)} files"
    typer.echo(
        f"{shown} on {where}: {res['n_volumes']} volumes x {res['n_voxels']} voxels, "
        f"{len(res['classes'])} classes, {res['n_splits']} leave-one-run-out folds: "
        f"balanced accuracy {res['balanced_accuracy']:.4f} (+/- {res['std']:.4f}), "
        f"chance {res['chance_level']:.4f}; {res['seconds']:.1f} s"
    )
    if "permutation_test" in res:
        p = res["permutation_test"]
        typer.echo(
            f"permutation test: p = {p['p_value']:.4f} over {p['n_permutations']} "
            "label shuffles"
        )
