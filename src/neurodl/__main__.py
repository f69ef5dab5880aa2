"""``python -m neurodl``: the command line."""

from neurodl.cli.main import main

main()
