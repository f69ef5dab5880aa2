"""``neurodl imaging decode``: MVPA decoding of the bundled Haxby slice."""

from __future__ import annotations

from pathlib import Path

import typer

from neurodl.cli._common import JSON, echo_json, write_json
from neurodl.errors import ValidationError

app = typer.Typer(help="fMRI: decode volumes with leave-one-run-out CV.")

OUT_OPT = typer.Option(None, "--out", help="Also write the results as JSON here.")


@app.callback()
def _imaging() -> None:
    """FMRI: decode volumes with leave-one-run-out cross-validation."""


@app.command()
def decode(
    data: str = typer.Option(
        "haxby_slice", "--data", help="Bundled dataset (only haxby_slice)."
    ),
    task: str = typer.Option("8way", "--task", help="8way or faces-houses."),
    permutations: int = typer.Option(
        0, "--permutations", help="Also run a label-permutation test with N shuffles."
    ),
    seed: int = typer.Option(0, "--seed", help="Seed of the permutation test."),
    out: Path = OUT_OPT,
    as_json: bool = JSON,
) -> None:
    """Decode Haxby categories (linear SVM, leave-one-run-out, run-wise z-score)."""
    from neurodl.imaging import decode_volumes, load_haxby

    if data != "haxby_slice":
        raise ValidationError(f"'--data' must be 'haxby_slice'; got {data!r}.")
    if task not in ("8way", "faces-houses"):
        raise ValidationError(
            f"'--task' must be '8way' or 'faces-houses'; got {task!r}."
        )
    X, labels, runs = load_haxby()
    res = {
        "data": data,
        **decode_volumes(
            X, labels, runs, task=task, permutations=permutations, random_state=seed
        ),
    }
    if out is not None:
        write_json(out, res)
    if as_json:
        echo_json(res)
        return
    typer.echo(
        f"{task} on {data}: {res['n_volumes']} volumes x {res['n_voxels']} voxels, "
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
