"""Credit assignment without weight transport: FA, DFA, sign symmetry, Kolen-Pollack.

Back-propagation (:mod:`neurodl.networks.feedforward`) sends the error down through
the transposed forward weights, ``delta_{l-1} = (delta_l W_l^T) * f'(z_{l-1})``: each
synapse would have to know the weights downstream (the weight-transport problem).
The rules here replace ``W_l`` in that product and keep everything else, so the
weight update of every layer stays ``dW_l = a_{l-1}^T delta_l``, ``db_l = sum_n
delta_l``, and the output error ``delta_L = dL/dz_L`` is exact. A feedback matrix
``B_l`` is stored with the shape of ``W_l``, ``(n_{l-1}, n_l)`` (so ``B_l = W_l`` is
back-propagation)::

    fa    delta_{l-1} = (delta_l B_l^T) * f'(z_{l-1})     B_l fixed, random
    sign  delta_{l-1} = (delta_l S_l^T) * f'(z_{l-1})     S_l = s_l sign(W_l)
    kp    delta_{l-1} = (delta_l B_l^T) * f'(z_{l-1})     B_l learns like W_l
    dfa   delta_l     = (e D_l) * f'(z_l),  l < L         e = delta_L, D_l fixed

* **fa**, feedback alignment (Lillicrap, Cownden, Tweed & Akerman 2016, Nat.
  Commun. 7:13276): ``B_l`` is drawn once, from the same distribution as the
  network's forward initialisation of ``W_l`` (``FeedForward.init``: ``"xavier"``
  ``U(-r, r)``, ``r = sqrt(6/(n_{l-1} + n_l))``; ``"he"`` ``N(0, 2/n_{l-1})``;
  ``"pytorch"`` ``U(-1/sqrt(n_{l-1}), 1/sqrt(n_{l-1}))``), from its own seeded
  generator. Lillicrap et al. draw B uniformly at the scale of the forward weights.
* **dfa**, direct feedback alignment (Nøkland 2016, NeurIPS, arXiv:1609.01596): the
  output error goes straight to every hidden layer through a fixed random
  ``D_l`` of shape ``(n_L, n_l)``, drawn like the forward weights of a layer from
  ``n_L`` units to ``n_l`` units. The hidden deltas do not depend on each other.
* **sign**, sign symmetry (Liao, Leibo & Poggio 2016, AAAI; uSF in BioTorch,
  Sanfiz & Akrout 2021): the feedback has the signs of the forward weights and one
  magnitude per layer, ``s_l = sqrt(2/(n_{l-1} + n_l))`` (the Glorot standard
  deviation, BioTorch's ``scaling_factor``), re-read from ``W_l`` every step.
* **kp**, Kolen-Pollack (Kolen & Pollack 1994; Akrout, Wilson, Humphreys, Lillicrap
  & Tweed 2019, NeurIPS): ``B_l`` starts like FA's and then receives exactly the
  update of ``W_l``, and both decay: with ``c = lr * kp_decay``,
  ``W <- (1 - c) W + u`` and ``B <- (1 - c) B + u``, ``u`` the optimizer's step
  from the rule's gradient. Hence ``W - B <- (1 - c) (W - B)`` every step whatever
  the gradients: B converges to W and KP to back-propagation. The decay is
  decoupled (as in AdamW) and applies to every weight matrix, not to biases.

The training paths below are written in the style of :meth:`FeedForward.descend`
and :meth:`FeedForward.loss_and_grads` (in place, no autograd): a step costs what a
back-propagation step costs, plus, for ``sign``, one ``sign`` of each weight matrix.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from neurodl._validate import check_int, check_option, check_positive
from neurodl.errors import ValidationError
from neurodl.learning.optimizers import GradientDescent, Optimizer
from neurodl.networks.feedforward import Dense, FeedForward
from neurodl.networks.losses import Loss

__all__ = [
    "FEEDBACK_RULES",
    "Feedback",
    "feedback_descend",
    "feedback_loss_and_grads",
    "feedback_step",
    "make_feedback",
    "update_angles",
    "vector_angle",
    "weight_angles",
]

FEEDBACK_RULES = ("fa", "dfa", "sign", "kp")
"""Rules that replace the transposed forward weights in the backward pass."""


def draw_matrix(
    shape: tuple[int, int], init: str, gen: torch.Generator, dtype: torch.dtype
) -> Tensor:
    """Draw a ``(n_in, n_out)`` matrix as ``FeedForward.reset_parameters`` does.

    In float64 on the CPU from ``gen``, then cast: the same matrix in every dtype.
    """
    n_in, n_out = shape
    if init == "pytorch":
        bound = 1.0 / math.sqrt(n_in)
        w = (torch.rand(shape, generator=gen, dtype=torch.float64) * 2 - 1) * bound
    elif init == "he":
        w = torch.randn(shape, generator=gen, dtype=torch.float64)
        w *= math.sqrt(2.0 / n_in)
    else:  # xavier
        r = math.sqrt(6.0 / (n_in + n_out))
        w = (torch.rand(shape, generator=gen, dtype=torch.float64) * 2 - 1) * r
    return w.to(dtype)


def sign_scale(n_in: int, n_out: int) -> float:
    """Return sign symmetry's feedback magnitude ``sqrt(2 / (n_in + n_out))``."""
    return math.sqrt(2.0 / (n_in + n_out))


