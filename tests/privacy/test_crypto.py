"""Encryption at rest (issue 12, section 3): round trips and every kind of tampering.

Each tampering case must raise DecryptionError and leave no output file: a changed
header, truncation at and inside a chunk, a dropped, repeated or swapped chunk,
appended bytes, a flipped bit, a wrong key or passphrase.
"""

import os
import secrets

import pytest

from neurodl.errors import DecryptionError, ValidationError
from neurodl.privacy import (
    decrypt_bytes,
    decrypt_path,
    encrypt_bytes,
    encrypt_path,
    generate_key_file,
    read_key_file,
)
from neurodl.privacy.crypto import HEADER, TAG

KEY = bytes(range(32))
CS = 64  # small chunks so that the cases below span several


def _chunks(blob: bytes, cs: int = CS) -> tuple[bytes, list[bytes]]:
    head, body = blob[: HEADER.size], blob[HEADER.size :]
    return head, [body[i : i + cs + TAG] for i in range(0, len(body), cs + TAG)]


@pytest.mark.parametrize("n", [0, 1, CS - 1, CS, CS + 1, 3 * CS, 3 * CS + 5])
def test_round_trip_at_chunk_edges(n):
    data = secrets.token_bytes(n)
    blob = encrypt_bytes(data, key=KEY, chunk_size=CS)
    assert len(_chunks(blob)[1]) == max(1, -(-n // CS))
    assert decrypt_bytes(blob, key=KEY) == data


def test_round_trip_64_mib_file_and_two_encryptions_differ(tmp_path):
    data = secrets.token_bytes(64 << 20)
    src = tmp_path / "big.bin"
    src.write_bytes(data)
    a = encrypt_path(src, tmp_path / "a.enc", key=KEY)
    b = encrypt_path(src, tmp_path / "b.enc", key=KEY)
    assert a.read_bytes()[:4096] != b.read_bytes()[:4096]
    assert data[:4096] not in a.read_bytes()
    out = decrypt_path(a, tmp_path / "back.bin", key=KEY)
    assert out.read_bytes() == data


def test_passphrase_round_trip_and_wrong_passphrase():
    blob = encrypt_bytes(b"EEG of patient X", passphrase="correct horse")
    assert decrypt_bytes(blob, passphrase="correct horse") == b"EEG of patient X"
    with pytest.raises(DecryptionError, match="authentication failed"):
        decrypt_bytes(blob, passphrase="correct horsf")
    with pytest.raises(DecryptionError, match="passphrase"):
        decrypt_bytes(blob, key=KEY)


def _tampered():
    data = secrets.token_bytes(5 * CS + 7)
    blob = encrypt_bytes(data, key=KEY, chunk_size=CS)
    head, ch = _chunks(blob)
    flipped = bytearray(blob)
    flipped[HEADER.size + 2 * (CS + TAG) + 3] ^= 0x01
    edited = bytearray(blob)
    edited[HEADER.size - 3] ^= 0x40  # the chunk size field
    salt = bytearray(blob)
    salt[20] ^= 0x01  # inside the salt
    return {
        "truncated at a chunk boundary": head + b"".join(ch[:3]),
        "truncated inside a chunk": blob[:-5],
        "truncated to the header": head,
        "dropped chunk": head + b"".join(ch[:2] + ch[3:]),
        "repeated chunk": head + b"".join(ch[:3] + ch[2:]),
        "swapped chunks": head + b"".join([ch[0], ch[2], ch[1], *ch[3:]]),
        "appended bytes": blob + b"\x00" * 5,
        "appended chunk": blob + ch[1],
        "flipped bit": bytes(flipped),
        "edited header": bytes(edited),
        "edited salt": bytes(salt),
        "wrong key": None,
    }, blob


@pytest.mark.parametrize("case", list(_tampered()[0]))
def test_every_tampering_fails_and_writes_nothing(tmp_path, case):
    cases, blob = _tampered()
    bad = cases[case] if cases[case] is not None else blob
    key = bytes(32) if case == "wrong key" else KEY
    with pytest.raises(DecryptionError):
        decrypt_bytes(bad, key=key)
    src = tmp_path / "x.enc"
    src.write_bytes(bad)
    with pytest.raises(DecryptionError):
        decrypt_path(src, tmp_path / "out.bin", key=key)
    assert sorted(os.listdir(tmp_path)) == ["x.enc"]  # no output, no temporary


def test_folder_round_trip_and_key_file(tmp_path):
    folder = tmp_path / "sub-01"
    (folder / "eeg").mkdir(parents=True)
    (folder / "eeg" / "run1.edf").write_bytes(secrets.token_bytes(3000))
    (folder / "participants.tsv").write_text("participant_id\tage\nsub-01\t34\n")
    key_file = generate_key_file(tmp_path / "k.key")
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"
    with pytest.raises(ValidationError, match="never overwritten"):
        generate_key_file(key_file)
    key = read_key_file(key_file)
    enc = encrypt_path(folder, tmp_path / "sub-01.enc", key=key, chunk_size=1024)
    out = decrypt_path(enc, tmp_path / "back", key=key)
    assert (out / "eeg" / "run1.edf").read_bytes() == (
        folder / "eeg" / "run1.edf"
    ).read_bytes()
    assert (out / "participants.tsv").read_text().endswith("sub-01\t34\n")
    with pytest.raises(DecryptionError, match="folder"):
        decrypt_bytes(enc.read_bytes(), key=key)


def test_bad_arguments_name_the_parameter(tmp_path):
    src = tmp_path / "a.bin"
    src.write_bytes(b"x")
    with pytest.raises(ValidationError, match="exactly one of 'key' and 'passphrase'"):
        encrypt_bytes(b"x")
    with pytest.raises(ValidationError, match="'key' must be 32 bytes; got 5 bytes"):
        encrypt_bytes(b"x", key=b"short")
    with pytest.raises(ValidationError, match="'chunk_size'"):
        encrypt_bytes(b"x", key=KEY, chunk_size=8)
    with pytest.raises(ValidationError, match=r"'out' .* already exists"):
        encrypt_path(src, src, key=KEY)
    with pytest.raises(ValidationError, match=r"'path' .* does not exist"):
        encrypt_path(tmp_path / "nope", tmp_path / "o", key=KEY)
    with pytest.raises(ValidationError, match="'key_file' folder"):
        generate_key_file(tmp_path / "no" / "k.key")
    (tmp_path / "k").write_bytes(b"123")
    with pytest.raises(ValidationError, match="exactly 32 bytes"):
        read_key_file(tmp_path / "k")
    with pytest.raises(DecryptionError, match="not a neurodl encrypted file"):
        decrypt_bytes(b"hello world", key=KEY)
