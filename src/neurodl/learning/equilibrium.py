"""Equilibrium propagation with symmetric nudging.

Scellier & Bengio 2017 (Front. Comput. Neurosci. 11:24); Laborieux et al. 2021.

:class:`EPNet` is a layered Hopfield-like network with symmetric connections: the
weight ``W_l`` (shape ``(n_{l-1}, n_l)``, as in :class:`~neurodl.networks.FeedForward`)
carries layer ``l - 1`` to layer ``l`` *and*, transposed, layer ``l`` back to
``l - 1``. With the input clamped (``s_0 = x``), the state ``s = (s_1, ..., s_K)``
settles to a stationary point of the energy::

    E(s) = sum_l G(s_l) - sum_l s_l . (s_{l-1} W_l + b_l)

where ``G' = rho^{-1}`` for the activation ``rho`` (``G(s) = s^2 / 2`` on [0, 1] for
the hard sigmoid), so that ``dE/ds_l = 0`` reads::

    s_l = rho(s_{l-1} W_l + b_l + s_{l+1} W_{l+1}^T)

the fixed-point iteration of Laborieux et al. (2021, Front. Neurosci. 15:633674,
their ``P_MLP``), run here as bottom-up sweeps with the newest states, vectorised
over the batch. With ``loss="cross_entropy"`` the last layer is a softmax read-out
``z = s_K W_L + b_L`` outside the dynamics (Laborieux et al.'s ``--softmax``
variant) and the cost is ``C = CE(z, y)``; with ``loss="mse"`` the output units are
the last dynamic layer and ``C = 1/2 ||s_L - y||^2``.

*Nudged phases* minimise ``E + beta C``: the last dynamic layer receives
``- beta dC/ds_K`` (``beta (y - s_L)``, or ``-beta (softmax(z) - y) W_L^T``). With
``s^beta`` the stationary point at ``beta``, the EP estimate of the gradient of
``L(theta) = C(s^0)`` is the symmetric difference (Laborieux et al. 2021, eq. 6)::

    dL/dtheta ~ 1/(2 beta) [ d(E + beta C)/dtheta (s^{+beta})
                             - d(E - beta C)/dtheta (s^{-beta}) ]

whose error is O(beta^2), against O(beta) for the one-sided estimate
``1/beta [d(E + beta C)/dtheta (s^beta) - dE/dtheta (s^0)]`` (Scellier & Bengio
2017). Both are local: ``dE/dW_l = -s_{l-1}^T s_l`` and ``dE/db_l = -sum_n s_l``,
a contrastive Hebbian product of the pre- and postsynaptic states of two phases.
The update ``theta <- theta - lr * estimate`` is thus ``Delta W_l ∝ (1/(2 beta))
(s_{l-1}^{+T} s_l^+ - s_{l-1}^{-T} s_l^-)``. The read-out weights (only in ``C``)
get ``1/2 [dC/dW_L (s^+) + dC/dW_L (s^-)]``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from neurodl._validate import check_int, check_option, check_positive, check_sizes
from neurodl.errors import ValidationError
from neurodl.learning._local import (
    check_common,
    check_data,
    check_inputs,
    check_labels,
    run_epochs,
)
from neurodl.learning.optimizers import make_optimizer
from neurodl.learning.trainer import History

__all__ = [
    "EP_ACTIVATIONS",
    "EP_LOSSES",
    "NUDGING",
    "EPConfig",
    "EPNet",
    "ep_gradients",
    "ep_relax",
    "fit_ep",
]

RULE = "equilibrium propagation"
EP_LOSSES = ("cross_entropy", "mse")
"""Costs EP supports: a softmax read-out, or output units inside the dynamics."""
NUDGING = ("symmetric", "positive")
"""``"symmetric"``: phases at +beta and -beta; ``"positive"``: free and +beta."""


def _hard_sigmoid(u: Tensor) -> Tensor:
    return u.clamp(0.0, 1.0)  # rho(u) = min(max(u, 0), 1); G(s) = s^2 / 2 on [0, 1]


EP_ACTIVATIONS: dict[str, Callable[[Tensor], Tensor]] = {
    "hard_sigmoid": _hard_sigmoid,
    "sigmoid": torch.sigmoid,  # G(s) = s log s + (1 - s) log(1 - s)
    "tanh": torch.tanh,  # G(s) = artanh(s) s + 1/2 log(1 - s^2)
}
"""Activations ``rho`` of the EP network, by name."""


@dataclass(frozen=True)
class EPConfig:
    """Settings of the phases of equilibrium propagation.

    Parameters
    ----------
    beta : float
        Nudging strength (> 0).
    n_free : int
        Sweeps of the free phase, from zero states (Laborieux's ``T1``).
    n_nudged : int
        Sweeps of each nudged phase, from the free fixed point (``T2``).
    nudging : {"symmetric", "positive"}
        Phases at ``+beta`` and ``-beta`` (error O(beta^2)), or free and ``+beta``
        (O(beta)).
    """

    beta: float = 0.5
    n_free: int = 30
    n_nudged: int = 10
    nudging: str = "symmetric"

    def __post_init__(self) -> None:
        """Check every field."""
        try:
            check_positive("beta", self.beta)
            check_int("n_free", self.n_free, minimum=1)
            check_int("n_nudged", self.n_nudged, minimum=1)
            check_option("nudging", self.nudging, NUDGING)
        except ValidationError as exc:
            raise ValidationError(f"{RULE}: {exc}") from None


class EPNet(nn.Module):
    """A layered energy-based network with symmetric weights, for EP.

    Parameters
    ----------
    sizes : sequence of int
        Widths from input to output, e.g. ``(784, 256, 256, 10)``; at least one
        hidden layer.
    activation : {"hard_sigmoid", "sigmoid", "tanh"}
        The activation ``rho`` of every dynamic layer.
    loss : {"cross_entropy", "mse"}
        Softmax read-out outside the dynamics, or output units inside them.
    seed : int or None
        Seed of the initialisation: ``W, b ~ U(-1/sqrt(n_in), 1/sqrt(n_in))``, as
        ``nn.Linear`` (Laborieux et al.'s ``P_MLP``), drawn in float64 and cast.
    dtype, device
        Where the parameters live.

    Examples
    --------
    >>> import torch
    >>> net = EPNet((4, 6, 3), seed=0, dtype=torch.float64)
    >>> gen = torch.Generator().manual_seed(1)
    >>> x = torch.rand(2, 4, dtype=torch.float64, generator=gen)
    >>> net.predict(x, EPConfig(n_free=50)).shape
    torch.Size([2])
    """

    def __init__(
        self,
        sizes: tuple[int, ...] | list[int],
        activation: str = "hard_sigmoid",
        loss: str = "cross_entropy",
        *,
        seed: int | None = None,
        dtype: torch.dtype | None = None,
        device: torch.device | str | None = None,
    ) -> None:
        super().__init__()
        try:
            self.sizes = check_sizes("sizes", sizes)
            check_option("activation", activation, EP_ACTIVATIONS)
            check_option("loss", loss, EP_LOSSES)
        except ValidationError as exc:
            raise ValidationError(f"{RULE}: {exc}") from None
        if len(self.sizes) < 3:
            raise ValidationError(
                f"{RULE}: 'sizes' needs at least one hidden layer (the dynamics "
                f"settle the hidden states); got {list(sizes)!r}."
            )
        self.activation = activation
        self.loss = loss
        self.rho = EP_ACTIVATIONS[activation]
        self.params = nn.ParameterList()
        for n_in, n_out in zip(self.sizes[:-1], self.sizes[1:], strict=True):
            self.params.append(
                nn.Parameter(torch.empty(n_in, n_out, dtype=dtype, device=device))
            )
            self.params.append(
                nn.Parameter(torch.empty(n_out, dtype=dtype, device=device))
            )
        self.reset_parameters(seed)

    @torch.no_grad()
    def reset_parameters(self, seed: int | None = None) -> None:
        """Draw ``W, b ~ U(-1/sqrt(n_in), 1/sqrt(n_in))`` from ``seed``."""
        gen = torch.Generator()
        gen.manual_seed(
            int(torch.randint(0, 2**62, (1,)).item()) if seed is None else seed
        )
        for p in self.params:  # W_1, b_1, W_2, ...: a bias after its weight
            if p.ndim == 2:
                bound = 1.0 / math.sqrt(p.shape[0])
            draw = torch.rand(p.shape, generator=gen, dtype=torch.float64) * 2 - 1
            p.copy_(draw * bound)

    @property
    def dtype(self) -> torch.dtype:
        """Floating-point type of the parameters."""
        return self.params[0].dtype

    def weights(self) -> list[Tensor]:
        """Return ``[W_1, b_1, W_2, ...]`` detached (sharing storage)."""
        return [p.detach() for p in self.params]

    def n_dynamic(self) -> int:
        """Return the number of layers in the dynamics (hidden, plus output for mse)."""
        return (
            len(self.sizes) - 2 if self.loss == "cross_entropy" else len(self.sizes) - 1
        )

    def logits(self, states: list[Tensor]) -> Tensor:
        """Return the output of settled ``states``: read-out logits or ``s_L``."""
        if self.loss == "cross_entropy":
            W, b = self.weights()[-2:]
            return torch.addmm(b, states[-1], W)
        return states[-1]

    def predict(self, x: Tensor, config: EPConfig | None = None) -> Tensor:
        """Return the predicted class of each row of ``x`` at the free fixed point."""
        cfg = config if config is not None else EPConfig()
        xt = check_inputs("x", x, self.sizes[0], self.dtype, RULE)
        with torch.no_grad():
            states = _relax(self, xt, None, 0.0, cfg.n_free, None)
            return self.logits(states).argmax(dim=1)


def _target(net: EPNet, y: Tensor) -> Tensor:
    return torch.nn.functional.one_hot(y, net.sizes[-1]).to(net.dtype)


def _relax(
    net: EPNet,
    x: Tensor,
    y_onehot: Tensor | None,
    beta: float,
    n_steps: int,
    start: list[Tensor] | None,
) -> list[Tensor]:
    """Run ``n_steps`` bottom-up sweeps of ``s_l <- rho(du_l)``; return the states."""
    w = net.weights()
    k = net.n_dynamic()
    rho = net.rho
    if start is None:
        s = [x.new_zeros(x.shape[0], n) for n in net.sizes[1 : k + 1]]
    else:
        s = [t.clone() for t in start]
    drive = torch.addmm(w[1], x, w[0])  # x W_1 + b_1: constant over the sweeps
    ce = net.loss == "cross_entropy"
    for _ in range(n_steps):
        for i in range(k):  # s[i] is layer i + 1
            u = drive if i == 0 else torch.addmm(w[2 * i + 1], s[i - 1], w[2 * i])
            if i + 1 < k:
                u = u + s[i + 1] @ w[2 * i + 2].T  # top-down: s_{l+1} W_{l+1}^T
            if beta != 0.0 and i == k - 1:
                assert y_onehot is not None
                if ce:  # - beta dC/ds_K = - beta (softmax(z) - y) W_L^T
                    z = torch.addmm(w[-1], s[i], w[-2])
                    u = u - beta * (torch.softmax(z, dim=1) - y_onehot) @ w[-2].T
                else:  # - beta dC/ds_L = beta (y - s_L)
                    u = u + beta * (y_onehot - s[i])
            s[i] = rho(u)
    return s


def ep_relax(
    net: EPNet,
    x: Tensor,
    y: Tensor | None = None,
    *,
    beta: float = 0.0,
    n_steps: int = 30,
    start: list[Tensor] | None = None,
) -> list[Tensor]:
    """Settle the network on ``x`` (nudged towards labels ``y`` when ``beta != 0``).

    Returns the states ``[s_1, ..., s_K]`` of the dynamic layers after
    ``n_steps`` sweeps, started from ``start`` (default zeros).
    """
    xt = check_inputs("x", x, net.sizes[0], net.dtype, RULE)
    try:
        check_int("n_steps", n_steps, minimum=0)
    except ValidationError as exc:
        raise ValidationError(f"{RULE}: {exc}") from None
    if not math.isfinite(beta):
        raise ValidationError(f"{RULE}: 'beta' must be finite; got {beta!r}.")
    yo = None
    if beta != 0.0:
        if y is None:
            raise ValidationError(f"{RULE}: a nudged phase (beta != 0) needs 'y'.")
        yo = _target(net, check_labels("y", y, xt.shape[0], net.sizes[-1], RULE))
    with torch.no_grad():
        return _relax(net, xt, yo, beta, n_steps, start)


def _energy_grads(net: EPNet, x: Tensor, s: list[Tensor]) -> list[Tensor]:
    """Return ``[dE/dW_1, dE/db_1, ...]`` of the dynamic layers, summed over samples."""
    out: list[Tensor] = []
    pre = [x, *s]
    for i in range(net.n_dynamic()):
        out.append(-(pre[i].T @ pre[i + 1]))  # dE/dW_l = -s_{l-1}^T s_l
        out.append(-pre[i + 1].sum(dim=0))  # dE/db_l = -sum_n s_l
    return out


def _cost_grads(net: EPNet, s: list[Tensor], y_onehot: Tensor) -> list[Tensor]:
    """Return ``[dC/dW_L, dC/db_L]`` of the read-out, summed over samples."""
    W, b = net.weights()[-2:]
    delta = torch.softmax(torch.addmm(b, s[-1], W), dim=1) - y_onehot
    return [s[-1].T @ delta, delta.sum(dim=0)]


def _estimate(
    net: EPNet, x: Tensor, y_onehot: Tensor, cfg: EPConfig
) -> tuple[list[Tensor], list[Tensor]]:
    """Return ``(EP estimate of [dL/dW_1, dL/db_1, ...] (batch mean), free states)``."""
    n = x.shape[0]
    beta = cfg.beta
    free = _relax(net, x, None, 0.0, cfg.n_free, None)
    plus = _relax(net, x, y_onehot, beta, cfg.n_nudged, free)
    if cfg.nudging == "symmetric":
        minus = _relax(net, x, y_onehot, -beta, cfg.n_nudged, free)
        scale = 1.0 / (2.0 * beta * n)
    else:
        minus = free
        scale = 1.0 / (beta * n)
    g_plus = _energy_grads(net, x, plus)
    g_minus = _energy_grads(net, x, minus)
    grads = [(a - b) * scale for a, b in zip(g_plus, g_minus, strict=True)]
    if net.loss == "cross_entropy":
        c_plus = _cost_grads(net, plus, y_onehot)
        if cfg.nudging == "symmetric":  # [beta dC(s+) + beta dC(s-)] / (2 beta)
            c_minus = _cost_grads(net, minus, y_onehot)
            grads += [(a + b) / (2.0 * n) for a, b in zip(c_plus, c_minus, strict=True)]
        else:  # beta dC(s+) / beta
            grads += [a / n for a in c_plus]
    return grads, free


def _names(net: EPNet) -> list[str]:
    return [f"layers.{i}.{t}" for i in range(len(net.sizes) - 1) for t in ("W", "b")]


def ep_gradients(
    net: EPNet, x: Tensor, y: Tensor, config: EPConfig | None = None
) -> dict[str, Tensor]:
    """Return EP's estimate of ``dL/dtheta`` (mean over the batch), per parameter.

    ``L`` is the cost at the free fixed point: the mean cross-entropy of the
    read-out (``loss="cross_entropy"``) or the mean of ``1/2 ||s_L - y||^2``.
    Keys ``"layers.{i}.W"`` and ``"layers.{i}.b"``, shapes of the parameters.
    """
    cfg = config if config is not None else EPConfig()
    xt = check_inputs("x", x, net.sizes[0], net.dtype, RULE)
    yt = check_labels("y", y, xt.shape[0], net.sizes[-1], RULE)
    with torch.no_grad():
        grads, _ = _estimate(net, xt, _target(net, yt), cfg)
    return dict(zip(_names(net), grads, strict=True))


def _cost(net: EPNet, states: list[Tensor], y_onehot: Tensor) -> Tensor:
    """Return the cost summed over the batch at ``states``."""
    z = net.logits(states)
    if net.loss == "cross_entropy":
        return -(torch.log_softmax(z, dim=1) * y_onehot).sum()
    return 0.5 * ((z - y_onehot) ** 2).sum()


def fit_ep(
    net: EPNet,
    x: Tensor,
    y: Tensor,
    config: EPConfig | None = None,
    *,
    epochs: int = 5,
    batch_size: int = 64,
    lr: float = 5e-4,
    optimizer: str = "adam",
    seed: int = 0,
    validation: tuple[Tensor, Tensor] | None = None,
) -> History:
    """Train ``net`` in place with equilibrium propagation; return the history.

    Each minibatch runs the free phase, the nudged phase(s) and steps
    ``optimizer`` with the EP estimate (:func:`ep_gradients`). ``history.loss`` is
    the cost at the free fixed point before each step; predictions are the
    read-out at the free fixed point (``config.n_free`` sweeps).
    """
    cfg = config if config is not None else EPConfig()
    check_common(RULE, epochs, batch_size, lr, seed, optimizer)
    xt, yt, val = check_data(
        RULE,
        x,
        y,
        validation,
        n_features=net.sizes[0],
        n_classes=net.sizes[-1],
        dtype=net.dtype,
    )
    opt = make_optimizer(optimizer, net.weights(), lr)

    def step(xb: Tensor, yb: Tensor) -> float:
        with torch.no_grad():
            yo = _target(net, yb)
            grads, free = _estimate(net, xb, yo, cfg)
            value = float(_cost(net, free, yo))
            opt.step(grads)
        return value

    def predict(xb: Tensor) -> Tensor:
        with torch.no_grad():
            return net.logits(_relax(net, xb, None, 0.0, cfg.n_free, None)).argmax(1)

    return run_epochs(
        step,
        predict,
        xt,
        yt,
        epochs=epochs,
        batch_size=batch_size,
        seed=seed,
        validation=val,
        rule=RULE,
    )
