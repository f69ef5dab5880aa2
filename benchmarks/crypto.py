"""Encryption at rest: throughput of neurodl encrypt / decrypt (issue 12: >= 100 MiB/s).

    OMP_NUM_THREADS=1 python benchmarks/crypto.py [--mib 256] [--repeats 5]

Times ``encrypt_path`` and ``decrypt_path`` on a file of random bytes (key file, so
that Argon2id's deliberate cost is left out; a passphrase adds one Argon2id
derivation per file, timed separately), median of ``--repeats`` runs, in MiB/s of
plaintext. The files live in a temporary folder (page cache: this measures the
cipher and the I/O path, not the disk).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import tempfile
import time
from pathlib import Path

from neurodl.privacy import decrypt_path, encrypt_bytes, encrypt_path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mib", type=int, default=256)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    key = secrets.token_bytes(32)
    enc_t, dec_t = [], []
    with tempfile.TemporaryDirectory() as d:
        src = Path(d) / "plain.bin"
        src.write_bytes(os.urandom(args.mib << 20))
        for i in range(args.repeats):
            enc, back = Path(d) / f"{i}.enc", Path(d) / f"{i}.bin"
            t0 = time.perf_counter()
            encrypt_path(src, enc, key=key)
            t1 = time.perf_counter()
            decrypt_path(enc, back, key=key)
            t2 = time.perf_counter()
            assert back.stat().st_size == src.stat().st_size
            enc.unlink()
            back.unlink()
            enc_t.append(t1 - t0)
            dec_t.append(t2 - t1)
    t0 = time.perf_counter()
    encrypt_bytes(b"x", passphrase="benchmark passphrase")
    argon_s = time.perf_counter() - t0
    res = {
        "mib": args.mib,
        "repeats": args.repeats,
        "encrypt_mib_s": args.mib / statistics.median(enc_t),
        "decrypt_mib_s": args.mib / statistics.median(dec_t),
        "argon2id_s": argon_s,
        "load_avg": list(os.getloadavg()),
    }
    print(
        f"encrypt {res['encrypt_mib_s']:.0f} MiB/s, decrypt {res['decrypt_mib_s']:.0f}"
        f" MiB/s (median of {args.repeats}, {args.mib} MiB); one Argon2id "
        f"derivation {argon_s:.2f} s"
    )
    if args.json:
        args.json.write_text(json.dumps(res, indent=1) + "\n")


if __name__ == "__main__":
    main()
