"""Read files written by ``neurodl encrypt`` as if they were plain, in memory only.

The loaders (:func:`~neurodl.data.eeg.load_eeg`, :func:`~neurodl.data.spikes.
load_spikes`, :func:`~neurodl.imaging.nifti.load_img`, the model readers) take
``key=`` (the 32 bytes of a key file, :func:`~neurodl.privacy.read_key_file`) or
``passphrase=``, and open their input through :func:`plaintext_path`: a plain file
is read where it is; an encrypted one (it starts with the ``NDLCRYPT`` magic) is
decrypted, chunk by authenticated chunk, into an anonymous in-memory file
(``memfd_create``), which the reader opens by a path of the file's own name (a
symlink to ``/proc/self/fd/N`` in a private temporary folder), so that readers that
pick the format from the extension (MNE, nibabel) still work. No plaintext byte is
written to disk, and both the memory file and the symlink are gone when the block
ends. This needs Linux (``memfd_create``); elsewhere decrypt first with
``neurodl decrypt``.

The encrypted file's name says its format: ``S001R04.edf.enc`` is read as
``S001R04.edf`` (:func:`plain_name`). An encrypted file read without a key raises
:class:`~neurodl.errors.DecryptionError` saying that a key is needed, and a wrong key
raises it too; neither is a :class:`~neurodl.errors.FormatError`.

The command line gives every command a key at once: ``neurodl --key-file F ...`` or
``neurodl --passphrase-env VAR ...`` wraps the command in :func:`use_key`, which
loaders called without a key of their own use for encrypted inputs.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextvars import ContextVar
from pathlib import Path

from neurodl.errors import DecryptionError, ValidationError
from neurodl.privacy.crypto import FILE, MAGIC, _open, _secret

__all__ = [
    "ENCRYPTED_SUFFIX",
    "is_encrypted",
    "plain_name",
    "plaintext_path",
    "read_plaintext",
    "use_key",
]

ENCRYPTED_SUFFIX = ".enc"
"""Suffix dropped from an encrypted file's name to find its format."""

_AMBIENT: ContextVar[tuple[bytes | None, str | None] | None] = ContextVar(
    "neurodl_ambient_key", default=None
)


def is_encrypted(path: str | os.PathLike[str]) -> bool:
    """Return whether ``path`` is a file written by ``neurodl encrypt`` (its magic).

    A missing or unreadable file is not encrypted (the reader then reports it).
    """
    try:
        with open(path, "rb") as f:
            return f.read(len(MAGIC)) == MAGIC
    except OSError:
        return False


def plain_name(path: str | os.PathLike[str]) -> str:
    """Return the file name without a trailing ``.enc``: the name giving the format.

    >>> plain_name("data/S001R04.edf.enc")
    'S001R04.edf'
    >>> plain_name("bold.nii.gz")
    'bold.nii.gz'
    """
    name = Path(path).name
    if name.lower().endswith(ENCRYPTED_SUFFIX) and len(name) > len(ENCRYPTED_SUFFIX):
        return name[: -len(ENCRYPTED_SUFFIX)]
    return name


@contextlib.contextmanager
def use_key(
    *, key: bytes | None = None, passphrase: str | None = None
) -> Iterator[None]:
    """Within the block, loaders given no key read encrypted inputs with this one.

    The command line's ``neurodl --key-file F`` / ``--passphrase-env VAR`` use it.
    Give exactly one of ``key`` (32 bytes) and ``passphrase``.
    """
    _secret(key, passphrase)  # checks the arguments
    token = _AMBIENT.set((key, passphrase))
    try:
        yield
    finally:
        _AMBIENT.reset(token)


