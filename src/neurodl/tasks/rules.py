"""Every learning rule of :mod:`neurodl.learning` on one dataset, through one call.

:func:`learn_rule` is what ``neurodl learn --rule`` and the tour run. The
credit-assignment rules that train a :class:`~neurodl.networks.FeedForward` with
:func:`~neurodl.learning.fit` (``bp``, ``fa``, ``dfa``, ``sign``, ``kp``) go through
:func:`neurodl.learning.rule_runs.train_rule`; the energy-based and local rules
(``pc``, ``ep``, ``ff``) through
:func:`neurodl.learning.local_rules.train_local_rule`. Both get the same data
(:func:`~neurodl.learning.rule_runs.load_rule_data`), the same hidden widths and the
same epochs, and report the same keys: ``test_accuracy``, ``train_loss`` and
``test_accuracy_curve`` per epoch, ``seconds``; the feedback rules add the angles
between their updates and the back-propagation gradient.
"""

from __future__ import annotations

import time
from typing import Any

import torch

from neurodl._validate import check_int, check_option, check_positive
from neurodl.errors import ValidationError
from neurodl.learning.local_rules import LOCAL_RULES, train_local_rule
from neurodl.learning.rule_runs import (
    DEFAULT_EPOCHS,
    RULE_DATA,
    load_rule_data,
    train_rule,
)
from neurodl.learning.trainer import RULES

__all__ = ["ALL_RULES", "RULE_DATA", "learn_rule", "subset"]

ALL_RULES: tuple[str, ...] = (*RULES, *LOCAL_RULES)
"""Every rule ``neurodl learn --rule`` accepts, in the order of the README."""


def subset(
    arrays: tuple[torch.Tensor, ...], n_train: int | None, seed: int = 0
) -> tuple[torch.Tensor, ...]:
    """Keep a stratified-by-chance random ``n_train`` of the training samples.

    ``arrays`` is ``(x_train, y_train, x_test, y_test)``; the test set is kept
    whole. None keeps everything.
    """
    if n_train is None:
        return arrays
    xtr, ytr, xte, yte = arrays
    n = xtr.shape[0]
    check_int("n_train", n_train, minimum=10)
    if n_train > n:
        raise ValidationError(
            f"'n_train' must be at most {n} (the training set); got {n_train}."
        )
    keep = torch.randperm(n, generator=torch.Generator().manual_seed(seed))[:n_train]
    return xtr[keep], ytr[keep], xte, yte


def learn_rule(
    rule: str,
    data: str = "mnist1d",
    *,
    hidden: tuple[int, ...] = (256, 256),
    epochs: int | None = None,
    lr: float | None = None,
    batch_size: int | None = None,
    seed: int = 0,
    n_train: int | None = None,
    arrays: tuple[torch.Tensor, ...] | None = None,
) -> dict[str, Any]:
    """Train ``rule`` on ``data``; return a JSON-friendly record.

    Parameters
    ----------
    rule : str
        One of :data:`ALL_RULES`.
    data : {"mnist1d", "digits", "mnist"}
    hidden : tuple of int
        Hidden widths (``ff``: its layers' widths).
    epochs : int or None
        None: 60 (MNIST-1D), 40 (digits), 5 (MNIST).
    lr, batch_size : optional
        None: the rule's default (Adam 1e-3 and batch 100 for the feedback rules;
        see :mod:`neurodl.learning.local_rules` for ``pc``, ``ep``, ``ff``).
    seed : int
        Seed of the weights, the order, the feedback matrices and the subset.
    n_train : int or None
        Train on this many randomly chosen training samples (None: all).
    arrays : (x_train, y_train, x_test, y_test), optional
        Data already loaded by :func:`~neurodl.learning.rule_runs.load_rule_data`.

    Returns
    -------
    dict
        ``rule``, ``data``, ``sizes``, ``epochs``, ``seed``, ``n_train``,
        ``test_accuracy``, ``train_loss``, ``test_accuracy_curve``, ``seconds``;
        for the feedback rules also ``update_angle`` and ``weight_angle`` (per
        epoch and layer, degrees).
    """
    check_option("rule", rule, ALL_RULES)
    check_option("data", data, RULE_DATA)
    hidden = tuple(hidden)
    if not hidden:
        raise ValidationError(
            "'hidden' needs at least one layer width (the rules differ only in how "
            "the error reaches hidden layers); got none."
        )
    for h in hidden:
        check_int("hidden", h, minimum=1)
    n_epochs = DEFAULT_EPOCHS[data] if epochs is None else epochs
    check_int("epochs", n_epochs, minimum=1)
    check_int("seed", seed, minimum=0)
    if lr is not None:
        check_positive("lr", lr)
    if batch_size is not None:
        check_int("batch_size", batch_size, minimum=1)
    if n_train is not None:
        check_int("n_train", n_train, minimum=10)
    t0 = time.perf_counter()
    loaded = load_rule_data(data) if arrays is None else arrays
    xtr, ytr, xte, yte = subset(tuple(loaded), n_train, seed)
    if rule in RULES:
        out = train_rule(
            rule,
            data,
            hidden=hidden,
            epochs=n_epochs,
            batch_size=100 if batch_size is None else batch_size,
            lr=1e-3 if lr is None else lr,
            seed=seed,
            arrays=(xtr, ytr, xte, yte),
        )
    else:
        out = train_local_rule(
            rule,
            xtr,
            ytr,
            xte,
            yte,
            hidden=hidden,
            epochs=n_epochs,
            lr=lr,
            batch_size=batch_size,
            seed=seed,
        )
        out["data"] = data
    out["epochs"] = n_epochs
    out["n_train"] = int(xtr.shape[0])
    out["n_test"] = int(xte.shape[0])
    out["seconds"] = time.perf_counter() - t0
    return out


