"""The closed-loop BCI decoder of Golub et al. (2018), rebuilt and checked on its data.

The bundled file ``bci_golub/exampleData.mat`` (BSD-3, from ``mattgolub/bci_learning``)
holds one experiment of "Learning by neural reassociation" (Golub et al., Nat Neurosci
2018; monkey J, 2012-03-05): the *intuitive* and *perturbed* BCI mappings and, for the
``beforeLearning`` block (last 50 trials under the intuitive mapping) and the
``afterLearning`` block (50 trials under the perturbed mapping), the 45 ms time steps
grouped into 8 movement-specific *clouds* (time steps whose cursor-to-target
direction was closest to one of the 8 target angles).

The mapping (what this module found to reproduce the file)
-----------------------------------------------------------
With ``u_t`` the q = 86 spike counts of 45 ms bin t (counts, not rates)::

    x_t = Sigma_u (u_t - mu_u)                    z-scored counts, Sigma_u = diag(1/std)
    beta = L' (L L' + Psi)^-1                      factor analysis posterior mean
    y_t = eta Sigma_z beta x_t                     z-scored (Sigma_z), permuted (eta)
                                                   factors: the Kalman observation
    K   = steady-state gain of  v_t = A v_{t-1} + b + w,  y_t = C v_t + d + r
          (w ~ N(0, Q), r ~ N(0, R); discrete algebraic Riccati equation)
    v_t = M1 v_{t-1} + M2 u_t + m0                 the online decoder, with
    M1 = (I - K C) A,  M2 = K eta Sigma_z beta Sigma_u,
    m0 = (I - K C) b - K d - M2 mu_u

Checked against the file:

* The stored ``M1``, ``M2``, ``m0`` equal those built from the exact Riccati gain of the
  stored ``A, C, Q, R`` to 2.2e-16, 1.2e-14 and 1.4e-13. The stored ``K`` itself differs
  from that gain by up to 4.4e-9 (1.1e-10 relative; its first row is scaled by
  ~1 + 1.25e-10) - it is not the gain ``M1``/``M2``/``m0`` were built from (with it,
  ``M2`` would be off by 1.7e-9). Where that ``K`` came from is not recoverable from the
  file.
* ``factorActivity`` (the paper's orthonormalised factors ``D V' beta x_t`` with
  ``L = U D V'``) is reproduced to 3.1e-15.
* ``vraw_intuitive`` / ``vraw_perturbed`` are *not* online recordings: they are the
  single-step velocity ``K (y_t - d)`` that the paper's analysis code
  (``computeControlPlaneActivity.m``) computed offline from ``factorActivity`` with the
  stored ``K``. :meth:`FAKalmanMapping.drive` with ``via="factors"`` reproduces them to
  2.3e-13 mm/s (stored velocities up to 249 / 292 mm/s in the two blocks: 9e-16 /
  6e-16 relative, a few units in the last place). The online drive
  ``M2 u_t + m0`` differs from them by up to 3.1e-8 mm/s, and that difference equals
  ``(K_file - K_exact)(y_t - d)`` to 4e-13: the stored ``K``'s deviation explains it
  entirely.
* The online, recursively filtered velocity ``v_t`` is not stored, but the cursor it
  moved is: ``cursorToTargetDirection`` is ``(T - p_t) / |T - p_t|`` with the cursor
  at the centre (``p = 0``) for the first 3 bins of a trial (a freeze; these columns
  are bit-for-bit identical) and ``p_t = p_{t-1} + v_{t-1} dt`` afterwards: the
  velocity decoded from bin t moves the cursor in the next bin (a one-bin causal lag;
  ``vraw`` column t uses spike column t, no offset). Two quantities are not in the
  file: the velocity state at the end of the freeze (14-560 mm/s: neither zero nor
  what a filter reset to zero before the freeze and run through it would hold) and
  the target position. Fitting them (:func:`fit_trial_starts`), the 85 trial starts
  (of 100) that have at least 5 contiguous moving bins in one cloud are replayed by
  :meth:`FAKalmanMapping.decode` with the stored ``M1, M2, m0`` to 6.6e-15
  (unit-vector components; 862 rows, frozen ones included),
  against 6.8e-12 through the stored ``K``: the online decoder ran the spike-space
  ``M2, m0`` in double precision. The first bin after each replayed run is off by at
  least 0.027 (it belongs to another trial). The fitted targets agree across trials
  to 8e-12 mm and are single-precision numbers (to 1.4e-12): ``+-151.6399994`` =
  float32(151.64) on the x axis, ``+-151.6400147`` on the y axis and float32
  neighbours of 107.21 on the diagonals.
* ``dt`` = 0.045 s (45 ms bins).
"""

from __future__ import annotations

from neurodl.bci.golub.mapping import (
    BLOCK_MAPPING,
    BLOCKS,
    MAPPINGS,
    FAKalmanMapping,
    mapping_differences,
    steady_state_kalman_gain,
)
from neurodl.bci.golub.replay import TrialStartFit, fit_trial_starts, reproduce_session
from neurodl.bci.golub.session import GolubCloud, GolubSession, load_golub_session

__all__ = [
    "BLOCKS",
    "BLOCK_MAPPING",
    "MAPPINGS",
    "FAKalmanMapping",
    "GolubCloud",
    "GolubSession",
    "TrialStartFit",
    "fit_trial_starts",
    "load_golub_session",
    "mapping_differences",
    "reproduce_session",
    "steady_state_kalman_gain",
]
