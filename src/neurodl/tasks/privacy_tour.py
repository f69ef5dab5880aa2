"""The tour's privacy chapter: de-identify real EEG, check it, encrypt it.

The bundled PhysioNet eegmmidb runs of subject S001 keep their real 2009 recording
date and the ``BCI2000`` equipment field in their EDF headers. The chapter runs
:func:`neurodl.privacy.deid.deidentify` on them (mapping and report in a folder apart
from the output), checks that the samples and the annotations came through
unchanged and that no header holds the date, then seals the de-identified folder
with :func:`neurodl.privacy.encrypt_path` and opens it again.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

__all__ = ["privacy_summary"]


def privacy_summary(out: Path) -> dict[str, Any]:
    """De-identify and encrypt the bundled S001 runs under ``out``; the figures."""
    import edfio
    import numpy as np

    from neurodl.data.registry import dataset_dir
    from neurodl.privacy import decrypt_path, encrypt_path, generate_key_file
    from neurodl.privacy import read_key_file as read_key
    from neurodl.privacy.deid import deidentify, read_mapping

    source = dataset_dir("eegmmidb")
    runs = sorted(source.glob("S001R*.edf"))
    work, keep = out / "privacy" / "deidentified", out / "privacy" / "kept_apart"
    for folder in (work, keep, out / "privacy" / "opened"):
        shutil.rmtree(folder, ignore_errors=True)
    keep.mkdir(parents=True)
    generate_key_file(keep / "lab.key")
    key = read_key(keep / "lab.key")
    staged = out / "privacy" / "S001"  # the runs alone, without the licence files
    shutil.rmtree(staged, ignore_errors=True)
    staged.mkdir(parents=True)
    for f in runs:
        shutil.copyfile(f, staged / f.name)
    t0 = time.perf_counter()
    report = deidentify(
        staged, work, mapping=keep / "mapping.enc", report=keep / "report.json", key=key
    )
    deid_s = time.perf_counter() - t0
    shutil.rmtree(staged)
    mapping = read_mapping(keep / "mapping.enc", key=key)
    pseudo = str(mapping["S001"]["pseudonym"])
    equal_samples = equal_annotations = no_date = True
    for f in runs:
        a = edfio.read_edf(f)
        new = work / f.name.replace("S001", pseudo)
        b = edfio.read_edf(new)
        equal_samples &= all(
            np.array_equal(x.digital, y.digital)
            for x, y in zip(a.signals, b.signals, strict=True)
        )
        equal_annotations &= [(n.onset, n.duration, n.text) for n in a.annotations] == [
            (n.onset, n.duration, n.text) for n in b.annotations
        ]
        head = new.read_bytes()[:256]
        no_date &= b"2009" not in head and head[168:176] == b"01.01.85"
    first = report.files[0]
    changes = [[c.field, c.action, c.new or ""] for c in first.changes[:6]]
    t0 = time.perf_counter()
    encrypt_path(work, out / "privacy" / "deidentified.enc", key=key)
    decrypt_path(
        out / "privacy" / "deidentified.enc", out / "privacy" / "opened", key=key
    )
    crypt_s = time.perf_counter() - t0
    same = all(
        (out / "privacy" / "opened" / p.relative_to(work)).read_bytes()
        == p.read_bytes()
        for p in work.rglob("*")
        if p.is_file()
    )
    scans = (work / "scans.tsv").read_text().splitlines()[1].split("\t")
    size = sum(p.stat().st_size for p in work.rglob("*") if p.is_file())
    return {
        "files": len(runs),
        "fields_changed": report.changes,
        "shifted_start": scans[2],
        "samples_bitwise_equal": bool(equal_samples),
        "annotations_unchanged": bool(equal_annotations),
        "headers_without_date": bool(no_date),
        "deid_seconds": round(deid_s, 3),
        "encrypt_decrypt_seconds": round(crypt_s, 3),
        "encrypted_mib": round(size / 2**20, 1),
        "round_trip_equal": same,
        "example_changes": changes,
        "example_file": first.output,
    }
