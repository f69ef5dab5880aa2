"""Authenticated encryption at rest: chunked AES-256-GCM with a final-chunk flag.

A neurodl encrypted file is a 50-byte header followed by chunks. Each chunk holds
up to ``chunk_size`` bytes of plaintext, sealed with AES-256-GCM (16-byte tag) under
the nonce ``prefix (7 bytes) || chunk index (4 bytes, big-endian) || last (1 byte)``
and with the whole header as associated data: the streaming construction of Hoang,
Reyhanitabar, Rogaway & Vizár (CRYPTO 2015, "STREAM"), as Tink's streaming AEAD
uses it. So a changed header, a dropped, repeated or reordered chunk, a truncation
(at a chunk boundary or inside one), appended bytes, a flipped bit or a wrong key
each fail authentication, and nothing is written.

Keys: a 32-byte key file (:func:`generate_key_file`), or a passphrase stretched by
Argon2id (RFC 9106's second recommended setting: 64 MiB, 3 passes, 4 lanes; the
parameters are stored in the header). Each file gets its own key,
``HKDF-SHA256(master key, salt = the file's random 16-byte salt)``, so one key file
can seal any number of files, and two encryptions of one file differ.

Header (big-endian): magic ``b"NDLCRYPT"``, version 1, key kind (0 key file,
1 passphrase), content kind (0 file, 1 folder as a tar archive), Argon2id memory
(KiB), passes and lanes (0 for a key file), salt (16), nonce prefix (7), chunk size.
"""

from __future__ import annotations

import io
import os
import secrets
import shutil
import struct
import tarfile
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from neurodl._atomic import atomic_path
from neurodl.errors import DecryptionError, ValidationError

__all__ = [
    "check_paths",
    "decrypt_bytes",
    "decrypt_path",
    "encrypt_bytes",
    "encrypt_path",
    "generate_key_file",
    "read_key_file",
]

MAGIC = b"NDLCRYPT"
VERSION = 1
HEADER = struct.Struct(">8sBBBIII16s7sI")  # 50 bytes
KEY_FILE, PASSPHRASE = 0, 1
FILE, FOLDER = 0, 1
TAG = 16
KEY_BYTES = 32
CHUNK = 1 << 20
ARGON2 = (65536, 3, 4)  # memory KiB, passes, lanes (RFC 9106, second choice)
# bounds on what a header may ask for: a crafted file must not make us allocate
# gigabytes or run for hours before it fails
MAX_MEMORY_KIB, MAX_PASSES, MAX_LANES = 1 << 21, 64, 64
MIN_CHUNK, MAX_CHUNK = 16, 1 << 26
_INFO = b"neurodl encrypt v1: file key"


# --------------------------------------------------------------------- keys
def generate_key_file(path: str | os.PathLike[str]) -> Path:
    """Write a new random 32-byte key to ``path`` (owner read/write only).

    Refuses to overwrite an existing file: losing a key loses the data it sealed.
    """
    p = Path(path)
    if not p.parent.is_dir():
        raise ValidationError(f"'key_file' folder {str(p.parent)!r} does not exist.")
    try:
        fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise ValidationError(
            f"'key_file' {str(p)!r} already exists; a key file is never overwritten."
        ) from None
    with os.fdopen(fd, "wb") as fh:
        fh.write(secrets.token_bytes(KEY_BYTES))
    return p


def read_key_file(path: str | os.PathLike[str]) -> bytes:
    """Read a key file written by :func:`generate_key_file` (exactly 32 bytes)."""
    p = Path(path)
    if not p.is_file():
        raise ValidationError(f"'key_file' {str(p)!r} does not exist.")
    key = p.read_bytes()
    if len(key) != KEY_BYTES:
        raise ValidationError(
            f"'key_file' {str(p)!r} must hold exactly {KEY_BYTES} bytes (a key "
            f"from generate_key_file / neurodl keygen); it holds {len(key)}."
        )
    return key


def _secret(key: bytes | None, passphrase: str | None) -> tuple[int, bytes]:
    if (key is None) == (passphrase is None):
        raise ValidationError("give exactly one of 'key' and 'passphrase'.")
    if key is not None:
        if not isinstance(key, bytes | bytearray) or len(key) != KEY_BYTES:
            got = (
                f"{len(key)} bytes"
                if isinstance(key, bytes | bytearray)
                else type(key).__name__
            )
            raise ValidationError(f"'key' must be {KEY_BYTES} bytes; got {got}.")
        return KEY_FILE, bytes(key)
    if not isinstance(passphrase, str) or not passphrase:
        raise ValidationError("'passphrase' must be a non-empty string.")
    return PASSPHRASE, passphrase.encode("utf-8")


