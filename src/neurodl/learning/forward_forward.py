"""Supervised forward-forward learning (Hinton 2022, arXiv:2212.13345).

A forward-forward network is a stack of ReLU layers with the weights of a
:class:`~neurodl.networks.FeedForward` (``W_l`` of shape ``(n_{l-1}, n_l)``, ``b_l``)
and no back-propagated signal: every layer learns from its own objective. The label
is written into the input: the first ``n_classes`` features are replaced by the
one-hot label (Hinton 2022, sec. 3.3; ``embed="append"`` concatenates it instead, for
inputs with no spare border pixels). Each layer sees the previous layer's activity
normalised to unit mean square (the length normalisation of Hinton 2022, scaled as
the cybertronai reproduction recommends so that wide layers do not see tiny inputs),
so that only the *direction* of the activity vector is passed on::

    n_{l-1} = h_{l-1} / sqrt(mean(h_{l-1}^2) + eps),   n_0 = x / sqrt(mean(x^2) + eps)
    z_l = n_{l-1} W_l + b_l,    h_l = relu(z_l)

The goodness of a layer is the sum (or mean) of its squared activities,
``g_l = sum_j h_{l,j}^2``, and the probability that the input is positive is
``p = sigmoid(g_l - theta)``. Positive data carry the true label, negative data the
same image with a wrong label drawn uniformly from the others. Each layer minimises
its own logistic loss, averaged over the batch::

    loss_l = softplus(-(g_l^+ - theta)) + softplus(g_l^- - theta)

and its gradient stays in the layer (the input ``n_{l-1}`` is a constant to it)::

    dloss/dg^+ = -sigmoid(theta - g^+),   dloss/dg^- = sigmoid(g^- - theta)
    delta_l = dloss/dg * 2 h_l * relu'(z_l)      (sum goodness; / n_l for the mean)
    dloss/dW_l = n_{l-1}^T delta_l,   dloss/db_l = sum_n delta_l

A sample is classified by running it once with each label and picking the label
with the largest goodness summed over *all* layers (cybertronai's pitfall: skipping
the first layer, as Hinton does for deeper nets, costs accuracy on small nets).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from neurodl._validate import check_option, check_positive
from neurodl.errors import ValidationError
from neurodl.learning._local import (
    check_common,
    check_data,
    run_epochs,
)
from neurodl.learning.optimizers import make_optimizer
from neurodl.learning.trainer import History
from neurodl.networks.feedforward import FeedForward

__all__ = [
    "EMBEDDINGS",
    "GOODNESS",
    "FFConfig",
    "embed_label",
    "ff_goodness",
    "ff_gradients",
    "ff_loss",
    "ff_predict",
    "fit_ff",
]

RULE = "forward-forward"
GOODNESS = ("sum", "mean")
"""``"sum"``: ``g = sum_j h_j^2``; ``"mean"``: ``g = mean_j h_j^2``."""
EMBEDDINGS = ("replace", "append")
"""Where the one-hot label goes: over the first features, or after the last."""
_EPS = 1e-8


@dataclass(frozen=True)
class FFConfig:
    """Settings of forward-forward learning.

    Parameters
    ----------
    n_classes : int
        Number of labels (>= 2).
    goodness : {"sum", "mean"}
        Sum or mean of the squared activities.
    threshold : float or None
        ``theta``; None: the layer width for ``"sum"`` (loeweX/Forward-Forward),
        1 for ``"mean"`` (the same logistic boundary).
    embed : {"replace", "append"}
        Write the one-hot label over the first ``n_classes`` features (Hinton), or
        append it (the network's input is then ``n_classes`` wider).
    label_value : float
        Value of the "on" entry of the one-hot label (> 0).
    """

    n_classes: int = 10
    goodness: str = "mean"
    threshold: float | None = None
    embed: str = "replace"
    label_value: float = 1.0

    def __post_init__(self) -> None:
        """Check every field."""
        try:
            if isinstance(self.n_classes, bool) or not isinstance(self.n_classes, int):
                raise ValidationError(
                    f"'n_classes' must be an integer; got {self.n_classes!r}."
                )
            if self.n_classes < 2:
                raise ValidationError(
                    f"'n_classes' must be >= 2; got {self.n_classes!r}."
                )
            check_option("goodness", self.goodness, GOODNESS)
            if self.threshold is not None:
                check_positive("threshold", self.threshold)
            check_option("embed", self.embed, EMBEDDINGS)
            check_positive("label_value", self.label_value)
        except ValidationError as exc:
            raise ValidationError(f"{RULE}: {exc}") from None

    def theta(self, width: int) -> float:
        """Return the threshold of a layer ``width`` units wide."""
        if self.threshold is not None:
            return float(self.threshold)
        return float(width) if self.goodness == "sum" else 1.0


def embed_label(x: Tensor, labels: Tensor, config: FFConfig | None = None) -> Tensor:
    """Return ``x`` with the one-hot ``labels`` written in (a new tensor).

    >>> import torch
    >>> embed_label(torch.full((1, 12), 0.5), torch.tensor([2]), FFConfig(n_classes=3))
    tensor([[0.0000, 0.0000, 1.0000, 0.5000, 0.5000, 0.5000, 0.5000, 0.5000, 0.5000,
             0.5000, 0.5000, 0.5000]])
    """
    cfg = config if config is not None else FFConfig()
    onehot = torch.nn.functional.one_hot(labels, cfg.n_classes).to(x.dtype)
    onehot = onehot * cfg.label_value
    if cfg.embed == "append":
        return torch.cat([x, onehot], dim=1)
    out = x.clone()
    out[:, : cfg.n_classes] = onehot
    return out


def _normalise(h: Tensor) -> Tensor:
    # unit mean square: h / sqrt(mean(h^2) + eps)
    return h / torch.sqrt((h * h).mean(dim=1, keepdim=True) + _EPS)


def _layers(
    net: FeedForward, xe: Tensor
) -> tuple[list[Tensor], list[Tensor], list[Tensor]]:
    """Return ``(layer inputs n_{l-1}, pre-activations z_l, activities h_l)``."""
    ins: list[Tensor] = []
    zs: list[Tensor] = []
    hs: list[Tensor] = []
    h = xe
    for layer in net.dense:
        W, b = layer.weight_and_bias()
        n = _normalise(h)
        z = torch.addmm(b, n, W)
        h = torch.relu(z)
        ins.append(n)
        zs.append(z)
        hs.append(h)
    return ins, zs, hs


def _goodness(h: Tensor, cfg: FFConfig) -> Tensor:
    g = (h * h).sum(dim=1)
    return g / h.shape[1] if cfg.goodness == "mean" else g


def ff_goodness(net: FeedForward, xe: Tensor, config: FFConfig | None = None) -> Tensor:
    """Return the goodness of every layer, shape ``(n_samples, n_layers)``.

    ``xe``: inputs with the label already embedded (:func:`embed_label`).
    """
    cfg = config if config is not None else FFConfig()
    with torch.no_grad():
        _, _, hs = _layers(net, xe)
        return torch.stack([_goodness(h, cfg) for h in hs], dim=1)


def ff_loss(g_pos: Tensor, g_neg: Tensor, theta: float) -> Tensor:
    """Return ``mean(softplus(-(g_pos - theta)) + softplus(g_neg - theta))``.

    >>> import torch
    >>> round(float(ff_loss(torch.tensor([2.0]), torch.tensor([0.0]), 1.0)), 6)
    0.626523
    """
    sp = torch.nn.functional.softplus
    return (sp(theta - g_pos) + sp(g_neg - theta)).mean()


def _wrong_labels(y: Tensor, n_classes: int, gen: torch.Generator) -> Tensor:
    """Draw one label uniformly from the ``n_classes - 1`` wrong ones per sample."""
    shift = torch.randint(1, n_classes, y.shape, generator=gen)
    return (y + shift.to(y.device)) % n_classes


def _local_grads(
    net: FeedForward, x_pos: Tensor, x_neg: Tensor, cfg: FFConfig
) -> tuple[list[Tensor], Tensor]:
    """Return ``([dloss/dW_1, dloss/db_1, ...], summed loss over layers)``."""
    n = x_pos.shape[0]
    grads: list[Tensor] = []
    total = torch.zeros((), dtype=torch.float64)
    phases = [_layers(net, x_pos), _layers(net, x_neg)]
    for i in range(len(net.dense)):
        dW: Tensor | None = None
        db: Tensor | None = None
        theta = cfg.theta(net.sizes[i + 1])
        gs = [_goodness(ph[2][i], cfg) for ph in phases]
        total = total + ff_loss(gs[0], gs[1], theta).to(torch.float64)
        for sign, (ins, _, hs), g in zip((-1.0, 1.0), phases, gs, strict=True):
            # dloss/dg: -sigmoid(theta - g) (positive), sigmoid(g - theta) (negative)
            dg = torch.sigmoid(sign * (g - theta)) * sign / n
            scale = 2.0 / hs[i].shape[1] if cfg.goodness == "mean" else 2.0
            delta = (dg * scale).unsqueeze(1) * hs[
                i
            ]  # dloss/dz: relu' is 0 where h = 0
            gw = ins[i].T @ delta
            gb = delta.sum(dim=0)
            dW = gw if dW is None else dW + gw
            db = gb if db is None else db + gb
        assert dW is not None and db is not None
        grads += [dW, db]
    return grads, total


def ff_gradients(
    net: FeedForward,
    x_pos: Tensor,
    x_neg: Tensor,
    config: FFConfig | None = None,
) -> dict[str, Tensor]:
    """Return each layer's local loss gradient, keyed like ``net.named_parameters()``.

    ``x_pos``, ``x_neg``: inputs with the true and a wrong label embedded. Layer
    ``l``'s entry is the gradient of its own ``loss_l`` only.
    """
    cfg = config if config is not None else FFConfig()
    with torch.no_grad():
        grads, _ = _local_grads(net, x_pos, x_neg, cfg)
    return dict(zip(net._names, grads, strict=True))


def ff_predict(net: FeedForward, x: Tensor, config: FFConfig | None = None) -> Tensor:
    """Return the label whose embedding gives the most goodness, summed over layers."""
    cfg = config if config is not None else FFConfig()
    with torch.no_grad():
        scores = []
        for c in range(cfg.n_classes):
            lab = torch.full((x.shape[0],), c, dtype=torch.int64, device=x.device)
            scores.append(ff_goodness(net, embed_label(x, lab, cfg), cfg).sum(dim=1))
        return torch.stack(scores, dim=1).argmax(dim=1)


def _check_net(net: FeedForward, n_features: int, cfg: FFConfig) -> None:
    if any(layer.activation.name != "relu" for layer in net.dense):
        names = [layer.activation.name for layer in net.dense]
        raise ValidationError(
            f"{RULE}: every layer must be 'relu' (activation='relu', "
            f"output_activation='relu'); got {names}."
        )
    want = n_features + (cfg.n_classes if cfg.embed == "append" else 0)
    if net.sizes[0] != want:
        raise ValidationError(
            f"{RULE}: the network's input width must be {want} for inputs of "
            f"{n_features} features with embed {cfg.embed!r}; got {net.sizes[0]}."
        )
    if cfg.embed == "replace" and n_features <= cfg.n_classes:
        raise ValidationError(
            f"{RULE}: embed 'replace' writes the label over the first "
            f"{cfg.n_classes} features, so 'x' needs more than {cfg.n_classes}; "
            f"got {n_features}. Hint: use embed='append'."
        )


def fit_ff(
    net: FeedForward,
    x: Tensor,
    y: Tensor,
    config: FFConfig | None = None,
    *,
    epochs: int = 5,
    batch_size: int = 100,
    lr: float = 3e-3,
    optimizer: str = "adam",
    seed: int = 0,
    validation: tuple[Tensor, Tensor] | None = None,
) -> History:
    """Train ``net`` in place with forward-forward; return the history.

    ``net`` is a :class:`FeedForward` of ReLU layers only (``sizes`` from the input,
    widened by ``n_classes`` for ``embed="append"``, to the last hidden layer;
    ``activation="relu", output_activation="relu"``). Every layer steps on its own
    loss in each minibatch; the negatives' wrong labels come from a generator
    seeded with ``seed``. ``history.loss`` is the per-sample loss summed over the
    layers; accuracies use :func:`ff_predict`.
    """
    cfg = config if config is not None else FFConfig()
    check_common(RULE, epochs, batch_size, lr, seed, optimizer)
    xt, yt, val = check_data(
        RULE,
        x,
        y,
        validation,
        n_features=None,
        n_classes=cfg.n_classes,
        dtype=net.dtype,
    )
    _check_net(net, xt.shape[1], cfg)
    opt = make_optimizer(optimizer, net.weights(), lr)
    gen = torch.Generator().manual_seed(seed + 1)

    def step(xb: Tensor, yb: Tensor) -> float:
        with torch.no_grad():
            x_pos = embed_label(xb, yb, cfg)
            x_neg = embed_label(xb, _wrong_labels(yb, cfg.n_classes, gen), cfg)
            grads, total = _local_grads(net, x_pos, x_neg, cfg)
            opt.step(grads)
        return float(total) * xb.shape[0]

    return run_epochs(
        step,
        lambda xb: ff_predict(net, xb, cfg),
        xt,
        yt,
        epochs=epochs,
        batch_size=batch_size,
        seed=seed,
        validation=val,
        rule=RULE,
    )