def stdp_window(
    rule: Any = None,
    lags_ms: Any = None,
    *,
    dt: float = 0.1,
    backend: str = "numba",
) -> dict[str, Any]:
    """Measure an STDP rule's window in the spiking engine, one spike pair a synapse.

    Synapse ``k`` sees one presynaptic spike and one postsynaptic spike
    ``lags_ms[k]`` later (negative: post first). The postsynaptic neuron is made to
    spike by a 1e4 mV driver one step before (its own plastic input is far too weak
    to make it fire), so the weight change is the rule's alone. For pair STDP with
    all-to-all traces the result is the analytic window ``rule.window(lag)``
    (Bi & Poo 1998's shape; Morrison, Diesmann & Gerstner 2008 eqs. 11-14).

    Parameters
    ----------
    rule : STDP, optional
        Default: Bi & Poo's fit, ``tau_plus`` 16.8 ms, ``tau_minus`` 33.7 ms,
        amplitudes 0.01 and 0.005 (a relative change, LEARNING.md section 2.1).
    lags_ms : array of float, optional
        ``t_post - t_pre``; default -100 .. 100 ms in 1-ms steps without 0.

    Returns
    -------
    dict
        ``lag_ms``, ``dw`` (simulated), ``analytic`` (``rule.window``), arrays.
    """
    import numpy as np

    from neurodl.neurons.lif import LIFParams
    from neurodl.simulate import STDP, CurrentSynapse, Explicit, Network

    if rule is None:
        rule = STDP(
            a_plus=0.01,
            a_minus=0.005,
            tau_plus=16.8,
            tau_minus=33.7,
            w_min=-1.0,
            w_max=2.0,
        )
    lags = (
        np.concatenate([-np.arange(100, 0, -1), np.arange(1, 101)]).astype(float)
        if lags_ms is None
        else np.asarray(lags_ms, dtype=float)
    )
    n = len(lags)
    t_pre = 5.0 + np.maximum(-lags, 0.0)
    t_post = t_pre + lags
    net = Network(dt=dt, backend=backend, dtype=torch.float64)
    pre = net.spike_source(n, times=t_pre.tolist(), indices=list(range(n)))
    drive = net.spike_source(n, times=(t_post - dt).tolist(), indices=list(range(n)))
    cell = LIFParams(tau_mem=10.0, v_rest=-70.0, v_th=-50.0, v_reset=-70.0, t_ref=0.0)
    post = net.population(n, cell, method="euler")
    one = Explicit(np.arange(n), np.arange(n))
    net.connect(drive, post, one, CurrentSynapse(dt), weight=1e4)
    w0 = 0.5
    proj = net.connect(pre, post, one, CurrentSynapse(5.0), weight=w0, plasticity=rule)
    t_end = float(max(t_pre.max(), t_post.max())) + 5.0
    net.run(round(t_end / dt) * dt, progress=False)
    dw = proj.weight.detach().cpu().numpy().astype(float) - w0
    return {
        "lag_ms": lags,
        "dw": dw,
        "analytic": np.array([rule.window(float(d)) for d in lags]),
    }
