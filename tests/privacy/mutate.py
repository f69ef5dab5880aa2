"""Hypothesis strategies that break files: flips, header-field edits, cuts, garbage.

A mutation is 1-4 operations on a valid seed file's bytes:

- ``flip``: XOR one byte (70 % of the time inside the header region);
- ``field``: overwrite a known header field with a hostile value (huge, negative,
  zero, NaN, non-numeric text), written the way the format stores that field
  (ASCII for EDF, little/big-endian integers or floats for binary formats);
- ``truncate``: cut the file (often inside the header);
- ``append``: add garbage or a copy of the file's own start;
- ``splice``: delete a range, or insert random bytes;
- ``zero``: zero a range.

Fields are ``(offset, size, kind)`` with ``kind`` an ASCII marker ``"ascii"`` or a
NumPy dtype string such as ``"<i2"``; :func:`edf_fields`, :func:`nifti_fields`,
:func:`fif_fields`, :func:`mat5_fields`, :func:`hdf5_fields` and
:func:`safetensors_fields` find them in a seed.
"""

from __future__ import annotations

import json
import struct

import numpy as np
from hypothesis import strategies as st

Field = tuple[int, int, str]

ASCII_TOKENS = [
    b"0",
    b"-1",
    b"1",
    b"99999999",
    b"-9999999",
    b"2147483648",
    b"1e308",
    b"-1e308",
    b"nan",
    b"inf",
    b"",
    b"abc",
    b"\x00\x00",
    b"\xff\xfe",
    b"0.000001",
    b"+5",
    b"1 1",
]


def _as_bytes(v: float, dt: np.dtype) -> bytes:
    with np.errstate(over="ignore", invalid="ignore"):  # 1e308 -> inf is meant
        return np.array(v).astype(dt).tobytes()


def _binary_values(kind: str) -> st.SearchStrategy[bytes]:
    dt = np.dtype(kind)
    if dt.kind == "f":
        specials = [0.0, -1.0, 1e30, -1e30, np.inf, -np.inf, np.nan, 1e-30, 2.0**31]
        values = st.one_of(
            st.sampled_from(specials), st.floats(allow_nan=True, allow_infinity=True)
        )
        return values.map(lambda v: _as_bytes(v, dt))
    info = np.iinfo(dt)
    specials = [0, -1, 1, info.max, info.min, info.max // 2, 7, 8, 255, 348, 540]
    ints = st.one_of(
        st.sampled_from([v for v in specials if info.min <= v <= info.max]),
        st.integers(int(info.min), int(info.max)),
    )
    return ints.map(lambda v: np.array(v).astype(dt).tobytes())


@st.composite
def _field_value(draw: st.DrawFn, f: Field) -> bytes:
    _, size, kind = f
    if kind == "ascii":
        token = draw(
            st.one_of(
                st.sampled_from(ASCII_TOKENS),
                st.integers(-(10**7), 10**8).map(lambda v: str(v).encode()),
                st.binary(max_size=size),
            )
        )
        return token[:size].ljust(size, b" ")
    return draw(_binary_values(kind))[:size]


@st.composite
def mutated(
    draw: st.DrawFn,
    seed: bytes,
    fields: list[Field] | tuple[Field, ...] = (),
    header: int = 512,
) -> bytes:
    """One mutant of ``seed``; ``header``: bytes treated as the header region."""
    data = bytearray(seed)
    header = max(1, min(header, len(seed)))
    ops = ["flip", "truncate", "append", "splice", "zero"] + ["field"] * (
        3 if fields else 0
    )
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(ops))
        n = len(data)
        if op == "flip" and n:
            hi = header if draw(st.integers(0, 9)) < 7 else n
            i = draw(st.integers(0, min(hi, n) - 1))
            data[i] ^= draw(st.integers(1, 255))
        elif op == "field":
            f = draw(st.sampled_from(list(fields)))
            value = draw(_field_value(f))
            off = f[0]
            if off + len(value) <= n:
                data[off : off + len(value)] = value
        elif op == "truncate":
            hi = header if draw(st.booleans()) else n
            data = data[: draw(st.integers(0, max(0, min(hi, n) - 1)))]
        elif op == "append":
            tail = draw(
                st.one_of(
                    st.binary(min_size=1, max_size=64),
                    st.integers(1, max(1, n)).map(lambda k, d=bytes(data): d[:k]),
                )
            )
            data += tail
        elif op == "splice" and n:
            i = draw(st.integers(0, n - 1))
            if draw(st.booleans()):
                del data[i : i + draw(st.integers(1, 64))]
            else:
                data[i:i] = draw(st.binary(min_size=1, max_size=32))
        elif op == "zero" and n:
            i = draw(st.integers(0, n - 1))
            k = draw(st.integers(1, 64))
            data[i : i + k] = bytes(len(data[i : i + k]))
    return bytes(data)


