"""Replaying the session's trial starts and blocks through the stored decoder."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from neurodl._validate import check_int, check_option, check_positive
from neurodl.bci.golub.mapping import (
    BLOCK_MAPPING,
    BLOCKS,
    Array,
    FAKalmanMapping,
)
from neurodl.bci.golub.session import GolubSession


@dataclass(frozen=True)
class TrialStartFit:
    """The cursor path of one trial start, replayed through the decoder.

    Attributes
    ----------
    block : str
        Block name.
    cloud : int
        Cloud holding the trial start (the cloud of the trial's target).
    start : int
        Row of the first frozen time step in the cloud.
    n_frozen : int
        Time steps with the cursor held at the centre (identical directions).
    n_steps : int
        Consecutive rows, from ``start``, reproduced within the tolerance (frozen
        ones included); 0 when fewer than ``n_frozen + min_moving`` fit.
    v_init : tuple of float
        Fitted velocity state at the last frozen step (mm/s): not stored in the file.
    target : tuple of float
        Fitted target position relative to the start position (mm).
    max_error : float
        Largest difference between replayed and recorded direction components over
        the ``n_steps`` rows (nan when ``n_steps`` is 0).
    next_error : float
        The same at the first row after them (nan at the next trial start or the end
        of the cloud): large when the row belongs to another trial.
    """

    block: str
    cloud: int
    start: int
    n_frozen: int
    n_steps: int
    v_init: tuple[float, float]
    target: tuple[float, float]
    max_error: float
    next_error: float


def _trial_starts(directions: Array) -> list[tuple[int, int]]:
    """Return (row, run length) of each run of >= 2 bit-identical directions."""
    same = np.all(directions[1:] == directions[:-1], axis=1)
    out = []
    i = 0
    while i < len(same):
        if same[i]:
            j = i
            while j < len(same) and same[j]:
                j += 1
            out.append((i, j - i + 1))
            i = j
        else:
            i += 1
    return out


def _replay(m1: Array, drive: Array, n_frozen: int, dt: float) -> tuple[Array, Array]:
    """Return ``a`` (n, 2) and ``B`` (n, 2, 2): cursor ``p_k = a_k + B_k v_init``."""
    n = drive.shape[0]
    a = np.zeros((n, 2))
    bm = np.zeros((n, 2, 2))
    phi = np.eye(2)  # v_{k-1} = phi v_init + h
    h = np.zeros(2)
    for k in range(n_frozen, n):
        a[k] = a[k - 1] + dt * h
        bm[k] = bm[k - 1] + dt * phi
        h = m1 @ h + drive[k]
        phi = m1 @ phi
    return a, bm


def _directions(x: Array, a: Array, bm: Array) -> Array:
    rel = x[2:] - (a + bm @ x[:2])
    return rel / np.linalg.norm(rel, axis=1, keepdims=True)


def fit_trial_starts(
    session: GolubSession,
    block: str,
    *,
    mapping: FAKalmanMapping | None = None,
    via: Literal["spikes", "factors"] = "spikes",
    tol: float = 1e-9,
    min_moving: int = 5,
) -> tuple[TrialStartFit, ...]:
    """Replay each trial start's cursor path through the decoder and fit it.

    A trial starts with the cursor frozen at the centre (``p = 0``; the recorded
    directions are bit-identical). Afterwards ``p_k = p_{k-1} + v_{k-1} dt`` with
    ``v_k = M1 v_{k-1} + drive_k`` and the recorded direction is
    ``(T - p_k) / |T - p_k|``. The velocity state ``v_init`` at the last frozen step
    and the target ``T`` are not in the file; the constraint is linear in both, so
    they are fitted by least squares on the first rows, and the run is extended
    row by row while every replayed direction stays within ``tol``.

    Parameters
    ----------
    session : GolubSession
        A loaded session.
    block : {"beforeLearning", "afterLearning"}
        Block to replay.
    mapping : FAKalmanMapping, optional
        Mapping to replay with; defaults to the block's online mapping.
    via : {"spikes", "factors"}
        Which drive to use (:meth:`FAKalmanMapping.drive`).
    tol : float
        Largest direction-component error accepted for a row.
    min_moving : int
        Rows after the freeze needed to count a trial start as checked (5 leaves
        the fit of 4 unknowns over-determined by 2 equations).

    Returns
    -------
    tuple of TrialStartFit
        One per trial start found (50 per block in the bundled session).
    """
    check_option("block", block, BLOCKS)
    check_option("via", via, ("spikes", "factors"))
    check_positive("tol", tol)
    check_int("min_moving", min_moving, minimum=3)
    m = session.mapping(BLOCK_MAPPING[block]) if mapping is None else mapping
    out: list[TrialStartFit] = []
    for cloud in session.clouds(block):
        e = cloud.cursor_to_target
        drive = m.drive(cloud.spikes, via=via)
        starts = _trial_starts(e)
        for j, (s, nf) in enumerate(starts):
            stop = starts[j + 1][0] if j + 1 < len(starts) else cloud.n_steps
            a, bm = _replay(m.M1, drive[s:stop], nf, m.dt)
            ed = e[s:stop]
            nrm = np.stack([-ed[:, 1], ed[:, 0]], axis=1)  # normals: n . (T - p) = 0
            rows = np.concatenate([-np.einsum("ki,kij->kj", nrm, bm), nrm], axis=1)
            rhs = np.einsum("ki,ki->k", nrm, a)
            best: tuple[int, Array, float] | None = None
            for n in range(nf + min_moving, stop - s + 1):
                x = np.linalg.lstsq(rows[:n], rhs[:n], rcond=None)[0]
                err = float(np.max(np.abs(_directions(x, a[:n], bm[:n]) - ed[:n])))
                if err > tol:
                    break
                best = (n, x, err)
            if best is None:
                nan2 = (math.nan, math.nan)
                out.append(
                    TrialStartFit(
                        block=block,
                        cloud=cloud.index,
                        start=s,
                        n_frozen=nf,
                        n_steps=0,
                        v_init=nan2,
                        target=nan2,
                        max_error=math.nan,
                        next_error=math.nan,
                    )
                )
                continue
            n, x, err = best
            nxt = math.nan
            if s + n < stop:
                pred = _directions(x, a[n : n + 1], bm[n : n + 1])
                nxt = float(np.max(np.abs(pred - ed[n : n + 1])))
            out.append(
                TrialStartFit(
                    block=block,
                    cloud=cloud.index,
                    start=s,
                    n_frozen=nf,
                    n_steps=n,
                    v_init=(float(x[0]), float(x[1])),
                    target=(float(x[2]), float(x[3])),
                    max_error=err,
                    next_error=nxt,
                )
            )
    return tuple(out)


def reproduce_session(
    session: GolubSession,
    block: str = "beforeLearning",
    *,
    mapping: str | None = None,
) -> dict[str, Any]:
    """Decode every time step of a block and compare with the file.

    Parameters
    ----------
    session : GolubSession
        A loaded session.
    block : {"beforeLearning", "afterLearning"}
        Block to reproduce.
    mapping : {"intuitive", "perturbed"}, optional
        Mapping to decode with; defaults to the one that drove the cursor in
        ``block`` (intuitive before, perturbed after learning).

    Returns
    -------
    dict
        ``block``, ``mapping``, ``n_clouds``, ``n_steps``;
        ``per_cloud_max_abs_diff`` (list) and ``max_abs_diff``: the single-step
        velocities ``drive(via="factors")`` against the stored ``vraw_*`` (mm/s);
        ``velocity_scale`` (largest stored speed component, mm/s) and
        ``relative_error`` (``max_abs_diff / velocity_scale``);
        ``online_max_abs_diff``: the online drive ``M2 u_t + m0`` against ``vraw_*``;
        ``gain_explained_max_abs_diff``: that difference minus
        ``(K_file - K_exact)(y_t - d)``;
        ``factors_max_abs_diff``: :meth:`FAKalmanMapping.factors` against
        ``factorActivity``; and for the block's online mapping only,
        ``n_trials`` (trial starts found), ``n_trials_checked``,
        ``n_cursor_steps_checked`` and ``cursor_max_error`` from
        :func:`fit_trial_starts` (recorded online cursor directions, unit vectors).
    """
    check_option("block", block, BLOCKS)
    name = BLOCK_MAPPING[block] if mapping is None else mapping
    m = session.mapping(name)
    exact_gain = m.rebuild().gain
    per_cloud: list[float] = []
    online = explained = fac = scale = 0.0
    n_steps = 0
    for cloud in session.clouds(block):
        rec = cloud.recorded_velocity(name)
        mine = m.drive(cloud.spikes, via="factors")
        per_cloud.append(float(np.max(np.abs(mine - rec))))
        live = m.drive(cloud.spikes, via="spikes")
        online = max(online, float(np.max(np.abs(live - rec))))
        dev = (m.observations(cloud.spikes) - m.d) @ (m.gain - exact_gain).T
        explained = max(explained, float(np.max(np.abs(rec - live - dev))))
        fac = max(fac, float(np.max(np.abs(m.factors(cloud.spikes) - cloud.factors))))
        scale = max(scale, float(np.max(np.abs(rec))))
        n_steps += cloud.n_steps
    worst = max(per_cloud)
    out: dict[str, Any] = {
        "block": block,
        "mapping": name,
        "n_clouds": len(per_cloud),
        "n_steps": n_steps,
        "per_cloud_max_abs_diff": per_cloud,
        "max_abs_diff": worst,
        "velocity_scale": scale,
        "relative_error": worst / scale if scale > 0 else math.nan,
        "online_max_abs_diff": online,
        "gain_explained_max_abs_diff": explained,
        "factors_max_abs_diff": fac,
    }
    if name == BLOCK_MAPPING[block]:
        fits = fit_trial_starts(session, block, mapping=m)
        ok = [f for f in fits if f.n_steps > 0]
        out["n_trials"] = len(fits)
        out["n_trials_checked"] = len(ok)
        out["n_cursor_steps_checked"] = sum(f.n_steps for f in ok)
        out["cursor_max_error"] = max((f.max_error for f in ok), default=math.nan)
    return out