def _resolve_secret(
    path: Path, key: bytes | None, passphrase: str | None
) -> tuple[int, bytes]:
    if key is None and passphrase is None:
        ambient = _AMBIENT.get()
        if ambient is None:
            raise DecryptionError(
                f"{str(path)!r} is encrypted (written by neurodl encrypt); a key is "
                "needed to read it: pass key= (the bytes of a key file, "
                "neurodl.privacy.read_key_file) or passphrase=, or on the command "
                "line 'neurodl --key-file FILE ...' or "
                "'neurodl --passphrase-env VAR ...'."
            )
        key, passphrase = ambient
    return _secret(key, passphrase)


def _memfd(name: str) -> int:
    create = getattr(os, "memfd_create", None)
    if create is None:  # pragma: no cover - not Linux
        raise ValidationError(
            "reading an encrypted file in memory needs Linux (memfd_create); "
            "decrypt it first with 'neurodl decrypt'."
        )
    fd: int = create(f"neurodl:{name}"[:200], os.MFD_CLOEXEC)
    return fd


def _decrypt_into(fd: int, path: Path, secret: tuple[int, bytes]) -> None:
    with path.open("rb") as src, os.fdopen(fd, "wb", closefd=False) as dst:
        content = _open(src, dst, secret, str(path))
    if content != FILE:
        raise DecryptionError(
            f"{str(path)!r} holds an encrypted folder, not a file; decrypt it with "
            "'neurodl decrypt' and read the files inside."
        )


@contextlib.contextmanager
def plaintext_path(
    path: str | os.PathLike[str],
    *,
    key: bytes | None = None,
    passphrase: str | None = None,
    siblings: Callable[[Path], Iterable[str]] | None = None,
) -> Iterator[Path]:
    """Yield a path that reads the plaintext of ``path`` (in memory if encrypted).

    Parameters
    ----------
    path : str or path-like
        A plain file (yielded unchanged) or one written by ``neurodl encrypt``.
    key, passphrase : bytes or str, optional
        The key file's 32 bytes or the passphrase; when both are None, the key of
        an enclosing :func:`use_key` block, if any.
    siblings : callable, optional
        For formats of several files (BrainVision's ``.vhdr`` names its ``.eeg``
        and ``.vmrk``): called with the yielded path, returns the names of files
        the reader opens beside it. Each is taken from ``path``'s folder, as
        ``name.enc`` (decrypted in memory) or ``name`` (linked as it is).

    Yields
    ------
    pathlib.Path
        ``path`` itself for a plain file; otherwise a path named
        :func:`plain_name` in a private temporary folder, valid only inside the
        block. Nothing decrypted is ever written to disk.

    Raises
    ------
    DecryptionError
        The file is encrypted and no key was given, or the key is wrong, or the
        file was altered (nothing is yielded).
    """
    p = Path(path)
    if not is_encrypted(p):
        yield p
        return
    secret = _resolve_secret(p, key, passphrase)
    fds: list[int] = []
    folder = Path(tempfile.mkdtemp(prefix="neurodl-plain-"))  # mode 0700
    try:

        def expose(src: Path, name: str) -> Path:
            link = folder / name
            if is_encrypted(src):
                fd = _memfd(name)
                fds.append(fd)
                _decrypt_into(fd, src, secret)
                link.symlink_to(f"/proc/self/fd/{fd}")
            else:
                link.symlink_to(src.resolve())
            return link

        main = expose(p, plain_name(p))
        for name in siblings(main) if siblings is not None else ():
            name = Path(name).name  # only beside the file, never elsewhere
            if not name or (folder / name).exists():
                continue
            for candidate in (p.parent / (name + ENCRYPTED_SUFFIX), p.parent / name):
                if candidate.is_file():
                    expose(candidate, name)
                    break
        yield main
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        for fd in fds:
            os.close(fd)


def read_plaintext(
    path: str | os.PathLike[str],
    *,
    key: bytes | None = None,
    passphrase: str | None = None,
) -> bytes:
    """Return the whole plaintext of ``path`` (decrypted if encrypted), in memory."""
    with plaintext_path(path, key=key, passphrase=passphrase) as p:
        return p.read_bytes()
