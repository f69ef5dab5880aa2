"""Feed-forward networks with back-propagation written out layer by layer.

A network is a weighted, biased directed graph arranged in layers. Layer ``l`` holds
weights ``W_l`` of shape ``(n_{l-1}, n_l)`` (inputs x outputs) and biases ``b_l`` of
shape ``(n_l,)``. For a batch of inputs ``a_0 = x`` of shape ``(n_samples, n_0)``::

    z_l = a_{l-1} W_l + b_l        pre-activation, shape (n_samples, n_l)
    a_l = f_l(z_l)                 activation

Back-propagation (Rumelhart, Hinton & Williams 1986, doi:10.1038/323533a0) carries the
error signal ``delta_l = dL/dz_l`` backwards::

    delta_L = dL/da_L * f_L'(z_L)                 (see ``neurodl.networks.losses``)
    delta_l = (delta_{l+1} W_{l+1}^T) * f_l'(z_l)
    dL/dW_l = a_{l-1}^T delta_l                   summed over the batch
    dL/db_l = sum_n delta_l

and gradient descent updates ``W_l <- W_l - eta dL/dW_l``: the rule
``w <- w - eta delta a`` for each single weight.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from neurodl._validate import check_finite, check_matrix, check_option, check_sizes
from neurodl.errors import ValidationError
from neurodl.networks.losses import Loss, get_loss, prepare_target
from neurodl.neurons.activations import Activation, get_activation

__all__ = ["INITS", "Dense", "FeedForward", "Trace"]

INITS = ("pytorch", "he", "xavier")
"""Weight initialisations; see :meth:`FeedForward.reset_parameters`."""


def _wide_result(n_in: int, n_out: int) -> bool:
    """Whether ``dW`` is faster as ``(delta^T a)^T``: layers that narrow (BLAS)."""
    return n_out < n_in and n_in >= 32


def _finite(name: str, t: Tensor) -> Tensor:
    """Return ``t`` if every entry is finite, else raise (:func:`check_finite`).

    Screened by one reduction: a finite sum means every entry is finite (a NaN or
    an infinity makes the sum NaN or infinite). Only a non-finite sum, which a
    large finite input can also give by overflow, runs the full check with its
    error message. Half the cost of ``isfinite(t).all()`` on small inputs.
    """
    if math.isfinite(t.sum().item()):
        return t
    return check_finite(name, t)


ErrorBelow = Callable[[int, Tensor, Tensor], Tensor]
"""``error_below(l, delta_l, W_l)``: the error layer ``l`` sends to the layer below."""


class Trace(NamedTuple):
    """Every layer's pre-activation and activation from one forward pass.

    ``z[l]`` and ``a[l]`` belong to layer ``l + 1`` (0-based list over the weight
    layers); ``x`` is the input ``a_0``. Shapes ``(n_samples, n_l)``.
    """

    x: Tensor
    z: list[Tensor]
    a: list[Tensor]


class Dense(nn.Module):
    """One fully connected layer, ``a = f(a_prev W + b)``, with its explicit backward.

    The layer's three rules are static methods on plain tensors, so the training
    loop can run them on detached weights without autograd bookkeeping; the
    module methods apply them to the layer's own parameters.

    Parameters
    ----------
    n_in, n_out : int
        Widths of the layer below and of this layer.
    activation : Activation
        The activation ``f``.
    dtype, device
        Where the parameters live.
    """

    def __init__(
        self,
        n_in: int,
        n_out: int,
        activation: Activation,
        *,
        dtype: torch.dtype | None = None,
        device: torch.device | str | None = None,
    ) -> None:
        super().__init__()
        self.W = nn.Parameter(torch.empty(n_in, n_out, dtype=dtype, device=device))
        self.b = nn.Parameter(torch.empty(n_out, dtype=dtype, device=device))
        self.activation = activation
        self.wide = _wide_result(n_in, n_out)  # see gradient_rule

    @staticmethod
    def forward_rule(
        a_prev: Tensor, W: Tensor, b: Tensor, f: Activation
    ) -> tuple[Tensor, Tensor]:
        """Return ``(z, a)`` with ``z = a_prev W + b`` and ``a = f(z)``."""
        z = torch.addmm(b, a_prev, W)
        return z, f.value(z)

    @staticmethod
    def gradient_rule(
        a_prev: Tensor,
        delta: Tensor,
        out: tuple[Tensor, Tensor] | None = None,
        wide: bool | None = None,
    ) -> tuple[Tensor, Tensor]:
        """Return ``(dL/dW, dL/db)`` from the layer's ``delta = dL/dz``.

        ``dL/dW = a_prev^T delta`` (each weight: input activation times delta) and
        ``dL/db = sum over samples of delta``. When the layer narrows
        (``n_out < n_in``, ``n_in >= 32``) the product is computed as
        ``(delta^T a_prev)^T``: the same numbers, but a matrix product with a wide
        result, which BLAS runs several times faster (1024 -> 10: 0.18 ms instead
        of 1.2 ms at batch 512). ``out``: contiguous tensors of the right shapes
        to write ``(dL/dW, dL/db)`` into (no new tensors); they are returned.
        ``wide``: the layer's :attr:`wide` (None: worked out from the shapes).
        """
        if wide is None:
            wide = _wide_result(a_prev.shape[1], delta.shape[1])
        if out is None:
            dW = torch.mm(delta.T, a_prev).T if wide else torch.mm(a_prev.T, delta)
            return dW, delta.sum(dim=0)
        dW, db = out
        if wide:
            torch.mm(delta.T, a_prev, out=dW.T)  # dW^T is a view of dW: in place
        else:
            torch.mm(a_prev.T, delta, out=dW)
        torch.sum(delta, dim=0, out=db)
        return dW, db

    @staticmethod
    def descent_rule(
        W: Tensor,
        b: Tensor,
        a_prev: Tensor,
        delta: Tensor,
        lr: float,
        wide: bool | None = None,
    ) -> None:
        """Apply ``w <- w - lr dL/dw`` to ``W`` and ``b`` in place: the article's rule.

        :meth:`gradient_rule` fused with the update, so no weight-gradient tensor
        is kept: ``W -= lr a_prev^T delta`` and ``b -= lr sum_n delta``. ``wide``:
        the layer's :attr:`wide` (None: worked out from ``W``'s shape).
        """
        if wide is None:
            wide = _wide_result(*W.shape)
        if wide:  # see gradient_rule
            W.add_(torch.mm(delta.T, a_prev).T, alpha=-lr)
        else:
            W.addmm_(a_prev.T, delta, alpha=-lr)
        b.sub_(delta.sum(dim=0), alpha=lr)

    @staticmethod
    def delta_rule(
        delta: Tensor, W: Tensor, z_prev: Tensor, a_prev: Tensor, f_prev: Activation
    ) -> Tensor:
        """Return the layer below's ``delta_prev = (delta W^T) * f_prev'(z_prev)``."""
        # F.linear(delta, W) is delta W^T, one call instead of a transpose and mm
        return f_prev.backward(z_prev, a_prev, F.linear(delta, W))

    def weight_and_bias(self) -> tuple[Tensor, Tensor]:
        """Return ``(W, b)``, read from the parameter table.

        The same tensors as ``self.W`` and ``self.b``, without going through
        ``nn.Module.__getattr__`` (a Python fallback several times slower than a
        dictionary lookup), which the per-step paths would pay for every
        parameter.
        """
        p = self._parameters
        return p["W"], p["b"]  # type: ignore[return-value]

    def forward(self, a_prev: Tensor) -> Tensor:
        """Return ``f(a_prev W + b)``."""
        return self.forward_rule(a_prev, self.W, self.b, self.activation)[1]

    def extra_repr(self) -> str:
        """Describe the layer for ``print(net)``."""
        n_in, n_out = self.W.shape
        return f"{n_in} -> {n_out}, activation={self.activation.name}"


class FeedForward(nn.Module):
    """A fully connected feed-forward network with explicit back-propagation.

    Parameters
    ----------
    sizes : sequence of int
        Layer widths from input to output, e.g. ``(2, 3, 1)``.
    activation : str
        Activation of every hidden layer; one of ``neurodl.neurons.ACTIVATIONS``.
    output_activation : str
        Activation of the output layer; an activation name or ``"softmax"``.
    init : str
        Weight initialisation, one of :data:`INITS`, or ``"auto"`` (``"he"`` for
        relu-like hidden activations, ``"xavier"`` otherwise).
    bias : float or None
        Initial value of every bias. None: ``"pytorch"`` draws biases like
        ``nn.Linear``; ``"he"`` and ``"xavier"`` start them at 0.
    seed : int or None
        Seed of the initialisation; None draws from torch's global generator.
    dtype, device
        Where the parameters live (default float32 on the CPU).

    Examples
    --------
    >>> import torch
    >>> net = FeedForward((2, 3, 1), activation="relu", output_activation="sigmoid",
    ...                   seed=0, dtype=torch.float64)
    >>> [name for name, _ in net.named_parameters()]
    ['layers.0.W', 'layers.0.b', 'layers.1.W', 'layers.1.b']
    >>> x = torch.tensor([[0.0, 1.0]], dtype=torch.float64)
    >>> grads = net.backprop(x, torch.tensor([1.0], dtype=torch.float64), loss="bce")
    >>> grads["layers.0.W"].shape
    torch.Size([2, 3])
    """

    def __init__(
        self,
        sizes: tuple[int, ...] | list[int],
        activation: str = "relu",
        output_activation: str = "identity",
        *,
        init: str = "auto",
        bias: float | None = None,
        seed: int | None = None,
        dtype: torch.dtype | None = None,
        device: torch.device | str | None = None,
    ) -> None:
        super().__init__()
        self.sizes = check_sizes("sizes", sizes)
        hidden = get_activation(activation)
        output = get_activation(
            output_activation, output=True, param="output_activation"
        )
        if init == "auto":
            init = (
                "he"
                if hidden.name in ("relu", "leaky_relu", "elu", "gelu")
                else "xavier"
            )
        self.init = check_option("init", init, INITS)
        self._hidden = hidden
        if bias is not None and not math.isfinite(bias):
            raise ValidationError(
                f"'bias' must be a finite number or None; got {bias!r}."
            )
        self.bias_value = bias
        n_layers = len(self.sizes) - 1
        dense = tuple(
            Dense(
                self.sizes[i],
                self.sizes[i + 1],
                output if i == n_layers - 1 else hidden,
                dtype=dtype,
                device=device,
            )
            for i in range(n_layers)
        )
        self.layers = nn.ModuleList(dense)
        # the same Dense objects as a plain tuple: typed, and cheap to index in the
        # training hot path (ModuleList indexing costs about a microsecond)
        self.dense: tuple[Dense, ...] = dense
        # named_parameters()' names, fixed by the layout; backprop keys its result
        # by them (walking the module tree every call costs several microseconds)
        self._names = tuple(
            f"layers.{i}.{t}" for i in range(n_layers) for t in ("W", "b")
        )
        self._made_grads: list[Tensor] | None = None  # see _grad_buffers
        self.reset_parameters(seed)

    # ----------------------------------------------------------------- set-up
    @property
    def activation(self) -> str:
        """Name of the hidden activation."""
        return self._hidden.name

    @property
    def output_activation(self) -> str:
        """Name of the output activation."""
        return self.dense[-1].activation.name

    @property
    def dtype(self) -> torch.dtype:
        """Floating-point type of the parameters."""
        return self.dense[0].weight_and_bias()[0].dtype

    @property
    def device(self) -> torch.device:
        """Device of the parameters."""
        return self.dense[0].weight_and_bias()[0].device

    def config(self) -> dict[str, object]:
        """Return the constructor arguments as JSON-friendly values."""
        return {
            "sizes": list(self.sizes),
            "activation": self.activation,
            "output_activation": self.output_activation,
            "init": self.init,
            "bias": self.bias_value,
            "dtype": str(self.dtype).removeprefix("torch."),
        }

    @torch.no_grad()
    def reset_parameters(self, seed: int | None = None) -> None:
        """Draw new weights and biases.

        ``"pytorch"``: ``W, b ~ U(-1/sqrt(n_in), 1/sqrt(n_in))``, as ``nn.Linear``
        (the "standard" initialisation). ``"he"``: ``W ~ N(0, 2/n_in)`` (He et al.
        2015, arXiv:1502.01852). ``"xavier"``: ``W ~ U(-r, r)``,
        ``r = sqrt(6/(n_in + n_out))`` (Glorot & Bengio 2010). The draw is made in
        float64 on the CPU from ``seed`` and then cast, so a seed gives the same
        network in every dtype and on every device.
        """
        gen = torch.Generator()
        if seed is None:
            gen.manual_seed(int(torch.randint(0, 2**62, (1,)).item()))
        else:
            gen.manual_seed(seed)
        for layer in self.dense:
            n_in, n_out = layer.W.shape
            shape = (n_in, n_out)
            if self.init == "pytorch":
                bound = 1.0 / math.sqrt(n_in)
                w = (
                    torch.rand(shape, generator=gen, dtype=torch.float64) * 2 - 1
                ) * bound
                b = (
                    torch.rand(n_out, generator=gen, dtype=torch.float64) * 2 - 1
                ) * bound
            elif self.init == "he":
                w = torch.randn(shape, generator=gen, dtype=torch.float64)
                w *= math.sqrt(2.0 / n_in)
                b = torch.zeros(n_out, dtype=torch.float64)
            else:  # xavier
                r = math.sqrt(6.0 / (n_in + n_out))
                w = (torch.rand(shape, generator=gen, dtype=torch.float64) * 2 - 1) * r
                b = torch.zeros(n_out, dtype=torch.float64)
            if self.bias_value is not None:
                b.fill_(self.bias_value)
            layer.W.copy_(w)
            layer.b.copy_(b)

    # ---------------------------------------------------------------- checks
    def _check_input(self, x: Tensor) -> Tensor:
        if not isinstance(x, Tensor):
            x = torch.as_tensor(x)
        check_matrix("x", x, n_features=self.sizes[0])
        W = self.dense[0].weight_and_bias()[0]
        if x.dtype != W.dtype or x.device != W.device:
            x = x.to(dtype=W.dtype, device=W.device)
        return _finite("x", x)

    def _check_target(self, loss: Loss, x: Tensor, y: Tensor) -> Tensor:
        if not isinstance(y, Tensor):
            y = torch.as_tensor(y)
        W = self.dense[0].weight_and_bias()[0]
        if y.device != W.device:
            y = y.to(W.device)
        labels = not y.is_floating_point()  # integers are finite: no check
        y = prepare_target(loss, y, x.shape[0], self.sizes[-1], W.dtype)
        return y if labels else _finite("y", y)

    # --------------------------------------------------------------- forward
    def forward(self, x: Tensor) -> Tensor:
        """Return the network output ``a_L``, shape ``(n_samples, n_outputs)``."""
        a = self._check_input(x)
        for layer in self.dense:
            a = layer(a)
        return a

    def forward_trace(self, x: Tensor) -> Trace:
        """Run the forward pass and keep every layer's ``z`` and ``a``."""
        return self._trace(self._check_input(x))

    def _trace(self, x: Tensor, weights: Sequence[Tensor] | None = None) -> Trace:
        """Forward pass keeping ``z`` and ``a``; ``weights`` as :meth:`weights`."""
        w = self.parameters_list() if weights is None else weights
        zs, acts = self._forward(x, w)
        return Trace(x, zs, acts[1:])

    def _forward(
        self, x: Tensor, w: Sequence[Tensor]
    ) -> tuple[list[Tensor], list[Tensor]]:
        """Return ``([z_1, ..., z_L], [a_0 = x, a_1, ..., a_L])`` for weights ``w``.

        :meth:`_trace` without the named tuple, for the per-step paths; ``a``
        starts at the input, so ``acts[l]`` is the input of layer ``l + 1``.
        """
        zs: list[Tensor] = []
        acts = [x]
        a = x
        for layer, W, b in zip(self.dense, w[0::2], w[1::2], strict=True):
            z, a = Dense.forward_rule(a, W, b, layer.activation)
            zs.append(z)
            acts.append(a)
        return zs, acts

    def parameters_list(self) -> list[Tensor]:
        """Return ``[W_1, b_1, W_2, b_2, ...]``, the order of ``parameters()``."""
        return [t for layer in self.dense for t in layer.weight_and_bias()]

    def weights(self) -> list[Tensor]:
        """Return the parameters detached from autograd: ``[W_1, b_1, W_2, ...]``.

        They share storage with the parameters, so updating them in place updates
        the network. The explicit training loop works on these: no autograd graph,
        no grad-mode switching.
        """
        return [t.detach() for t in self.parameters_list()]

    # -------------------------------------------------------------- training
    def loss(self, x: Tensor, y: Tensor, loss: str | Loss = "mse") -> Tensor:
        """Return the scalar loss on ``(x, y)``, differentiable by autograd.

        Logit losses (``bce``, ``cross_entropy``) are computed from ``z_L``.
        """
        fn = get_loss(loss)
        fn.check_output_activation(self.dense[-1].activation)
        x = self._check_input(x)
        y = self._check_target(fn, x, y)
        t = self._trace(x)
        return fn.value(t.z[-1], t.a[-1], y)

    def backprop(
        self,
        x: Tensor,
        y: Tensor,
        loss: str | Loss = "mse",
        *,
        write_grad: bool = False,
    ) -> dict[str, Tensor]:
        """Return the gradient of the loss from the explicit delta rules, no autograd.

        Parameters
        ----------
        x : Tensor, shape (n_samples, n_inputs)
        y : Tensor, shape (n_samples, n_outputs) or (n_samples,)
            Targets; class indices for ``cross_entropy``.
        loss : {"mse", "bce", "cross_entropy"}
        write_grad : bool
            Also store each gradient in the parameter's ``.grad`` (replacing what is
            there), so any ``torch.optim`` optimizer can take a step. The gradients
            are written in place into the ``.grad`` tensors already there (made
            once, where missing or of the wrong shape, dtype or device); the
            returned tensors are those ``.grad`` tensors, which the next call
            overwrites. Clone them to keep them.

        Returns
        -------
        dict of str to Tensor
            Keyed exactly like ``named_parameters()``; same shapes.
        """
        fn = get_loss(loss)
        fn.check_output_activation(self.dense[-1].activation)
        x = self._check_input(x)
        y = self._check_target(fn, x, y)
        params = self.parameters_list()
        out = self._grad_buffers(params) if write_grad else None
        # the parameters themselves with autograd off: cheaper than detaching each
        grad_mode = torch.is_grad_enabled()
        torch.set_grad_enabled(False)
        try:
            _, grads = self.loss_and_grads(
                x, y, fn, with_loss=False, weights=params, out=out
            )
        finally:
            torch.set_grad_enabled(grad_mode)
        return dict(zip(self._names, grads, strict=True))

    def _grad_buffers(self, params: list[Tensor]) -> list[Tensor]:
        """Return the ``.grad`` of every parameter in ``params``, made where needed.

        A ``.grad`` is reused when it is the tensor this method made last time
        (one identity check per parameter); otherwise it must be a plain
        contiguous tensor of the parameter's shape, dtype and device that does
        not itself require grad, or a new one (uninitialised) replaces it.
        ``params`` is :meth:`parameters_list`.
        """
        made = self._made_grads
        if made is not None:
            for p, made_g in zip(params, made, strict=True):
                if p.grad is not made_g:
                    break
            else:
                return made
        grads: list[Tensor] = []
        for p in params:
            g = p.grad
            if (
                g is None
                or g.layout != torch.strided
                or g.shape != p.shape
                or g.dtype != p.dtype
                or g.device != p.device
                or g.requires_grad
                or g.is_inference()
                or not g.is_contiguous()
            ):
                # a normal tensor even under inference_mode, so that later calls
                # outside it may write into it
                with torch.inference_mode(False):
                    g = torch.empty_like(p, memory_format=torch.contiguous_format)
                p.grad = g
            grads.append(g)
        self._made_grads = grads
        return grads

    def descend(
        self,
        x: Tensor,
        y: Tensor,
        loss: Loss,
        lr: float,
        weights: Sequence[Tensor],
        *,
        accept: Callable[[Tensor], bool] | None = None,
        error_below: ErrorBelow | None = None,
    ) -> Tensor:
        """Take one step of plain gradient descent; return the loss summed over terms.

        The same delta rules as :meth:`loss_and_grads`, with each layer's update
        ``w <- w - lr delta a`` applied as soon as its delta is known (after the
        layer below's delta has been computed with the old weights): the result
        equals computing every gradient and then stepping, without keeping any
        gradient tensor. ``weights`` are :meth:`weights`, updated in place; ``x``
        and ``y`` must be validated and shaped. The returned loss is
        ``loss.value(..., reduction="sum")`` before the step. ``accept``: called
        with that loss before anything is updated; the step goes ahead only if it
        returns True (the trainer refuses a non-finite loss this way).
        ``error_below``: see :meth:`loss_and_grads`.
        """
        layers = self.dense
        zs, acts = self._forward(x, weights)
        z_out, a_out = zs[-1], acts[-1]
        value = loss.value(z_out, a_out, y, "sum")
        if accept is not None and not accept(value):
            return value  # nothing updated
        # delta_L without the mean's 1/N, which goes into the step size instead:
        # W -= (lr/N) a^T (N delta) is the same update with one operation fewer
        delta = loss.delta(z_out, a_out, y, layers[-1].activation, scaled=False)
        step = lr * loss.mean_factor(z_out)
        for i in range(len(layers) - 1, 0, -1):
            a_prev, W = acts[i], weights[2 * i]
            # the error below goes with the old W before W moves
            if error_below is None:
                below = Dense.delta_rule(
                    delta, W, zs[i - 1], a_prev, layers[i - 1].activation
                )
            else:
                below = layers[i - 1].activation.backward(
                    zs[i - 1], a_prev, error_below(i, delta, W)
                )
            Dense.descent_rule(
                W, weights[2 * i + 1], a_prev, delta, step, layers[i].wide
            )
            delta = below
        Dense.descent_rule(weights[0], weights[1], x, delta, step, layers[0].wide)
        return value

    def loss_and_grads(
        self,
        x: Tensor,
        y: Tensor,
        loss: Loss,
        *,
        with_loss: bool = True,
        reduction: str = "mean",
        weights: Sequence[Tensor] | None = None,
        out: Sequence[Tensor] | None = None,
        error_below: ErrorBelow | None = None,
    ) -> tuple[Tensor | None, list[Tensor]]:
        """Return ``(loss, [dW_1, db_1, dW_2, ...])`` without checking the inputs.

        The fast path the trainer uses: ``x`` and ``y`` must already be validated
        and shaped (see :meth:`backprop`). ``reduction`` is passed to
        :meth:`Loss.value`; the gradients are always those of the mean loss.
        ``weights`` are the detached parameters from :meth:`weights` (default:
        detached now). ``out``: contiguous tensors shaped like the parameters to
        write the gradients into (see :meth:`Dense.gradient_rule`).
        ``error_below(l, delta_l, W_l)``: what layer ``l`` (0-based) sends down in
        place of ``delta_l W_l^T`` (default), before ``f'`` of the layer below:
        the feedback-alignment rules of :mod:`neurodl.learning.feedback`.
        """
        w = self.weights() if weights is None else weights
        zs, acts = self._forward(x, w)
        layers = self.dense
        n = len(layers)
        z_out, a_out = zs[-1], acts[-1]
        value = loss.value(z_out, a_out, y, reduction) if with_loss else None
        delta = loss.delta(z_out, a_out, y, layers[-1].activation)
        grads: list[Tensor] = [delta] * (2 * n)
        for i in range(n - 1, -1, -1):
            a_prev = acts[i]
            grads[2 * i], grads[2 * i + 1] = Dense.gradient_rule(
                a_prev,
                delta,
                None if out is None else (out[2 * i], out[2 * i + 1]),
                layers[i].wide,
            )
            if i == 0:
                break
            if error_below is None:
                delta = Dense.delta_rule(
                    delta, w[2 * i], zs[i - 1], a_prev, layers[i - 1].activation
                )
            else:
                delta = layers[i - 1].activation.backward(
                    zs[i - 1], a_prev, error_below(i, delta, w[2 * i])
                )
        return value, grads
