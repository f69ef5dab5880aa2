"""Data: teaching datasets and bundled real recordings (with provenance and licence).

Recordings ship inside the package with checksums (:mod:`neurodl.data.registry`);
nothing is downloaded at run time. EEG comes in through MNE
(:func:`~neurodl.data.eeg.load_eeg`).
"""

from neurodl.data.datasets import Split as Split
from neurodl.data.datasets import load_digits as load_digits
from neurodl.data.datasets import xor as xor
from neurodl.data.eeg import EEGMMIDB_RUNS as EEGMMIDB_RUNS
from neurodl.data.eeg import EEGEpochs as EEGEpochs
from neurodl.data.eeg import eegmmidb_events as eegmmidb_events
from neurodl.data.eeg import load_eeg as load_eeg
from neurodl.data.images import MNIST_SPLITS as MNIST_SPLITS
from neurodl.data.images import load_mnist as load_mnist
from neurodl.data.images import load_mnist1d as load_mnist1d
from neurodl.data.registry import DATASETS as DATASETS
from neurodl.data.registry import DatasetInfo as DatasetInfo
from neurodl.data.registry import dataset_file as dataset_file
from neurodl.data.spikes import SpikeData as SpikeData
from neurodl.data.spikes import load_spikes as load_spikes

__all__ = [
    "DATASETS",
    "EEGMMIDB_RUNS",
    "MNIST_SPLITS",
    "DatasetInfo",
    "EEGEpochs",
    "SpikeData",
    "Split",
    "dataset_file",
    "eegmmidb_events",
    "load_digits",
    "load_eeg",
    "load_mnist",
    "load_mnist1d",
    "load_spikes",
    "xor",
]
