"""Predictive coding with inference learning (Whittington & Bogacz 2017).

A predictive-coding network has the weights of a :class:`~neurodl.networks.FeedForward`
(``W_l`` of shape ``(n_{l-1}, n_l)``, ``b_l``) and one *value node* ``x_l`` per
neuron. Each layer predicts the next, ``mu_l = f_l(x_{l-1} W_l + b_l)``, and the
energy sums the prediction errors ``eps_l = x_l - mu_l`` of the hidden layers and the
loss at the output (Whittington & Bogacz 2017, Neural Comput. 29:1229, eq. 9 with
unit variances)::

    F = sum_{l<L} 1/2 ||eps_l||^2 + loss(z_L, y),    z_L = x_{L-1} W_L + b_L

For ``loss="mse"`` the output value node is clamped to the target, ``x_L = y``, and
the last term is the output prediction error ``1/2 ||y - f_L(z_L)||^2``; for
``loss="cross_entropy"`` it is the softmax cross-entropy of ``z_L``. Write
``e_l = eps_l * f_l'(z_l)`` for the error at the pre-activation of a hidden layer
and ``e_L = -dloss/dz_L`` (``(y - a_L) f_L'(z_L)``, or ``y - softmax(z_L)``).

*Inference* starts the value nodes at the feed-forward pass (``x_l = a_l``, so
every hidden error is 0) with the input clamped, and relaxes the hidden nodes for
``n_steps`` steps of size ``gamma`` down the energy::

    x_l <- x_l - gamma dF/dx_l = x_l - gamma (eps_l - e_{l+1} W_{l+1}^T)

*Learning* is then local and Hebbian, prediction error times presynaptic activity::

    Delta W_l = x_{l-1}^T e_l,     Delta b_l = sum_n e_l

As the errors settle, ``e_l -> -N delta_l`` of back-propagation (Whittington &
Bogacz 2017), so ``-Delta W_l`` estimates ``dL/dW_l``; this module returns that
estimate, scaled by the loss's mean factor
(:meth:`~neurodl.networks.losses.Loss.mean_factor`) so that it estimates the gradient
of the very loss :meth:`FeedForward.backprop` differentiates, and any optimizer can
step with it. After ``n_steps >= L + 2`` steps of ``gamma = 0.1`` it points along the
back-propagation gradient (cosine >= 0.99 in every layer, tested).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from neurodl._validate import check_int, check_option, check_positive
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
from neurodl.networks.feedforward import Dense, FeedForward
from neurodl.networks.losses import get_loss

__all__ = ["PC_LOSSES", "PCConfig", "PCState", "fit_pc", "pc_gradients", "pc_infer"]

PC_LOSSES = ("mse", "cross_entropy")
"""Output losses predictive coding supports."""

RULE = "predictive coding"


@dataclass(frozen=True)
class PCConfig:
    """Settings of predictive-coding inference and learning.

    Parameters
    ----------
    n_steps : int
        Inference steps ``T`` before the weight update (>= 0; 0 leaves every hidden
        error at 0, so only the output layer learns).
    gamma : float
        Inference step size, in (0, 1]. The relaxation is stable only while
        ``gamma`` times the largest curvature of ``F`` stays below 2: about 0.2
        for tanh or relu layers 128 wide, larger for sigmoid.
    loss : {"mse", "cross_entropy"}
        The output energy (see the module docstring).
    precision : float
        Weight ``lambda`` of the output energy (the inverse output variance of
        Whittington & Bogacz): ``F = sum 1/2 ||eps_l||^2 + lambda loss``. The
        estimate is divided by ``lambda``; it tends to the gradient as ``lambda``
        goes to 0 (a weakly clamped output), while ``lambda = 1`` clamps the
        output fully.
    fixed_prediction : bool
        Predict from the feed-forward activities ``a_{l-1}`` throughout inference
        (the fixed-prediction assumption, Millidge, Tschantz & Buckley 2020,
        arXiv:2006.04182; Song et al. 2020's Z-IL is the same computation
        scheduled layer by layer). With ``gamma = 1`` and ``n_steps >= L - 1`` the
        errors are then exactly back-propagation's (``e_l = -lambda N delta_l``)
        and the update equals the gradient to rounding.
    """

    n_steps: int = 20
    gamma: float = 0.1
    loss: str = "cross_entropy"
    precision: float = 0.1
    fixed_prediction: bool = False

    def __post_init__(self) -> None:
        """Check every field."""
        try:
            check_int("n_steps", self.n_steps, minimum=0)
            check_positive("gamma", self.gamma)
            check_option("loss", self.loss, PC_LOSSES)
            check_positive("precision", self.precision)
        except ValidationError as exc:
            raise ValidationError(f"{RULE}: {exc}") from None
        if self.gamma > 1.0:
            raise ValidationError(
                f"{RULE}: 'gamma' must lie in (0, 1] (a larger step overshoots "
                f"the relaxation); got {self.gamma!r}."
            )


@dataclass(frozen=True)
class PCState:
    """The value nodes and errors after inference (lists over weight layers).

    ``x[0]`` is the input and ``x[l]`` the value node of layer ``l``; ``e[l - 1]``
    is layer ``l``'s error at the pre-activation (``e_L`` last) and ``energy`` the
    energy ``F`` summed over the batch at the final state.
    """

    x: list[Tensor]
    e: list[Tensor]
    energy: float


def _errors(
    net: FeedForward,
    x: list[Tensor],
    y: Tensor,
    loss: str,
    precision: float,
    fixed: list[Tensor] | None = None,
    first: tuple[Tensor, Tensor] | None = None,
    with_energy: bool = True,
) -> tuple[list[Tensor], list[Tensor], Tensor]:
    """Return ``(eps hidden, e all layers, energy)`` at the value nodes ``x``.

    ``fixed``: the feed-forward activities to predict from instead of ``x`` (the
    fixed-prediction assumption). ``first``: ``(z_1, mu_1)``, which the clamped
    input fixes for the whole inference (saves the widest product per step).
    """
    pre = x if fixed is None else fixed
    fn = get_loss(loss)
    n_layers = len(net.dense)
    eps: list[Tensor] = []
    errs: list[Tensor] = []
    energy = torch.zeros((), dtype=torch.float64)
    for i, layer in enumerate(net.dense):
        W, b = layer.weight_and_bias()
        if i == 0 and first is not None:
            z, mu = first
        else:
            z, mu = Dense.forward_rule(pre[i], W, b, layer.activation)
        if i < n_layers - 1:
            ep = x[i + 1] - mu  # eps_l = x_l - mu_l
            eps.append(ep)
            errs.append(layer.activation.backward(z, mu, ep))  # e_l = eps_l f'(z_l)
            if with_energy:
                energy = energy + 0.5 * (ep * ep).sum().to(torch.float64)
        else:
            # e_L = -dloss/dz_L: (y - a_L) f'(z_L) for mse, y - softmax(z_L) for CE
            e_out = fn.delta(z, mu, y, layer.activation, scaled=False)
            errs.append(e_out.mul_(-precision))
            if not with_energy:
                break
            if loss == "mse":
                r = y - mu
                out = 0.5 * (r * r).sum()
            else:
                out = fn.value(z, mu, y, "sum")
            energy = energy + precision * out.to(torch.float64)
    return eps, errs, energy


def pc_infer(
    net: FeedForward, x: Tensor, y: Tensor, config: PCConfig | None = None
) -> PCState:
    """Relax the value nodes for ``config.n_steps`` steps; return the final state.

    ``x``: inputs ``(n_samples, n_inputs)``; ``y``: class labels ``(n_samples,)``
    (or targets ``(n_samples, n_outputs)`` for ``mse``).
    """
    cfg = config if config is not None else PCConfig()
    xs, target = _prepare(net, x, y, cfg)
    return _infer(net, xs, target, cfg)


def _prepare(
    net: FeedForward, x: Tensor, y: Tensor, cfg: PCConfig
) -> tuple[list[Tensor], Tensor]:
    fn = get_loss(cfg.loss)
    out = net.dense[-1].activation
    if cfg.loss == "cross_entropy" and out.name != "identity":
        raise ValidationError(
            f"{RULE}: loss 'cross_entropy' is taken from the output logits and needs "
            f"output_activation 'identity'; got {out.name!r}."
        )
    fn.check_output_activation(out)
    xt = check_inputs("x", x, net.sizes[0], net.dtype, RULE)
    yt = y if isinstance(y, Tensor) else torch.as_tensor(y)
    if not yt.is_floating_point():
        yt = check_labels("y", yt, xt.shape[0], net.sizes[-1], RULE)
        if cfg.loss == "mse":  # class labels: one-hot targets to clamp to
            yt = torch.nn.functional.one_hot(yt, net.sizes[-1]).to(net.dtype)
    target = net._check_target(fn, xt, yt)
    with torch.no_grad():
        _, acts = net._forward(xt, net.weights())
    return [a.clone() for a in acts], target


def _infer(net: FeedForward, xs: list[Tensor], y: Tensor, cfg: PCConfig) -> PCState:
    fixed = [a.clone() for a in xs] if cfg.fixed_prediction else None
    with torch.no_grad():
        W1, b1 = net.dense[0].weight_and_bias()
        first = Dense.forward_rule(xs[0], W1, b1, net.dense[0].activation)
        for _ in range(cfg.n_steps):
            eps, errs, _ = _errors(
                net, xs, y, cfg.loss, cfg.precision, fixed, first, with_energy=False
            )
            for i in range(1, len(xs) - 1):  # hidden value nodes only
                W = net.dense[i].weight_and_bias()[0]
                # dF/dx_l = eps_l - e_{l+1} W_{l+1}^T
                grad = eps[i - 1] - errs[i] @ W.T
                xs[i] = xs[i] - cfg.gamma * grad
        _, errs, energy = _errors(net, xs, y, cfg.loss, cfg.precision, fixed, first)
    # the presynaptic activity of the update: the value nodes, or with fixed
    # predictions the feed-forward activities the predictions came from
    return PCState(xs if fixed is None else fixed, errs, float(energy))


def _estimate(
    net: FeedForward, state: PCState, loss: str, precision: float
) -> list[Tensor]:
    """Return ``[G_W1, G_b1, ...]`` with ``G = -(mean factor) Delta``."""
    fn = get_loss(loss)
    z_shape = state.e[-1]
    factor = fn.mean_factor(z_shape) / precision
    grads: list[Tensor] = []
    for i, e in enumerate(state.e):
        # Delta W_l = x_{l-1}^T e_l (Hebbian: presynaptic value times error)
        grads.append(-factor * (state.x[i].T @ e))
        grads.append(-factor * e.sum(dim=0))
    return grads


def pc_gradients(
    net: FeedForward, x: Tensor, y: Tensor, config: PCConfig | None = None
) -> dict[str, Tensor]:
    """Return predictive coding's estimate of the loss gradient, per parameter.

    Runs :func:`pc_infer` and returns ``-c Delta W_l = -c x_{l-1}^T e_l`` and
    ``-c sum_n e_l``, where ``c`` is the loss's mean factor (``1/N`` for
    cross-entropy, ``2/(N n_out)`` for mse), keyed like ``net.named_parameters()``:
    directly comparable with ``net.backprop(x, y, loss)``.

    Examples
    --------
    >>> import torch
    >>> from neurodl.networks import FeedForward
    >>> net = FeedForward((4, 8, 3), "tanh", seed=0, dtype=torch.float64)
    >>> gen = torch.Generator().manual_seed(0)
    >>> x = torch.randn(5, 4, dtype=torch.float64, generator=gen)
    >>> y = torch.tensor([0, 1, 2, 1, 0])
    >>> g = pc_gradients(net, x, y, PCConfig(n_steps=10, loss="cross_entropy"))
    >>> bp = net.backprop(x, y, loss="cross_entropy")
    >>> c = torch.nn.functional.cosine_similarity(
    ...     g["layers.0.W"].flatten(), bp["layers.0.W"].flatten(), dim=0)
    >>> bool(c > 0.99)
    True
    """
    cfg = config if config is not None else PCConfig()
    state = pc_infer(net, x, y, cfg)
    return dict(
        zip(net._names, _estimate(net, state, cfg.loss, cfg.precision), strict=True)
    )


def fit_pc(
    net: FeedForward,
    x: Tensor,
    y: Tensor,
    config: PCConfig | None = None,
    *,
    epochs: int = 5,
    batch_size: int = 64,
    lr: float = 1e-3,
    optimizer: str = "adam",
    seed: int = 0,
    validation: tuple[Tensor, Tensor] | None = None,
) -> History:
    """Train ``net`` in place with predictive coding; return the history.

    Each minibatch runs inference (``config.n_steps`` relaxation steps) and then
    steps ``optimizer`` with :func:`pc_gradients`' estimate. Predictions are the
    feed-forward pass (the free equilibrium of the network: with the output
    unclamped every prediction error relaxes to 0).

    Parameters
    ----------
    net : FeedForward
        Its output activation must be ``"identity"`` for cross-entropy.
    x : Tensor, shape (n_samples, n_inputs)
    y : Tensor of int, shape (n_samples,)
        Class labels.
    config : PCConfig
    epochs, batch_size, lr, seed
        Passes, minibatch size, learning rate, shuffling seed.
    optimizer : {"sgd", "momentum", "adam"}
    validation : (x_val, y_val), optional
        Accuracy recorded after every epoch in ``history.val_accuracy``.
    """
    cfg = config if config is not None else PCConfig()
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
    params = net.weights()
    opt = make_optimizer(optimizer, params, lr)
    fn = get_loss(cfg.loss)
    fn.check_output_activation(net.dense[-1].activation)

    def step(xb: Tensor, yb: Tensor) -> float:
        xs, target = _prepare(net, xb, yb, cfg)
        with torch.no_grad():
            state = _infer(net, xs, target, cfg)
            t = net._trace(xb)
            value = float(fn.value(t.z[-1], t.a[-1], target, "mean")) * xb.shape[0]
            opt.step(_estimate(net, state, cfg.loss, cfg.precision))
        return value

    def predict(xb: Tensor) -> Tensor:
        with torch.no_grad():
            return net._trace(xb).z[-1].argmax(dim=1)

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
