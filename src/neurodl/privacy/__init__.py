"""Neural data is personal: de-identification, defacing, encryption, private training.

* :mod:`neurodl.privacy.deid` (``neurodl deid``): :func:`deidentify` rewrites EDF/BDF,
  FIF, BrainVision, NWB, NIfTI, .mat and BIDS sidecars with identity fields blanked,
  one date shift per subject, ages capped at 89+, pseudonyms and scrubbed free text
  (:mod:`neurodl.privacy.scan`), and reports every change.
* :mod:`neurodl.privacy.deface` (``neurodl deface``): removes the face from
  anatomical MRI with quickshear.
* :mod:`neurodl.privacy.crypto` (``neurodl encrypt|decrypt|keygen``): chunked
  AES-256-GCM for any file or folder, keys from a key file or a passphrase.
* :mod:`neurodl.privacy.dp` and :mod:`neurodl.privacy.accounting`: differential
  privacy per subject (DP-SGD with Opacus's accountants); :mod:`neurodl.privacy.audit`
  (``neurodl audit membership``): membership inference against a trained model.

The training and audit names (:func:`dp_fit`, :func:`audit_membership`...) load torch
and Opacus on first use, so ``import neurodl.privacy`` stays light for file readers.
"""

from __future__ import annotations

import importlib
from typing import Any

from neurodl.privacy.crypto import (
    decrypt_bytes,
    decrypt_path,
    encrypt_bytes,
    encrypt_path,
    generate_key_file,
    read_key_file,
)

_LAZY = {
    "deidentify": "neurodl.privacy.deid",
    "read_mapping": "neurodl.privacy.deid",
    "TextScrubber": "neurodl.privacy.scan",
    "deface": "neurodl.privacy.deface",
    "DPConfig": "neurodl.privacy.dp",
    "PrivacyReport": "neurodl.privacy.accounting",
    "SampleLevelPrivacyWarning": "neurodl.privacy.dp",
    "dp_fit": "neurodl.privacy.dp",
    "dp_fit_module": "neurodl.privacy.dp",
    "noise_multiplier_for": "neurodl.privacy.accounting",
    "epsilon_spent": "neurodl.privacy.accounting",
    "audit_membership": "neurodl.privacy.audit",
}

__all__ = [
    "DPConfig",
    "PrivacyReport",
    "SampleLevelPrivacyWarning",
    "TextScrubber",
    "audit_membership",
    "decrypt_bytes",
    "decrypt_path",
    "deface",
    "deidentify",
    "dp_fit",
    "dp_fit_module",
    "encrypt_bytes",
    "encrypt_path",
    "epsilon_spent",
    "generate_key_file",
    "noise_multiplier_for",
    "read_key_file",
    "read_mapping",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'neurodl.privacy' has no attribute {name!r}")