@dataclass
class Feedback:
    """The feedback pathway of one rule on one network.

    Attributes
    ----------
    rule : str
        One of :data:`FEEDBACK_RULES`.
    matrices : list of Tensor
        ``fa``/``kp``: ``[B_2, ..., B_L]``, each shaped like its ``W_l``;
        ``dfa``: ``[D_1, ..., D_{L-1}]``, ``D_l`` of shape ``(n_L, n_l)``;
        ``sign``: scratch tensors that hold ``s_l sign(W_l)`` (no state).
        ``kp`` updates its matrices in place while training.
    scales : list of float
        ``sign``: ``s_l`` for layers ``2..L``; empty otherwise.
    kp_decay : float
        ``kp``'s weight decay ``lambda`` (the factor per step is ``1 - lr lambda``).
    """

    rule: str
    matrices: list[Tensor]
    scales: list[float]
    kp_decay: float = 0.0

    def state_tensors(self) -> dict[str, Tensor]:
        """Return the matrices for a checkpoint (none for ``sign``)."""
        if self.rule == "sign":
            return {}
        return {f"feedback.{i}": m for i, m in enumerate(self.matrices)}

    def load_state(self, tensors: dict[str, Tensor]) -> None:
        """Copy matrices written by :meth:`state_tensors` back in place."""
        with torch.no_grad():
            for key, m in self.state_tensors().items():
                m.copy_(tensors[key])

    def feedback_matrix(self, i: int, W: Tensor) -> Tensor:
        """Return the matrix used in place of ``W`` for layer ``i`` (0-based, >= 1).

        ``sign`` writes ``s sign(W)`` into its scratch tensor first.
        """
        m = self.matrices[i - 1]
        if self.rule == "sign":
            torch.sign(W, out=m)
            m.mul_(self.scales[i - 1])
        return m

    def error_below(self, i: int, delta: Tensor, W: Tensor) -> Tensor:
        """Return ``delta B^T``, the error layer ``i`` (0-based, >= 1) sends down.

        ``sign``: ``s (delta sign(W)^T)``, the scale applied to the small product
        rather than to the matrix (one pass over ``W`` instead of two).
        """
        m = self.matrices[i - 1]
        if self.rule == "sign":
            return F.linear(delta, torch.sign(W, out=m)).mul_(self.scales[i - 1])
        return F.linear(delta, m)  # delta m^T in one call


