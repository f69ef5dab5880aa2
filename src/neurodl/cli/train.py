"""``neurodl train digits``: a 64-hidden MLP on scikit-learn's 8x8 digits."""

from __future__ import annotations

from pathlib import Path

import typer

from neurodl.cli._common import (
    JSON,
    QUIET,
    check_writable,
    cli_errors,
    echo_json,
    show_progress,
)

app = typer.Typer(help="Train a network on a bundled dataset.", no_args_is_help=True)


@app.command()
@cli_errors(checkpoint_dir="--out")
def digits(
    hidden: int = typer.Option(64, help="Hidden units."),
    activation: str = typer.Option("relu", help="Hidden activation."),
    engine: str = typer.Option("explicit", help="Gradients: explicit or autograd."),
    optimizer: str = typer.Option("adam", help="sgd, momentum or adam."),
    lr: float = typer.Option(0.001, help="Learning rate (Adam)."),
    epochs: int = typer.Option(
        100, help="Maximum epochs (early stopping may end sooner)."
    ),
    batch_size: int = typer.Option(32, help="Minibatch size."),
    seed: int = typer.Option(
        0, help="Seed of the split, the initialisation and the order."
    ),
    out: Path = typer.Option(
        Path("runs/digits"), help="Folder for the model and figures."
    ),
    checkpoint_every: int = typer.Option(
        10, help="Write a checkpoint every N epochs into OUT (0: only at the end)."
    ),
    resume: bool = typer.Option(
        False,
        help="Continue from OUT/checkpoint.safetensors (same settings; "
        "--epochs may grow).",
    ),
    as_json: bool = JSON,
    quiet: bool = QUIET,
) -> None:
    """Train on the 8x8 digits, test on a held-out stratified split, save the model."""
    from neurodl.networks.io import save

    check_writable("--out", out, folder=True)
    from neurodl.tasks.digits import DigitsConfig, train_digits
    from neurodl.viz import save_learning_curve

    cfg = DigitsConfig(
        hidden=hidden,
        activation=activation,
        engine=engine,
        optimizer=optimizer,
        lr=lr,
        epochs=epochs,
        batch_size=batch_size,
        seed=seed,
    )
    r = train_digits(
        cfg,
        checkpoint_dir=out,
        progress=show_progress(quiet),
        checkpoint_every=checkpoint_every,
        resume=resume,
    )
    model = save(r.network, out / "digits.safetensors")
    curve = save_learning_curve(r.history, out / "digits_learning_curve.png", "digits")
    if as_json:
        echo_json(r.to_dict() | {"model": str(model), "learning_curve": str(curve)})
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title="confusion matrix (rows: true digit, columns: predicted)")
    table.add_column("")
    for k in range(10):
        table.add_column(str(k), justify="right")
    for k, row in enumerate(r.confusion):
        table.add_row(
            str(k),
            *(f"[bold]{v}[/]" if i == k else str(v) or "" for i, v in enumerate(row)),
        )
    console = Console()
    console.print(table)
    console.print(
        f"test accuracy {100 * r.test_accuracy:.2f}% on {r.n_test} held-out images "
        f"(train {100 * r.train_accuracy:.2f}%, "
        f"validation {100 * r.val_accuracy:.2f}%); "
        f"{r.epochs} epochs, best {r.best_epoch}"
    )
    console.print(f"model: {model}\nlearning curve: {curve}")
