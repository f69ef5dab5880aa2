"""Helpers shared by the command modules."""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

import typer

from neurodl.errors import ValidationError

QUIET = typer.Option(False, "--quiet", "-q", help="No progress bar.")
JSON = typer.Option(False, "--json", help="Print the results as JSON on stdout.")


def show_progress(quiet: bool) -> bool:
    """Return whether to draw a progress bar: not quiet and stderr is a terminal."""
    return not quiet and sys.stderr.isatty()


def echo_json(data: dict[str, Any]) -> None:
    """Print ``data`` as indented JSON."""
    typer.echo(json.dumps(data, indent=2, allow_nan=False))


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Write ``data`` as indented JSON to ``path`` atomically (temp file, rename).

    A failure leaves no half-written file: the temporary file is removed and any
    previous ``path`` stays as it was.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(json.dumps(data, indent=2, allow_nan=False) + "\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def parse_range(name: str, text: str) -> range:
    """Parse ``"A-B"`` (inclusive, A <= B) or ``"A"`` into a range."""
    m = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?", text)
    if not m:
        raise ValidationError(
            f"{name!r} must look like 'A-B' (two non-negative integers, A <= B); "
            f"got {text!r}."
        )
    a = int(m.group(1))
    b = int(m.group(2)) if m.group(2) is not None else a
    if b < a:
        raise ValidationError(f"{name!r} must have A <= B in 'A-B'; got {text!r}.")
    return range(a, b + 1)