def _file_key(
    kind: int, secret: bytes, salt: bytes, argon: tuple[int, int, int]
) -> bytes:
    if kind == PASSPHRASE:
        memory, passes, lanes = argon
        secret = Argon2id(
            salt=salt,
            length=KEY_BYTES,
            iterations=passes,
            lanes=lanes,
            memory_cost=memory,
        ).derive(secret)
    hkdf = HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=salt, info=_INFO)
    return hkdf.derive(secret)


# ------------------------------------------------------------------- stream
def _nonce(prefix: bytes, index: int, last: bool) -> bytes:
    if index >= 1 << 32:
        raise ValidationError("input too large: more than 2**32 chunks.")
    return prefix + index.to_bytes(4, "big") + (b"\x01" if last else b"\x00")


def _chunks(read: Callable[[int], bytes], size: int) -> Iterator[tuple[bytes, bool]]:
    """Yield ``(block, is_last)``; an empty input gives one empty last block."""
    cur = read(size)
    while True:
        nxt = read(size)
        if not nxt:
            yield cur, True
            return
        yield cur, False
        cur = nxt


class _Sealer:
    """A write-only stream that seals what is written to it into ``dst``.

    One full chunk is held back until more data (or :meth:`close`) shows whether it
    is the last; so a folder can be streamed through ``tarfile`` straight into the
    cipher, with no plaintext copy on disk.
    """

    def __init__(
        self, dst: BinaryIO, secret: tuple[int, bytes], content: int, chunk_size: int
    ) -> None:
        kind, material = secret
        salt, self.prefix = secrets.token_bytes(16), secrets.token_bytes(7)
        argon = ARGON2 if kind == PASSPHRASE else (0, 0, 0)
        self.header = HEADER.pack(
            MAGIC, VERSION, kind, content, *argon, salt, self.prefix, chunk_size
        )
        self.aead = AESGCM(_file_key(kind, material, salt, argon))
        self.dst, self.size = dst, chunk_size
        self.buf = bytearray()
        self.pending: bytes | None = None
        self.index = 0
        dst.write(self.header)

    def _emit(self, block: bytes, last: bool) -> None:
        nonce = _nonce(self.prefix, self.index, last)
        self.dst.write(self.aead.encrypt(nonce, block, self.header))
        self.index += 1

    def write(self, data: bytes) -> int:
        self.buf += data
        while len(self.buf) > self.size:
            if self.pending is not None:
                self._emit(self.pending, False)
            self.pending = bytes(self.buf[: self.size])
            del self.buf[: self.size]
        return len(data)

    def close(self) -> None:
        """Seal what is left; the last chunk carries the final flag."""
        if self.pending is not None:
            self._emit(self.pending, False)
        self._emit(bytes(self.buf), True)  # empty input: one empty final chunk
        self.buf.clear()
        self.pending = None


def _seal(
    src: BinaryIO,
    dst: BinaryIO,
    secret: tuple[int, bytes],
    content: int,
    chunk_size: int,
) -> None:
    sealer = _Sealer(dst, secret, content, chunk_size)
    while block := src.read(chunk_size):
        sealer.write(block)
    sealer.close()


def _parse_header(
    header: bytes, name: str
) -> tuple[int, int, tuple[int, int, int], bytes, bytes, int]:
    if len(header) < HEADER.size or not header.startswith(MAGIC):
        raise DecryptionError(f"{name}: not a neurodl encrypted file (no header).")
    _, version, kind, content, mem, passes, lanes, salt, prefix, size = HEADER.unpack(
        header
    )
    if version != VERSION:
        raise DecryptionError(f"{name}: unknown format version {version}.")
    if kind not in (KEY_FILE, PASSPHRASE) or content not in (FILE, FOLDER):
        raise DecryptionError(f"{name}: damaged header (key or content kind).")
    if not MIN_CHUNK <= size <= MAX_CHUNK:
        raise DecryptionError(f"{name}: damaged header (chunk size {size}).")
    if kind == PASSPHRASE and not (
        8 * lanes <= mem <= MAX_MEMORY_KIB and 1 <= passes <= MAX_PASSES
        and 1 <= lanes <= MAX_LANES
    ):  # fmt: skip
        raise DecryptionError(f"{name}: damaged header (Argon2id parameters).")
    return kind, content, (mem, passes, lanes), salt, prefix, size


