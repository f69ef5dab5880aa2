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
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from neurodl._atomic import atomic_path
from neurodl.errors import ModelFileError

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


def read_tensors(
    path: str | os.PathLike[str], *, kind: str
) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Read a file written by :func:`write_tensors` and check its ``kind``.

    Raises
    ------
    ModelFileError
        If the file is missing, not a safetensors file, truncated, not written by
        neurodl, or of another kind.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{kind} file {str(path)!r} does not exist.")
    try:
        with safe_open(str(path), framework="pt") as f:
            header = f.metadata() or {}
            tensors = {key: f.get_tensor(key) for key in f.keys()}  # noqa: SIM118
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise ModelFileError(
            f"{str(path)!r} is not a readable {kind} file (corrupted or not "
            f"safetensors): {exc}"
        ) from exc
    if META_KEY not in header:
        raise ModelFileError(
            f"{str(path)!r} is a safetensors file but was not written by neurodl "
            f"(no {META_KEY!r} metadata); cannot load it as a {kind}."
        )
    try:
        meta = json.loads(header[META_KEY])
    except json.JSONDecodeError as exc:
        raise ModelFileError(
            f"{str(path)!r} has unreadable neurodl metadata: {exc}"
        ) from exc
    if not isinstance(meta, dict) or meta.get("kind") != kind:
        got = meta.get("kind") if isinstance(meta, dict) else None
        raise ModelFileError(f"{str(path)!r} holds a {got!r}, not a {kind!r}.")
    return tensors, meta


def read_header(
    path: str | os.PathLike[str],
) -> tuple[dict[str, tuple[int, ...]], dict[str, Any]]:
    """Return the tensor shapes and the metadata of any neurodl file, of any kind.

    Reads only the header (no tensor data), for inspecting a file
    (``neurodl info``) before knowing what it holds.

    Raises
    ------
    ModelFileError
        If the file is missing, not a safetensors file, or not written by neurodl.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"model file {str(path)!r} does not exist.")
    try:
        with safe_open(str(path), framework="pt") as f:
            header = f.metadata() or {}
            shapes = {
                key: tuple(f.get_slice(key).get_shape())
                for key in f.keys()  # noqa: SIM118
            }
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise ModelFileError(
            f"{str(path)!r} is not a readable neurodl file (corrupted or not "
            f"safetensors): {exc}"
        ) from exc
    try:
        meta = json.loads(header[META_KEY]) if META_KEY in header else None
    except json.JSONDecodeError as exc:
        raise ModelFileError(
            f"{str(path)!r} has unreadable neurodl metadata: {exc}"
        ) from exc
    if not isinstance(meta, dict):
        raise ModelFileError(
            f"{str(path)!r} is a safetensors file but was not written by neurodl "
            f"(no {META_KEY!r} metadata)."
        )
    return shapes, meta
