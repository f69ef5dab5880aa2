"""``neurodl learn``: train with a learning rule; ``neurodl learn stdp-mnist``.

``neurodl learn --rule fa --data mnist1d`` trains one rule of
:mod:`neurodl.learning` (back-propagation, the rules without weight transport, and
the energy-based and local rules) on MNIST-1D, scikit-learn's digits or MNIST and
reports its learning curve, test accuracy and, for the feedback rules, the angle
between its updates and the back-propagation gradient.
``neurodl learn stdp-mnist`` reproduces Diehl & Cook (2015): unsupervised STDP on
MNIST, labels assigned after training.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from neurodl.cli._common import (
    JSON,
    QUIET,
    check_writable,
    cli_errors,
    echo_json,
    show_progress,
)
from neurodl.errors import ValidationError

app = typer.Typer(
    help="Train with a learning rule: --rule bp|fa|dfa|sign|kp|pc|ep|ff "
    "--data mnist1d|digits|mnist, or the STDP-MNIST reproduction (stdp-mnist).",
    invoke_without_command=True,
)


def parse_hidden(text: str) -> tuple[int, ...]:
    """Parse ``--hidden`` as comma-separated positive widths, e.g. ``256,256``."""
    parts = [p.strip() for p in text.split(",")]
    try:
        widths = tuple(int(p) for p in parts)
    except ValueError:
        widths = ()
    if not widths or any(w < 1 for w in widths):
        raise ValidationError(
            "'--hidden' must be comma-separated positive layer widths such as "
            f"'256,256'; got {text!r}."
        )
    return widths


@app.callback()
@cli_errors(n_train="--train-samples")
def learn(
    ctx: typer.Context,
    rule: str = typer.Option(
        "bp", help="bp, fa, dfa, sign, kp (feedback rules), pc, ep or ff."
    ),
    data: str = typer.Option("mnist1d", help="mnist1d, digits or mnist."),
    hidden: str = typer.Option("256,256", help="Hidden layer widths, e.g. 256,256."),
    epochs: int | None = typer.Option(
        None,
        help="Passes over the training set [default: 60 mnist1d, 40 digits, 5 mnist].",
    ),
    lr: float | None = typer.Option(
        None, help="Adam learning rate [default: the rule's, 1e-3 for most]."
    ),
    batch_size: int | None = typer.Option(
        None, help="Minibatch size [default: the rule's, 100 for most]."
    ),
    seed: int = typer.Option(0, help="Seed of weights, order and feedback matrices."),
    n_train: int | None = typer.Option(
        None, "--train-samples", help="Train on this many random training samples."
    ),
    figure: Path | None = typer.Option(
        None, "--figure", help="Write the learning curve (and angles) as a PNG here."
    ),
    as_json: bool = JSON,
    quiet: bool = QUIET,
) -> None:
    """Train one learning rule on a dataset; report test accuracy and alignment."""
    if ctx.invoked_subcommand is not None:
        return
    from neurodl.tasks.rules import learn_rule

    widths = parse_hidden(hidden)
    check_writable("--figure", figure)
    r = learn_rule(
        rule,
        data,
        hidden=widths,
        epochs=epochs,
        lr=lr,
        batch_size=batch_size,
        seed=seed,
        n_train=n_train,
    )
    if figure is not None:
        from neurodl.viz import save_rule_curves

        save_rule_curves([r], figure, f"{rule} on {data}")
        r["figure"] = str(figure)
    if as_json:
        echo_json(r)
        return
    _print_rule(r)


def _print_rule(r: dict[str, Any]) -> None:
    sizes = "-".join(str(s) for s in r["sizes"])
    typer.echo(
        f"{r['rule']} on {r['data']} ({sizes}, {r['epochs']} epochs, "
        f"{r['n_train']} training samples): test accuracy "
        f"{100 * r['test_accuracy']:.2f}% on {r['n_test']} ({r['seconds']:.1f} s)"
    )
    if r.get("update_angle"):
        last = ", ".join(f"{a:.1f}" for a in r["update_angle"][-1])
        typer.echo(
            f"angle between the update and the BP gradient per layer: {last} deg"
        )
    if r.get("weight_angle") and r["rule"] != "dfa":
        last = ", ".join(f"{a:.1f}" for a in r["weight_angle"][-1])
        typer.echo(f"angle between W and its feedback matrix per layer: {last} deg")
    if r.get("figure"):
        typer.echo(f"figure: {r['figure']}")


@app.command("stdp-mnist")
@cli_errors(
    n_neurons="--neurons",
    n_images="--images",
    n_test="--test-images",
    w_ie="--inhibition",
)
def stdp_mnist(
    n_neurons: int = typer.Option(
        100, "--neurons", help="Excitatory neurons (the paper: 100, 400, 1600, 6400)."
    ),
    n_images: int | None = typer.Option(
        None, "--images", help="Training images, one pass [default: all 60,000]."
    ),
    n_test: int = typer.Option(10000, "--test-images", help="Test images."),
    seed: int = typer.Option(0, help="Seed of the weights and the Poisson inputs."),
    inhibition: float = typer.Option(
        50.0,
        "--inhibition",
        help="Conductance an inhibitory spike adds to every other excitatory neuron "
        "(w_ie; the authors' released code: 17, a softer competition).",
    ),
    figure: Path | None = typer.Option(
        None, "--figure", help="Write the learned receptive fields as a PNG here."
    ),
    as_json: bool = JSON,
    quiet: bool = QUIET,
) -> None:
    """Diehl & Cook (2015): unsupervised STDP on MNIST, labels assigned afterwards."""
    check_writable("--figure", figure)
    from neurodl.simulate.diehl_cook import DiehlCookParams, train_stdp_mnist

    params = DiehlCookParams(w_ie=inhibition)
    progress = _progress_printer() if show_progress(quiet) else None
    r = train_stdp_mnist(
        n_neurons, n_images, n_test, seed=seed, params=params, progress=progress
    )
    fields = r.pop("receptive_fields")
    if figure is not None:
        from neurodl.viz import save_receptive_fields

        save_receptive_fields(
            fields,
            figure,
            f"{n_neurons} neurons, test accuracy {100 * r['accuracy']:.1f}%",
        )
        r["figure"] = str(figure)
    if as_json:
        echo_json(r)
        return
    typer.echo(
        f"Diehl & Cook, {n_neurons} excitatory neurons: test accuracy "
        f"{100 * r['accuracy']:.2f}% (all-activity), "
        f"{100 * r['accuracy_proportion']:.2f}% (proportion weighting)"
    )
    if r.get("figure"):
        typer.echo(f"receptive fields: {r['figure']}")


def _progress_printer() -> Any:
    """Return a ``progress(phase, done, total)`` callback redrawing a stderr line."""
    import sys

    def report(phase: str, done: int, total: int) -> None:
        end = "\n" if done >= total else ""
        sys.stderr.write(f"\r{phase}: {done}/{total} images{end}")
        sys.stderr.flush()

    return report
