"""``neurodl simulate brunel`` and ``neurodl sweep brunel``: Brunel's (2000) network.

``simulate brunel --g G --nu NU`` runs one point of the phase diagram and prints
its regime; ``sweep brunel --g 3:8:17 --nu 0.5:4:17 --out DIR`` runs a grid of
points through Dask (:func:`neurodl.jobs.run_jobs`: a local cluster by default,
``--scheduler tcp://host:8786`` for an existing one), resumably, and draws the
phase diagram. A point's seed derives from ``--seed`` and its (g, nu), so
``simulate brunel --g G --nu NU --seed S`` gives the same result as the point
(G, NU) of a sweep with ``--seed S`` and the same settings.
"""

from __future__ import annotations

import math
import sys
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
from neurodl.cli.simulate_net import BACKEND_OPT
from neurodl.errors import ValidationError

app = typer.Typer(
    help="Run grids of simulations (parameter sweeps).", no_args_is_help=True
)

SEED_OPT = typer.Option(
    0, "--seed", help="Base seed; each point's seed derives from it and (g, nu)."
)
DURATION_OPT = typer.Option(1200.0, "--duration", help="Simulated time per point, ms.")
TRANSIENT_OPT = typer.Option(
    200.0, "--transient", help="Initial ms left out of the statistics."
)
N_EXC_OPT = typer.Option(
    10000,
    "--n-exc",
    help="Excitatory neurons (N_I = N_E/4; 10000 in the paper).",
)
C_EXC_OPT = typer.Option(
    1000, "--c-exc", help="Excitatory in-degree C_E (C_I = C_E/4; 1000 in the paper)."
)


def _common(
    duration: float, transient: float, n_exc: int, c_exc: int, backend: str
) -> dict[str, Any]:
    from neurodl._validate import check_option
    from neurodl.models.brunel import check_point

    check_option("backend", backend, ("auto", "numba", "torch"))
    check_point(0.0, 0.0, n_exc, c_exc, duration, transient)
    return {
        "duration": float(duration),
        "transient": float(transient),
        "n_exc": int(n_exc),
        "c_exc": int(c_exc),
        "backend": backend,
    }


def _check_seed(seed: int) -> None:
    if seed < 0:
        raise ValidationError(f"'seed' must be an integer >= 0; got {seed}.")


def _text(res: dict[str, Any]) -> str:
    cv = (
        "undefined"
        if res["cv_isi"] is None or math.isnan(res["cv_isi"])
        else (f"{res['cv_isi']:.3f}")
    )
    chi = res["synchrony"]
    chi_s = "undefined" if chi is None or math.isnan(chi) else f"{chi:.1f}"
    f = res["f_peak_hz"]
    f_s = "undefined" if f is None or math.isnan(f) else f"{f:.1f} Hz"
    return (
        f"Brunel g={res['g']:g} nu={res['nu']:g} (N={res['n_exc'] + res['n_inh']}, "
        f"seed {res['seed']}): regime {res['regime']}; rate {res['rate_hz']:.2f} Hz, "
        f"CV {cv}, synchrony {chi_s}, spectral peak {f_s}"
    )


@cli_errors()
def simulate(
    g: float | None = typer.Option(
        None, "--g", help="Relative inhibition g (J_I = -g J)."
    ),
    nu: float | None = typer.Option(
        None, "--nu", help="External drive eta = nu_ext / nu_thr."
    ),
    regime: str | None = typer.Option(
        None,
        "--regime",
        help="Run the Fig. 8 point of this regime instead: SR, SI-fast, AI, SI-slow.",
    ),
    seed: int = SEED_OPT,
    duration: float = DURATION_OPT,
    transient: float = TRANSIENT_OPT,
    n_exc: int = N_EXC_OPT,
    c_exc: int = C_EXC_OPT,
    backend: str = BACKEND_OPT,
    as_json: bool = JSON,
) -> None:
    """Brunel (2000): one point (g, nu) of the phase diagram and its regime."""
    from neurodl.jobs import point_seed
    from neurodl.models.brunel import FIG8, check_point, sweep_job

    if regime is not None:
        by_regime = {p["regime"]: p for p in FIG8.values()}
        if regime not in by_regime:
            raise ValidationError(
                f"'regime' must be one of {', '.join(map(repr, by_regime))}; "
                f"got {regime!r}."
            )
        if g is not None or nu is not None:
            raise ValidationError(
                f"'regime' and 'g'/'nu' exclude each other (give one); got "
                f"regime={regime!r}."
            )
        g, nu = by_regime[regime]["g"], by_regime[regime]["nu"]
    if g is None or nu is None:
        raise ValidationError(
            "'g' and 'nu' are both needed (or 'regime'); got only one."
        )
    _check_seed(seed)
    common = _common(duration, transient, n_exc, c_exc, backend)
    check_point(g, nu, n_exc, c_exc, duration, transient)
    point = {"g": float(g), "nu": float(nu)}
    res = sweep_job({**common, **point}, point_seed(seed, point))
    res["base_seed"] = seed
    if as_json:
        echo_json(res)
        return
    typer.echo(_text(res))
    echo_warnings(res)


