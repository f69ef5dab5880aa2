"""Safe, atomic files: tensors in safetensors, metadata as JSON in its header.

No pickle anywhere: loading a file can never run code. Writes go to a temporary file
in the same folder and are moved into place with ``os.replace``, so a crash leaves
the previous file intact.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from neurodl._atomic import atomic_path
from neurodl.errors import FormatError, ModelFileError

__all__ = ["read_header", "read_tensors", "write_tensors"]

META_KEY = "neurodl"


def write_tensors(
    path: str | os.PathLike[str], tensors: dict[str, torch.Tensor], meta: dict[str, Any]
) -> Path:
    """Write ``tensors`` and the JSON-serialisable ``meta`` to ``path`` atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}
    with atomic_path(path) as tmp:
        save_file(data, tmp, metadata={META_KEY: json.dumps(meta, sort_keys=True)})
    return path


def _read_safetensors(
    path: Path,
    what: str,
    key: bytes | None,
    passphrase: str | None,
    *,
    data: bool,
) -> tuple[dict[str, Any], dict[str, str]]:
    """Open a safetensors file (plain or encrypted): tensors (or shapes), metadata.

    Raises ModelFileError for a missing file, FormatError for malformed bytes.
    """
    from neurodl.privacy.plaintext import plaintext_path

    if not path.is_file():
        raise ModelFileError(f"{what} file {str(path)!r} does not exist.")
    with plaintext_path(path, key=key, passphrase=passphrase) as plain:
        try:
            with safe_open(str(plain), framework="pt") as f:
                header = dict(f.metadata() or {})
                out: dict[str, Any] = {
                    k: f.get_tensor(k) if data else tuple(f.get_slice(k).get_shape())
                    for k in f.keys()  # noqa: SIM118
                }
        except Exception as exc:  # safetensors raises several types on bad bytes
            raise FormatError(
                f"{str(path)!r} is not a readable {what} file (corrupted or not "
                f"safetensors): {type(exc).__name__}: {exc}",
                path=path,
                fmt="safetensors",
            ) from exc
    return out, header


def _neurodl_meta(path: Path, header: dict[str, str], what: str) -> dict[str, Any]:
    if META_KEY not in header:
        raise ModelFileError(
            f"{str(path)!r} is a safetensors file but was not written by neurodl "
            f"(no {META_KEY!r} metadata); cannot load it as a {what}."
        )
    try:
        meta = json.loads(header[META_KEY])
    except (json.JSONDecodeError, RecursionError) as exc:
        raise FormatError(
            f"{str(path)!r} has unreadable neurodl metadata (corrupted JSON): {exc}",
            path=path,
            fmt="safetensors",
        ) from exc
    if not isinstance(meta, dict):
        raise FormatError(
            f"{str(path)!r} has corrupted neurodl metadata: a JSON "
            f"{type(meta).__name__}, not an object.",
            path=path,
            fmt="safetensors",
        )
    return meta


def read_tensors(
    path: str | os.PathLike[str],
    *,
    kind: str,
    key: bytes | None = None,
    passphrase: str | None = None,
) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Read a file written by :func:`write_tensors` and check its ``kind``.

    ``key`` or ``passphrase`` read a file written by ``neurodl encrypt``, in memory
    (:mod:`neurodl.privacy.plaintext`); without them, the key of an enclosing
    :func:`neurodl.privacy.plaintext.use_key` block (the command line's
    ``neurodl --key-file``) is used.

    Raises
    ------
    ModelFileError
        If the file is missing, not written by neurodl, or of another kind.
    FormatError
        (A ModelFileError too.) If the bytes are malformed: not safetensors,
        truncated, an unreadable header or metadata.
    DecryptionError
        If the file is encrypted and no key, or a wrong one, was given.
    """
    path = Path(path)
    tensors, header = _read_safetensors(path, kind, key, passphrase, data=True)
    meta = _neurodl_meta(path, header, kind)
    if meta.get("kind") != kind:
        raise ModelFileError(
            f"{str(path)!r} holds a {meta.get('kind')!r}, not a {kind!r}."
        )
    return tensors, meta


def read_header(
    path: str | os.PathLike[str],
    *,
    key: bytes | None = None,
    passphrase: str | None = None,
) -> tuple[dict[str, tuple[int, ...]], dict[str, Any]]:
    """Return the tensor shapes and the metadata of any neurodl file, of any kind.

    Reads only the header (no tensor data), for inspecting a file
    (``neurodl info``) before knowing what it holds. ``key``, ``passphrase``: as
    for :func:`read_tensors`.

    Raises
    ------
    ModelFileError
        If the file is missing or not written by neurodl.
    FormatError
        (A ModelFileError too.) If the bytes are malformed.
    DecryptionError
        If the file is encrypted and no key, or a wrong one, was given.
    """
    path = Path(path)
    shapes, header = _read_safetensors(path, "model", key, passphrase, data=False)
    return shapes, _neurodl_meta(path, header, "model")
