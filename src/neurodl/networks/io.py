"""Save and load networks as safetensors with their JSON config: no pickle."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from neurodl import __version__
from neurodl._io import read_tensors, write_tensors
from neurodl.errors import FormatError, ModelFileError, NeurodlError, ValidationError
from neurodl.networks.feedforward import FeedForward

if TYPE_CHECKING:
    from neurodl.privacy.dp import PrivacyReport

__all__ = ["load", "load_with_meta", "save"]

KIND = "neurodl.FeedForward"
FORMAT_VERSION = 1


RESERVED = ("kind", "format_version", "neurodl_version", "config", "privacy")
"""Metadata keys :func:`save` writes itself; ``extra`` may not use them."""


def save(
    net: FeedForward,
    path: str | os.PathLike[str],
    *,
    privacy: PrivacyReport | None = None,
    extra: Mapping[str, Any] | None = None,
) -> Path:
    """Write ``net`` to ``path`` (a ``.safetensors`` file), atomically.

    The file holds every parameter under its ``named_parameters()`` name, and the
    constructor arguments as JSON in the safetensors header. ``privacy``: the
    differential-privacy report of its training
    (:class:`~neurodl.privacy.dp.PrivacyReport`), written as the header's
    ``"privacy"`` block (epsilon, delta, unit, accountant, noise, sampling rate,
    steps, clipping norm, number of units); ``neurodl info`` shows it.
    ``extra``: more JSON-serialisable metadata (keys other than :data:`RESERVED`).
    """
    meta: dict[str, Any] = {
        "kind": KIND,
        "format_version": FORMAT_VERSION,
        "neurodl_version": __version__,
        "config": net.config(),
    }
    if privacy is not None:
        meta["privacy"] = privacy.to_dict()
    if extra:
        clash = sorted(set(extra) & set(RESERVED))
        if clash:
            raise ValidationError(
                f"'extra' may not set the reserved metadata keys {clash}."
            )
        meta.update(extra)
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
    return load_with_meta(path, device=device)[0]


def load_with_meta(
    path: str | os.PathLike[str], *, device: torch.device | str | None = None
) -> tuple[FeedForward, dict[str, Any]]:
    """Read a network written by :func:`save`, and the file's metadata.

    The metadata holds ``"config"``, ``"privacy"`` (when saved with one) and any
    ``extra`` keys. Raises as :func:`load`.
    """
    tensors, meta = read_tensors(path, kind=KIND)
    if meta.get("format_version") != FORMAT_VERSION:
        raise ModelFileError(
            f"{str(path)!r} has format_version {meta.get('format_version')!r}; this "
            f"neurodl reads version {FORMAT_VERSION}."
        )
    try:
        cfg = dict(meta["config"])
        dtype_name = cfg.pop("dtype")
        sizes = cfg.pop("sizes")
    except (KeyError, TypeError, ValueError) as exc:
        raise FormatError(
            f"{str(path)!r} has corrupted neurodl metadata: no usable 'config' "
            f"with 'sizes' and 'dtype' ({type(exc).__name__}: {exc}).",
            path=path,
            fmt="safetensors",
        ) from exc
    dtype = getattr(torch, str(dtype_name), None)
    if not isinstance(dtype, torch.dtype):
        raise ModelFileError(f"{str(path)!r} names an unknown dtype {dtype_name!r}.")

    def build(on: torch.device | str | None) -> FeedForward:
        try:
            return FeedForward(sizes, dtype=dtype, device=on, seed=0, **cfg)
        except (NeurodlError, TypeError, ValueError, OverflowError) as exc:
            raise ModelFileError(
                f"{str(path)!r} holds an invalid network config: {exc}"
            ) from exc

    # shapes first, on the meta device (no memory): a config that declares layers
    # the file's tensors do not hold is refused before anything is allocated
    expected = {name: tuple(p.shape) for name, p in build("meta").named_parameters()}
    found = {name: tuple(t.shape) for name, t in tensors.items()}
    if expected != found:
        raise ModelFileError(
            f"{str(path)!r}: tensors {found} do not match the config, which needs "
            f"{expected}."
        )
    net = build(device)
    with torch.no_grad():
        for name, p in net.named_parameters():
            p.copy_(tensors[name])
    return net, meta
