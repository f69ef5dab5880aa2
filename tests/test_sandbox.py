"""neurodl._sandbox.run_limited: a reader in a child process, under limits."""

from __future__ import annotations

import json
import os
import threading
import time

import numpy as np
import pytest

from neurodl._sandbox import (
    _LEN,
    _MAGIC,
    ChildError,
    PassFd,
    _decode,
    _encode,
    resolve_limits,
    run_limited,
)
from neurodl.errors import FormatError, ShapeError, ValidationError
from tests import sandbox_readers as readers


def test_result_round_trip_without_pickle():
    got = run_limited(readers.nested, fmt="test")
    np.testing.assert_array_equal(got["counts"], np.arange(12).reshape(3, 4))
    assert got["counts"].dtype == np.int16
    assert got["names"].tolist() == ["a", "bc"]
    assert got["nested"] == [1, 2.5, None, True, "x", [3.0, {"k": "v"}]]


def test_large_result_passes_through_the_pipe():
    big = run_limited(readers.arange, 3_000_000)
    assert big.shape == (3_000_000,) and big[-1] == 2_999_999  # 24 MB > pipe buffer


def test_a_reader_that_sleeps_past_the_limit_is_stopped():
    t0 = time.monotonic()
    with pytest.raises(FormatError, match=r"longer than the 0\.5 s limit") as info:
        run_limited(readers.sleep, 60, path="x.nwb", fmt="NWB", timeout_s=0.5)
    assert time.monotonic() - t0 < 10  # stopped, not waited for (60 s)
    assert info.value.path == "x.nwb" and info.value.fmt == "NWB"
    assert run_limited(readers.sleep, 0.01, timeout_s=5) == "woke"  # under the limit


def test_a_reader_that_allocates_past_the_limit_gets_a_format_error():
    with pytest.raises(FormatError, match=r"more than the 0\.25 GiB memory limit"):
        run_limited(
            readers.allocate, 1 << 30, path="x.mat", fmt="MAT", memory_bytes=1 << 28
        )
    # the same allocation under a large enough limit works, and the parent is unharmed
    assert run_limited(readers.allocate, 1 << 20, memory_bytes=1 << 28) == 1 << 20
    assert readers.allocate(1 << 24) == 1 << 24


def test_a_crashing_reader_is_named_by_its_signal():
    with pytest.raises(FormatError, match="killed by signal SIGSEGV") as info:
        run_limited(readers.crash, path="bad.h5", fmt="HDF5")
    assert "bad.h5" in str(info.value)


def test_validation_errors_pass_through_and_others_become_format_errors():
    with pytest.raises(ShapeError, match="must be 2-D"):
        run_limited(readers.shape_error)
    with pytest.raises(
        FormatError, match=r"cannot read 'f\.nwb' as NWB: KeyError"
    ) as info:
        run_limited(readers.key_error, path="f.nwb", fmt="NWB")
    assert isinstance(info.value.__cause__, ChildError)
    assert "no such dataset" in str(info.value.__cause__)

    with pytest.raises(FormatError, match="inner") as info:
        run_limited(readers.format_error)
    assert (info.value.path, info.value.fmt) == ("p", "MAT")


def test_object_arrays_cannot_come_back():
    with pytest.raises(FormatError, match="refused dtype"):
        run_limited(readers.objects)


def test_a_forged_answer_cannot_make_objects_in_the_parent():
    # a child subverted by a crafted file could write any answer: the parent maps
    # bytes to arrays only for plain dtypes, and checks every length
    good = bytearray(b"".join(bytes(p) for p in _encode({"ok": 1}, [np.arange(3)])))
    head, arrays = _decode(good)
    assert head == {"ok": 1} and arrays[0].tolist() == [0, 1, 2]
    for descr in ("|O", "<M8[s]", "(2,)<f8", "[('a', '|O')]", 7):
        blob = _forge({"ok": 1, "arrays": [[descr, [1]]]}, bytes(8))
        with pytest.raises((ValueError, TypeError)):
            _decode(blob)
    with pytest.raises(ValueError, match="shorter"):
        _decode(_forge({"ok": 1, "arrays": [["<f8", [10]]]}, bytes(8)))
    with pytest.raises(ValueError, match="longer"):
        _decode(_forge({"ok": 1, "arrays": []}, bytes(8)))
    with pytest.raises(ValueError, match="bad shape"):
        _decode(_forge({"ok": 1, "arrays": [["<f8", [-1]]]}, bytes(8)))


def _forge(head, tail: bytes) -> bytearray:
    text = json.dumps(head).encode()
    return bytearray(_MAGIC + _LEN.pack(len(text)) + text + tail)


def test_a_descriptor_reaches_the_child():
    # an in-memory decrypted file is handed over as a descriptor (PassFd)
    fd = os.memfd_create("neurodl-test")
    try:
        os.write(fd, b"in memory only")
        assert run_limited(readers.read_fd, PassFd(fd)) == "in memory only"
    finally:
        os.close(fd)


def test_blas_threads_in_the_caller_do_not_deadlock():
    # forking the caller while other threads are inside OpenBLAS hangs their BLAS
    # calls for good (numpy's OpenBLAS 0.3.31); the fork server has no such threads
    stop = threading.Event()

    def busy():
        a = np.random.default_rng(0).random((60, 60))
        while not stop.is_set():
            np.linalg.svd(a)

    threads = [threading.Thread(target=busy, daemon=True) for _ in range(2)]
    for t in threads:
        t.start()
    try:
        for _ in range(10):
            assert run_limited(readers.arange, 5)[-1] == 4
    finally:
        stop.set()
        for t in threads:
            t.join(20)
    assert not any(t.is_alive() for t in threads), "BLAS calls hung after the reads"


def test_limits_from_arguments_and_environment(monkeypatch):
    monkeypatch.setenv("NEURODL_READ_TIMEOUT_S", "7")
    monkeypatch.setenv("NEURODL_READ_MEMORY_MB", "512")
    assert resolve_limits() == (7.0, 512 << 20)
    assert resolve_limits(1.5, 1000) == (1.5, 1000)
    monkeypatch.setenv("NEURODL_READ_TIMEOUT_S", "soon")
    with pytest.raises(ValidationError, match="NEURODL_READ_TIMEOUT_S"):
        resolve_limits()
    with pytest.raises(ValidationError, match="'timeout_s' must be a number > 0"):
        resolve_limits(0, 1)
    with pytest.raises(ValidationError, match="'memory_bytes'"):
        resolve_limits(1, -5)


def test_the_server_kills_a_hung_reader_if_the_caller_is_gone():
    # the caller waits 0.3 s; the server kills the reader 5 s after that even
    # without the caller (here: the caller's own kill is skipped)
    import neurodl._sandbox as sb

    server = sb._server()
    r, w = os.pipe()
    try:
        pid = server.start(readers.sleep, (60,), 1 << 28, 0.3, w)
        os.close(w)
        t0 = time.monotonic()
        assert server.status(20.0) == -9  # SIGKILL, from the server
        assert 5.0 <= time.monotonic() - t0 < 15.0
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    finally:
        os.close(r)
