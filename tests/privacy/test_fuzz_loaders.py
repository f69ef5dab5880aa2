"""Fuzzed loaders, in-process readers: EDF, BDF, FIF, BrainVision, NIfTI, model files.

Each format gets 300 mutated or truncated files in the default suite (3000 under
``slow``), made from a small valid seed written here: byte flips, edits of the
header fields that declare sizes, counts, types and scaling, truncations, inserted
and deleted bytes, appended garbage (:mod:`tests.privacy.mutate`). The oracle
(:func:`tests.privacy.fuzzing.outcome`): every file loads or raises one
:class:`~neurodl.errors.FormatError` naming the file and the format; nothing else
escapes, nothing hangs past 10 s or allocates past 2 GiB. Each run must see both
outcomes, so the mutations reach the readers' checks and also leave files that
still load. The sandboxed HDF5 and MATLAB readers are in ``test_fuzz_hdf5.py``.
"""

from __future__ import annotations

import functools
import shutil
import struct
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import strategies as st

from neurodl.data.rawfile import read_raw
from neurodl.errors import FormatError, ModelFileError
from neurodl.imaging.nifti import load_img
from tests.privacy import seeds
from tests.privacy.fuzzing import fuzz, outcome
from tests.privacy.mutate import (
    edf_fields,
    fif_fields,
    mutated,
    nifti_fields,
    safetensors_fields,
)

# MNE leaves a file handle to the garbage collector when it fails on some bad files
pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")

FAST, SLOW = 300, 3000
REPRO = Path(__file__).resolve().parents[1] / "reference" / "edfio_indexerror_repro.edf"


@pytest.fixture(scope="module")
def folder():
    d = Path(tempfile.mkdtemp(prefix="neurodl-fuzz-"))
    yield d
    shutil.rmtree(d, ignore_errors=True)


def _eeg(path: Path) -> None:
    raw = read_raw(path)
    assert raw.get_data().shape[0] == len(raw.ch_names)  # the data is really there
    list(raw.annotations)


def _file_check(folder: Path, name: str, read):
    """Write each mutant to ``folder/name`` and run the oracle on it."""
    path = folder / name

    def check(blob: bytes) -> str:
        path.write_bytes(blob)
        return outcome(read, path)

    return check


def _run(mutants, check, n):
    seen = fuzz(mutants, check, n)
    assert sum(seen.values()) >= n, seen
    assert seen["FormatError"] > 0 and seen["ok"] > 0, seen  # both outcomes reached
    print(dict(seen))  # shown with -s: how many loaded, how many were refused
    return seen


# ------------------------------------------------------------------- EDF/BDF
@functools.cache
def _edf_seed(kind: str) -> bytes:
    d = Path(tempfile.mkdtemp())
    try:
        return (seeds.edf(d) if kind == "edf" else seeds.bdf(d)).read_bytes()
    finally:
        shutil.rmtree(d)


@pytest.mark.parametrize(
    "n", [FAST, pytest.param(SLOW, marks=pytest.mark.slow)], ids=["fast", "slow"]
)
@pytest.mark.parametrize("kind", ["edf", "bdf"])
def test_edf_bdf_mutants_load_or_raise_format_error(folder, kind, n):
    seed = _edf_seed(kind)
    mutants = mutated(seed, edf_fields(seed), header=256 * 4)
    _run(mutants, _file_check(folder, f"fuzz.{kind}", _eeg), n)


def test_the_edfio_crash_file_is_a_format_error():
    # a 478-byte EDF whose header declares a 512-byte header (1 signal) and is cut
    # inside it: edfio 0.4.18 raises IndexError on it (shared notes, PRIVACY.md §6)
    assert REPRO.stat().st_size == 478
    with pytest.raises(FormatError, match=r"truncated inside its header") as info:
        read_raw(REPRO)
    assert info.value.fmt == "EDF" and info.value.path == str(REPRO)
    edfio = pytest.importorskip("edfio")
    with pytest.raises(IndexError):  # still a crash in edfio itself
        edfio.read_edf(REPRO)


# ------------------------------------------------------------------------ FIF
@pytest.mark.parametrize(
    "n", [FAST, pytest.param(SLOW, marks=pytest.mark.slow)], ids=["fast", "slow"]
)
def test_fif_mutants_load_or_raise_format_error(folder, n):
    d = Path(tempfile.mkdtemp())
    seed = seeds.fif(d).read_bytes()
    shutil.rmtree(d)
    mutants = mutated(seed, fif_fields(seed), header=len(seed))
    _run(mutants, _file_check(folder, "fuzz_raw.fif", _eeg), n)


