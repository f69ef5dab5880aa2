import shutil

import pytest

from neurodl.data import registry
from neurodl.data.registry import DATASETS, dataset_file, verify_dataset
from neurodl.errors import DataFileError, ValidationError


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_bundled_files_match_their_checksums(name):
    # the recorded SHA-256 values are PhysioNet's / the upstream repositories'
    assert all(verify_dataset(name).values())
    info = DATASETS[name]
    assert (info.folder / "LICENSE.md").is_file()
    assert (info.folder / "PROVENANCE.md").is_file()
    assert info.citation and info.licence and info.source


def test_unknown_dataset_and_file_are_named():
    with pytest.raises(ValidationError, match=r"'dataset' must be one of .*got 'nope'"):
        dataset_file("nope", "x.edf")
    with pytest.raises(ValidationError, match="'filename' must be one of"):
        dataset_file("eegmmidb", "S001R05.edf")


def test_damaged_file_fails_its_checksum(tmp_path, monkeypatch):
    src = DATASETS["bci_golub"].folder
    dst = tmp_path / "bci_golub"
    shutil.copytree(src, dst)
    data = bytearray((dst / "exampleData.mat").read_bytes())
    data[1000] ^= 0xFF
    (dst / "exampleData.mat").write_bytes(bytes(data))
    monkeypatch.setattr(registry, "BUNDLED", tmp_path)
    monkeypatch.setattr(registry, "_VERIFIED", set())
    with pytest.raises(DataFileError, match="fails its checksum"):
        dataset_file("bci_golub", "exampleData.mat")
    (dst / "exampleData.mat").unlink()
    with pytest.raises(DataFileError, match="is missing"):
        dataset_file("bci_golub", "exampleData.mat")
