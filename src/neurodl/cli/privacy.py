"""``neurodl encrypt``, ``neurodl decrypt``, ``neurodl keygen``: encryption at rest.

Chunked AES-256-GCM (:mod:`neurodl.privacy.crypto`); the key comes from a key file
(``--key-file``, made by ``neurodl keygen``) or from a passphrase read from an
environment variable (``--passphrase-env VAR``: never from the command line, where
it would land in the shell history and the process list).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import typer

from neurodl.cli._common import cli_errors
from neurodl.errors import ValidationError

PATH_ARG = typer.Argument(..., help="The file or folder to read.")
OUT = typer.Option(..., "--out", help="The new file (or folder) to write.")
KEY_FILE = typer.Option(
    None, "--key-file", help="A 32-byte key file (neurodl keygen --out F)."
)
PASSPHRASE_ENV = typer.Option(
    None,
    "--passphrase-env",
    help="Name of an environment variable holding the passphrase (Argon2id).",
)


def _secret(key_file: Path | None, passphrase_env: str | None) -> dict[str, object]:
    from neurodl.privacy import read_key_file

    if (key_file is None) == (passphrase_env is None):
        raise ValidationError(
            "give exactly one of '--key-file' and '--passphrase-env'."
        )
    if key_file is not None:
        return {"key": read_key_file(key_file)}
    assert passphrase_env is not None
    value = os.environ.get(passphrase_env, "")
    if not value:
        raise ValidationError(
            f"'--passphrase-env' names {passphrase_env!r}, which is not set or empty."
        )
    return {"passphrase": value}


def _crypt(
    action: Callable[..., Path],
    verb: str,
    path: Path,
    out: Path,
    key_file: Path | None,
    passphrase_env: str | None,
) -> None:
    """Check the paths, then the key, then encrypt or decrypt PATH to OUT."""
    from neurodl.privacy.crypto import check_paths

    check_paths(path, out)
    action(path, out, **_secret(key_file, passphrase_env))
    typer.echo(f"{verb} {path} -> {out}")


@cli_errors(key="--key-file", passphrase="--passphrase-env", path="PATH")
def encrypt(
    path: Path = PATH_ARG,
    out: Path = OUT,
    key_file: Path | None = KEY_FILE,
    passphrase_env: str | None = PASSPHRASE_ENV,
) -> None:
    """Encrypt a file or folder (AES-256-GCM, authenticated) to OUT."""
    from neurodl.privacy import encrypt_path

    _crypt(encrypt_path, "encrypted", path, out, key_file, passphrase_env)


@cli_errors(key="--key-file", passphrase="--passphrase-env", path="PATH")
def decrypt(
    path: Path = PATH_ARG,
    out: Path = OUT,
    key_file: Path | None = KEY_FILE,
    passphrase_env: str | None = PASSPHRASE_ENV,
) -> None:
    """Decrypt PATH to OUT; a wrong key or any alteration writes nothing."""
    from neurodl.privacy import decrypt_path

    _crypt(decrypt_path, "decrypted", path, out, key_file, passphrase_env)


@cli_errors(key_file="--out")
def keygen(
    out: Path = typer.Option(..., "--out", help="The new key file (mode 0600)."),
) -> None:
    """Write a new random 32-byte key file; keep it apart from the data."""
    from neurodl.privacy import generate_key_file

    generate_key_file(out)
    typer.echo(f"key written to {out} (keep it apart from the data it protects)")
