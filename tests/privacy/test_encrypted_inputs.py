"""Loaders read files written by ``neurodl encrypt`` in memory (issue 12, section 3).

For each format (EDF, BDF, FIF, BrainVision, NIfTI .nii and .nii.gz, MATLAB v5 and
v7.3, NWB, neurodl model files) the encrypted file, named as the original plus
``.enc``, loads equal to the plaintext one when a key (or a passphrase) is given; a
wrong key is a DecryptionError, no key a DecryptionError saying one is needed. A
marker planted in the plaintext is never found in any file under the temporary
folder or beside the data, during or after a read: nothing decrypted reaches disk.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch

from neurodl.cli import main
from neurodl.data.eeg import load_eeg
from neurodl.data.rawfile import read_raw
from neurodl.data.registry import dataset_file
from neurodl.data.spikes import load_spikes
from neurodl.errors import DecryptionError, ValidationError
from neurodl.imaging.nifti import load_img
from neurodl.networks.io import load
from neurodl.privacy import encrypt_bytes, encrypt_path
from neurodl.privacy import plaintext as pt
from tests.privacy import seeds

KEY = bytes(range(32))
OTHER = bytes(range(1, 33))


def _encrypt(path: Path, **secret) -> Path:
    """Write ``path``'s encryption beside it as ``path.enc`` and remove ``path``."""
    enc = path.with_name(path.name + ".enc")
    enc.write_bytes(encrypt_bytes(path.read_bytes(), **(secret or {"key": KEY})))
    return enc


def _plain_and_encrypted(tmp_path: Path, make) -> tuple[Path, Path]:
    plain_dir, enc_dir = tmp_path / "plain", tmp_path / "enc"
    plain_dir.mkdir()
    enc_dir.mkdir()
    plain = make(plain_dir)
    for f in plain_dir.iterdir():  # every file of the recording (BrainVision: 3)
        (enc_dir / (f.name + ".enc")).write_bytes(
            encrypt_bytes(f.read_bytes(), key=KEY)
        )
    return plain, enc_dir / (plain.name + ".enc")


EEG = {
    "edf": seeds.edf,
    "bdf": seeds.bdf,
    "fif": seeds.fif,
    "brainvision": seeds.brainvision,
}


@pytest.mark.parametrize("fmt", sorted(EEG))
def test_encrypted_eeg_reads_equal_to_plain(tmp_path, fmt):
    plain, enc = _plain_and_encrypted(tmp_path, EEG[fmt])
    a, b = read_raw(plain), read_raw(enc, key=KEY)
    np.testing.assert_array_equal(a.get_data(), b.get_data())
    assert a.ch_names == b.ch_names and a.info["sfreq"] == b.info["sfreq"]
    assert list(a.annotations.description) == list(b.annotations.description)
    np.testing.assert_array_equal(a.annotations.onset, b.annotations.onset)
    with pytest.raises(DecryptionError, match="authentication failed"):
        read_raw(enc, key=OTHER)
    with pytest.raises(DecryptionError, match="a key is needed"):
        read_raw(enc)


def test_load_eeg_on_an_encrypted_eegmmidb_folder(tmp_path):
    # S001R06/10/14.edf.enc in a folder: the same epochs as the bundled plain files
    for run in (6, 10, 14):
        src = dataset_file("eegmmidb", f"S001R{run:02d}.edf")
        (tmp_path / f"{src.name}.enc").write_bytes(
            encrypt_bytes(src.read_bytes(), key=KEY)
        )
    plain = load_eeg("eegmmidb", runs=(6,), min_trials_per_class=3)
    enc = load_eeg(tmp_path, runs=(6,), key=KEY, min_trials_per_class=3)
    np.testing.assert_array_equal(plain.X, enc.X)
    np.testing.assert_array_equal(plain.y, enc.y)
    assert enc.classes == ("both_feet", "both_fists")  # named from the run's task
    assert enc.info["files"] == ["S001R06.edf"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "S001R06.edf.enc",
        "S001R10.edf.enc",
        "S001R14.edf.enc",
    ]


@pytest.mark.parametrize("name", ["img.nii", "img.nii.gz"])
def test_encrypted_nifti_loads_equal_to_plain(tmp_path, name):
    plain, enc = _plain_and_encrypted(tmp_path, lambda d: seeds.nifti(d, name))
    a, b = load_img(plain), load_img(enc, key=KEY)
    np.testing.assert_array_equal(np.asanyarray(a.dataobj), np.asanyarray(b.dataobj))
    np.testing.assert_array_equal(a.affine, b.affine)
    assert (a.dataobj.slope, a.dataobj.inter) == (b.dataobj.slope, b.dataobj.inter)
    assert (b.dataobj.slope, b.dataobj.inter) == (0.5, 1.0)
    with pytest.raises(DecryptionError, match="authentication failed"):
        load_img(enc, key=OTHER)
    with pytest.raises(DecryptionError, match="a key is needed"):
        load_img(enc)


SPIKES = {
    "mat5": (seeds.mat5, {}),
    "mat73": (seeds.mat73, {}),
    "nwb": (seeds.nwb, {"bin_s": 0.1}),
}


@pytest.mark.parametrize("fmt", sorted(SPIKES))
def test_encrypted_spikes_load_equal_to_plain(tmp_path, fmt):
    make, extra = SPIKES[fmt]
    plain, enc = _plain_and_encrypted(tmp_path, make)
    kw = {"spikes_key": "spikes", "target_key": "vel", **extra}
    a, b = load_spikes(plain, **kw), load_spikes(enc, key=KEY, **kw)
    np.testing.assert_array_equal(a.counts, b.counts)
    np.testing.assert_array_equal(a.target, b.target)
    assert a.bin_s == b.bin_s and a.file_format == b.file_format
    assert a.counts.sum() > 0
    with pytest.raises(DecryptionError, match="authentication failed"):
        load_spikes(enc, key=OTHER, **kw)
    with pytest.raises(DecryptionError, match="a key is needed"):
        load_spikes(enc, **kw)


