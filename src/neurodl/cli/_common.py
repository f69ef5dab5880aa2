"""Helpers shared by the command modules."""

from __future__ import annotations

import json
import re
import sys
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
