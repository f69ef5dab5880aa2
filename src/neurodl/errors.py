"""Exceptions raised by neurodl.

Every error that a user can cause derives from :class:`NeurodlError`, so a caller
(and the command line) can catch them all at once::

    NeurodlError
    ├── ValidationError (also ValueError)  - a parameter breaks a rule
    │   ├── ShapeError                       - array shapes do not fit
    │   ├── NonFiniteError                   - NaN or infinity in the input
    │   └── DataFileError                    - a data file is missing, truncated,
    │                                          unreadable or fails its checksum
    ├── ModelFileError (also ValueError)    - a model/checkpoint file is unreadable
    ├── FormatError (a DataFileError and a ModelFileError) - a file's bytes are
    │                                          malformed: every loader turns a
    │                                          broken or hostile file into this
    ├── DecryptionError (also ValueError)   - wrong key, or an altered encrypted file
    └── TrainingDivergedError (also RuntimeError) - the loss became NaN or infinite

Messages say what was wrong, what is allowed and what was received.
"""

from __future__ import annotations

__all__ = [
    "DataFileError",
    "DecryptionError",
    "FormatError",
    "ModelFileError",
    "NeurodlError",
    "NonFiniteError",
    "ShapeError",
    "TrainingDivergedError",
    "ValidationError",
]


class NeurodlError(Exception):
    """Base class of every error neurodl raises on purpose."""


class ValidationError(NeurodlError, ValueError):
    """A parameter or input breaks a documented rule."""


class ShapeError(ValidationError):
    """Array shapes do not fit together; the message names both shapes."""


class NonFiniteError(ValidationError):
    """An input holds NaN or infinite values."""


class DataFileError(ValidationError):
    """A recording is missing, truncated, unreadable or fails its checksum."""


class DecryptionError(NeurodlError, ValueError):
    """An encrypted file cannot be opened: wrong key, or altered, cut or extended."""


class ModelFileError(NeurodlError, ValueError):
    """A model or checkpoint file is missing, corrupted or not written by neurodl."""


class FormatError(DataFileError, ModelFileError):
    """A file is malformed: truncated, mutated, crafted or not the format it claims.

    Every loader (EDF/BDF, FIF, BrainVision, NIfTI, .mat, NWB, safetensors and
    neurodl's own files) raises this, and only this, for bad bytes; the message
    names the file, the format and what is wrong, and the underlying exception is
    chained as ``__cause__``. It is both a :class:`DataFileError` and a
    :class:`ModelFileError`, so code that catches either still catches it.

    Attributes
    ----------
    path : str or None
        The file that could not be read.
    fmt : str or None
        The format it was read as ("EDF", "NIfTI", "NWB", ...).
    """

    def __init__(self, message: str, *, path: object = None, fmt: str | None = None):
        super().__init__(message)
        self.path = None if path is None else str(path)
        self.fmt = fmt


class TrainingDivergedError(NeurodlError, RuntimeError):
    """The training loss became NaN or infinite.

    Attributes
    ----------
    epoch : int
        The epoch (1-based) in which the loss stopped being finite.
    checkpoint : str or None
        Path of the last good checkpoint, if checkpoints were written.
    """

    def __init__(self, message: str, epoch: int, checkpoint: str | None = None):
        super().__init__(message)
        self.epoch = epoch
        self.checkpoint = checkpoint
