"""Save and load networks as safetensors with their JSON config: no pickle."""

from __future__ import annotations

import os
from pathlib import Path

import torch

from neurodl import __version__
from neurodl._io import read_tensors, write_tensors
from neurodl.errors import ModelFileError, NeurodlError
from neurodl.networks.feedforward import FeedForward

__all__ = ["load", "save"]

KIND = "neurodl.FeedForward"
FORMAT_VERSION = 1


def save(net: FeedForward, path: str | os.PathLike[str]) -> Path:
    """Write ``net`` to ``path`` (a ``.safetensors`` file), atomically.

    The file holds every parameter under its ``named_parameters()`` name, and the
    constructor arguments as JSON in the safetensors header.
    """
    meta = {
        "kind": KIND,
        "format_version": FORMAT_VERSION,
        "neurodl_version": __version__,
        "config": net.config(),
    }
    return write_tensors(path, dict(net.named_parameters()), meta)


def load(
    path: str | os.PathLike[str], *, device: torch.device | str | None = None
) -> FeedForward:
    """Read a network written by :func:`save`.

    Raises
    ------
    ModelFileError
        If the file is missing, corrupted, foreign, or its tensors do not match its
        config.
    """
    tensors, meta = read_tensors(path, kind=KIND)
    if meta.get("format_version") != FORMAT_VERSION:
        raise ModelFileError(
            f"{str(path)!r} has format_version {meta.get('format_version')!r}; this "
            f"neurodl reads version {FORMAT_VERSION}."
        )
    cfg = dict(meta["config"])
    dtype_name = cfg.pop("dtype")
    dtype = getattr(torch, str(dtype_name), None)
    if not isinstance(dtype, torch.dtype):
        raise ModelFileError(f"{str(path)!r} names an unknown dtype {dtype_name!r}.")
    try:
        net = FeedForward(cfg.pop("sizes"), dtype=dtype, device=device, seed=0, **cfg)
    except (NeurodlError, TypeError) as exc:
        raise ModelFileError(
            f"{str(path)!r} holds an invalid network config: {exc}"
        ) from exc
    expected = {name: tuple(p.shape) for name, p in net.named_parameters()}
    found = {name: tuple(t.shape) for name, t in tensors.items()}
    if expected != found:
        raise ModelFileError(
            f"{str(path)!r}: tensors {found} do not match the config, which needs "
            f"{expected}."
        )
    with torch.no_grad():
        for name, p in net.named_parameters():
            p.copy_(tensors[name])
    return net
