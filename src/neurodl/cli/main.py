"""The ``neurodl`` command: a typer app that gathers one module per command.

User errors (any :class:`~neurodl.errors.NeurodlError`, or a file that cannot be
written) print one line to stderr and exit with status 1; ``--debug`` shows the
traceback instead.
"""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from neurodl import __version__
from neurodl.cli import (
    audit,
    bci,
    benchmark,
    brunel,
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
from neurodl.cli._common import options_in_errors
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
app.add_typer(benchmark.app, name="benchmark")
app.add_typer(compare.app, name="compare")
app.add_typer(data.app, name="data")
app.add_typer(decode.app, name="decode")
app.add_typer(demo.app, name="demo")
app.add_typer(imaging.app, name="imaging")
app.add_typer(learn.app, name="learn")
app.add_typer(train.app, name="train")
simulate_net.register(simulate.app)
brunel.register(simulate.app)
app.add_typer(simulate.app, name="simulate")
app.add_typer(brunel.app, name="sweep")
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
    ctx: typer.Context,
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
    key_file: Path | None = typer.Option(
        None,
        "--key-file",
        help="Key file (neurodl keygen) for reading encrypted inputs (FILE.enc "
        "from neurodl encrypt) in memory; goes before the command.",
    ),
    passphrase_env: str | None = typer.Option(
        None,
        "--passphrase-env",
        help="Environment variable holding the passphrase of encrypted inputs; "
        "goes before the command.",
    ),
) -> None:
    """Neurodl: artificial and biological neural networks in one toolkit.

    ``--key-file F`` or ``--passphrase-env VAR`` (before the command) let every
    command read files written by ``neurodl encrypt`` (``S001R04.edf.enc``,
    ``bold.nii.gz.enc``, ``model.safetensors.enc``...), decrypted in memory and
    never to disk (:func:`neurodl.privacy.plaintext.use_key`). The encrypt and
    decrypt commands take their own ``--key-file`` / ``--passphrase-env``.
    """
    if key_file is None and passphrase_env is None:
        return
    from neurodl.cli.privacy import _secret
    from neurodl.privacy.plaintext import use_key

    names = {"key_file": "--key-file", "key": "--key-file"}
    with options_in_errors(names | {"passphrase": "--passphrase-env"}):
        secret = _secret(key_file, passphrase_env)
        ctx.with_resource(use_key(**secret))  # type: ignore[arg-type]


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
