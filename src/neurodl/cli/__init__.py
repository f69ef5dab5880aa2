"""Command line: ``neurodl <command>``, one module per command."""

from neurodl.cli.main import app as app
from neurodl.cli.main import main as main

__all__ = ["app", "main"]
