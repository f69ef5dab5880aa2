"""``neurodl simulate microcircuit``: the Potjans & Diesmann 2014 microcircuit."""

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
from neurodl.cli.simulate_net import BACKEND_OPT, DEVICE_OPT, DTYPE_OPT, PROCS_OPT

SCALE_OPT = typer.Option(
    1.0, "--scale", help="Fraction of neurons and in-degrees, in (0, 1]."
)
DURATION_OPT = typer.Option(
    1000.0, "--duration", help="Recorded time in ms (after --presim)."
)
PRESIM_OPT = typer.Option(
    500.0, "--presim", help="Simulated first and discarded, in ms."
)
DRIVE_OPT = typer.Option("poisson", "--drive", help="Background: poisson or dc.")
THALAMIC_OPT = typer.Option(
    False, "--thalamic", help="Add the thalamic pulse (120 Hz, 700-710 ms)."
)
SEED_OPT = typer.Option(55, "--seed", help="Seed of connectivity, state and input.")
FIGURE_OPT = typer.Option(
    None, "--figure", help="Also write a raster and per-population rate PNG here."
)


def procs_entry(
    scale: float,
    duration: float,
    presim: float,
    drive: str,
    thalamic: bool,
    seed: int,
    backend: str,
    dtype: str,
    device: str,
    figure: str | None,
    progress: bool | str = False,
    distributed: bool = True,
) -> dict[str, Any]:
    """Run the microcircuit (on each process of a launch); return the JSON summary.

    Every process computes the same statistics (each holds every spike); the
    first (rank 0, or the only one) writes the figure. Timings and peak memory
    are that process's.
    """
    import torch

    from neurodl.models import potjans_diesmann as pd

    res = pd.run(
        duration,
        scale,
        drive=drive,
        thalamic=thalamic,
        seed=seed,
        presim=presim,
        backend=backend,
        dtype=torch.float64 if dtype == "float64" else torch.float32,
        device=device,
        progress=progress,
        distributed=distributed,
    )
    out = res.summary()
    if figure is not None:
        if not distributed or torch.distributed.get_rank() == 0:
            from neurodl.viz import save_microcircuit

            save_microcircuit(res, Path(figure))
        out["figure"] = figure
    return out


@cli_errors()
def microcircuit(
    scale: float = SCALE_OPT,
    duration: float = DURATION_OPT,
    presim: float = PRESIM_OPT,
    drive: str = DRIVE_OPT,
    thalamic: bool = THALAMIC_OPT,
    seed: int = SEED_OPT,
    backend: str = BACKEND_OPT,
    dtype: str = DTYPE_OPT,
    device: str = DEVICE_OPT,
    procs: int = PROCS_OPT,
    figure: Path | None = FIGURE_OPT,
    as_json: bool = JSON,
    quiet: bool = QUIET,
) -> None:
    """Potjans & Diesmann 2014 cortical microcircuit: rates, CV, correlation, speed."""
    from neurodl._validate import check_device, check_int, check_option
    from neurodl.models import potjans_diesmann as pd
    from neurodl.simulate import BACKENDS
    from neurodl.simulate.distributed import run_command

    check_option("--dtype", dtype, ("float64", "float32"))
    check_option("--backend", backend, BACKENDS)
    check_device("--device", device)
    check_int("--seed", seed, minimum=0)
    check_writable("--figure", figure)
    tab = pd.tables(scale, None, drive)  # --scale and --drive checked first
    kwargs: dict[str, Any] = dict(
        scale=scale, duration=duration, presim=presim, drive=drive,
        thalamic=thalamic, seed=seed, backend=backend, dtype=dtype, device=device,
        figure=figure and str(figure),
    )  # fmt: skip
    out = run_command(
        "neurodl.cli.microcircuit:procs_entry",
        procs,
        kwargs,
        int(sum(tab.n)),
        device=device,
        local={"progress": show_progress(quiet)},
    )
    if as_json:
        echo_json(out)
        return
    on = f", on {procs} processes" if procs > 1 else ""
    typer.echo(
        f"Potjans & Diesmann 2014, scale {out['scale']:g} ({out['n_neurons']} "
        f"neurons, {out['n_synapses']} synapses), {drive} drive, seed {seed}, "
        f"{duration:g} ms after {presim:g} ms presimulation{on}"
    )
    typer.echo(
        f"{'population':>10} {'N':>6} {'rate (Hz)':>10} {'ISI CV':>7} {'corr':>8}"
    )
    for name in pd.POPULATIONS:
        row = out["populations"][name]
        cv = _fmt(row["cv_isi"], ".3f")
        cc = _fmt(row["correlation"], ".4f")
        typer.echo(f"{name:>10} {row['n']:>6} {row['rate_hz']:>10.3f} {cv:>7} {cc:>8}")
    typer.echo(
        f"setup {out['setup_s']:.2f} s, run {out['run_s']:.2f} s (real-time factor "
        f"{out['real_time_factor']:.2f}), peak memory {out['peak_memory_mb']:.0f} MB"
    )
    echo_warnings(out)
    if figure is not None:
        typer.echo(f"figure: {figure}")


def _fmt(x: float | None, spec: str) -> str:
    return "-" if x is None or math.isnan(x) else format(x, spec)


def register(app: typer.Typer) -> None:
    """Add the ``microcircuit`` command to the ``simulate`` app."""
    app.command(name="microcircuit")(microcircuit)
