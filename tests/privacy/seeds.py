"""Small valid files of every format a neurodl loader reads, built in memory.

Seeds for the fuzz tests (:mod:`tests.privacy.test_fuzz_loaders`) and the
encrypted-input tests. Each builder writes into ``folder`` and returns the path.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np

RNG = np.random.default_rng(12)


def _edf_like(bdf: bool, path: Path, annotations: bool) -> Path:
    """Two 16-Hz EEG signals, 4 one-second records (EDF, or 24-bit BDF)."""
    import edfio

    signal, recording = (
        (edfio.BdfSignal, edfio.Bdf) if bdf else (edfio.EdfSignal, edfio.Edf)
    )
    signals = [
        signal(
            RNG.normal(0, 20, 64),
            sampling_frequency=16,
            label=f"EEG C{i}",
            physical_dimension="uV",
            physical_range=(-200, 200),
        )
        for i in (3, 4)
    ]
    extra = {}
    if annotations:
        extra["annotations"] = [
            edfio.EdfAnnotation(0.5, 1.0, "T1"),
            edfio.EdfAnnotation(2.0, 1.0, "T2"),
        ]
    recording(
        signals,
        recording=edfio.Recording(startdate=dt.date(2009, 8, 12)),
        starttime=dt.time(10, 0),
        **extra,
    ).write(path)
    return path


def edf(folder: Path, name: str = "seed.edf") -> Path:
    """Two 16-Hz EEG signals, 4 one-second records, two annotations."""
    return _edf_like(False, folder / name, annotations=True)


def bdf(folder: Path, name: str = "seed.bdf") -> Path:
    """The EDF seed's signals as 24-bit BDF."""
    return _edf_like(True, folder / name, annotations=False)


def fif(folder: Path, name: str = "seed_raw.fif") -> Path:
    """Two EEG channels, 64 samples at 16 Hz, one annotation."""
    import mne

    info = mne.create_info(["C3", "C4"], 16.0, "eeg")
    raw = mne.io.RawArray(RNG.normal(0, 2e-5, (2, 64)), info, verbose="error")
    raw.set_annotations(mne.Annotations([0.5], [1.0], ["T1"]))
    path = folder / name
    raw.save(path, verbose="error")
    return path


VHDR = """Brain Vision Data Exchange Header File Version 1.0

[Common Infos]
Codepage=UTF-8
DataFile={stem}.eeg
MarkerFile={stem}.vmrk
DataFormat=BINARY
DataOrientation=MULTIPLEXED
NumberOfChannels=2
SamplingInterval=62500

[Binary Infos]
BinaryFormat=INT_16

[Channel Infos]
Ch1=C3,,0.1,uV
Ch2=C4,,0.1,uV
"""

VMRK = """Brain Vision Data Exchange Marker File Version 1.0

[Common Infos]
Codepage=UTF-8
DataFile={stem}.eeg

[Marker Infos]
Mk1=New Segment,,1,1,0,20090812100000000000
Mk2=Stimulus,S  1,8,1,0
"""


def brainvision_parts(stem: str = "seed") -> dict[str, bytes]:
    """The three files of a 2-channel, 64-sample BrainVision recording."""
    data = RNG.integers(-200, 200, (64, 2)).astype("<i2").tobytes()
    return {
        f"{stem}.vhdr": VHDR.format(stem=stem).encode(),
        f"{stem}.vmrk": VMRK.format(stem=stem).encode(),
        f"{stem}.eeg": data,
    }


def brainvision(folder: Path, stem: str = "seed") -> Path:
    """Write :func:`brainvision_parts`; return the ``.vhdr``."""
    for name, blob in brainvision_parts(stem).items():
        (folder / name).write_bytes(blob)
    return folder / f"{stem}.vhdr"


def nifti(folder: Path, name: str = "seed.nii") -> Path:
    """A 4x4x3 int16 image with scaling (``.nii`` or ``.nii.gz`` by name)."""
    import nibabel as nib

    img = nib.Nifti1Image(
        np.arange(48, dtype=np.int16).reshape(4, 4, 3), np.diag([2, 2, 3, 1])
    )
    img.header.set_slope_inter(0.5, 1.0)
    path = folder / name
    nib.save(img, path)
    return path


def spikes_arrays() -> dict[str, np.ndarray]:
    """20 bins x 3 units of counts, a 2-D velocity and a 50-ms time vector."""
    return {
        "spikes": RNG.poisson(2.0, (20, 3)).astype(np.float64),
        "vel": RNG.normal(0, 1, (20, 2)),
        "time": np.arange(20) * 0.05,
    }


def mat5(folder: Path, name: str = "seed.mat", compress: bool = False) -> Path:
    """A MATLAB v5 file of :func:`spikes_arrays` (zlib-compressed if asked)."""
    import scipy.io

    path = folder / name
    scipy.io.savemat(path, spikes_arrays(), do_compression=compress)
    return path


def mat73(folder: Path, name: str = "seed73.mat") -> Path:
    """A MATLAB v7.3 (HDF5) file of :func:`spikes_arrays`, stored as MATLAB does."""
    import h5py

    path = folder / name
    with h5py.File(path, "w", userblock_size=512) as f:
        for key, value in spikes_arrays().items():
            f.create_dataset(key, data=np.atleast_2d(value).T)  # MATLAB: transposed
    with path.open("r+b") as f:
        f.write(
            b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: neurodl tests HDF5"
        )
    return path


def nwb(folder: Path, name: str = "seed.nwb") -> Path:
    """Three units' spike times and a 'vel' TimeSeries, without a cached schema."""
    from pynwb import NWBHDF5IO, NWBFile, TimeSeries

    f = NWBFile(
        session_description="seed",
        identifier="seed",
        session_start_time=dt.datetime(2020, 1, 1, tzinfo=dt.UTC),
    )
    for _ in range(3):
        f.add_unit(spike_times=np.sort(RNG.uniform(0, 2, 15)))
    f.add_acquisition(
        TimeSeries(
            name="vel",
            data=RNG.normal(0, 1, (40, 2)),
            timestamps=np.arange(40) * 0.05,
            unit="m/s",
        )
    )
    path = folder / name
    with NWBHDF5IO(path, "w") as io:
        io.write(f, cache_spec=False)
    return path


def model(folder: Path, name: str = "seed.safetensors") -> Path:
    """A neurodl model file: a 4-3-2 FeedForward network."""
    import torch

    from neurodl.networks.feedforward import FeedForward
    from neurodl.networks.io import save

    torch.manual_seed(0)
    path = folder / name
    save(FeedForward([4, 3, 2]), path)
    return path