# ---------------------------------------------------------------- BrainVision
@st.composite
def _brainvision_mutants(draw):
    parts = seeds.brainvision_parts("fuzz")
    which = draw(st.sampled_from(sorted(parts)))
    blob = parts[which]
    if which.endswith((".vhdr", ".vmrk")) and draw(st.booleans()):
        # edit one "key=value" line's value: counts, intervals, formats, names
        lines = blob.split(b"\n")
        i = draw(st.sampled_from([k for k, ln in enumerate(lines) if b"=" in ln]))
        k, _ = lines[i].split(b"=", 1)
        value = draw(
            st.one_of(
                st.sampled_from(
                    [
                        b"0",
                        b"-1",
                        b"99999999",
                        b"1e308",
                        b"nan",
                        b"",
                        b"x",
                        b"INT_32",
                        b"IEEE_FLOAT_32",
                        b"VECTORIZED",
                        b"ASCII",
                        b"../../etc/passwd",
                    ]
                ),
                st.binary(max_size=12),
            )
        )
        lines[i] = k + b"=" + value
        blob = b"\n".join(lines)
    else:
        blob = draw(mutated(blob, header=len(blob)))
    return {**parts, which: blob}


@pytest.mark.parametrize(
    "n", [FAST, pytest.param(SLOW, marks=pytest.mark.slow)], ids=["fast", "slow"]
)
def test_brainvision_mutants_load_or_raise_format_error(folder, n):
    def check(parts):
        for name, blob in parts.items():
            (folder / name).write_bytes(blob)
        return outcome(_eeg, folder / "fuzz.vhdr")

    _run(_brainvision_mutants(), check, n)


# ---------------------------------------------------------------------- NIfTI
@functools.cache
def _nifti_seed() -> bytes:
    d = Path(tempfile.mkdtemp())
    try:
        return seeds.nifti(d).read_bytes()
    finally:
        shutil.rmtree(d)


def _nifti(path: Path) -> None:
    img = load_img(path)
    data = np.asanyarray(img.dataobj)  # the data must be readable once loaded
    assert data.shape == img.shape


@pytest.mark.parametrize(
    "n", [FAST, pytest.param(SLOW, marks=pytest.mark.slow)], ids=["fast", "slow"]
)
def test_nifti_mutants_load_or_raise_format_error(folder, n):
    import gzip

    seed = _nifti_seed()
    # the same header mutations, written plain (.nii) or compressed (.nii.gz);
    # a compressed file is sometimes mutated after compression as well
    mutants = st.tuples(
        mutated(seed, nifti_fields(), header=352),
        st.sampled_from(["nii", "gz", "gz-raw"]),
        st.data(),
    )

    def check(m):
        blob, how, data = m
        if how == "nii":
            path = folder / "fuzz.nii"
            path.write_bytes(blob)
        else:
            path = folder / "fuzz.nii.gz"
            packed = gzip.compress(blob, mtime=0)
            if how == "gz-raw":
                packed = data.draw(mutated(packed, header=len(packed)))
            path.write_bytes(packed)
        return outcome(_nifti, path)

    _run(mutants, check, n)


# ----------------------------------------------------- safetensors model files
@functools.cache
def _model_seed() -> bytes:
    d = Path(tempfile.mkdtemp())
    try:
        return seeds.model(d).read_bytes()
    finally:
        shutil.rmtree(d)


def _model(path: Path) -> None:
    from neurodl.networks.io import load

    try:
        net = load(path)
    except ModelFileError as exc:
        if isinstance(exc, FormatError):
            raise
        # well-formed bytes that are another kind of file, or a network whose
        # config and tensors disagree: the documented ModelFileError, counted apart
        raise _WrongKind(str(exc)) from exc
    net(torch.zeros(1, 4))


class _WrongKind(Exception):
    pass


@pytest.mark.parametrize(
    "n", [FAST, pytest.param(SLOW, marks=pytest.mark.slow)], ids=["fast", "slow"]
)
def test_model_file_mutants_load_or_raise_format_error(folder, n):
    seed = _model_seed()
    (length,) = struct.unpack("<Q", seed[:8])
    mutants = mutated(seed, safetensors_fields(seed), header=8 + length)
    path = folder / "fuzz.safetensors"

    def check(blob: bytes) -> str:
        path.write_bytes(blob)
        try:
            return outcome(_model, path)
        except _WrongKind:
            return "ModelFileError (kind or config)"

    seen = _run(mutants, check, n)
    # the JSON header's numbers and the length word are where most mutations land
    assert seen["FormatError"] > seen["ModelFileError (kind or config)"], seen
