"""``neurodl tour``: the main job, every chapter into one HTML report."""

from __future__ import annotations

from pathlib import Path

import typer

from neurodl.cli._common import QUIET, check_writable, cli_errors, show_progress


@cli_errors()
def tour(
    out: Path = typer.Option(
        Path("tour"), help="Folder for index.html, figures and results."
    ),
    quiet: bool = QUIET,
) -> None:
    """Run every chapter and write OUT/index.html and OUT/results.json."""
    from neurodl.tasks.tour import run_tour

    check_writable("--out", out, folder=True)

    for ch in run_tour(out, progress=show_progress(quiet)):
        typer.echo(f"[{ch.key}] {ch.text} ({ch.seconds:.1f} s)")
    typer.echo(f"report: {out / 'index.html'}")
