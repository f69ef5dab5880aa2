"""``neurodl simulate cuba|coba``: the reference networks of Brette et al. 2007."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

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
PROCS_OPT = typer.Option(
    1,
    "--procs",
    help="Split the network over this many local processes (torch.distributed, "
    "gloo); the spikes are the same for any number.",
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
    procs: int = 1,
) -> None:
    from neurodl._validate import check_option
    from neurodl.simulate.distributed import run_command

    check_option("--dtype", dtype, ("float64", "float32"))
    check_writable("--figure", figure)
    kwargs: dict[str, Any] = dict(
        model=model, n=n, duration=duration, seed=seed, backend=backend
    )
    kwargs.update(dtype=dtype, device=device, figure=figure and str(figure))
    out = run_command(
        "neurodl.cli.simulate_net:procs_entry",
        procs,
        kwargs,
        n,
        device=device,
        local={"progress": show_progress(quiet)},
    )
    if as_json:
        echo_json(out)
        return
    cv_isi = out["cv_isi"]
    cv = "undefined" if math.isnan(cv_isi) else f"{cv_isi:.3f}"
    on = f" on {procs} processes" if procs > 1 else ""
    typer.echo(
        f"{model.upper()} N={n} ({out['n_synapses']} synapses), {duration:g} ms, "
        f"seed {seed}, {out['backend']}{on}: {out['n_spikes']} spikes, rate "
        f"{out['rate_hz']:.3f} Hz, ISI CV {cv}; setup "
        f"{out['setup_seconds']:.3f} s, run {out['run_seconds']:.3f} s"
    )
    echo_warnings(out)
    if figure is not None:
        typer.echo(f"figure: {figure}")


def procs_entry(
    model: str,
    n: int,
    duration: float,
    seed: int,
    backend: str,
    dtype: str,
    device: str,
    figure: str | None,
    progress: bool | str = False,
    distributed: bool = True,
) -> dict[str, Any]:
    """Run the network (on each process of a launch); return the JSON summary.

    Every process computes the same summary; the first (rank 0, or the only
    one) writes the figure.
    """
    import torch

    from neurodl.simulate.benchmarks import run_reference

    run = run_reference(
        model,
        n,
        duration,
        seed=seed,
        backend=backend,
        dtype=torch.float64 if dtype == "float64" else torch.float32,
        device=device,
        progress=progress,
        distributed=distributed,
    )
    out = run.summary()
    if figure is not None:
        if not distributed or torch.distributed.get_rank() == 0:
            from neurodl.viz import save_raster

            save_raster(
                run.times_ms,
                run.indices,
                n,
                duration,
                Path(figure),
                f"{model.upper()} N={n}, seed {seed}: {run.rate_hz:.2f} Hz",
            )
        out["figure"] = figure
    return out


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
    procs: int = PROCS_OPT,
) -> None:
    """CUBA: LIF network with exponential current synapses (Brian2's CUBA.py)."""
    _run("cuba", n, duration, seed, backend, dtype, device, figure, as_json, quiet,
         procs)  # fmt: skip


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
    procs: int = PROCS_OPT,
) -> None:
    """COBA: LIF network with exponential conductance synapses."""
    _run("coba", n, duration, seed, backend, dtype, device, figure, as_json, quiet,
         procs)  # fmt: skip


def register(app: typer.Typer) -> None:
    """Add the ``cuba``, ``coba`` and ``microcircuit`` commands to ``simulate``."""
    from neurodl.cli.microcircuit import register as register_microcircuit

    app.command(name="cuba")(cuba)
    app.command(name="coba")(coba)
    register_microcircuit(app)
