# Doctests run over src/neurodl (see pyproject); running __main__ would start the CLI.
collect_ignore = ["src/neurodl/__main__.py"]