def make_feedback(
    net: FeedForward, rule: str, *, seed: int = 0, kp_decay: float = 0.0
) -> Feedback | None:
    """Return the feedback pathway of ``rule`` for ``net`` (None for ``"bp"``).

    Parameters
    ----------
    net : FeedForward
        Needs at least one hidden layer for every rule but ``"bp"``.
    rule : {"bp", "fa", "dfa", "sign", "kp"}
    seed : int
        Seed of the random feedback matrices (``fa``, ``dfa``, ``kp``).
    kp_decay : float
        ``kp``'s weight decay (>= 0).

    Examples
    --------
    >>> import torch
    >>> from neurodl.networks import FeedForward
    >>> net = FeedForward((4, 8, 3), "tanh", "softmax", seed=0)
    >>> fb = make_feedback(net, "dfa", seed=1)
    >>> [tuple(d.shape) for d in fb.matrices]
    [(3, 8)]
    """
    check_option("rule", rule, ("bp", *FEEDBACK_RULES))
    check_int("feedback_seed", seed, minimum=0)
    check_positive("kp_decay", kp_decay, strict=False)
    if rule == "bp":
        return None
    sizes = net.sizes
    if len(sizes) < 3:
        raise ValidationError(
            f"'rule' {rule!r} needs a network with at least one hidden layer (it "
            "changes how the error reaches the hidden layers); got sizes "
            f"{list(sizes)}."
        )
    gen = torch.Generator().manual_seed(seed)
    dtype, device = net.dtype, net.device
    mats: list[Tensor] = []
    scales: list[float] = []
    n_layers = len(sizes) - 1
    for i in range(1, n_layers):
        # dfa's D_i: output (n_L) -> hidden layer i (n_i), drawn like a forward layer
        shape = (sizes[-1], sizes[i]) if rule == "dfa" else (sizes[i], sizes[i + 1])
        if rule == "sign":
            mats.append(torch.empty(shape, dtype=dtype, device=device))
            scales.append(sign_scale(*shape))
        else:
            mats.append(draw_matrix(shape, net.init, gen, dtype).to(device))
    return Feedback(rule, mats, scales, float(kp_decay))


# ------------------------------------------------------------------ the deltas
def _dfa_deltas(
    net: FeedForward,
    fb: Feedback,
    delta_out: Tensor,
    zs: list[Tensor],
    acts: list[Tensor],
) -> list[Tensor]:
    """Return ``[delta_1, ..., delta_L]`` for ``dfa``: ``delta_l = (e D_l) * f'(z_l)``.

    The hidden deltas do not depend on each other; ``delta_L = e = delta_out``.
    """
    layers = net.dense
    deltas = [delta_out] * len(layers)
    for i in range(len(layers) - 1):
        deltas[i] = layers[i].activation.backward(
            zs[i], acts[i + 1], torch.mm(delta_out, fb.matrices[i])
        )
    return deltas


def feedback_loss_and_grads(
    net: FeedForward,
    fb: Feedback,
    x: Tensor,
    y: Tensor,
    loss: Loss,
    *,
    with_loss: bool = True,
    reduction: str = "mean",
    weights: Sequence[Tensor] | None = None,
    out: Sequence[Tensor] | None = None,
) -> tuple[Tensor | None, list[Tensor]]:
    """Return ``(loss, [dW_1, db_1, dW_2, ...])`` with the deltas of ``fb``'s rule.

    :meth:`FeedForward.loss_and_grads` with the feedback pathway in place of the
    transposed weights: the "gradients" are the rule's updates,
    ``dW_l = a_{l-1}^T delta_l`` and ``db_l = sum_n delta_l`` with the rule's
    ``delta_l`` (the mean loss's scaling). ``x`` and ``y`` must be validated and
    shaped; the other arguments are those of :meth:`FeedForward.loss_and_grads`.
    """
    if fb.rule != "dfa":
        return net.loss_and_grads(
            x,
            y,
            loss,
            with_loss=with_loss,
            reduction=reduction,
            weights=weights,
            out=out,
            error_below=fb.error_below,
        )
    w = net.weights() if weights is None else weights
    zs, acts = net._forward(x, w)
    layers = net.dense
    n = len(layers)
    z_out, a_out = zs[-1], acts[-1]
    value = loss.value(z_out, a_out, y, reduction) if with_loss else None
    delta = loss.delta(z_out, a_out, y, layers[-1].activation)
    grads: list[Tensor] = [delta] * (2 * n)
    deltas = _dfa_deltas(net, fb, delta, zs, acts)
    for i in range(n):
        grads[2 * i], grads[2 * i + 1] = Dense.gradient_rule(
            acts[i],
            deltas[i],
            None if out is None else (out[2 * i], out[2 * i + 1]),
            layers[i].wide,
        )
    return value, grads


