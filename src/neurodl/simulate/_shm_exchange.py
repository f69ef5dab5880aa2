"""Spike exchange through shared memory, for processes on one machine.

A gloo ``all_gather`` costs about 0.3 ms on this 2-core machine even for a few
bytes, more than a window of the 10 %-scale microcircuit computes (two steps).
Processes on one host can instead publish their window's spikes in a file in
``/dev/shm`` (a memory-mapped int64 array) and read the others':

* one file, ``(processes, 2, capacity + 2)``: each process has two slots
  ``[seq, count, codes...]``, used alternately, so a
  slot is rewritten only after every process has read it (a process writes
  window ``w + 2`` only after all have published ``w + 1``, which each does after
  reading window ``w``);
* a writer fills the codes, then the count, then ``seq``; a reader waits for
  ``seq``, then reads the count and the codes. x86 keeps stores in order and
  loads in order (TSO), which this relies on (``auto`` uses it on x86-64 only);
* waiting yields the CPU (``sched_yield``) so oversubscribed processes progress,
  and gives up with an error after the group's timeout: a process that died does
  not leave the others waiting forever.

The process group is still used to agree on the file names and to finish.
"""

from __future__ import annotations

import contextlib
import os
import platform
import socket
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from neurodl.errors import NeurodlError

__all__ = ["ShmExchange", "usable"]

SHM_DIR = Path("/dev/shm")


def _host_key() -> int:
    """Return a number identifying this machine (hostname and boot)."""
    import zlib

    boot = ""
    with contextlib.suppress(OSError):
        boot = Path("/proc/sys/kernel/random/boot_id").read_text()
    return zlib.crc32((socket.gethostname() + boot).encode())


def usable(group: Any, world: int) -> bool:
    """Whether every process of ``group`` runs on this x86-64 Linux machine."""
    import torch.distributed as dist

    ok = platform.machine() in ("x86_64", "AMD64") and SHM_DIR.is_dir()
    key = _host_key() if ok else -1
    t = torch.tensor([key, -key], dtype=torch.int64)
    dist.all_reduce(t, op=dist.ReduceOp.MAX, group=group)
    return bool(ok and int(t[0]) == key and int(-t[1]) == key and world > 1)


class ShmExchange:
    """All-gather of int64 codes through ``/dev/shm`` (see the module docstring)."""

    def __init__(self, group: Any, rank: int, world: int, cap: int, timeout_s: float):
        import torch.distributed as dist

        self.group, self.rank, self.world = group, rank, world
        self.cap = cap
        self.timeout_s = timeout_s
        tag = torch.tensor([os.getpid(), time.time_ns() % (1 << 40)], dtype=torch.int64)
        dist.broadcast(tag, 0, group=group)
        self.path = SHM_DIR / f"neurodl-dist-{int(tag[0])}-{int(tag[1])}"
        shape = (world, 2, cap + 2)
        if rank == 0:
            new = np.memmap(self.path, np.int64, "w+", shape=shape)
            new[:] = 0
            new.flush()
            del new
        dist.barrier(group=group)
        self.map = np.memmap(self.path, np.int64, "r+", shape=shape)
        self.buf = np.asarray(self.map)  # a plain array on the shared pages
        self.seq = 0  # windows exchanged so far

    def exchange(self, codes: np.ndarray) -> np.ndarray:
        """Publish ``codes``; return every process's, rank by rank."""
        slot = self.seq % 2
        seq = self.seq + 1
        mine = self.buf[self.rank, slot]
        n = codes.size
        mine[2 : 2 + n] = codes
        mine[1] = n
        mine[0] = seq  # published
        parts = []
        deadline = None
        for r in range(self.world):
            buf = self.buf[r, slot]
            while buf[0] != seq:
                if deadline is None:
                    deadline = time.monotonic() + self.timeout_s
                elif time.monotonic() > deadline:
                    self.timed_out(r)
                os.sched_yield()
            parts.append(np.array(buf[2 : 2 + int(buf[1])]))
        self.seq = seq
        return np.concatenate(parts)

    def timed_out(self, rank: int | None = None) -> None:
        """Raise: a process did not send its spikes in time."""
        who = "a process" if rank is None else f"process {rank}"
        raise NeurodlError(
            f"{who} did not send its spikes within {self.timeout_s:g} s (it may "
            "have failed)."
        )

    def close(self) -> None:
        """Wait until every process is done, then remove this process's file."""
        import torch.distributed as dist

        dist.barrier(group=self.group)
        del self.buf, self.map
        if self.rank == 0:
            self.path.unlink(missing_ok=True)
