"""A synthetic decoding task with subjects, as in PRIVACY.md section 3.3.

Each subject's labels come from a shared direction plus one of its own:
``y = 1[x . (w + u_s) + noise > 0]`` with ``|w| = |u_s| = 1``. A model that fits
its training subjects learns their ``u_s``, so their loss falls below that of
unseen subjects: membership leaks, and a subject-level attack should see it.
"""

from __future__ import annotations

import numpy as np

N_SUBJECTS = 200
N_MEMBERS = 100
N_WINDOWS = 40
N_FEATURES = 32


def subject_task(
    n_subjects: int = N_SUBJECTS,
    n_windows: int = N_WINDOWS,
    n_features: int = N_FEATURES,
    *,
    own: float = 1.0,
    noise: float = 0.3,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return ``(X, y, subjects)``: float32 windows, 0/1 labels, subject 0..n-1."""
    rng = np.random.default_rng(seed)
    w = rng.standard_normal(n_features)
    w /= np.linalg.norm(w)
    xs, ys, gs = [], [], []
    for s in range(n_subjects):
        u = rng.standard_normal(n_features)
        u /= np.linalg.norm(u)
        x = rng.standard_normal((n_windows, n_features))
        y = (x @ (w + own * u) + noise * rng.standard_normal(n_windows) > 0).astype(int)
        xs.append(x)
        ys.append(y)
        gs.append(np.full(n_windows, s))
    return np.concatenate(xs).astype(np.float32), np.concatenate(ys), np.concatenate(gs)
