"""``neurodl compare rsa``: a network's layers against brain RDMs."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import typer

from neurodl.cli._common import (
    JSON,
    check_writable,
    cli_errors,
    echo_json,
    echo_warnings,
    write_json,
)
from neurodl.errors import ValidationError

app = typer.Typer(help="Compare networks with brains: RSA layer by layer.")


@app.callback()
def _group() -> None:
    """Compare networks with brains."""


@app.command()
@cli_errors()
def rsa(
    model: list[str] = typer.Option(
        ["digits", "random"],
        "--model",
        help="digits, animacy, random (untrained baseline) or a neurodl model file "
        "with 64 inputs; repeat for several.",
    ),
    brain: str = typer.Option(
        "rsa_92images", "--brain", help="Brain RDMs: the bundled rsa_92images."
    ),
    seed: int = typer.Option(0, "--seed", help="Seed of the trained/random networks."),
    figure: Path = typer.Option(
        None, "--figure", help="Also write the layer-by-layer figure (PNG) here."
    ),
    out: Path = typer.Option(None, "--out", help="Also write the results as JSON."),
    as_json: bool = JSON,
) -> None:
    """RSA of each layer against human IT (4 subjects, noise ceiling) and monkey IT."""
    from neurodl.tasks.rsa92 import rsa_against_it

    check_writable("--figure", figure)
    check_writable("--out", out)
    if brain != "rsa_92images":
        raise ValidationError(
            f"'brain' must be 'rsa_92images' (the bundled 92-image IT RDMs); got "
            f"{brain!r}."
        )
    results = [rsa_against_it(m, seed=seed).to_dict() for m in model]
    data: dict[str, Any] = {"brain": brain, "method": "spearman", "models": results}
    warnings = {
        f"models[{i}].{path}": why
        for i, r in enumerate(results)
        for path, why in r.pop("warnings", {}).items()
    }
    if warnings:
        data["warnings"] = warnings
    if figure is not None:
        from neurodl.viz import save_rsa_layers

        save_rsa_layers(results, figure, "92 images: network layers vs IT")
        data["figure"] = str(figure)
    if out is not None:
        write_json(out, data)
    if as_json:
        echo_json(data)
        return
    for r in results:
        lo, hi = r["noise_ceiling"]
        typer.echo(f"{r['model']}: {r['description']}")
        for name, h, mk in zip(
            r["layers"],
            r["human_it_spearman_mean"],
            r["monkey_it_spearman"],
            strict=True,
        ):
            typer.echo(f"  {name:<10} human IT {_r(h)}   monkey IT {_r(mk)}")
        typer.echo(f"  human noise ceiling {lo:.3f}-{hi:.3f}")
    echo_warnings(data)


def _r(value: float) -> str:
    return "undefined" if math.isnan(value) else f"{value:+.3f}"
