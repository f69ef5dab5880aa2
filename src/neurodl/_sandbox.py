"""Run a file reader in a child process with a time limit and a memory limit.

Crafted HDF5 files (NWB, MATLAB v7.3) can make the HDF5 library hang at full CPU
(HDF5 #1707), segfault (h5py #1183, #2569; HDF5 #4433) or allocate until the
machine swaps; scipy's MATLAB reader is "not hardened for untrusted input" either.
:func:`run_limited` calls a reader in a forked child under ``RLIMIT_AS`` and a
wall-clock deadline, so such a file costs at most the limits and ends in one
:class:`~neurodl.errors.FormatError` naming the limit (or the crash).

The child sends its result back as JSON plus the raw bytes of its arrays, whose
dtypes (named in the JSON) must be plain numbers, booleans or fixed-width strings,
never objects, and never as a pickle: a reader that a crafted file subverts cannot
make the parent run code. So a reader must return plain data: ``dict`` (str
keys), ``list``/``tuple``, ``str``, ``int``, ``float``, ``bool``, ``None`` and NumPy
arrays of non-object dtype (numbers, booleans, fixed-width strings).

Fork, not spawn: a call costs 15-25 ms on a 2-core machine with torch, MNE and
pynwb imported (``benchmarks/sandbox.py``); a spawned child would re-import them
(3.6 s measured). The child runs
only NumPy, h5py and scipy, never torch or numba, whose thread pools are not
fork-safe; h5py's global lock is held across the fork so that no other thread of
the parent holds it in the child.

Defaults (:data:`DEFAULT_TIMEOUT_S`, :data:`DEFAULT_MEMORY_BYTES`) can be changed
for a process with the environment variables ``NEURODL_READ_TIMEOUT_S`` and
``NEURODL_READ_MEMORY_MB``. On a system without ``fork`` (Windows) the reader runs in
the calling process, without limits.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import resource
import select
import signal
import struct
import sys
import time
import traceback
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from neurodl import errors
from neurodl.errors import FormatError, NeurodlError, ValidationError

__all__ = [
    "DEFAULT_MEMORY_BYTES",
    "DEFAULT_TIMEOUT_S",
    "ChildError",
    "resolve_limits",
    "run_limited",
]

DEFAULT_TIMEOUT_S = 120.0
"""Wall-clock seconds a sandboxed reader may run (``NEURODL_READ_TIMEOUT_S``)."""

DEFAULT_MEMORY_BYTES = 4 << 30
"""Address space a sandboxed reader may add to what the process already holds,
4 GiB (``NEURODL_READ_MEMORY_MB``)."""

_MAGIC = b"NDLSBX1\n"
_LEN = struct.Struct(">Q")
_ARRAY = "__ndarray__"
# errors a reader may raise on purpose, rebuilt by name in the parent
_PASS_THROUGH = {
    cls.__name__: cls
    for cls in (
        errors.ValidationError,
        errors.ShapeError,
        errors.NonFiniteError,
        errors.DataFileError,
        errors.ModelFileError,
        errors.FormatError,
        errors.DecryptionError,
    )
}


class ChildError(Exception):
    """An exception raised in the child, carried back as its type, text and traceback.

    It is chained as the ``__cause__`` of the :class:`FormatError` raised in the
    parent, so ``--debug`` shows where the reader failed.
    """

    def __init__(self, type_name: str, message: str, trace: str):
        super().__init__(f"{type_name}: {message}\n\nchild traceback:\n{trace}")
        self.type_name = type_name
        self.message = message


def _env_number(name: str, default: float) -> float:
    text = os.environ.get(name)
    if text is None or not text.strip():
        return default
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise ValidationError(
            f"environment variable {name} must be a number > 0; got {text!r}."
        )
    return value


def resolve_limits(
    timeout_s: float | None = None, memory_bytes: int | None = None
) -> tuple[float, int]:
    """Return ``(timeout_s, memory_bytes)``: the given values, else the defaults.

    The defaults are :data:`DEFAULT_TIMEOUT_S` and :data:`DEFAULT_MEMORY_BYTES`,
    overridden by the environment variables ``NEURODL_READ_TIMEOUT_S`` (seconds)
    and ``NEURODL_READ_MEMORY_MB`` (MiB).

    >>> resolve_limits(5, 1 << 30)
    (5.0, 1073741824)
    """
    if timeout_s is None:
        timeout_s = _env_number("NEURODL_READ_TIMEOUT_S", DEFAULT_TIMEOUT_S)
    if memory_bytes is None:
        mb = _env_number("NEURODL_READ_MEMORY_MB", DEFAULT_MEMORY_BYTES / 2**20)
        memory_bytes = int(mb * 2**20)
    if (
        isinstance(timeout_s, bool)
        or not isinstance(timeout_s, int | float)
        or not math.isfinite(timeout_s)
        or timeout_s <= 0
    ):
        raise ValidationError(f"'timeout_s' must be a number > 0; got {timeout_s!r}.")
    if isinstance(memory_bytes, bool) or not isinstance(memory_bytes, int):
        raise ValidationError(
            f"'memory_bytes' must be an integer > 0; got {memory_bytes!r}."
        )
    if memory_bytes <= 0:
        raise ValidationError(
            f"'memory_bytes' must be an integer > 0; got {memory_bytes!r}."
        )
    return float(timeout_s), memory_bytes


# ------------------------------------------------------------------ transport
_SAFE_KINDS = frozenset("biufcSU")  # booleans, numbers, fixed-width bytes and text


def _safe_dtype(descr: object) -> np.dtype:
    """Return the dtype named by ``descr`` if it holds plain values (no objects)."""
    if not isinstance(descr, str):
        raise ValueError(f"bad dtype {descr!r}")
    dt = np.dtype(descr)
    if (
        dt.kind not in _SAFE_KINDS
        or dt.hasobject
        or dt.fields is not None
        or dt.subdtype is not None
    ):
        raise ValueError(f"refused dtype {descr!r}")
    return dt


def _flatten(obj: Any, arrays: list[np.ndarray]) -> Any:
    if isinstance(obj, np.ndarray):
        _safe_dtype(obj.dtype.str)  # TypeError-like refusal in the child
        arrays.append(np.ascontiguousarray(obj))
        return {_ARRAY: len(arrays) - 1}
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, dict):
        if not all(isinstance(k, str) for k in obj) or _ARRAY in obj:
            raise TypeError("a returned dict must have str keys")
        return {k: _flatten(v, arrays) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_flatten(v, arrays) for v in obj]
    if obj is None or isinstance(obj, str | int | float | bool):
        return obj
    raise TypeError(f"cannot return a {type(obj).__name__} from a sandboxed reader")


def _rebuild(obj: Any, arrays: list[np.ndarray]) -> Any:
    if isinstance(obj, dict):
        if set(obj) == {_ARRAY}:
            return arrays[obj[_ARRAY]]
        return {k: _rebuild(v, arrays) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_rebuild(v, arrays) for v in obj]
    return obj


def _encode(head: dict[str, Any], arrays: list[np.ndarray]) -> list[Any]:
    """Return the answer as parts to write: magic, JSON length, JSON, array bytes.

    The JSON names each array's dtype and shape; the bytes follow in order. No
    pickle, no zip: the parent maps the bytes straight into arrays.
    """
    head = {**head, "arrays": [[a.dtype.str, list(a.shape)] for a in arrays]}
    text = json.dumps(head).encode("utf-8")
    parts: list[Any] = [_MAGIC + _LEN.pack(len(text)) + text]
    parts += [a.reshape(-1).view(np.uint8) for a in arrays if a.size]
    return parts


def _decode(blob: bytearray) -> tuple[dict[str, Any], list[np.ndarray]]:
    """Parse an answer; the arrays are views into ``blob`` (checked, no objects)."""
    start = len(_MAGIC) + _LEN.size
    if len(blob) < start or not blob.startswith(_MAGIC):
        raise ValueError("no result from the reader process")
    (n,) = _LEN.unpack(blob[len(_MAGIC) : start])
    head = json.loads(bytes(blob[start : start + n]).decode("utf-8"))
    offset = start + n
    arrays = []
    for descr, shape in head.pop("arrays"):
        dt = _safe_dtype(descr)
        if not all(isinstance(d, int) and d >= 0 for d in shape):
            raise ValueError(f"bad shape {shape!r}")
        count = math.prod(shape)
        if offset + count * dt.itemsize > len(blob):
            raise ValueError("the answer is shorter than its arrays")
        a = np.frombuffer(blob, dtype=dt, count=count, offset=offset)
        arrays.append(a.reshape(shape))
        offset += count * dt.itemsize
    if offset != len(blob):
        raise ValueError("the answer is longer than its arrays")
    return head, arrays


# ---------------------------------------------------------------------- child
def _address_space() -> int:
    """Bytes of address space this process holds now (Linux: /proc/self/statm)."""
    try:
        with open("/proc/self/statm", "rb") as f:
            pages = int(f.read().split()[0])
        return pages * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def _write_all(fd: int, parts: list[Any]) -> None:
    for part in parts:
        view = memoryview(part)
        while view:
            n = os.write(fd, view)
            view = view[n:]


def _child(
    fd: int, func: Callable[..., Any], args: tuple[Any, ...], memory: int
) -> None:
    """Run in the forked child: limit memory, call ``func``, send the outcome."""
    try:
        if "faulthandler" in sys.modules:  # a crash is reported by the parent
            sys.modules["faulthandler"].disable()
        limit = _address_space() + memory
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        try:
            arrays: list[np.ndarray] = []
            head = {"ok": _flatten(func(*args), arrays)}
            blob = _encode(head, arrays)
        except MemoryError:
            blob = _encode({"memory": True}, [])
        except BaseException as exc:  # reported to the parent, which decides
            blob = _encode(
                {
                    "error": type(exc).__name__,
                    "message": str(exc),
                    "trace": traceback.format_exc(limit=-8),
                    "path": getattr(exc, "path", None),
                    "fmt": getattr(exc, "fmt", None),
                    "neurodl": isinstance(exc, NeurodlError),
                },
                [],
            )
        _write_all(fd, blob)
    except MemoryError:
        with contextlib.suppress(BaseException):
            _write_all(fd, _encode({"memory": True}, []))
    finally:
        os._exit(0)


@contextlib.contextmanager
def _fork_safe_locks() -> Iterator[None]:
    """Hold h5py's global lock (when h5py is loaded) over the fork.

    So the child does not start with the lock taken by another thread of the parent.
    """
    h5 = sys.modules.get("h5py._objects")
    lock = getattr(h5, "phil", None)
    if lock is None:
        yield
        return
    with lock:
        yield


def _fork() -> int:
    with warnings.catch_warnings():
        # Python >= 3.12 warns on fork in a threaded process; the child runs no
        # code that needs the other threads (see the module docstring)
        warnings.filterwarnings("ignore", "This process", DeprecationWarning)
        with _fork_safe_locks():
            return os.fork()


# --------------------------------------------------------------------- parent
def _collect(fd: int, pid: int, deadline: float) -> tuple[bytearray, int | None]:
    """Read the child's output until EOF; return it and the wait status.

    ``(partial, None)`` if the deadline passed (the child is then killed).
    """
    buf = bytearray()
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            continue
        data = os.read(fd, 1 << 20)
        if not data:
            # EOF: the child wrote everything (or died); it exits right away
            while time.monotonic() < deadline:
                done, status = os.waitpid(pid, os.WNOHANG)
                if done:
                    return buf, status
                time.sleep(0.001)
            break
        buf += data
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    return buf, None


def run_limited(
    func: Callable[..., Any],
    *args: Any,
    path: object = None,
    fmt: str = "file",
    timeout_s: float | None = None,
    memory_bytes: int | None = None,
) -> Any:
    """Call ``func(*args)`` in a forked child under a time and a memory limit.

    Parameters
    ----------
    func : callable
        The reader. It must return plain data (see the module docstring); it
        may raise a :class:`~neurodl.errors.ValidationError` (or a subclass) for a
        file that is well formed but not what the caller asked for, which is
        raised again in the parent as it was.
    *args
        Passed to ``func`` (inherited through the fork, not serialised).
    path, fmt : object, str
        The file being read and its format, for the messages.
    timeout_s : float, optional
        Wall-clock seconds before the child is killed (default
        :data:`DEFAULT_TIMEOUT_S`, or ``NEURODL_READ_TIMEOUT_S``).
    memory_bytes : int, optional
        Address space (``RLIMIT_AS``) the child may take beyond what the process
        held when it forked (default :data:`DEFAULT_MEMORY_BYTES`, or
        ``NEURODL_READ_MEMORY_MB``).

    Returns
    -------
    object
        What ``func`` returned, rebuilt in the parent (tuples come back as lists).

    Raises
    ------
    FormatError
        The reader ran past ``timeout_s``, ran out of ``memory_bytes``, crashed
        (a signal such as SIGSEGV) or raised any exception other than a neurodl
        error; the message names the file, the format and the limit or the
        exception, which is chained as a :class:`ChildError`.
    ValidationError
        Raised by ``func`` itself (passed through).
    """
    timeout, memory = resolve_limits(timeout_s, memory_bytes)
    where = f"{str(path)!r}" if path is not None else "the input"
    if not hasattr(os, "fork"):  # pragma: no cover - Windows: no limits
        try:
            return func(*args)
        except NeurodlError:
            raise
        except Exception as exc:
            raise FormatError(
                f"cannot read {where} as {fmt}: {type(exc).__name__}: {exc}",
                path=path,
                fmt=fmt,
            ) from exc
    r, w = os.pipe()
    deadline = time.monotonic() + timeout
    pid = _fork()
    if pid == 0:  # pragma: no cover - runs in the child (coverage cannot see it)
        os.close(r)
        _child(w, func, args, memory)
    os.close(w)
    try:
        blob, status = _collect(r, pid, deadline)
    except BaseException:  # interrupted (Ctrl-C, an alarm): stop the child too
        with contextlib.suppress(ProcessLookupError, ChildProcessError):
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        raise
    finally:
        os.close(r)
    if status is None:
        raise FormatError(
            f"reading {where} as {fmt} took longer than the {timeout:g} s limit "
            "(the reader was stopped; a crafted file can make it hang; raise the "
            "limit with NEURODL_READ_TIMEOUT_S for a very large file).",
            path=path,
            fmt=fmt,
        )
    try:
        head, arrays = _decode(blob)
    except Exception as exc:
        sig = os.WTERMSIG(status) if os.WIFSIGNALED(status) else None
        how = (
            f"was killed by signal {signal.Signals(sig).name}"
            if sig
            else f"ended with status {os.waitstatus_to_exitcode(status)}"
        )
        raise FormatError(
            f"the {fmt} reader {how} on {where} without an answer: the file is "
            f"malformed or crafted (or the reader ran out of its "
            f"{memory / 2**30:.3g} GiB memory limit).",
            path=path,
            fmt=fmt,
        ) from exc
    if head.get("memory"):
        raise FormatError(
            f"reading {where} as {fmt} needed more than the {memory / 2**30:.3g} GiB "
            "memory limit: the file declares more data than it can plausibly hold, "
            "or is crafted to exhaust memory (raise the limit with "
            "NEURODL_READ_MEMORY_MB for a very large file).",
            path=path,
            fmt=fmt,
        )
    if "error" in head:
        cause = ChildError(head["error"], head["message"], head["trace"])
        cls = _PASS_THROUGH.get(head["error"]) if head.get("neurodl") else None
        if cls is FormatError:
            raise FormatError(
                head["message"], path=head.get("path"), fmt=head.get("fmt")
            ) from cause
        if cls is not None:
            raise cls(head["message"]) from cause
        raise FormatError(
            f"cannot read {where} as {fmt}: {head['error']}: {head['message']}",
            path=path,
            fmt=fmt,
        ) from cause
    return _rebuild(head["ok"], arrays)
