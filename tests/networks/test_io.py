import pytest
import torch
from safetensors.torch import save_file

from neurodl.errors import ModelFileError
from neurodl.networks import FeedForward
from neurodl.networks.io import load, save


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_round_trip(tmp_path, dtype):
    net = FeedForward((5, 7, 3), "gelu", "softmax", seed=4, dtype=dtype)
    path = save(net, tmp_path / "m.safetensors")
    back = load(path)
    assert back.config() == net.config()
    x = torch.randn(4, 5, dtype=dtype)
    assert torch.equal(back(x), net(x))
    for (na, pa), (nb, pb) in zip(
        net.named_parameters(), back.named_parameters(), strict=True
    ):
        assert na == nb and torch.equal(pa, pb)


def test_file_has_no_pickle(tmp_path):
    path = save(FeedForward((2, 3, 1)), tmp_path / "m.safetensors")
    raw = path.read_bytes()
    assert b"\x80\x04" not in raw[:16]  # no pickle protocol header
    assert b'"neurodl"' in raw[:4096]  # JSON config in the safetensors header


def test_corrupted_file(tmp_path):
    path = save(FeedForward((2, 3, 1)), tmp_path / "m.safetensors")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(
        ModelFileError, match=r"not a readable neurodl\.FeedForward file"
    ):
        load(path)
    path.write_bytes(b"garbage" * 10)
    with pytest.raises(ModelFileError, match="corrupted"):
        load(path)


def test_foreign_safetensors_file(tmp_path):
    path = tmp_path / "other.safetensors"
    save_file({"weight": torch.zeros(2, 2)}, str(path))
    with pytest.raises(ModelFileError, match="not written by neurodl"):
        load(path)


def test_missing_file(tmp_path):
    with pytest.raises(ModelFileError, match="does not exist"):
        load(tmp_path / "nope.safetensors")


def test_tensors_that_do_not_match_the_config(tmp_path):
    from neurodl._io import read_tensors, write_tensors

    path = save(FeedForward((2, 3, 1)), tmp_path / "m.safetensors")
    tensors, meta = read_tensors(path, kind="neurodl.FeedForward")
    tensors["layers.0.W"] = torch.zeros(2, 4)
    write_tensors(path, tensors, meta)
    with pytest.raises(ModelFileError, match="do not match the config"):
        load(path)
