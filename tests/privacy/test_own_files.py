"""neurodl's own model files with broken metadata: one FormatError each (issue 12, §5).

A Diehl & Cook network and an online BCI decoder are saved, then their JSON metadata
is rewritten with every top-level key dropped in turn or set to a wrong type or an
absurd size (``n_exc = 10**12`` must not allocate before the check), and their
tensors dropped in turn. Each load raises ``FormatError`` or, for a file of another
kind, ``ModelFileError``; nothing else escapes. (Malformed bytes in any safetensors
file are fuzzed in ``test_fuzz_loaders.py``.)
"""

import json

import numpy as np
import pytest
from safetensors import safe_open
from safetensors.numpy import save_file

from neurodl.errors import FormatError, ModelFileError

BAD_VALUES = [None, "x", -1, 10**12, [], {}, 1.5]


def _mutants(path, tmp_path):
    with safe_open(str(path), framework="numpy") as f:
        meta = dict(f.metadata())
        tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118
    inner = json.loads(meta["neurodl"])
    out = []

    def write(name, new_inner=None, new_tensors=None):
        p = tmp_path / f"{name}.safetensors"
        m = dict(meta)
        m["neurodl"] = json.dumps(inner if new_inner is None else new_inner)
        save_file(tensors if new_tensors is None else new_tensors, str(p), metadata=m)
        out.append(p)

    for key in inner:
        if key == "kind":
            continue
        write(f"drop-{key}", {k: v for k, v in inner.items() if k != key})
        for i, value in enumerate(BAD_VALUES):
            write(f"bad-{key}-{i}", {**inner, key: value})
    for key in tensors:
        write(
            f"tensor-{key}", new_tensors={k: v for k, v in tensors.items() if k != key}
        )
    return out


def _check(load, paths):
    outcomes = {"loaded": 0, "format": 0, "kind": 0}
    for p in paths:
        try:
            load(p)
            outcomes["loaded"] += 1
        except FormatError as exc:
            assert str(p) in str(exc)
            outcomes["format"] += 1
        except ModelFileError:
            outcomes["kind"] += 1
    assert outcomes["format"] > 0
    return outcomes


def test_diehl_cook_file(tmp_path):
    from neurodl.simulate.diehl_cook import DiehlCook

    path = tmp_path / "dc.safetensors"
    DiehlCook(5, seed=0).save(path)
    _check(DiehlCook.load, _mutants(path, tmp_path))


def test_online_decoder_file(tmp_path):
    from neurodl.bci.decoder import OnlineDecoder, load_online_decoder

    rng = np.random.default_rng(0)
    dec = OnlineDecoder(
        filters=rng.normal(size=(4, 8)),
        coef=rng.normal(size=(1, 4)),
        intercept=np.zeros(1),
        sos=np.array([[1.0, 0.0, 0.0, 1.0, 0.0, 0.0]]),
        classes=["a", "b"],
        ch_names=[f"c{i}" for i in range(8)],
        sfreq=160.0,
        window_samples=160,
        unit="uV",
        band=(8.0, 30.0),
        marker_classes={"T1": "a", "T2": "b"},
    )
    path = dec.save(tmp_path / "dec.safetensors")
    assert load_online_decoder(path).classes == dec.classes
    _check(load_online_decoder, _mutants(path, tmp_path))


@pytest.mark.parametrize("n_exc", [10**12, -3])
def test_diehl_cook_size_is_checked_before_allocating(tmp_path, n_exc):
    from neurodl.simulate.diehl_cook import DiehlCook

    path = tmp_path / "dc.safetensors"
    DiehlCook(5, seed=0).save(path)
    with safe_open(str(path), framework="numpy") as f:
        meta = dict(f.metadata())
        tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118
    inner = json.loads(meta["neurodl"]) | {"n_exc": n_exc}
    save_file(tensors, str(path), metadata={**meta, "neurodl": json.dumps(inner)})
    with pytest.raises(FormatError, match="n_exc"):
        DiehlCook.load(path)
