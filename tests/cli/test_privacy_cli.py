"""``neurodl keygen`` / ``encrypt`` / ``decrypt`` end to end, and their failures."""

import os

import pytest

from neurodl.cli.main import main


def _run(capsys, args):
    with pytest.raises(SystemExit) as info:
        main(args)
    return info.value.code, capsys.readouterr()


def test_key_file_and_passphrase_round_trips(capsys, tmp_path, monkeypatch):
    data = os.urandom(200_000)
    (tmp_path / "rec.edf").write_bytes(data)
    key = tmp_path / "k.key"
    assert _run(capsys, ["keygen", "--out", str(key)])[0] == 0
    enc, back = tmp_path / "rec.enc", tmp_path / "back.edf"
    code, _ = _run(
        capsys,
        [
            "encrypt",
            str(tmp_path / "rec.edf"),
            "--out",
            str(enc),
            "--key-file",
            str(key),
        ],
    )
    assert code == 0 and data not in enc.read_bytes()
    code, _ = _run(
        capsys, ["decrypt", str(enc), "--out", str(back), "--key-file", str(key)]
    )
    assert code == 0 and back.read_bytes() == data
    monkeypatch.setenv("NEURODL_TEST_PASS", "a long passphrase")
    enc2, back2 = tmp_path / "rec2.enc", tmp_path / "back2.edf"
    pw = ["--passphrase-env", "NEURODL_TEST_PASS"]
    assert (
        _run(capsys, ["encrypt", str(tmp_path / "rec.edf"), "--out", str(enc2), *pw])[0]
        == 0
    )
    assert _run(capsys, ["decrypt", str(enc2), "--out", str(back2), *pw])[0] == 0
    assert back2.read_bytes() == data


def test_tampered_file_or_wrong_key_is_one_error_and_no_output(capsys, tmp_path):
    (tmp_path / "a.bin").write_bytes(b"spikes of unit 7" * 1000)
    key, other = tmp_path / "k.key", tmp_path / "other.key"
    _run(capsys, ["keygen", "--out", str(key)])
    _run(capsys, ["keygen", "--out", str(other)])
    enc = tmp_path / "a.enc"
    _run(
        capsys,
        ["encrypt", str(tmp_path / "a.bin"), "--out", str(enc), "--key-file", str(key)],
    )
    blob = bytearray(enc.read_bytes())
    blob[-1] ^= 1
    bad = tmp_path / "bad.enc"
    bad.write_bytes(bytes(blob))
    for src, k in ((bad, key), (enc, other)):
        code, cap = _run(
            capsys,
            [
                "decrypt",
                str(src),
                "--out",
                str(tmp_path / "out.bin"),
                "--key-file",
                str(k),
            ],
        )
        assert code == 1
        assert (
            cap.err.startswith("neurodl: error: ")
            and "authentication failed" in cap.err
        )
        assert len(cap.err.strip().splitlines()) == 1
        assert not (tmp_path / "out.bin").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
