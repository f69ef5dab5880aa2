"""No network: the package and its commands run with sockets blocked (issue 12, §5).

A subprocess replaces the socket calls that reach a network (connect, sendto, bind,
create_connection, getaddrinfo) by one that raises, then imports every module of the
package and runs commands that touch data, models and files. Neural data must never
leave the machine by accident (no downloads, no telemetry). The guard is itself
tested: with it, an HTTP request fails. (Lab Streaming Layer, which the ``bci``
commands use on purpose, talks through liblsl's own C sockets and is not covered.)
"""

import subprocess
import sys
import textwrap

GUARD = textwrap.dedent(
    """
    import socket

    def _blocked(*args, **kwargs):
        raise OSError("network access attempted")

    for _name in ("connect", "connect_ex", "sendto", "bind"):
        setattr(socket.socket, _name, _blocked)
    socket.create_connection = _blocked
    socket.getaddrinfo = _blocked
    """
)


def _run(code: str, tmp_path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", GUARD + textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=tmp_path,
    )


def test_the_guard_blocks_a_request(tmp_path):
    r = _run(
        """
        import urllib.request
        try:
            urllib.request.urlopen("http://example.org", timeout=5)
        except OSError as exc:
            print("blocked:", exc)
        """,
        tmp_path,
    )
    assert r.returncode == 0, r.stderr
    assert "blocked:" in r.stdout and "network access attempted" in r.stdout


def test_every_module_and_the_main_commands_run_offline(tmp_path):
    r = _run(
        """
        import importlib, pkgutil
        import neurodl
        from neurodl.cli.main import main

        names = [
            m.name
            for m in pkgutil.walk_packages(neurodl.__path__, "neurodl.")
            if not m.name.endswith("__main__")
        ]
        for name in names:
            importlib.import_module(name)
        print("imported", len(names))
        (open("rec.bin", "wb")).write(b"a recording" * 1000)
        commands = [
            ["--help"],
            ["data", "list", "--verify"],
            ["learn", "--rule", "fa", "--data", "digits", "--epochs", "1", "--quiet"],
            ["simulate", "neuron", "lif", "--duration", "50"],
            ["demo", "xor", "--epochs", "50", "--restarts", "0", "--quiet"],
            ["keygen", "--out", "k.key"],
            ["encrypt", "rec.bin", "--out", "rec.enc", "--key-file", "k.key"],
            ["decrypt", "rec.enc", "--out", "back.bin", "--key-file", "k.key"],
        ]
        for args in commands:
            try:
                main(args)
            except SystemExit as exc:
                assert exc.code in (0, None), (args, exc.code)
            print("ok", args[0])
        """,
        tmp_path,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    assert "network access attempted" not in r.stderr
    n = int(r.stdout.split("imported ")[1].split()[0])
    assert n > 90
    assert r.stdout.count("\nok ") + r.stdout.startswith("ok ") >= 8
    assert (tmp_path / "back.bin").read_bytes() == b"a recording" * 1000
