"""The ``neurodl`` command: a typer app that gathers one module per command.

User errors (any :class:`~neurodl.errors.NeurodlError`, or a file that cannot be
written) print one line to stderr and exit with status 1; ``--debug`` shows the
traceback instead.
"""

from __future__ import annotations

import sys

import typer

from neurodl import __version__
from neurodl.cli import (
    audit,
    bci,
    compare,
    data,
    decode,
    deface,
    deid,
    demo,
    imaging,
    info,
    learn,
    privacy,
    simulate,
    simulate_net,
    tour,
    train,
)
from neurodl.errors import NeurodlError

app = typer.Typer(
    name="neurodl",
    help="neurodl: build brain-like networks, simulate them, train them, and hold "
    "them against real recordings.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(audit.app, name="audit")
app.add_typer(bci.app, name="bci")
app.add_typer(compare.app, name="compare")
app.add_typer(data.app, name="data")
app.add_typer(decode.app, name="decode")
app.add_typer(demo.app, name="demo")
app.add_typer(imaging.app, name="imaging")
app.add_typer(learn.app, name="learn")
app.add_typer(train.app, name="train")
simulate_net.register(simulate.app)
app.add_typer(simulate.app, name="simulate")
app.command(name="tour")(tour.tour)
app.command(name="encrypt")(privacy.encrypt)
app.command(name="decrypt")(privacy.decrypt)
app.command(name="keygen")(privacy.keygen)
app.command(name="info")(info.info)
app.command(name="deid")(deid.deid)
app.command(name="deface")(deface.deface)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"neurodl {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False,
        "--version",
        callback=_version,
        is_eager=True,
        help="Print the version and exit.",
    ),
    debug: bool = typer.Option(
        False, "--debug", help="Show the full traceback when a command fails."
    ),
) -> None:
    """Neurodl: artificial and biological neural networks in one toolkit."""


def main(argv: list[str] | None = None) -> None:
    """Run the command line with ``argv`` (default ``sys.argv[1:]``)."""
    args = sys.argv[1:] if argv is None else list(argv)
    try:
        app(args=args, prog_name="neurodl")
    except KeyboardInterrupt:
        if "--debug" in args:
            raise
        typer.echo(
            "neurodl: interrupted; checkpoints written so far are kept.", err=True
        )
        raise SystemExit(130) from None
    except (NeurodlError, OSError) as exc:
        if "--debug" in args:
            raise
        message = " ".join(str(exc).split())
        typer.echo(f"neurodl: error: {message}", err=True)
        raise SystemExit(1) from None