def test_encrypted_model_file_loads_equal_to_plain(tmp_path):
    plain, enc = _plain_and_encrypted(tmp_path, seeds.model)
    a = dict(load(plain).named_parameters())
    with pt.use_key(key=KEY):  # the key of an enclosing block (the CLI's)
        b = dict(load(enc).named_parameters())
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    with (
        pytest.raises(DecryptionError, match="authentication failed"),
        pt.use_key(key=OTHER),
    ):
        load(enc)
    with pytest.raises(DecryptionError, match="a key is needed"):
        load(enc)


def test_passphrase_and_explicit_key_wins(tmp_path):
    path = seeds.mat5(tmp_path)
    enc = _encrypt(path, passphrase="correct horse")
    kw = {"spikes_key": "spikes", "target_key": "vel"}
    got = load_spikes(enc, passphrase="correct horse", **kw)
    np.testing.assert_array_equal(got.counts, load_spikes(path, **kw).counts)
    with pt.use_key(key=KEY):  # the explicit passphrase is used, not the block's key
        load_spikes(enc, passphrase="correct horse", **kw)
        with pytest.raises(DecryptionError, match="was encrypted with a passphrase"):
            load_spikes(enc, **kw)


def test_an_encrypted_folder_is_refused(tmp_path):
    folder = tmp_path / "rec"
    folder.mkdir()
    seeds.edf(folder, "x.edf")
    enc = encrypt_path(folder, tmp_path / "x.edf.enc", key=KEY)
    with pytest.raises(DecryptionError, match="holds an encrypted folder"):
        read_raw(enc, key=KEY)


def test_use_key_checks_its_arguments():
    with pytest.raises(ValidationError, match="exactly one"), pt.use_key():
        pass
    with pytest.raises(ValidationError, match="32 bytes"), pt.use_key(key=b"short"):
        pass


MARKER = b"PLAINTEXT-MARKER-7f3a"


def _files_holding(root: Path, needle: bytes) -> list[Path]:
    found = []
    for dirpath, _, names in os.walk(root):
        for n in names:
            p = Path(dirpath) / n
            if p.is_symlink() or not p.is_file():
                continue
            try:
                if needle in p.read_bytes():
                    found.append(p)
            except OSError:
                continue
    return found


def test_no_plaintext_reaches_disk(tmp_path, monkeypatch):
    # a private temporary root, so that the scan sees everything a read creates
    tmp_root = tmp_path / "tmp"
    tmp_root.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_root))
    data = tmp_path / "data"
    data.mkdir()
    arrays = seeds.spikes_arrays()
    import scipy.io

    scipy.io.savemat(data / "s.mat", {**arrays, "note": MARKER.decode()})
    src = data / "s.mat"
    enc = _encrypt(src)
    src.unlink()
    assert _files_holding(tmp_path, MARKER) == []
    seen_inside = []
    with pt.plaintext_path(enc, key=KEY) as plain:
        # inside the block: a symlink to an in-memory file, nothing else on disk
        assert plain.is_symlink() and os.readlink(plain).startswith("/proc/self/fd/")
        assert MARKER in plain.read_bytes()
        seen_inside = _files_holding(tmp_path, MARKER)
        entries = sorted(p.name for p in plain.parent.iterdir())
    assert seen_inside == [] and entries == ["s.mat"]
    load_spikes(enc, key=KEY, spikes_key="spikes", target_key="vel")
    assert _files_holding(tmp_path, MARKER) == []
    assert list(tmp_root.iterdir()) == []  # the private folder is gone
    assert [p.name for p in data.iterdir()] == ["s.mat.enc"]


# ------------------------------------------------------------------------- CLI
def _cli(capsys, args):
    with pytest.raises(SystemExit) as info:
        main(args)
    out = capsys.readouterr()
    return info.value.code, out.out, out.err


def test_cli_key_file_reads_encrypted_model(tmp_path, capsys):
    key_file = tmp_path / "k.key"
    key_file.write_bytes(KEY)
    plain = seeds.model(tmp_path)
    enc = _encrypt(plain)
    code, out, err = _cli(capsys, ["--key-file", str(key_file), "info", str(enc)])
    assert code in (0, None), err
    assert "neurodl.FeedForward" in out
    code, _, err = _cli(capsys, ["info", str(enc)])
    assert code == 1 and "a key is needed" in err and "--key-file" in err


def test_cli_passphrase_env_decodes_an_encrypted_mat(tmp_path, capsys, monkeypatch):
    import scipy.io

    rng = np.random.default_rng(0)
    vel = rng.normal(size=(400, 2))
    spikes = rng.poisson(np.exp(0.5 * vel @ rng.normal(size=(2, 6))))
    src = tmp_path / "rec.mat"
    scipy.io.savemat(src, {"spikes": spikes.astype(float), "vel": vel})
    monkeypatch.setenv("NEURODL_TEST_PASS", "correct horse")
    enc = _encrypt(src, passphrase="correct horse")
    args = [
        "--passphrase-env", "NEURODL_TEST_PASS",
        "decode", "spikes", "--data", str(enc), "--spikes-key", "spikes",
        "--target-key", "vel", "--bin-s", "0.05", "--history", "1", "--json",
    ]  # fmt: skip
    code, out, err = _cli(capsys, args)
    assert code in (0, None), err
    assert '"n_units": 6' in out