def _open(src: BinaryIO, dst: BinaryIO, secret: tuple[int, bytes], name: str) -> int:
    """Decrypt ``src`` into ``dst``; return the content kind. Raises on any fault."""
    header = src.read(HEADER.size)
    kind, content, argon, salt, prefix, size = _parse_header(header, name)
    if kind != secret[0]:
        need = "a passphrase" if kind == PASSPHRASE else "a key file"
        raise DecryptionError(f"{name} was encrypted with {need}.")
    aead = AESGCM(_file_key(kind, secret[1], salt, argon))
    for i, (block, last) in enumerate(_chunks(src.read, size + TAG)):
        try:
            dst.write(aead.decrypt(_nonce(prefix, i, last), block, header))
        except InvalidTag:
            raise DecryptionError(
                f"{name}: authentication failed at chunk {i}: wrong key or "
                "passphrase, or the file was altered, truncated or extended. "
                "Nothing was written."
            ) from None
    return content


# --------------------------------------------------------------------- API
def encrypt_bytes(
    data: bytes,
    *,
    key: bytes | None = None,
    passphrase: str | None = None,
    chunk_size: int = CHUNK,
) -> bytes:
    """Encrypt ``data`` in memory; the result is a complete encrypted file."""
    out = io.BytesIO()
    _seal(io.BytesIO(data), out, _secret(key, passphrase), FILE, _chunk(chunk_size))
    return out.getvalue()


def decrypt_bytes(
    blob: bytes, *, key: bytes | None = None, passphrase: str | None = None
) -> bytes:
    """Decrypt an encrypted file held in memory (a file's, not a folder's)."""
    out = io.BytesIO()
    content = _open(io.BytesIO(blob), out, _secret(key, passphrase), "input")
    if content != FILE:
        raise DecryptionError("input holds a folder; use decrypt_path.")
    return out.getvalue()


def _chunk(chunk_size: int) -> int:
    if (
        isinstance(chunk_size, bool)
        or not isinstance(chunk_size, int)
        or not (MIN_CHUNK <= chunk_size <= MAX_CHUNK)
    ):
        raise ValidationError(
            f"'chunk_size' must be an integer in [{MIN_CHUNK}, {MAX_CHUNK}]; "
            f"got {chunk_size!r}."
        )
    return chunk_size


def check_paths(
    src: str | os.PathLike[str], dst: str | os.PathLike[str]
) -> tuple[Path, Path]:
    """Check that ``src`` exists and ``dst`` is new in an existing folder.

    Returns both as paths (the checks of :func:`encrypt_path` and
    :func:`decrypt_path`, for callers that check before other work).
    """
    s, d = Path(src), Path(dst)
    if not s.exists():
        raise ValidationError(f"'path' {str(s)!r} does not exist.")
    if d.exists():
        raise ValidationError(
            f"'out' {str(d)!r} already exists; it is not overwritten."
        )
    if not d.parent.is_dir():
        raise ValidationError(f"'out' folder {str(d.parent)!r} does not exist.")
    return s, d


def encrypt_path(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    *,
    key: bytes | None = None,
    passphrase: str | None = None,
    chunk_size: int = CHUNK,
) -> Path:
    """Encrypt a file, or a folder (as one tar archive), to the new file ``dst``.

    Written to a temporary file beside ``dst`` and moved into place when complete.
    """
    s, d = check_paths(src, dst)
    secret, size = _secret(key, passphrase), _chunk(chunk_size)
    with atomic_path(d) as tmp, tmp.open("wb") as out:
        if s.is_dir():  # streamed: no plaintext archive on disk
            sealer = _Sealer(out, secret, FOLDER, size)
            with tarfile.open(fileobj=sealer, mode="w|") as tar:  # type: ignore[call-overload]
                tar.add(s, arcname=".")
            sealer.close()
        else:
            with s.open("rb") as fh:
                _seal(fh, out, secret, FILE, size)
    return d


def decrypt_path(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    *,
    key: bytes | None = None,
    passphrase: str | None = None,
) -> Path:
    """Decrypt ``src`` to the new file or folder ``dst``; on a fault, write nothing."""
    s, d = check_paths(src, dst)
    secret = _secret(key, passphrase)
    with s.open("rb") as fh:
        _, content, *_ = _parse_header(fh.read(HEADER.size), str(s))
        fh.seek(0)
        if content == FILE:  # straight into the output's temporary file
            with atomic_path(d) as tmp, tmp.open("wb") as out:
                _open(fh, out, secret, str(s))
            return d
        with tempfile.TemporaryFile(dir=d.parent) as plain:
            _open(fh, plain, secret, str(s))
            plain.seek(0)
            folder = Path(tempfile.mkdtemp(dir=d.parent, prefix=f".{d.name}."))
            try:
                with tarfile.open(fileobj=plain, mode="r") as tar:
                    tar.extractall(folder, filter="data")
                os.replace(folder, d)
            except BaseException:
                shutil.rmtree(folder, ignore_errors=True)
                raise
    return d