def feedback_descend(
    net: FeedForward,
    fb: Feedback,
    x: Tensor,
    y: Tensor,
    loss: Loss,
    lr: float,
    weights: Sequence[Tensor],
    *,
    accept: Callable[[Tensor], bool] | None = None,
) -> Tensor:
    """Take one plain gradient-descent step under ``fb``'s rule (fa, dfa, sign).

    :meth:`FeedForward.descend` with the rule's deltas: each layer's update is
    applied in place as soon as its delta is known, no gradient tensor is kept.
    Returns the summed loss before the step; ``accept`` as in ``descend``.
    ``kp`` also updates its feedback matrices and goes through
    :func:`feedback_step` instead.
    """
    if fb.rule == "kp":
        raise ValidationError(
            "'rule' 'kp' updates its feedback matrices too; use feedback_step."
        )
    if fb.rule != "dfa":
        # the error below goes with the old W (sign) before W moves, as in BP
        return net.descend(
            x, y, loss, lr, weights, accept=accept, error_below=fb.error_below
        )
    layers = net.dense
    zs, acts = net._forward(x, weights)
    z_out, a_out = zs[-1], acts[-1]
    value = loss.value(z_out, a_out, y, "sum")
    if accept is not None and not accept(value):
        return value  # nothing updated
    e = loss.delta(z_out, a_out, y, layers[-1].activation, scaled=False)
    step = lr * loss.mean_factor(z_out)
    n = len(layers)
    for i in range(n - 1, -1, -1):
        d = (
            e
            if i == n - 1
            else layers[i].activation.backward(
                zs[i], acts[i + 1], torch.mm(e, fb.matrices[i])
            )
        )
        Dense.descent_rule(
            weights[2 * i], weights[2 * i + 1], acts[i], d, step, layers[i].wide
        )
    return value


def kp_update(
    opt: Optimizer,
    grads: Sequence[Tensor],
    weights: Sequence[Tensor],
    fb: Feedback,
) -> None:
    """Kolen-Pollack's update: ``W`` and ``B`` both decay and both move by ``W``'s step.

    With ``c = opt.lr * fb.kp_decay``: every weight matrix ``W <- (1 - c) W``, every
    ``B <- (1 - c) B``; then the optimizer takes its step ``u`` from ``grads`` (which
    depends on the gradients and the optimizer's state, not on ``W``), and ``B``
    receives the same ``u`` (it is held as ``B - W`` over the step, then ``W`` is
    added back). Hence ``W - B`` shrinks by exactly ``1 - c`` per step.
    """
    Ws = list(weights[0::2])
    Bs = fb.matrices
    paired = Ws[1:]  # W_2 .. W_L, one B each
    c = opt.lr * fb.kp_decay
    if c:
        torch._foreach_mul_(Ws, 1.0 - c)
        torch._foreach_mul_(Bs, 1.0 - c)
    torch._foreach_sub_(Bs, paired)
    opt.step(grads)
    torch._foreach_add_(Bs, paired)


