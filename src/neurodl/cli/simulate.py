"""``neurodl simulate``: run biological models from the shell.

``neurodl simulate neuron MODEL``: one neuron under a constant current (spike times,
firing rate, parameters). Network commands register on the same ``app``.
"""

from __future__ import annotations

import dataclasses
import math

import typer

from neurodl.cli._common import (
    JSON,
    cli_errors,
    echo_json,
    echo_warnings,
    options_in_errors,
)
from neurodl.errors import ValidationError

app = typer.Typer(
    help="Simulate biological neurons and networks.", no_args_is_help=True
)

MODELS = ("lif", "alif", "izhikevich", "hh", "adex")
"""Models of ``neurodl simulate neuron``: the keys of ``neurons.NEURON_MODELS``."""

DEFAULT_CURRENT = {
    "lif": 25.0,
    "alif": 25.0,
    "izhikevich": 10.0,
    "hh": 10.0,
    "adex": 1000.0,
}
"""Current of a run without ``--current``, per model, in the model's unit."""

_SHOWN_SPIKES = 20


def parse_settings(items: list[str], valid: list[str], model: str) -> dict[str, float]:
    """Turn ``--set name=value`` items into ``{name: value}``.

    Raises
    ------
    ValidationError
        For an item without ``=``, an unknown name (the message lists ``valid``) or
        a value that is not a number.
    """
    out: dict[str, float] = {}
    for item in items:
        name, sep, text = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise ValidationError(
                f"'--set' must look like name=value (e.g. {valid[0]}=1.5); "
                f"got {item!r}."
            )
        if name not in valid:
            raise ValidationError(
                f"unknown {model} parameter {name!r} in --set; valid names: "
                f"{', '.join(valid)}."
            )
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not math.isfinite(value):
            raise ValidationError(
                f"'--set {name}' must be a finite number; got {text.strip()!r}."
            )
        out[name] = value
    return out


@app.command()
@cli_errors()
def neuron(
    model: str = typer.Argument(..., help="Model: lif, alif, izhikevich, hh or adex."),
    current: float | None = typer.Option(
        None,
        help="Constant injected current: R*I in mV for lif and alif (nA with "
        "r_m = 1 MOhm), the model's own dimensionless I for izhikevich, uA/cm^2 "
        "for hh, pA for adex. Default 25, 25, 10, 10 and 1000.",
    ),
    duration: float = typer.Option(100.0, help="Simulated time, ms."),
    dt: float = typer.Option(0.01, help="Time step, ms."),
    method: str | None = typer.Option(
        None,
        help="Integration scheme (default first): lif/alif exact|euler, izhikevich "
        "euler|izhikevich2003, hh rk4|exponential_euler, adex euler.",
    ),
    settings: list[str] | None = typer.Option(
        None,
        "--set",
        help="Override a parameter, name=value (repeatable), e.g. --set tau_mem=20.",
    ),
    as_json: bool = JSON,
) -> None:
    """Simulate one neuron under a constant current; print spike times and rate."""
    from neurodl._validate import check_option
    from neurodl.neurons import NEURON_MODELS, simulate_neuron

    spec = NEURON_MODELS[check_option("model", model, MODELS)]
    names = [f.name for f in dataclasses.fields(spec.params_type)]
    overrides = parse_settings(settings or [], names, model)
    i = DEFAULT_CURRENT[model] if current is None else current
    with options_in_errors({k: f"--set {k}" for k in overrides}):
        run = simulate_neuron(model, i, duration, dt, method, overrides)
    if as_json:
        echo_json(run.to_dict())
        return
    times = run.spike_times_ms.tolist()
    shown = ", ".join(f"{t:.3f}" for t in times[:_SHOWN_SPIKES])
    if len(times) > _SHOWN_SPIKES:
        shown += f", ... ({len(times) - _SHOWN_SPIKES} more)"
    isi = run.isi_rate_hz
    rows = [
        ("model", f"{model} ({spec.title}), method {run.method}"),
        ("current", f"{run.current:g} {run.current_unit}"),
        ("time", f"{run.duration:g} ms at dt = {run.dt:g} ms"),
        ("spikes", str(run.n_spikes)),
        ("rate", f"{run.rate_hz:.4g} Hz (count / duration)"),
        (
            "ISI rate",
            "undefined" if math.isnan(isi) else f"{isi:.6g} Hz (1 / mean ISI)",
        ),
        ("spike times", f"{shown} ms" if times else "-"),
        ("parameters", ", ".join(f"{k}={v:g}" for k, v in run.params.items())),
    ]
    for key, value in rows:
        typer.echo(f"{key:<12} {value}")
    echo_warnings(run.to_dict())
