"""``neurodl info MODEL``: what a neurodl model file holds.

Reads only the safetensors header (no tensor data, no pickle): the kind, the
config, the parameter count, and the differential-privacy block (epsilon, delta,
privacy unit, accountant, noise, sampling rate, steps, clipping norm, number of
units), or "no differential privacy" when the file has none.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import typer

from neurodl.cli._common import JSON, cli_errors, echo_json


def describe(path: Path) -> dict[str, Any]:
    """Return a JSON-friendly summary of the neurodl file at ``path``."""
    from neurodl._io import read_header

    shapes, meta = read_header(path)
    # a checkpoint also stores optimizer state: count the model's tensors only
    model = {k: v for k, v in shapes.items() if k.startswith("model.")} or shapes
    n_params = sum(math.prod(s) for s in model.values())
    out: dict[str, Any] = {
        "path": str(path),
        "kind": meta.get("kind"),
        "estimator": meta.get("estimator"),
        "neurodl_version": meta.get("neurodl_version"),
        "format_version": meta.get("format_version"),
        "config": meta.get("config") or meta.get("network"),
        "n_tensors": len(shapes),
        "n_parameters": int(n_params),
        "tensors": {k: list(v) for k, v in shapes.items()},
        "classes": meta.get("classes"),
        "recipe": meta.get("recipe"),
        "privacy": meta.get("privacy"),
    }
    return {k: v for k, v in out.items() if v is not None or k == "privacy"}


def _privacy_lines(p: dict[str, Any] | None) -> list[str]:
    if not p:
        return ["privacy: no differential privacy"]
    names = [
        ("epsilon", "epsilon (accountant's, after training)"),
        ("target_epsilon", "target epsilon"),
        ("delta", "delta"),
        ("privacy_unit", "privacy unit"),
        ("n_units", "privacy units in training"),
        ("accountant", "accountant"),
        ("noise_multiplier", "noise multiplier sigma"),
        ("sample_rate", "sample rate q"),
        ("steps", "steps"),
        ("max_grad_norm", "max_grad_norm C"),
    ]
    lines = ["privacy: differentially private training"]
    for key, label in names:
        if key in p:
            lines.append(f"  {label}: {p[key]}")
    if p.get("privacy_unit") == "sample":
        lines.append(
            "  note: sample-level epsilon protects one window, not one person "
            "(a subject with k windows: about k * epsilon)"
        )
    return lines


@cli_errors()
def info(
    model: Path = typer.Argument(..., help="A neurodl model file (.safetensors)."),
    as_json: bool = JSON,
) -> None:
    """Show what a neurodl model file holds, and its differential-privacy guarantee."""
    from neurodl.errors import ValidationError

    if not model.is_file():
        raise ValidationError(
            f"'MODEL' must be a neurodl model file; got {str(model)!r}, which does "
            "not exist."
        )
    d = describe(model)
    if as_json:
        echo_json(d)
        return
    lines = [
        f"{d['path']}: {d.get('kind')}"
        + (f" ({d['estimator']})" if d.get("estimator") else ""),
        f"written by neurodl {d.get('neurodl_version', '?')}",
    ]
    config = d.get("config")
    if isinstance(config, dict):
        summary = ", ".join(f"{k}={v}" for k, v in config.items())
        lines.append(f"config: {summary}")
    lines.append(f"parameters: {d['n_parameters']} in {d['n_tensors']} tensors")
    if d.get("classes") is not None:
        lines.append(f"classes: {d['classes']}")
    lines += _privacy_lines(d.get("privacy"))
    typer.echo("\n".join(lines))
