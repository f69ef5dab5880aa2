"""Compiled loops for the online rules of :mod:`neurodl.learning.hebbian`.

Each kernel applies the same arithmetic as the matching torch step function
(``oja_step``, ``sanger_step``, ``bcm_step``, ...) one sample at a time, in place,
so a long online run costs microseconds per step instead of a Python loop over
torch calls. The tests hold both paths equal in float64.
"""

from __future__ import annotations

import numpy as np
from numba import njit

HEBB, OJA, SANGER, SUBSPACE = 0, 1, 2, 3


@njit(cache=True, nogil=True, error_model="numpy")
def hebbian_steps(w, x, order, lrs, rule):  # type: ignore[no-untyped-def]
    """Apply one rule for each sample ``x[order[t]]`` with rate ``lrs[t]``.

    ``w`` (k, d) is updated in place. ``rule``: 0 Hebb, 1 Oja (each row on its
    own), 2 Sanger (lower triangle of y y^T), 3 Oja's subspace rule (all of it).
    """
    k, d = w.shape
    y = np.empty(k, dtype=w.dtype)
    c = np.empty(d, dtype=w.dtype)
    for t in range(order.shape[0]):
        xt = x[order[t]]
        lr = lrs[t]
        for i in range(k):
            s = 0.0
            for j in range(d):
                s += w[i, j] * xt[j]
            y[i] = s
        if rule == HEBB:
            for i in range(k):
                a = lr * y[i]
                for j in range(d):
                    w[i, j] += a * xt[j]
        elif rule == OJA:
            for i in range(k):
                a = lr * y[i]
                for j in range(d):
                    w[i, j] += a * (xt[j] - y[i] * w[i, j])
        elif rule == SANGER:
            # c = x - sum_{m <= i} y_m w_m, built from the old rows as i grows
            for j in range(d):
                c[j] = xt[j]
            for i in range(k):
                for j in range(d):
                    c[j] -= y[i] * w[i, j]
                a = lr * y[i]
                for j in range(d):
                    w[i, j] += a * c[j]
        else:
            for j in range(d):
                c[j] = xt[j]
            for i in range(k):
                for j in range(d):
                    c[j] -= y[i] * w[i, j]
            for i in range(k):
                a = lr * y[i]
                for j in range(d):
                    w[i, j] += a * c[j]


@njit(cache=True, nogil=True, error_model="numpy")
def bcm_steps(w, theta, x, order, lrs, theta_rate, rectify):  # type: ignore[no-untyped-def]
    """BCM with a sliding threshold, one sample ``x[order[t]]`` per step, in place.

    ``y = max(0, w x)`` (if ``rectify``), ``w += lrs[t] y (y - theta) x``,
    ``theta += theta_rate (y^2 - theta)``, both from the old values.
    """
    k, d = w.shape
    for t in range(order.shape[0]):
        xt = x[order[t]]
        lr = lrs[t]
        for i in range(k):
            s = 0.0
            for j in range(d):
                s += w[i, j] * xt[j]
            if rectify and s < 0:
                s = 0.0
            a = lr * (s * (s - theta[i]))
            for j in range(d):
                w[i, j] += a * xt[j]
            theta[i] += theta_rate * (s * s - theta[i])


@njit(cache=True, nogil=True, error_model="numpy")
def hopfield_sweeps(j, s, orders, tol, changed):  # type: ignore[no-untyped-def]
    """One asynchronous sweep per row of ``s`` (in place), neuron order ``orders``.

    ``h = J[i] . s``; ``s_i <- +1`` if ``h > tol[i]``, ``-1`` if ``h < -tol[i]``,
    else unchanged. ``changed[r]``: whether row ``r`` changed.
    """
    b, n = s.shape
    for r in range(b):
        ch = False
        for t in range(n):
            i = orders[r, t]
            h = 0.0
            for k in range(n):
                h += j[i, k] * s[r, k]
            v = s[r, i]
            if h > tol[i]:
                v = 1.0
            elif h < -tol[i]:
                v = -1.0
            if v != s[r, i]:
                s[r, i] = v
                ch = True
        changed[r] = ch
