"""Block the network for the whole test session (issue 12: no network).

Python's socket calls that reach a network (``connect``, ``connect_ex``,
``sendto``, ``bind``, ``create_connection``, ``getaddrinfo``) raise ``OSError
("network access attempted ...")`` unless the address is this machine's loopback or a
Unix socket, so local inter-process plumbing keeps working while nothing can leave the
machine. ``tests/conftest.py`` installs it before any test runs; every CLI test then
runs offline. (liblsl, behind ``neurodl bci``, has its own C sockets; neurodl keeps its
stream discovery on this machine, ``ResolveScope = machine``.)
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

MESSAGE = "network access attempted"
_ORIGINAL: dict[str, Any] = {}


def _local(address: Any) -> bool:
    if isinstance(address, (str, bytes)):  # AF_UNIX path
        return True
    if not isinstance(address, tuple) or not address:
        return False
    host = address[0]
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def install() -> None:
    """Replace the socket calls by guarded ones (idempotent)."""
    if _ORIGINAL:
        return
    for name in ("connect", "connect_ex", "bind"):
        original = getattr(socket.socket, name)
        _ORIGINAL[name] = original

        def guarded(self, address, *, _original=original, _name=name):
            if self.family == socket.AF_UNIX or _local(address):
                return _original(self, address)
            raise OSError(f"{MESSAGE}: socket.{_name}({address!r})")

        setattr(socket.socket, name, guarded)
    original_sendto = socket.socket.sendto
    _ORIGINAL["sendto"] = original_sendto

    def sendto(self, data, *args):
        if self.family == socket.AF_UNIX or _local(args[-1]):
            return original_sendto(self, data, *args)
        raise OSError(f"{MESSAGE}: socket.sendto({args[-1]!r})")

    socket.socket.sendto = sendto  # type: ignore[method-assign]
    for name in ("create_connection", "getaddrinfo"):
        original = getattr(socket, name)
        _ORIGINAL[name] = original

        def guarded_fn(host, *args, _original=original, _name=name, **kwargs):
            address = host if isinstance(host, tuple) else (host,)
            if _local(address):
                return _original(host, *args, **kwargs)
            raise OSError(f"{MESSAGE}: socket.{_name}({host!r})")

        setattr(socket, name, guarded_fn)


def installed() -> bool:
    """Tell whether the guard is on."""
    return bool(_ORIGINAL)
