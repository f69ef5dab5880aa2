"""Run a file reader in a child process with a time limit and a memory limit.

Crafted HDF5 files (NWB, MATLAB v7.3) can make the HDF5 library hang at full CPU
(HDF5 #1707), segfault (h5py #1183, #2569; HDF5 #4433) or allocate until the
machine swaps; scipy's MATLAB reader is "not hardened for untrusted input" either.
:func:`run_limited` calls a reader in a child process under ``RLIMIT_AS`` and a
wall-clock deadline, so such a file costs at most the limits and ends in one
:class:`~neurodl.errors.FormatError` naming the limit (or the crash).

The child sends its result back as JSON plus the raw bytes of its arrays, whose
dtypes (named in the JSON) must be plain numbers, booleans or fixed-width strings,
never objects, and never as a pickle: a reader that a crafted file subverts cannot
make the parent run code. So a reader must return plain data: ``dict`` (str
keys), ``list``/``tuple``, ``str``, ``int``, ``float``, ``bool``, ``None`` and NumPy
arrays of non-object dtype (numbers, booleans, fixed-width strings).

Children come from a reader server (:mod:`neurodl._sandbox_server`): a fresh
interpreter started once per session, which imports :data:`PRELOAD` (NumPy,
scipy.io, h5py, pynwb, :mod:`neurodl._readers`) and forks one worker per read.
Requests (the reader's name, JSON arguments, descriptors over ``SCM_RIGHTS``) and
answers carry no pickle. Forking the caller itself would be cheaper but is not
safe: a process whose other threads are inside OpenBLAS when it forks deadlocks
its own BLAS calls afterwards (measured with numpy's OpenBLAS 0.3.31: two threads
running ``np.linalg.svd`` hung for good within ten forks), and torch's and numba's
thread pools are not fork-safe either; the server has no such threads.
:mod:`multiprocessing`'s ``forkserver`` would re-run the caller's ``__main__``
script in every child, and ``spawn`` re-imports the readers' libraries per read
(about 1 s with pynwb). Through the server a read costs about 9 ms more than in
the caller, and the first read of a session about 0.6 s to start the server
(``benchmarks/sandbox.py``). Reads are served one at a time per process.

Defaults (:data:`DEFAULT_TIMEOUT_S`, :data:`DEFAULT_MEMORY_BYTES`) can be changed
for a process with the environment variables ``NEURODL_READ_TIMEOUT_S`` and
``NEURODL_READ_MEMORY_MB``. On a system without ``fork`` (Windows) the reader runs in
the calling process, without limits.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import math
import os
import resource
import select
import signal
import socket
import struct
import sys
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

import numpy as np

from neurodl import errors
from neurodl.errors import FormatError, NeurodlError, ValidationError

__all__ = [
    "DEFAULT_MEMORY_BYTES",
    "DEFAULT_TIMEOUT_S",
    "PRELOAD",
    "ChildError",
    "PassFd",
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


class PassFd:
    """An open file descriptor for the reader (an in-memory decrypted file).

    Sent to the reader server over its Unix socket (``SCM_RIGHTS``); the reader
    gets its own duplicate as a plain ``int``.
    """

    def __init__(self, fd: int) -> None:
        self.fd = fd


def _child(
    out: int, func: Callable[..., Any], args: tuple[Any, ...], memory: int
) -> None:
    """Run in the worker: limit memory, call ``func``, send the outcome to ``out``."""
    try:
        limit = _address_space() + memory
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        try:
            arrays: list[np.ndarray] = []
            head = {"ok": _flatten(func(*args), arrays)}
            parts = _encode(head, arrays)
        except MemoryError:
            parts = _encode({"memory": True}, [])
        except BaseException as exc:  # reported to the parent, which decides
            parts = _encode(
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
        _write_all(out, parts)
    except MemoryError:
        with contextlib.suppress(BaseException):
            _write_all(out, _encode({"memory": True}, []))
    finally:
        os._exit(0)


# --------------------------------------------------------------------- server
PRELOAD = (
    "neurodl._sandbox",
    "neurodl._readers",
    "numpy",
    "scipy.io",
    "h5py",
    "pynwb",
)
"""Modules the reader server imports once, so that each reader starts warm (those
that are not installed are skipped)."""

_MSG = 1 << 20
_LOCK = threading.Lock()


class _Server:
    """The parent's end of the reader server (:mod:`neurodl._sandbox_server`)."""

    def __init__(self) -> None:
        import subprocess

        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        code = (
            "import json, sys; sys.path[:0] = json.loads(sys.argv[2]); "
            "from neurodl._sandbox_server import serve; serve(int(sys.argv[1]))"
        )
        # one BLAS/OpenMP thread: readers do not need more, and the server forks
        env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
        env["MKL_NUM_THREADS"] = "1"
        self.proc = subprocess.Popen(
            [sys.executable, "-c", code, str(theirs.fileno()), json.dumps(sys.path)],
            pass_fds=(theirs.fileno(),),
            stdin=subprocess.DEVNULL,
            env=env,
        )
        theirs.close()
        self.sock = mine
        self.sock.settimeout(120.0)  # the imports take about 1 s
        self.sock.send(json.dumps({"preload": list(PRELOAD)}).encode())
        if self.sock.recv(_MSG) != b"ready":
            self.close()
            raise OSError("the reader server did not start")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def close(self) -> None:
        self.sock.close()
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        if _SERVER and _SERVER[0] is self:
            _SERVER.clear()

    def start(
        self,
        func: Callable[..., Any],
        args: tuple[Any, ...],
        memory: int,
        timeout: float,
        out: int,
    ) -> int:
        """Start a worker running ``func(*args)`` that answers on ``out``; its pid."""
        fds = [out]

        def encode(a: Any) -> Any:
            if isinstance(a, PassFd):
                fds.append(a.fd)
                return {"__fd__": len(fds) - 1}
            if isinstance(a, list | tuple):
                return [encode(v) for v in a]
            return a

        request = {
            "func": f"{func.__module__}:{func.__qualname__}",
            "args": [encode(a) for a in args],
            "memory": memory,
            "timeout": timeout,
        }
        self.sock.settimeout(30.0)
        socket.send_fds(self.sock, [json.dumps(request).encode()], fds)
        pid: int = json.loads(self.sock.recv(_MSG))["pid"]
        return pid

    def status(self, timeout: float) -> int | None:
        """Return the worker's exit code (negative: its signal), None if late."""
        self.sock.settimeout(max(timeout, 0.001))
        try:
            msg = self.sock.recv(_MSG)
        except TimeoutError:
            return None
        code: int = json.loads(msg)["status"]
        return code


