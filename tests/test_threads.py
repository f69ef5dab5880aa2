import pytest
import torch

from neurodl._threads import SMALL_WORK, resolve_threads, use_threads
from neurodl.errors import ValidationError


def test_auto_uses_one_thread_for_small_work(monkeypatch):
    monkeypatch.delenv("NEURODL_NUM_THREADS", raising=False)
    assert resolve_threads("auto", 13 * 4) == 1
    assert resolve_threads("auto", SMALL_WORK * 10) is None


def test_environment_overrides_auto(monkeypatch):
    monkeypatch.setenv("NEURODL_NUM_THREADS", "2")
    assert resolve_threads("auto", 10) == 2
    monkeypatch.setenv("NEURODL_NUM_THREADS", "two")
    with pytest.raises(ValidationError, match="NEURODL_NUM_THREADS"):
        resolve_threads("auto", 10)


def test_explicit_count_and_restore():
    before = torch.get_num_threads()
    with use_threads(resolve_threads(2, 10)):
        assert torch.get_num_threads() == 2
    assert torch.get_num_threads() == before
    with pytest.raises(ValidationError, match="'threads' must be 'auto'"):
        resolve_threads(0, 10)
