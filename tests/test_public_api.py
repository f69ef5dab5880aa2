"""Every subpackage's __all__ names exactly its public, importable objects."""

import importlib

import pytest

PACKAGES = [
    "neurodl",
    "neurodl.neurons",
    "neurodl.networks",
    "neurodl.simulate",
    "neurodl.models",
    "neurodl.jobs",
    "neurodl.learning",
    "neurodl.data",
    "neurodl.decode",
    "neurodl.bci",
    "neurodl.compare",
    "neurodl.imaging",
    "neurodl.tasks",
    "neurodl.errors",
    "neurodl.privacy",
    "neurodl.privacy.deid",
]


@pytest.mark.parametrize("name", PACKAGES)
def test_all_is_honest(name):
    mod = importlib.import_module(name)
    exported = set(mod.__all__)
    for item in exported:
        assert hasattr(mod, item), f"{name}.__all__ lists missing {item!r}"
    public = {
        k
        for k, v in vars(mod).items()
        if not k.startswith("_")
        and not isinstance(v, type(importlib))
        and getattr(v, "__module__", name).startswith("neurodl")
        and k not in {"annotations"}
    }
    assert public <= exported | {"annotations"}, public - exported
