"""Compiled kernels of the ALIF, Izhikevich and AdEx populations (numba).

Called by :func:`neurodl.simulate._numba_engine.run_chunk`; the equations, the
model table and the tensor twin are in :mod:`neurodl.simulate._models`, whose
operation order these kernels follow.
"""

from __future__ import annotations

import math

from numba import njit

__all__ = ["alif_threshold", "step_model"]


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _syn_input(x, v, gai, gbi, ka, kb, ea, eb):  # type: ignore[no-untyped-def]
    """``x + I_a + I_b`` with ``I = g`` (current) or ``g (e - v)`` (conductance)."""
    x = x + (gai if ka == 0 else gai * (ea - v))
    return x + (gbi if kb == 0 else gbi * (eb - v))


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _izh_f(v, u, x):  # type: ignore[no-untyped-def]
    return 0.04 * v * v + 5.0 * v + 140.0 - u + x


@njit(cache=True, nogil=True, error_model="numpy")
def alif_threshold(  # type: ignore[no-untyped-def]
    mf, v, refr, aux, start, stop, v_th, v_reset, ref, spk, n_spk
):
    """Threshold and reset of an ALIF population after the LIF integration of ``v``.

    ``b' = b decay`` (exact) or ``b - dt/tau_a b`` (Euler); a spike when
    ``v' >= v_th + b'`` sets ``v' = v_reset``, ``b' += delta_th`` and the
    refractory count. Returns the new number of spikes in ``spk``.
    """
    c = mf[0]
    jump = mf[1]
    exact = mf[2] != 0.0
    for i in range(start, stop):
        b = aux[i]
        b = b * c if exact else b - c * b
        if v[i] >= v_th + b:
            spk[n_spk] = i
            n_spk += 1
            v[i] = v_reset
            refr[i] = ref
            b = b + jump
        aux[i] = b
    return n_spk


@njit(cache=True, nogil=True, error_model="numpy")
def step_model(  # type: ignore[no-untyped-def]
    kind, mf, vv, rr, aa, ga, gb, da, db, ka, kb, ea, eb, ref, spk, n_spk, start
):
    """Integrate, threshold and reset one Izhikevich (2) or AdEx (3) population.

    ``vv``/``rr``/``aa``: the population's ``v``, refractory counters and ``u`` or
    ``w``; ``ga``/``gb`` its two synaptic variables (unused: zeros, kind 0), which
    decay here by ``da``/``db``. Spiking neurons go to ``spk`` as global indices
    (``start + i``). Returns the new number of spikes.

    Table row ``mf``: Izhikevich ``a, b, c, d, v_peak, i_ext, dt, dt/2, 2003?``;
    AdEx ``c_m, g_l, e_l, v_t, delta_t, v_peak, v_reset, dt/tau_w, a, b, i_ext,
    dt, g_l delta_t``.
    """
    if kind == 2:
        a = mf[0]
        b = mf[1]
        c = mf[2]
        d = mf[3]
        v_peak = mf[4]
        iext = mf[5]
        dt = mf[6]
        half = mf[7]
        scheme = mf[8] != 0.0
        for i in range(vv.shape[0]):
            vi = vv[i]
            ui = aa[i]
            gai = ga[i]
            gbi = gb[i]
            x = _syn_input(iext, vi, gai, gbi, ka, kb, ea, eb)
            if scheme:
                vh = vi + half * _izh_f(vi, ui, x)
                xh = _syn_input(iext, vh, gai, gbi, ka, kb, ea, eb)
                vn = vh + half * _izh_f(vh, ui, xh)
                un = ui + dt * (a * (b * vn - ui))
            else:
                vn = vi + dt * _izh_f(vi, ui, x)
                un = ui + dt * (a * (b * vi - ui))
            ga[i] = gai * da
            gb[i] = gbi * db
            if vn >= v_peak:
                spk[n_spk] = start + i
                n_spk += 1
                vn = c
                un = un + d
            vv[i] = vn
            aa[i] = un
        return n_spk
    c_m = mf[0]
    g_l = mf[1]
    e_l = mf[2]
    v_t = mf[3]
    delta_t = mf[4]
    v_peak = mf[5]
    v_reset = mf[6]
    dt_tw = mf[7]
    a = mf[8]
    b = mf[9]
    iext = mf[10]
    dt = mf[11]
    gld = mf[12]
    for i in range(vv.shape[0]):
        vi = vv[i]
        wi = aa[i]
        sc = gld * math.exp((vi - v_t) / delta_t)
        x = _syn_input(iext, vi, ga[i], gb[i], ka, kb, ea, eb)
        dv = (g_l * (e_l - vi) + sc - wi + x) / c_m
        wn = wi + dt_tw * (a * (vi - e_l) - wi)
        ga[i] = ga[i] * da
        gb[i] = gb[i] * db
        r = rr[i]
        if r > 0:
            rr[i] = r - 1
            aa[i] = wn
            continue
        vn = vi + dt * dv
        if vn >= v_peak:
            spk[n_spk] = start + i
            n_spk += 1
            vn = v_reset
            wn = wn + b
            rr[i] = ref
        vv[i] = vn
        aa[i] = wn
    return n_spk
