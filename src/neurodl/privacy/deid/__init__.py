"""De-identification of recordings: ``neurodl deid`` (and :func:`deidentify`).

One run handles a file, a folder or a BIDS dataset in every format neurodl reads
(:data:`FORMATS`): identity fields blanked or replaced, one random date shift per
subject, ages capped at 89+, subject ids replaced by pseudonyms kept in a separate
mapping, free text scrubbed (:mod:`neurodl.privacy.scan`), and a report of every
field changed. Signals, images and event timings are copied untouched, and a second
run over the output changes nothing more.
"""

from neurodl.privacy.deid._core import (
    AGE_CAP,
    SHIFT_WINDOW,
    DeidReport,
    FileReport,
    Refused,
    bids_age,
    iso_age,
)
from neurodl.privacy.deid._run import deidentify, read_mapping

#: The formats :func:`deidentify` rewrites, and the file name endings it reads.
FORMATS: dict[str, tuple[str, ...]] = {
    "EDF": (".edf",),
    "BDF": (".bdf",),
    "FIF": (".fif", ".fif.gz"),
    "BrainVision": (".vhdr",),  # with its .vmrk and .eeg
    "NWB": (".nwb",),
    "NIfTI": (".nii", ".nii.gz"),
    "MAT": (".mat",),
    "JSON": (".json",),  # BIDS sidecars
    "TSV": (".tsv",),  # participants, scans, sessions, events...
}

__all__ = [
    "AGE_CAP",
    "FORMATS",
    "SHIFT_WINDOW",
    "DeidReport",
    "FileReport",
    "Refused",
    "bids_age",
    "deidentify",
    "iso_age",
    "read_mapping",
]