@cli_errors()
def sweep(
    g: str = typer.Option(
        "3:8:17", "--g", help="Grid of g, 'start:stop:count' (or one number)."
    ),
    nu: str = typer.Option(
        "0.5:4:17", "--nu", help="Grid of nu_ext/nu_thr, 'start:stop:count'."
    ),
    out: Path = typer.Option(
        ..., "--out", help="Folder for the points, results.json and the figure."
    ),
    n_jobs: int | None = typer.Option(
        None, "--n-jobs", help="Workers of a local Dask cluster (default: CPUs)."
    ),
    scheduler: str | None = typer.Option(
        None,
        "--scheduler",
        help="Dask scheduler address (tcp://host:8786) or local:N.",
    ),
    seed: int = SEED_OPT,
    duration: float = DURATION_OPT,
    transient: float = TRANSIENT_OPT,
    n_exc: int = N_EXC_OPT,
    c_exc: int = C_EXC_OPT,
    backend: str = BACKEND_OPT,
    figure: Path | None = typer.Option(
        None,
        "--figure",
        help="Phase-diagram PNG (default: OUT/phase_diagram.png).",
    ),
    as_json: bool = JSON,
    quiet: bool = QUIET,
) -> None:
    """Brunel (2000): a grid of (g, nu) points, resumable; draws the phase diagram."""
    from neurodl.jobs import grid, parse_grid, parse_scheduler, run_jobs
    from neurodl.models.brunel import sweep_job
    from neurodl.viz import save_phase_diagram

    g_axis, nu_axis = parse_grid("g", g), parse_grid("nu", nu)
    for name, axis in (("g", g_axis), ("nu", nu_axis)):
        if min(axis) < 0:
            raise ValidationError(f"{name!r} must be >= 0 everywhere; got {min(axis)}.")
    _check_seed(seed)
    parse_scheduler(scheduler, n_jobs)
    common = _common(duration, transient, n_exc, c_exc, backend)
    check_writable("--out", out, folder=True)
    fig_path = out / "phase_diagram.png" if figure is None else figure
    check_writable("--figure", fig_path)
    doc = run_jobs(
        sweep_job,
        grid(g=g_axis, nu=nu_axis),
        seed=seed,
        common=common,
        out=out,
        n_jobs=n_jobs,
        scheduler=scheduler,
        progress=show_progress(quiet),
        meta={"command": "neurodl sweep brunel " + " ".join(sys.argv[3:])},
    )
    save_phase_diagram(doc, g_axis, nu_axis, fig_path)
    counts: dict[str, int] = {}
    for p in doc["points"]:
        counts[p["result"]["regime"]] = counts.get(p["result"]["regime"], 0) + 1
    summary = {
        "out": str(out),
        "results": str(out / "results.json"),
        "figure": str(fig_path),
        "regimes": counts,
        **doc["run"],
    }
    if as_json:
        echo_json({**summary, "points": doc["points"]})
        return
    run = doc["run"]
    typer.echo(
        f"{run['n_points']} points ({run['computed']} run, {run['reused']} found in "
        f"{out}) on {run['workers']} workers in {run['wall_s']:.1f} s; regimes: "
        + ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
    )
    typer.echo(f"results: {out / 'results.json'}\nfigure: {fig_path}")


def register(simulate_app: typer.Typer) -> None:
    """Add ``simulate brunel`` to the ``simulate`` app and ``brunel`` to ``sweep``."""
    simulate_app.command(name="brunel")(simulate)
    app.command(name="brunel")(sweep)