# ------------------------------------------------------------------ fields
def edf_fields(seed: bytes) -> list[Field]:
    """Every ASCII header field of an EDF/BDF file: main header and per signal."""
    main = [
        (0, 8),
        (8, 80),
        (88, 80),
        (168, 8),
        (176, 8),
        (184, 8),
        (236, 8),
        (244, 8),
        (252, 4),
    ]
    fields = [(o, s, "ascii") for o, s in main]
    ns = int(seed[252:256].decode("ascii").strip())
    widths = [16, 80, 8, 8, 8, 8, 8, 80, 8, 32]
    base = 256
    for w in widths:
        fields += [(base + w * i, w, "ascii") for i in range(ns)]
        base += w * ns
    return fields


def nifti_fields() -> list[Field]:
    """The NIfTI-1 header fields that set size, type, layout and scaling."""
    f: list[Field] = [(0, 4, "<i4"), (39, 1, "u1"), (68, 2, "<i2")]
    f += [(40 + 2 * i, 2, "<i2") for i in range(8)]  # dim
    f += [(70, 2, "<i2"), (72, 2, "<i2")]  # datatype, bitpix
    f += [(76 + 4 * i, 4, "<f4") for i in range(8)]  # pixdim
    f += [(108, 4, "<f4"), (112, 4, "<f4"), (116, 4, "<f4"), (123, 1, "u1")]
    f += [(252, 2, "<i2"), (254, 2, "<i2"), (344, 4, "<i4"), (348, 4, "<i4")]
    f += [(256 + 4 * i, 4, "<f4") for i in range(18)]  # quatern, qoffset, srow
    return f


def fif_fields(seed: bytes) -> list[Field]:
    """kind, type, size and next of every tag of a FIF file (big-endian)."""
    fields: list[Field] = []
    pos = 0
    while pos + 16 <= len(seed):
        _, _, size, nxt = struct.unpack(">iiii", seed[pos : pos + 16])
        fields += [
            (pos, 4, ">i4"),
            (pos + 4, 4, ">i4"),
            (pos + 8, 4, ">i4"),
            (pos + 12, 4, ">i4"),
        ]
        if size < 0:
            break
        pos = nxt if nxt > 0 else pos + 16 + size
    return fields


def mat5_fields(seed: bytes) -> list[Field]:
    """Type and byte-count words of every data element of a MATLAB v5 file,
    including those inside matrices (array flags, dimensions, name, data)."""
    fields: list[Field] = [(124, 2, "<u2"), (126, 2, "<u2")]

    def walk(start: int, end: int) -> None:
        pos = start
        while pos + 8 <= end:
            word = struct.unpack("<I", seed[pos : pos + 4])[0]
            if word >> 16:  # small data element: 2-byte count, 2-byte type, 4 data
                fields.extend([(pos, 2, "<u2"), (pos + 2, 2, "<u2")])
                pos += 8
                continue
            mtype, nbytes = struct.unpack("<II", seed[pos : pos + 8])
            fields.extend([(pos, 4, "<u4"), (pos + 4, 4, "<u4")])
            if mtype == 14:  # miMATRIX: sub-elements
                walk(pos + 8, min(end, pos + 8 + nbytes))
            pos += 8 + nbytes + (-nbytes % 8)

    walk(128, len(seed))
    return fields


def hdf5_fields(userblock: int = 0) -> list[Field]:
    """Superblock (version 0) fields: versions, sizes, the addresses it holds."""
    u = userblock
    f: list[Field] = [(u + 8, 1, "u1"), (u + 13, 1, "u1"), (u + 14, 1, "u1")]
    f += [(u + 16, 2, "<u2"), (u + 18, 2, "<u2"), (u + 20, 4, "<u4")]
    f += [(u + 24 + 8 * i, 8, "<u8") for i in range(4)]  # base, free, EOF, driver
    f += [(u + 56 + 8 * i, 8, "<u8") for i in range(4)]  # root symbol table entry
    return f


def safetensors_fields(seed: bytes) -> list[Field]:
    """The header-length word and every number in the JSON header."""
    (n,) = struct.unpack("<Q", seed[:8])
    fields: list[Field] = [(0, 8, "<u8"), (0, 4, "<u4")]
    text = seed[8 : 8 + n]
    i = 0
    while i < len(text):
        if chr(text[i]).isdigit():
            j = i
            while j < len(text) and chr(text[j]).isdigit():
                j += 1
            fields.append((8 + i, j - i, "ascii"))
            i = j
        else:
            i += 1
    json.loads(text)  # the seed is valid
    return fields
