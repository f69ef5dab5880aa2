"""``neurodl simulate cuba|coba``: the reference networks of Brette et al. 2007."""

from __future__ import annotations

import math
from pathlib import Path

import typer

from neurodl.cli._common import (
    JSON,
    QUIET,
    check_writable,
    cli_errors,
    echo_json,
    echo_warnings,
    show_progress,
)

N_OPT = typer.Option(4000, "--n", help="Number of neurons (80% excitatory).")
DURATION_OPT = typer.Option(1000.0, "--duration", help="Simulated time in ms.")
SEED_OPT = typer.Option(0, "--seed", help="Seed of connectivity and initial state.")
BACKEND_OPT = typer.Option(
    "auto", "--backend", help="auto, numba (compiled CPU) or torch (tensors)."
)
DTYPE_OPT = typer.Option("float64", "--dtype", help="float64 or float32.")
DEVICE_OPT = typer.Option("cpu", "--device", help="torch device (tensor path).")
FIGURE_OPT = typer.Option(
    None, "--figure", help="Also write a raster and population-rate PNG here."
)


def _run(
    model: str,
    n: int,
    duration: float,
    seed: int,
    backend: str,
    dtype: str,
    device: str,
    figure: Path | None,
    as_json: bool,
    quiet: bool,
) -> None:
    import torch

    from neurodl._validate import check_option
    from neurodl.simulate.benchmarks import run_reference

    check_option("--dtype", dtype, ("float64", "float32"))
    check_writable("--figure", figure)
    run = run_reference(
        model,
        n,
        duration,
        seed=seed,
        backend=backend,
        dtype=torch.float64 if dtype == "float64" else torch.float32,
        device=device,
        progress=show_progress(quiet),
    )
    out = run.summary()
    if figure is not None:
        from neurodl.viz import save_raster

        save_raster(
            run.times_ms,
            run.indices,
            n,
            duration,
            figure,
            f"{model.upper()} N={n}, seed {seed}: {run.rate_hz:.2f} Hz",
        )
        out["figure"] = str(figure)
    if as_json:
        echo_json(out)
        return
    cv = "undefined" if math.isnan(run.cv_isi) else f"{run.cv_isi:.3f}"
    typer.echo(
        f"{model.upper()} N={n} ({run.n_synapses} synapses), {duration:g} ms, "
        f"seed {seed}, {run.backend}: {run.n_spikes} spikes, rate "
        f"{run.rate_hz:.3f} Hz, ISI CV {cv}; setup "
        f"{run.setup_seconds:.3f} s, run {run.run_seconds:.3f} s"
    )
    echo_warnings(out)
    if figure is not None:
        typer.echo(f"figure: {figure}")


@cli_errors()
def cuba(
    n: int = N_OPT,
    duration: float = DURATION_OPT,
    seed: int = SEED_OPT,
    backend: str = BACKEND_OPT,
    dtype: str = DTYPE_OPT,
    device: str = DEVICE_OPT,
    figure: Path | None = FIGURE_OPT,
    as_json: bool = JSON,
    quiet: bool = QUIET,
) -> None:
    """CUBA: LIF network with exponential current synapses (Brian2's CUBA.py)."""
    _run("cuba", n, duration, seed, backend, dtype, device, figure, as_json, quiet)


@cli_errors()
def coba(
    n: int = N_OPT,
    duration: float = DURATION_OPT,
    seed: int = SEED_OPT,
    backend: str = BACKEND_OPT,
    dtype: str = DTYPE_OPT,
    device: str = DEVICE_OPT,
    figure: Path | None = FIGURE_OPT,
    as_json: bool = JSON,
    quiet: bool = QUIET,
) -> None:
    """COBA: LIF network with exponential conductance synapses."""
    _run("coba", n, duration, seed, backend, dtype, device, figure, as_json, quiet)


def register(app: typer.Typer) -> None:
    """Add the ``cuba``, ``coba`` and ``microcircuit`` commands to ``simulate``."""
    from neurodl.cli.microcircuit import register as register_microcircuit

    app.command(name="cuba")(cuba)
    app.command(name="coba")(coba)
    register_microcircuit(app)