def feedback_step(
    net: FeedForward,
    fb: Feedback,
    weights: list[Tensor],
    x: Tensor,
    y: Tensor,
    loss: Loss,
    opt: Optimizer,
    *,
    accept: Callable[[Tensor], bool] | None = None,
) -> Tensor:
    """Take one minibatch step under ``fb``'s rule; return the summed loss (0-d).

    The counterpart of :func:`neurodl.learning.trainer.train_step` for the explicit
    engine: plain gradient descent runs fused (:func:`feedback_descend`) for
    ``fa``, ``dfa`` and ``sign``; otherwise the rule's gradients go to ``opt``
    (and, for ``kp``, through :func:`kp_update`).
    """
    if type(opt) is GradientDescent and fb.rule != "kp":
        return feedback_descend(net, fb, x, y, loss, opt.lr, weights, accept=accept)
    summed, grads = feedback_loss_and_grads(
        net, fb, x, y, loss, reduction="sum", weights=weights
    )
    assert summed is not None
    if accept is None or accept(summed):
        if fb.rule == "kp":
            kp_update(opt, grads, weights, fb)
        else:
            opt.step(grads)
    return summed


# ------------------------------------------------------------- diagnostics
def vector_angle(u: Tensor, v: Tensor) -> float:
    """Return the angle in degrees between ``u`` and ``v`` (flattened).

    Kahan's form ``2 atan2(|u/|u| - v/|v||, |u/|u| + v/|v||)``: accurate near 0 and
    180 degrees (``acos`` of the cosine loses half the digits there) and exactly 0
    for equal vectors. A zero vector counts as orthogonal to everything (90).
    """
    u = u.reshape(-1).to(torch.float64)
    v = v.reshape(-1).to(torch.float64)
    nu, nv = torch.linalg.vector_norm(u), torch.linalg.vector_norm(v)
    if nu == 0 or nv == 0:
        return 90.0
    un, vn = u / nu, v / nv
    a = torch.linalg.vector_norm(un - vn)
    b = torch.linalg.vector_norm(un + vn)
    return math.degrees(2.0 * math.atan2(float(a), float(b)))


def update_angles(
    net: FeedForward,
    fb: Feedback | None,
    x: Tensor,
    y: Tensor,
    loss: Loss,
) -> list[float]:
    """Return, per layer, the angle (degrees) between the rule's ``dW_l`` and BP's.

    Both on the same batch ``(x, y)`` (validated and shaped) at the current
    weights; the last layer's is 0 for every rule (its delta is the true one).
    ``fb=None`` (back-propagation) gives zeros. Lillicrap et al. (2016), Fig. 2.
    """
    with torch.no_grad():
        w = net.weights()
        _, true = net.loss_and_grads(x, y, loss, with_loss=False, weights=w)
        if fb is None:
            rule = true
        else:
            _, rule = feedback_loss_and_grads(
                net, fb, x, y, loss, with_loss=False, weights=w
            )
    return [vector_angle(a, b) for a, b in zip(rule[0::2], true[0::2], strict=True)]


def weight_angles(net: FeedForward, fb: Feedback | None) -> list[float]:
    """Return, per layer with feedback, the angle (degrees) between W and its feedback.

    ``fa``, ``sign``, ``kp``: between ``W_l`` and ``B_l`` for ``l = 2..L`` (the
    alignment of W with B in Lillicrap et al. 2016). ``dfa``: between ``D_l^T`` and
    ``W_{l+1} ... W_L`` (the path back-propagation would take from the output
    to layer ``l``, derivatives left out), ``l = 1..L-1``. ``None`` (bp): empty.
    """
    if fb is None:
        return []
    with torch.no_grad():
        Ws = net.weights()[0::2]
        if fb.rule == "dfa":
            out = []
            for i, D in enumerate(fb.matrices):
                path = Ws[i + 1]
                for W in Ws[i + 2 :]:
                    path = path @ W
                out.append(vector_angle(path, D.T))
            return out
        return [
            vector_angle(W, fb.feedback_matrix(i + 1, W)) for i, W in enumerate(Ws[1:])
        ]
