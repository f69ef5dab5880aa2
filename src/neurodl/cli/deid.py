"""``neurodl deid``: de-identify recordings into a new folder.

A file, a folder or a BIDS dataset, in every format neurodl reads, is rewritten into
``--out`` with identity fields blanked, one random date shift per subject, ages
capped at 89+, subject ids replaced by pseudonyms and free text scrubbed
(:func:`neurodl.privacy.deid.deidentify`). The subject mapping (``--mapping``) and
the report re-identify the data, so both are kept apart from ``--out``; give
``--key-file`` or ``--passphrase-env`` to encrypt the mapping.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import typer

from neurodl.cli._common import cli_errors
from neurodl.errors import ValidationError

PATHS = typer.Argument(
    ..., help="Files or folders to de-identify (a BIDS dataset too)."
)


def _key(key_file: Path | None, passphrase_env: str | None) -> dict[str, object]:
    from neurodl.privacy import read_key_file

    if key_file is not None and passphrase_env is not None:
        raise ValidationError(
            "give at most one of '--key-file' and '--passphrase-env'."
        )
    if key_file is not None:
        return {"key": read_key_file(key_file)}
    if passphrase_env is not None:
        value = os.environ.get(passphrase_env, "")
        if not value:
            raise ValidationError(
                f"'--passphrase-env' names {passphrase_env!r}, which is not set or "
                "empty."
            )
        return {"passphrase": value}
    return {}


@cli_errors(
    paths="PATH",  # the library says paths
    mapping="--mapping",
    report="--report",
    key="--key-file",
    passphrase="--passphrase-env",
    subject_pattern="--subject-pattern",
    allow="--allow",
)
def deid(
    path: list[Path] = PATHS,
    out: Path = typer.Option(..., "--out", help="A new (or empty) output folder."),
    mapping: Path = typer.Option(
        ...,
        "--mapping",
        help="The subject mapping file (original id -> pseudonym, date shift), kept "
        "apart from --out; reused and extended if it exists.",
    ),
    report: Path | None = typer.Option(
        None,
        "--report",
        help="The JSON report (a .txt table is written beside it). Default: "
        "deid-report.json beside --mapping.",
    ),
    key_file: Path | None = typer.Option(
        None, "--key-file", help="Encrypt the mapping with this key file."
    ),
    passphrase_env: str | None = typer.Option(
        None,
        "--passphrase-env",
        help="Encrypt the mapping with the passphrase in this environment variable.",
    ),
    subject_pattern: str | None = typer.Option(
        None,
        "--subject-pattern",
        help="A regular expression whose first group, searched in each file's path, "
        "is the subject id (default: BIDS sub-<label>, else the subject's folder, "
        "else the id in the header, else the file name).",
    ),
    allow: list[str] | None = typer.Option(
        None,
        "--allow",
        help="An event code the free-text scrubber must keep (repeatable; "
        "'re:<regex>' for a pattern).",
    ),
    keep_flagged: bool = typer.Option(
        False,
        "--keep-flagged",
        help="List what still looks identifying in free text, but leave it in place "
        "(default: replace it by [kind]).",
    ),
    allow_face: bool = typer.Option(
        False,
        "--allow-face",
        help="Export anatomical MRI that was not defaced (see neurodl deface).",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """De-identify recordings (EDF/BDF, FIF, BrainVision, NWB, NIfTI, .mat, BIDS)."""
    import re

    from neurodl.privacy.deid import deidentify

    secret = _key(key_file, passphrase_env)
    rules: list[str | re.Pattern[str]] = []
    for rule in allow or []:
        if rule.startswith("re:"):
            try:
                rules.append(re.compile(rule[3:]))
            except re.error as exc:
                raise ValidationError(
                    f"'--allow' {rule!r} is not a valid regular expression ({exc})."
                ) from exc
        else:
            rules.append(rule)
    report_path = report or mapping.parent / "deid-report.json"
    result = deidentify(
        path,
        out,
        mapping=mapping,
        report=report_path,
        subject_pattern=subject_pattern,
        allow=rules,
        redact=not keep_flagged,
        allow_face=allow_face,
        **secret,  # type: ignore[arg-type]
    )
    summary = result.to_dict()["summary"]
    problems = [f for f in result.files if f.status in ("refused", "failed")]
    if as_json:
        summary["report"] = str(report_path)
        summary["mapping"] = str(mapping)
        summary["out"] = str(out)
        typer.echo(json.dumps(summary, indent=1))
    else:
        counts = ", ".join(f"{n} {k}" for k, n in sorted(summary["by_status"].items()))
        typer.echo(
            f"de-identified {summary['files']} files of {summary['subjects']} "
            f"subjects into {out} ({counts}); {summary['fields_changed']} fields "
            f"changed, {summary['findings']} free-text findings"
        )
        typer.echo(f"mapping: {mapping} (keep it apart from the data)")
        typer.echo(f"report: {report_path} and {report_path.with_suffix('.txt')}")
    for f in problems:
        typer.echo(f"{f.status}: {f.source}: {f.reason}", err=True)
    if problems:
        raise typer.Exit(1)
