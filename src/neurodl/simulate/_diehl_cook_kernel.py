"""Compiled presentation loop of the Diehl & Cook (2015) network (numba, one thread).

One call presents a block of images, each for ``n_present`` steps of Poisson input
followed by ``n_rest`` steps without input, exactly as the original Brian code
(``peter-u-diehl/stdp-mnist``, ``Diehl&Cook_spiking_MNIST.py``) schedules them:

* input: pixel ``i`` fires in each step with probability ``p_i = r_i dt`` (Brian's
  ``PoissonGroup``), drawn event by event: the gaps between a pixel's spikes are
  geometric with parameter ``p_i`` (the same distribution as one Bernoulli draw per
  step, without a random number per pixel per step); the events are bucketed by
  step (a counting sort);
* one step: forward-Euler update of every neuron (``v``, ``ge``, ``gi``; Brian 1
  integrated this bilinear system with Euler; where a ``v`` step would overshoot
  the fixed point of the conductances, the exact step instead), threshold (an
  excitatory neuron also needs ``timer_e >= block_e``: the steps since its last
  spike, which is the authors' ``timer`` variable counted in steps), arrival of
  the input spikes emitted ``d_ij`` steps ago at each synapse (``ge += w``, then
  the pre event of the plasticity there), exc -> inh and inh -> exc spikes (no delay),
  post events of the plasticity, then reset. A synapse's arrivals are found from
  the spikes of the current presentation and a CSR of the synapses by (pixel,
  delay), so no queue is needed;
* STDP traces are exact exponentials (Brian's linear updater): the pre trace of
  synapse ``ij`` is ``exp(-(t - a_ij) / tau_pre)`` with ``a_ij`` its last arrival
  (the trace is set to 1 at each arrival), the post traces decay by
  ``exp(-dt / tau)`` per step.

The parameter vector ``pf`` and the integer vector ``pi`` are laid out by the
``F_*`` / ``I_*`` indices below (module constants: numba freezes them).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

__all__ = [
    "normalise",
    "poisson_events",
    "post_event",
    "pre_arrival",
    "present",
    "stdp_replay",
]

# float parameters (pf)
F_DT = 0
F_TAU_E = 1  # ms, exc. membrane
F_TAU_I = 2  # ms, inh. membrane
F_VREST_E = 3
F_VREST_I = 4
F_VRESET_E = 5
F_VRESET_I = 6
F_VTH_E = 7
F_VTH_I = 8
F_E_EXC = 9  # mV, excitatory reversal
F_E_INH_E = 10  # mV, inhibitory reversal on exc. neurons
F_TAU_GE = 11
F_TAU_GI = 12
F_THETA_PLUS = 13
F_TAU_THETA = 14
F_OFFSET = 15  # mV: threshold = v_th + theta - offset
F_W_EI = 16
F_W_IE = 17
F_NU_PRE = 18
F_NU_POST = 19
F_TAU_PRE = 20
F_TAU_POST1 = 21
F_TAU_POST2 = 22
F_WMAX = 23
F_W_SUM = 24  # normalisation target of each exc. neuron's input weights
F_INTENSITY = 25  # starting input intensity
F_INTENSITY_STEP = 26  # added after a presentation with too few spikes
F_RATE_SCALE = 27  # Hz per pixel unit per intensity unit (1/8)
N_F = 28

# integer parameters (pi)
I_PRESENT = 0  # steps of input
I_REST = 1  # steps of rest
I_REF_E = 2  # refractory steps
I_REF_I = 3
I_MIN_SPIKES = 4
I_MAX_ATTEMPTS = 5
I_BLOCK_E = 6  # steps after an exc. spike before the next (the ``timer`` rule)
N_I = 7

NEVER = -(2**62)


@njit(cache=True, nogil=True, error_model="numpy")
def poisson_events(img, p_scale, n_present, ev_pix, cnt, start, order):  # type: ignore[no-untyped-def]
    """Draw the input spikes of one presentation; return the number of events.

    Pixel ``i`` spikes in a step with probability ``min(img[i] p_scale, 1)``. On
    return, the pixels spiking in step ``k`` are ``order[start[k]:start[k + 1]]``.
    """
    n_ev = 0
    for i in range(img.shape[0]):
        p = img[i] * p_scale
        if p <= 0.0:
            continue
        if p >= 1.0:
            for k in range(n_present):
                ev_pix[n_ev] = i
                cnt[n_ev] = k
                n_ev += 1
            continue
        lq = math.log1p(-p)
        k = -1
        while True:
            u = 1.0 - np.random.random()  # noqa: NPY002  (0, 1], numba's generator
            k += 1 + math.floor(math.log(u) / lq)
            if k >= n_present:
                break
            ev_pix[n_ev] = i
            cnt[n_ev] = k
            n_ev += 1
    # counting sort by step
    for k in range(n_present + 1):
        start[k] = 0
    for e in range(n_ev):
        start[cnt[e] + 1] += 1
    for k in range(n_present):
        start[k + 1] += start[k]
    fill = start[:n_present].copy()
    for e in range(n_ev):
        k = cnt[e]
        order[fill[k]] = ev_pix[e]
        fill[k] += 1
    return n_ev


@njit(cache=True, nogil=True, error_model="numpy")
def _membrane(v, k, v_rest, ge, e_exc, gi, e_inh):  # type: ignore[no-untyped-def]
    """One step of ``tau dv/dt = (v_rest - v) + ge (e_exc - v) + gi (e_inh - v)``.

    Forward Euler (``k = dt / tau``), as Brian 1 ran the model, while
    ``k (1 + ge + gi) <= 1``. Beyond that Euler would step past the fixed point
    ``v_inf`` the conductances pull ``v`` towards (and diverge beyond 2); the step
    is then the exact one for conductances held over the step,
    ``v_inf + (v - v_inf) exp(-k (1 + ge + gi))``. With the paper's constants
    that takes a dozen inhibitory spikes in one step.
    """
    g = 1.0 + ge + gi
    if k * g <= 1.0:
        return v + k * ((v_rest - v) + ge * (e_exc - v) + gi * (e_inh - v))
    v_inf = (v_rest + ge * e_exc + gi * e_inh) / g
    return v_inf + (v - v_inf) * math.exp(-k * g)


@njit(cache=True, nogil=True, error_model="numpy")
def pre_table(n, dt_tau):  # type: ignore[no-untyped-def]
    """``exp(-lag dt / tau_pre)`` for lags ``0..n-1`` (the exact pre trace)."""
    out = np.empty(n)
    for lag in range(n):
        out[lag] = math.exp(-lag * dt_tau)
    return out


@njit(cache=True, nogil=True, error_model="numpy")
def pre_arrival(w, i, j, gk, post1, last_arr, nu_pre):  # type: ignore[no-untyped-def]
    """Deliver a spike of pixel ``i`` to synapse ``ij`` at step ``gk``.

    ``w_ij -= nu_pre x_post1_j`` (floor 0); the synapse's pre trace is set to 1
    (``last_arr[i, j] = gk``).
    """
    last_arr[i, j] = gk
    x = post1[j]
    if x > 0.0:
        y = w[i, j] - nu_pre * x
        w[i, j] = y if y > 0.0 else 0.0


@njit(cache=True, nogil=True, error_model="numpy")
def post_event(w, j, gk, post2, last_arr, pre_tab, dt_tau, nu_post, wmax):  # type: ignore[no-untyped-def]
    """Neuron ``j`` fires at step ``gk``: ``w_ij += nu_post x_pre_i x_post2_j(t-)``.

    Capped at ``wmax``; the caller then sets the post traces to 1.
    """
    f = nu_post * post2[j]
    if f == 0.0:
        return
    n_tab = pre_tab.shape[0]
    for i in range(w.shape[0]):
        last = last_arr[i, j]
        if last == NEVER:
            continue
        lag = gk - last
        x = pre_tab[lag] if lag < n_tab else math.exp(-lag * dt_tau)
        y = w[i, j] + f * x
        w[i, j] = y if y < wmax else wmax


@njit(cache=True, nogil=True, error_model="numpy")
def stdp_replay(w, pre_steps, pre_index, post_steps, n_steps, pf):  # type: ignore[no-untyped-def]
    """Apply the kernel's plasticity to given spike trains (no neuron dynamics).

    ``pre_steps``/``pre_index``: steps and pixels of the input spikes;
    ``post_steps``: steps of neuron 0's spikes (``w`` has one column). Same trace
    updates and event order as :func:`present` (decay, pre events, post events).
    """
    dt = pf[F_DT]
    d1 = math.exp(-dt / pf[F_TAU_POST1])
    d2 = math.exp(-dt / pf[F_TAU_POST2])
    post1 = np.zeros(1)
    post2 = np.zeros(1)
    last_arr = np.full(w.shape, NEVER, np.int64)
    pre_tab = pre_table(n_steps + 1, dt / pf[F_TAU_PRE])
    a = 0
    b = 0
    for k in range(n_steps):
        post1[0] *= d1
        post2[0] *= d2
        while a < pre_steps.shape[0] and pre_steps[a] == k:
            pre_arrival(w, pre_index[a], 0, k, post1, last_arr, pf[F_NU_PRE])
            a += 1
        while b < post_steps.shape[0] and post_steps[b] == k:
            post_event(
                w,
                0,
                k,
                post2,
                last_arr,
                pre_tab,
                dt / pf[F_TAU_PRE],
                pf[F_NU_POST],
                pf[F_WMAX],
            )
            post1[0] = 1.0
            post2[0] = 1.0
            b += 1
    return w


@njit(cache=True, nogil=True)
def seed_rng(seed):  # type: ignore[no-untyped-def]
    """Seed numba's generator (for tests of :func:`poisson_events`)."""
    np.random.seed(seed)  # noqa: NPY002