_SERVER: list[_Server] = []  # the session's server, started at the first read


def _server() -> _Server:
    if not _SERVER or not _SERVER[0].alive():
        if not _SERVER:
            atexit.register(_stop_server)
        else:
            _SERVER[0].close()
        _SERVER[:] = [_Server()]
    return _SERVER[0]


def _stop_server() -> None:
    """At exit: close the socket, so the server ends; reap it."""
    for server in _SERVER:
        server.sock.close()
        try:
            server.proc.wait(5.0)
        except Exception:
            server.close()
    _SERVER.clear()


def _collect(fd: int, deadline: float) -> tuple[bytearray, bool]:
    """Read the worker's answer until EOF; ``(answer, False)`` past the deadline."""
    buf = bytearray()
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return buf, False
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            continue
        data = os.read(fd, 1 << 20)
        if not data:
            return buf, True
        buf += data


def _run_in_server(
    func: Callable[..., Any], args: tuple[Any, ...], memory: int, deadline: float
) -> tuple[bytearray, int | None]:
    """Run one worker; return its answer and exit code (None: past the deadline)."""
    with _LOCK:
        server = _server()
        r, w = os.pipe()
        try:
            try:
                left = max(deadline - time.monotonic(), 0.0)
                pid = server.start(func, args, memory, left, w)
            finally:
                os.close(w)
            try:
                blob, done = _collect(r, deadline)
                status = server.status(deadline - time.monotonic()) if done else None
            except BaseException:  # interrupted (Ctrl-C, an alarm): stop it too
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                server.close()
                raise
            if status is None:  # past the deadline
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                if server.status(30.0) is None:  # not even reaped: start afresh
                    server.close()
            return blob, status
        except (OSError, ValueError, KeyError):
            server.close()  # a broken server is replaced at the next read
            raise
        finally:
            os.close(r)


def run_limited(
    func: Callable[..., Any],
    *args: Any,
    path: object = None,
    fmt: str = "file",
    timeout_s: float | None = None,
    memory_bytes: int | None = None,
) -> Any:
    """Call ``func(*args)`` in a child process under a time and a memory limit.

    Parameters
    ----------
    func : callable
        The reader: a module-level function (the worker imports it by name). It
        must return plain data (see the module docstring); it
        may raise a :class:`~neurodl.errors.ValidationError` (or a subclass) for a
        file that is well formed but not what the caller asked for, which is
        raised again in the parent as it was.
    *args
        Passed to ``func``: JSON values (paths, names, numbers, lists), sent with
        the request; a :class:`PassFd` arrives as the worker's own descriptor.
    path, fmt : object, str
        The file being read and its format, for the messages.
    timeout_s : float, optional
        Wall-clock seconds before the child is killed (default
        :data:`DEFAULT_TIMEOUT_S`, or ``NEURODL_READ_TIMEOUT_S``).
    memory_bytes : int, optional
        Address space (``RLIMIT_AS``) the worker may take beyond what it holds
        when it starts (default :data:`DEFAULT_MEMORY_BYTES`, or
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
    if not hasattr(os, "fork"):  # pragma: no cover - Windows: no reader server
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
    if "<" in func.__qualname__:
        raise TypeError(
            "run_limited needs a module-level reader (the server imports it by "
            f"name); got {func.__qualname__}."
        )
    deadline = time.monotonic() + timeout
    blob, status = _run_in_server(func, args, memory, deadline)
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
        how = (
            f"was killed by signal {signal.Signals(-status).name}"
            if status < 0
            else f"ended with status {status}"
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
