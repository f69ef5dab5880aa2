"""The reader server of :mod:`neurodl._sandbox`: one clean process, one fork per read.

Started once per session by the parent (``python -c``, a fresh interpreter: no
threads, no torch), it imports :data:`neurodl._sandbox.PRELOAD` and then serves
requests from its Unix socket (``SOCK_SEQPACKET``), one at a time:

1. the parent sends ``{"func": "module:name", "args": [...], "memory": bytes,
   "timeout": seconds}`` as
   JSON, with the answer pipe's write end and any :class:`~neurodl._sandbox.PassFd`
   descriptors attached (``SCM_RIGHTS``); no pickle either way;
2. the server forks a worker, which imports ``func`` by name, limits its address
   space, runs it and writes its answer to the pipe (:func:`neurodl._sandbox._child`);
3. the server sends ``{"pid": pid}``, waits for the worker and sends ``{"status":
   exit code}`` (negative: a signal). The parent kills the worker at its deadline;
   the server does too, 5 s later, in case the parent died meanwhile.

The server ignores Ctrl-C (the parent handles it) and exits when the parent's end of
the socket closes.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import select
import signal
import socket
import time
from typing import Any

_MSG = 1 << 20


def _resolve(name: str) -> Any:
    module, _, qualname = name.partition(":")
    obj: Any = importlib.import_module(module)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj


def _worker(request: dict[str, Any], fds: list[int]) -> None:
    """In the forked worker: run the request; never returns."""
    try:
        from neurodl._sandbox import _child

        def decode(a: Any) -> Any:
            if isinstance(a, dict) and set(a) == {"__fd__"}:
                return fds[a["__fd__"]]
            if isinstance(a, list):
                return [decode(v) for v in a]
            return a

        func = _resolve(request["func"])
        args = tuple(decode(a) for a in request["args"])
        _child(fds[0], func, args, int(request["memory"]))  # exits
    finally:
        os._exit(3)


def serve(fd: int) -> None:
    """Serve read requests on the socket ``fd`` until the parent closes it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    sock = socket.socket(fileno=fd)
    init = json.loads(sock.recv(_MSG))
    for name in init["preload"]:
        with contextlib.suppress(ImportError):
            importlib.import_module(name)
    sock.send(b"ready")
    while True:
        try:
            msg, fds, _, _ = socket.recv_fds(sock, _MSG, 16)
        except OSError:
            return
        if not msg:
            return
        request = json.loads(msg)
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the worker
            sock.close()
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            _worker(request, fds)
        for f in fds:
            os.close(f)
        sock.send(json.dumps({"pid": pid}).encode())
        status = _wait(pid, time.monotonic() + float(request["timeout"]) + 5.0)
        sock.send(json.dumps({"status": status}).encode())


def _wait(pid: int, deadline: float) -> int:
    """Wait for the worker and return its exit code; kill it at ``deadline``.

    The deadline is the parent's plus a margin, so that a hung reader dies even if
    the parent died first.
    """
    try:
        pidfd = os.pidfd_open(pid)
    except (AttributeError, OSError):  # pragma: no cover - Linux < 5.3
        pidfd = None
    try:
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                return os.waitstatus_to_exitcode(status)
            left = deadline - time.monotonic()
            if left <= 0:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                _, status = os.waitpid(pid, 0)
                return os.waitstatus_to_exitcode(status)
            if pidfd is not None:
                select.select([pidfd], [], [], left)
            else:  # pragma: no cover
                time.sleep(min(left, 0.002))
    finally:
        if pidfd is not None:
            os.close(pidfd)