@njit(cache=True, nogil=True, error_model="numpy")
def normalise(w, w_sum):  # type: ignore[no-untyped-def]
    """Scale each column (one exc. neuron's input weights) to sum to ``w_sum``."""
    n_in, n_e = w.shape
    for j in range(n_e):
        s = 0.0
        for i in range(n_in):
            s += w[i, j]
        if s > 0.0:
            f = w_sum / s
            for i in range(n_in):
                w[i, j] *= f


@njit(cache=True, nogil=True, error_model="numpy")
def present(  # type: ignore[no-untyped-def]
    images,  # (n, 784) uint8
    learn,  # bool: STDP, theta adaptation and weight normalisation on
    w,  # (784, n_e) float64, input -> exc weights (in place)
    syn_ptr,  # (784 * L + 1,) CSR of the exc. targets by (pixel, delay)
    syn_j,  # (784 * n_e,) target neuron of each CSR entry
    n_delay,  # L: delays are 0 .. L - 1 steps
    v_e,
    ge_e,
    gi_e,
    theta,
    refr_e,
    timer_e,  # exc. state (n_e,); timer_e: steps since the last spike (capped)
    v_i,
    ge_i,
    refr_i,  # inh. state (n_e,)
    post1,
    post2,  # post traces (n_e,)
    last_arr,  # (784, n_e) int64 global step of each synapse's last arrival
    clock,  # (1,) int64 global step
    pf,
    pi,
    seeds,  # (n,) uint32-range seeds, one per image (attempt a adds a)
    counts,  # (n, n_e) int32 out: exc. spikes during the presentation
    attempts,  # (n,) int32 out: presentations needed (1 = first)
):
    n_img = images.shape[0]
    n_in, n_e = w.shape
    big_l = n_delay
    dt = pf[F_DT]
    n_present = pi[I_PRESENT]
    n_total = n_present + pi[I_REST]
    ref_e = pi[I_REF_E]
    ref_i = pi[I_REF_I]
    block_e = pi[I_BLOCK_E]
    k_e = dt / pf[F_TAU_E]
    k_i = dt / pf[F_TAU_I]
    a_ge = 1.0 - dt / pf[F_TAU_GE]  # forward Euler, as Brian 1 ran the model
    a_gi = 1.0 - dt / pf[F_TAU_GI]
    a_th = math.exp(-dt / pf[F_TAU_THETA])
    d1 = math.exp(-dt / pf[F_TAU_POST1])
    d2 = math.exp(-dt / pf[F_TAU_POST2])
    vrest_e = pf[F_VREST_E]
    vrest_i = pf[F_VREST_I]
    e_exc = pf[F_E_EXC]
    e_inh = pf[F_E_INH_E]
    thr_base = pf[F_VTH_E] - pf[F_OFFSET]
    vth_i = pf[F_VTH_I]
    w_ei = pf[F_W_EI]
    w_ie = pf[F_W_IE]
    nu_pre = pf[F_NU_PRE]
    nu_post = pf[F_NU_POST]
    wmax = pf[F_WMAX]
    # exact pre-trace values by lag (steps since the pixel's last spike)
    pre_tab = pre_table(n_total + big_l, dt / pf[F_TAU_PRE])
    inv_tau_pre = dt / pf[F_TAU_PRE]
    ev_pix = np.empty(n_in * n_present, np.int64)
    ev_step = np.empty(n_in * n_present, np.int64)
    start = np.empty(n_present + 1, np.int64)
    order = np.empty(n_in * n_present, np.int64)
    img = np.empty(n_in)
    spk_e = np.empty(n_e, np.int64)
    spk_i = np.empty(n_e, np.int64)
    for n in range(n_img):
        intensity = pf[F_INTENSITY]
        for i in range(n_in):
            img[i] = images[n, i]
        attempt = 0
        while True:
            attempt += 1
            if learn:
                normalise(w, pf[F_W_SUM])
            np.random.seed(np.uint32((seeds[n] + attempt - 1) % 4294967296))  # noqa: NPY002
            p_scale = intensity * pf[F_RATE_SCALE] * dt * 1e-3
            poisson_events(img, p_scale, n_present, ev_pix, ev_step, start, order)
            for j in range(n_e):
                counts[n, j] = 0
            total = 0
            for k in range(n_total):
                gk = clock[0]
                # 1-2. integrate (Euler) and threshold, exc. then inh.
                ne_spk = 0
                for j in range(n_e):
                    if learn:
                        theta[j] *= a_th
                    post1[j] *= d1
                    post2[j] *= d2
                    g1 = ge_e[j]
                    g2 = gi_e[j]
                    ge_e[j] = g1 * a_ge
                    gi_e[j] = g2 * a_gi
                    if timer_e[j] < block_e:
                        timer_e[j] += 1
                    if refr_e[j] > 0:
                        refr_e[j] -= 1
                        continue
                    v = v_e[j]
                    v = _membrane(v, k_e, vrest_e, g1, e_exc, g2, e_inh)
                    v_e[j] = v
                    if v > thr_base + theta[j] and timer_e[j] >= block_e:
                        spk_e[ne_spk] = j
                        ne_spk += 1
                ni_spk = 0
                for j in range(n_e):
                    g1 = ge_i[j]
                    ge_i[j] = g1 * a_ge
                    if refr_i[j] > 0:
                        refr_i[j] -= 1
                        continue
                    v = v_i[j]
                    v = _membrane(v, k_i, vrest_i, g1, e_exc, 0.0, 0.0)
                    v_i[j] = v
                    if v > vth_i:
                        spk_i[ni_spk] = j
                        ni_spk += 1
                # 3. arrivals of input spikes emitted d steps ago (pre events),
                # then exc -> inh and inh -> exc
                for d in range(big_l):
                    kk = k - d
                    if kk < 0 or kk >= n_present:
                        continue
                    for e in range(start[kk], start[kk + 1]):
                        i = order[e]
                        row = i * big_l + d
                        for q in range(syn_ptr[row], syn_ptr[row + 1]):
                            j = syn_j[q]
                            ge_e[j] += w[i, j]
                            if learn:
                                pre_arrival(w, i, j, gk, post1, last_arr, nu_pre)
                for s in range(ne_spk):
                    ge_i[spk_e[s]] += w_ei
                for s in range(ni_spk):
                    src = spk_i[s]
                    for j in range(n_e):
                        if j != src:
                            gi_e[j] += w_ie
                # 4. post events: potentiation by pre * post2(t - eps); post = 1
                for s in range(ne_spk):
                    j = spk_e[s]
                    if learn:
                        post_event(
                            w,
                            j,
                            gk,
                            post2,
                            last_arr,
                            pre_tab,
                            inv_tau_pre,
                            nu_post,
                            wmax,
                        )
                        theta[j] += pf[F_THETA_PLUS]
                    post1[j] = 1.0
                    post2[j] = 1.0
                    # 5. reset
                    v_e[j] = pf[F_VRESET_E]
                    refr_e[j] = ref_e
                    timer_e[j] = 0
                    if k < n_present:
                        counts[n, j] += 1
                        total += 1
                for s in range(ni_spk):
                    j = spk_i[s]
                    v_i[j] = pf[F_VRESET_I]
                    refr_i[j] = ref_i
                clock[0] = gk + 1
            if total >= pi[I_MIN_SPIKES] or attempt >= pi[I_MAX_ATTEMPTS]:
                break
            intensity += pf[F_INTENSITY_STEP]
        attempts[n] = attempt
    return 0
