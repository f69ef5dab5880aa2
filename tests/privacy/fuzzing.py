"""The fuzzing oracle: a mutated file either loads or raises one FormatError.

:func:`fuzz` runs a reader on ``max_examples`` mutants of a seed (from
:func:`tests.privacy.mutate.mutated`) and counts the outcomes. Any exception other
than :class:`~neurodl.errors.FormatError` fails the test (hypothesis then shrinks
the file to a minimal one), except the :class:`~neurodl.errors.DecryptionError`
saying a key is needed, for a mutant that starts with the encryption magic
(hypothesis finds that constant in the code). So does a FormatError that does not
name the file and a format, or one caused by a ``MemoryError`` (a reader that
allocated what the file declared without checking it against the file size).
In-process readers run under a 10 s alarm and 2 GiB more address space
(``RLIMIT_AS``) than the process holds, so a hang or a memory bomb fails instead
of stalling the machine; the sandboxed readers get their own limits. Warnings are
ignored, as a user would see them (printed, not raised).
"""

from __future__ import annotations

import collections
import contextlib
import gc
import resource
import signal
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from neurodl._sandbox import _address_space
from neurodl.errors import DecryptionError, FormatError
from neurodl.privacy.crypto import MAGIC


class Hang(BaseException):
    """The reader ran past the alarm (a BaseException: no loader may swallow it)."""


@contextlib.contextmanager
def guarded(seconds: float = 10.0, memory: int = 2 << 30) -> Iterator[None]:
    """Alarm after ``seconds``; cap the address space at what is held + ``memory``."""

    def alarm(signum, frame):
        raise Hang(f"the reader ran past {seconds} s")

    old = signal.signal(signal.SIGALRM, alarm)
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = _address_space() + memory
    if hard != resource.RLIM_INFINITY:
        cap = min(cap, hard)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def outcome(read: Callable[[Path], object], path: Path, seconds: float = 10.0) -> str:
    """Run ``read(path)``: ``"ok"`` or ``"FormatError"``; anything else raises."""
    try:
        with guarded(seconds):
            read(path)
    except FormatError as exc:
        assert str(path) in str(exc), f"the error does not name the file: {exc}"
        assert exc.fmt, f"the error does not name a format: {exc}"
        assert not isinstance(exc.__cause__, MemoryError), (
            f"a declared size was allocated without a check: {exc}"
        )
        return "FormatError"
    except DecryptionError as exc:
        # a mutant that starts with the encryption magic claims to be a neurodl
        # encrypted file; without a key the loader says that one is needed
        assert path.read_bytes().startswith(MAGIC), exc
        assert "a key is needed" in str(exc), exc
        return "needs a key"
    return "ok"


def fuzz(
    mutants: st.SearchStrategy,
    check: Callable[[object], str],
    max_examples: int,
) -> collections.Counter:
    """Run ``check`` on ``max_examples`` drawn mutants; return the outcome counts."""
    seen: collections.Counter = collections.Counter()

    @settings(
        max_examples=max_examples,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    @given(mutants)
    def run(mutant):
        seen[check(mutant)] += 1

    run()
    with warnings.catch_warnings():
        # MNE leaves a file handle open when it fails on some bad files; collect
        # them here, where their ResourceWarning is ignored as a user's would be
        # (with the module's filterwarnings mark covering collections before)
        warnings.simplefilter("ignore")
        gc.collect()
    return seen
