"""``neurodl data list``: the recordings bundled with neurodl."""

from __future__ import annotations

from typing import Any

import typer

from neurodl.cli._common import JSON, cli_errors, echo_json

app = typer.Typer(help="Bundled recordings: what they are, licences, checksums.")


@app.command(name="list")
@cli_errors()
def list_(
    verify: bool = typer.Option(
        False, "--verify", help="Also check every file's SHA-256 against the registry."
    ),
    as_json: bool = JSON,
) -> None:
    """List the bundled datasets with size, licence, citation and checksums."""
    from neurodl.data.registry import DATASETS, verify_dataset

    rows = []
    for info in DATASETS.values():
        row: dict[str, Any] = {
            "name": info.name,
            "title": info.title,
            "kind": info.kind,
            "present": info.present(),
            "in_wheel": info.in_wheel,
            "size_bytes": info.size_bytes(),
            "licence": info.licence,
            "citation": info.citation,
            "source": info.source,
            "files": dict(info.files),
            "folder": str(info.folder),
        }
        if verify:
            row["verified"] = verify_dataset(info.name)
        rows.append(row)
    if as_json:
        echo_json({"datasets": rows})
        return
    for row in rows:
        status = "present" if row["present"] else "NOT PRESENT"
        if verify:
            ok = all(row["verified"].values())
            status += ", checksums OK" if ok else ", CHECKSUM MISMATCH"
        typer.echo(
            f"{row['name']:<10} {row['kind']:<7} {row['size_bytes'] / 1e6:6.2f} MB  "
            f"{row['title']} [{status}]"
        )
        typer.echo(f"{'':<10} licence: {row['licence']}")
        typer.echo(f"{'':<10} cite: {row['citation']}")
    if verify and not all(all(r["verified"].values()) for r in rows if r["present"]):
        raise typer.Exit(1)
