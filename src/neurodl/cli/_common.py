"""Helpers shared by the command modules."""

from __future__ import annotations

import contextlib
import functools
import inspect
import os
import re
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import typer

from neurodl._json import WARNINGS, json_ready, json_text
from neurodl.errors import NeurodlError, ValidationError

F = TypeVar("F", bound=Callable[..., Any])

QUIET = typer.Option(False, "--quiet", "-q", help="No progress bar.")
JSON = typer.Option(False, "--json", help="Print the results as JSON on stdout.")


def show_progress(quiet: bool) -> bool:
    """Return whether to draw a progress bar: not quiet and stderr is a terminal."""
    return not quiet and sys.stderr.isatty()


def echo_json(data: dict[str, Any]) -> None:
    """Print ``data`` as indented JSON (NaN as ``null``, explained in ``warnings``)."""
    typer.echo(json_text(data))


def echo_warnings(data: dict[str, Any]) -> None:
    """Print why values in ``data`` are undefined, after a text summary.

    One line per reason, naming the values it explains (as in the JSON's
    ``warnings``).
    """
    paths: dict[str, list[str]] = {}
    for path, why in json_ready(data).get(WARNINGS, {}).items():
        paths.setdefault(why, []).append(path)
    for why, where in paths.items():
        typer.echo(f"warning: {why} ({', '.join(where)})")


def write_json(path: Path, data: dict[str, Any], *, option: str = "--out") -> None:
    """Write ``data`` as indented JSON to ``path`` atomically (temp file, rename).

    A failure leaves no half-written file: the temporary file is removed and any
    previous ``path`` stays as it was. NaN and infinity are written as ``null``
    (:func:`neurodl._json.json_ready`). A path that cannot be written is a
    :class:`ValidationError` naming ``option``, the command-line option that gave it
    (:func:`check_writable`).
    """
    text = json_text(data) + "\n"
    check_writable(option, path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def check_writable(option: str, path: Path | None, *, folder: bool = False) -> None:
    """Check before any work that ``path`` can be written: a file, or a ``folder``.

    A command that runs for minutes should not fail at its last step because
    ``--out`` names a folder, sits under a file, or lies where it may not write.

    Raises
    ------
    ValidationError
        Naming ``option`` and the path, and what is in the way.
    """
    if path is None:
        return
    path = Path(path)
    kind = "folder" if folder else "file path"
    if folder and path.exists() and not path.is_dir():
        raise ValidationError(
            f"{option!r} must be a folder; got {str(path)!r}, which is a file."
        )
    if not folder and path.is_dir():
        raise ValidationError(
            f"{option!r} must be a file path, not a folder; got {str(path)!r}."
        )
    here = path if folder and path.is_dir() else path.parent
    while not here.exists() and here != here.parent:
        here = here.parent
    if not here.is_dir():
        raise ValidationError(
            f"{option!r} must be a {kind} that can be created; got {str(path)!r}, "
            f"but {str(here)!r} is a file."
        )
    if not os.access(here, os.W_OK | os.X_OK):
        raise ValidationError(
            f"{option!r} must be a {kind} that can be written; got {str(path)!r}, "
            f"but {str(here)!r} is not writable."
        )


def option_names(func: Callable[..., Any]) -> dict[str, str]:
    """Python parameter -> command-line spelling, for a typer command function.

    ``bin_s: float = typer.Option(None, "--bin-s")`` gives ``{"bin_s": "--bin-s"}``;
    an option without declarations is spelt as typer spells it (``--batch-size``);
    an argument is its upper-case metavar (``MODEL``).
    """
    names: dict[str, str] = {}
    for p in inspect.signature(func).parameters.values():
        info = p.default
        if isinstance(info, typer.models.OptionInfo):
            decls = [
                d.split("/")[0] for d in (info.param_decls or ()) if d.startswith("--")
            ]
            names[p.name] = decls[0] if decls else "--" + p.name.replace("_", "-")
        elif isinstance(info, typer.models.ArgumentInfo):
            names[p.name] = p.name.upper()
    return names


@contextlib.contextmanager
def options_in_errors(names: dict[str, str]) -> Iterator[None]:
    """Rename quoted parameters in the :class:`NeurodlError` leaving the block.

    Each ``'name'`` (also ``'name[i]'``) of ``names`` in the message becomes
    ``'names[name]'``, the option the user typed: ``{"bin_s": "--bin-s"}`` turns
    ``'bin_s' must be > 0`` into ``'--bin-s' must be > 0``. A quoted word that
    stands where a value does (after "be", "of", "got", "or" or a comma, as in
    ``'cv' must be 'shuffle', 'runs' or 'time'``) is a value, not a parameter,
    and is left as it is.
    """
    try:
        yield
    except NeurodlError as exc:
        if names and exc.args and isinstance(exc.args[0], str):
            pattern = re.compile(
                r"(?<!, )(?<!\bor )(?<!\bbe )(?<!\bof )(?<!\bgot )'("
                + "|".join(map(re.escape, sorted(names, key=len, reverse=True)))
                + r")(\[[^\]']*\])?'"
            )
            text = pattern.sub(
                lambda m: f"'{names[m.group(1)]}{m.group(2) or ''}'", exc.args[0]
            )
            exc.args = (text, *exc.args[1:])
        raise


def cli_errors(**aliases: str) -> Callable[[F], F]:
    """Make the errors a command raises name its options as the user typed them.

    The library names a parameter the Python way (``'bin_s' must be > 0``); on the
    command line the user typed ``--bin-s``. Put this under ``@app.command()``:
    every :class:`~neurodl.errors.NeurodlError` leaving the command has each quoted
    parameter name in its message replaced by the option (``'--bin-s' must be >
    0``), also with an index (``'sizes[0]'`` -> ``'--sizes[0]'``). The command's
    own options are known from its signature; ``aliases`` add the library's names
    for them where they differ (``path="--data"`` when ``--data`` is passed on as
    ``path``).
    """

    def decorate(func: F) -> F:
        names = option_names(func) | aliases

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with options_in_errors(names):
                return func(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


def parse_range(name: str, text: str) -> range:
    """Parse ``"A-B"`` (inclusive, A <= B) or ``"A"`` into a range."""
    m = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?", text)
    if not m:
        raise ValidationError(
            f"{name!r} must look like 'A-B' (two non-negative integers, A <= B); "
            f"got {text!r}."
        )
    a = int(m.group(1))
    b = int(m.group(2)) if m.group(2) is not None else a
    if b < a:
        raise ValidationError(f"{name!r} must have A <= B in 'A-B'; got {text!r}.")
    return range(a, b + 1)
