"""Fuzzed loaders, sandboxed readers: MATLAB v5 and v7.3, NWB.

:func:`~neurodl.data.formats.read_mat` and :func:`~neurodl.data.formats.read_nwb`
read in a child of the reader server (:mod:`neurodl._sandbox`) under a time and
memory limit (here 10 s and 1 GiB), so each example costs a request and a fork of
the server (about 9 ms on this 2-core machine) on top of the reader (pynwb: about
30 ms for the seed). 300 mutants per format in the default suite (about 30 s for
the file), 3000 under ``slow``. The oracle is the one of ``test_fuzz_loaders.py``:
a file loads or raises one :class:`~neurodl.errors.FormatError` naming the file and
the format; a reader that hangs, crashes or runs out of memory in the child must
come back as that error too.
"""

from __future__ import annotations

import functools
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import strategies as st

from neurodl.data.formats import read_mat, read_nwb
from tests.privacy import seeds
from tests.privacy.fuzzing import fuzz, outcome
from tests.privacy.mutate import hdf5_fields, mat5_fields, mutated

FAST, SLOW = 300, 3000
LIMITS = {"timeout_s": 10.0, "memory_bytes": 1 << 30}


@pytest.fixture(scope="module")
def folder():
    d = Path(tempfile.mkdtemp(prefix="neurodl-fuzz-"))
    yield d
    shutil.rmtree(d, ignore_errors=True)


@functools.cache
def _seed(kind: str) -> bytes:
    d = Path(tempfile.mkdtemp())
    try:
        make = {
            "mat5": lambda: seeds.mat5(d),
            "mat5z": lambda: seeds.mat5(d, "z.mat", compress=True),
            "mat73": lambda: seeds.mat73(d),
            "nwb": lambda: seeds.nwb(d),
        }[kind]
        return make().read_bytes()
    finally:
        shutil.rmtree(d)


def _run(folder, name, mutants, read, n):
    path = folder / name

    def check(blob: bytes) -> str:
        path.write_bytes(blob)
        return outcome(read, path, seconds=30.0)  # the child's own limit is 10 s

    seen = fuzz(mutants, check, n)
    assert sum(seen.values()) >= n, seen
    assert seen["FormatError"] > 0 and seen["ok"] > 0, seen  # both outcomes reached
    print(dict(seen))  # shown with -s
    return seen


def _mat(path: Path) -> None:
    got = read_mat(path, **LIMITS)
    for a in got.arrays.values():
        # in memory: plain numbers, or text (a mutated class word can turn a
        # numeric variable into a char one, which MatContents.arrays holds too)
        assert a.dtype.kind in "biufcUS", a.dtype
        a.tobytes() if a.dtype.kind in "US" else a.sum()


SPEED = [FAST, pytest.param(SLOW, marks=pytest.mark.slow)]


@pytest.mark.parametrize("n", SPEED, ids=["fast", "slow"])
def test_mat_v5_mutants_load_or_raise_format_error(folder, n):
    # plain and zlib-compressed variables, every element's type and size words
    plain, packed = _seed("mat5"), _seed("mat5z")
    mutants = st.one_of(
        mutated(plain, mat5_fields(plain), header=256),
        mutated(packed, mat5_fields(packed), header=256),
    )
    _run(folder, "fuzz.mat", mutants, _mat, n)


@pytest.mark.parametrize("n", SPEED, ids=["fast", "slow"])
def test_mat_v73_mutants_load_or_raise_format_error(folder, n):
    seed = _seed("mat73")
    # the superblock after the 512-byte MATLAB header, and the object headers
    mutants = mutated(seed, hdf5_fields(userblock=512), header=2048)
    _run(folder, "fuzz73.mat", mutants, _mat, n)


def _nwb(path: Path) -> None:
    got = read_nwb(path, series=["vel"], **LIMITS)
    for t in got.spike_times:
        t.sum()


@pytest.mark.parametrize("n", SPEED, ids=["fast", "slow"])
def test_nwb_mutants_load_or_raise_format_error(folder, n):
    seed = _seed("nwb")
    mutants = mutated(seed, hdf5_fields(), header=4096)
    _run(folder, "fuzz.nwb", mutants, _nwb, n)
