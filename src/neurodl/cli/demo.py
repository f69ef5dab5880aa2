"""``neurodl demo xor``: the article's 2-3-1 network learning XOR."""

from __future__ import annotations

import typer

from neurodl.cli._common import (
    JSON,
    QUIET,
    cli_errors,
    echo_json,
    parse_range,
    show_progress,
)

app = typer.Typer(help="Worked examples.", no_args_is_help=True)


@app.command()
@cli_errors()
def xor(
    activation: str = typer.Option("relu", help="Hidden activation."),
    hidden: int = typer.Option(3, help="Number of hidden units."),
    seed: int = typer.Option(0, help="Seed of the first initialisation."),
    seeds: str | None = typer.Option(
        None, help="Run every seed in A-B (inclusive) and report the fraction solved."
    ),
    engine: str = typer.Option("explicit", help="Gradients: explicit or autograd."),
    lr: float = typer.Option(1.0, help="Learning rate of plain gradient descent."),
    epochs: int = typer.Option(400, help="Epochs per attempt."),
    restarts: int = typer.Option(
        9, help="Redraws allowed when an attempt is stuck (0: plain single run)."
    ),
    as_json: bool = JSON,
    quiet: bool = QUIET,
) -> None:
    """Train a 2-3-1 network on XOR (targets 0, 1, 1, 0) and show its outputs."""
    from neurodl.tasks.xor import XorConfig, solve_xor, sweep_xor

    cfg = XorConfig(
        activation=activation,
        hidden=hidden,
        engine=engine,
        lr=lr,
        epochs=epochs,
        restarts=restarts,
    )
    if seeds is not None:
        summary = sweep_xor(parse_range("seeds", seeds), cfg)
        if as_json:
            echo_json(summary)
        else:
            typer.echo(
                f"solved {summary['solved']}/{summary['n_seeds']} seeds "
                f"({100 * summary['fraction']:.1f}%), "
                f"{100 * summary['first_attempt_fraction']:.1f}% without a restart; "
                f"attempts needed: {summary['attempts']}"
            )
            if summary["failed_seeds"]:
                typer.echo(f"failed seeds: {summary['failed_seeds']}")
        return
    result = solve_xor(seed, cfg, progress=show_progress(quiet))
    if as_json:
        echo_json({k: v for k, v in result.to_dict().items() if k != "history"})
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(
        title=f"XOR, 2-{hidden}-1 {activation} network, seed {seed}", min_width=44
    )
    for col in ("x1", "x2", "target", "output"):
        table.add_column(col, justify="right")
    for inp, tgt, out in zip(
        result.inputs, result.targets, result.outputs, strict=True
    ):
        table.add_row(f"{inp[0]:g}", f"{inp[1]:g}", f"{tgt:g}", f"{out:.4f}")
    console = Console()
    console.print(table)
    status = "converged" if result.converged else "did NOT converge"
    console.print(
        f"{status} after {result.epochs} epochs in {result.attempts} attempt(s); "
        f"loss {result.loss:.4g}"
    )
    if not result.converged:
        console.print(
            "hint: a slow learner needs a larger budget per attempt: raise --epochs "
            "or --lr (sigmoid hidden units: --lr 4 --epochs 2000)"
        )
