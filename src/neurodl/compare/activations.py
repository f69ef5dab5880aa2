"""Network activations by layer name, for comparison with brain data.

:func:`layer_activations` runs any ``torch.nn.Module`` with forward hooks on the
submodules named as in ``dict(model.named_modules())`` and returns one
``(n_inputs, n_features)`` array per layer. For a neurodl
:class:`~neurodl.networks.FeedForward` the layers are ``"layers.0"``,
``"layers.1"``, ... (each a :class:`~neurodl.networks.feedforward.Dense`, whose
output is the activation ``a_l``); :func:`list_layers` lists the names of any model.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from neurodl._validate import check_int
from neurodl.errors import ShapeError, ValidationError

__all__ = ["layer_activations", "list_layers"]


def list_layers(model: nn.Module) -> list[str]:
    """Return the names of every submodule, in registration order.

    These are the names :func:`layer_activations` accepts (the model itself,
    named ``""`` by ``named_modules``, is left out).

    Parameters
    ----------
    model : torch.nn.Module

    Returns
    -------
    list of str

    Examples
    --------
    >>> from torch import nn
    >>> list_layers(nn.Sequential(nn.Linear(2, 3), nn.ReLU()))
    ['0', '1']
    """
    if not isinstance(model, nn.Module):
        raise ValidationError(
            f"'model' must be a torch.nn.Module; got {type(model).__name__}."
        )
    return [name for name, _ in model.named_modules() if name]


def _first_tensor(output: Any) -> Tensor | None:
    """Return the output if a tensor, else the first tensor in a tuple/list."""
    if isinstance(output, Tensor):
        return output
    if isinstance(output, tuple | list):
        for item in output:
            found = _first_tensor(item)
            if found is not None:
                return found
    return None


def _model_dtype_device(model: nn.Module) -> tuple[torch.dtype | None, torch.device]:
    for p in model.parameters():
        if p.is_floating_point():
            return p.dtype, p.device
    for b in model.buffers():
        if b.is_floating_point():
            return b.dtype, b.device
    return None, torch.device("cpu")


def layer_activations(
    model: nn.Module,
    inputs: Any,
    layers: str | Sequence[str],
    *,
    flatten: bool = True,
    batch_size: int | None = None,
    batch_dim: int = 0,
) -> dict[str, np.ndarray]:
    """Return the outputs of named submodules of ``model`` for ``inputs``.

    The model is run in eval mode under ``torch.no_grad()``; its training flag is
    restored and every hook removed afterwards, also when the forward pass raises.

    Parameters
    ----------
    model : torch.nn.Module
        Any module; its submodules are named as in ``dict(model.named_modules())``
        (see :func:`list_layers`).
    inputs : array or Tensor
        The model's input; a floating-point array is cast to the dtype and device
        of the model's parameters.
    layers : str or sequence of str
        Names of the submodules whose outputs to record.
    flatten : bool
        Reshape each output to ``(n_inputs, n_features)``; False keeps its shape
        with the input axis moved first.
    batch_size : int or None
        Run the inputs in batches of this many along ``batch_dim`` (to bound
        memory); None runs them at once.
    batch_dim : int
        Axis of ``inputs`` and of every recorded output that indexes the inputs:
        0 for ``(n_inputs, ...)`` models, 1 for neurodl spiking networks, whose
        inputs and layer outputs are ``(time, batch, features)`` (flattened, each
        input's features are then its whole time course, time-major).

    Returns
    -------
    dict of str to ndarray
        For each layer name (in the order given), an array of shape
        ``(n_inputs, n_features)`` (or the output's shape with the input axis
        first, for ``flatten=False``).

    Raises
    ------
    ValidationError
        For a name that is not a submodule (the message lists the available ones),
        or a layer whose output holds no tensor or was never called.
    ShapeError
        If an output's ``batch_dim`` axis does not have one entry per input.

    Notes
    -----
    A module that returns a tuple or list (e.g. a spiking layer returning
    ``(spikes, state)``) is recorded by its *first* tensor. A module called more
    than once in a forward pass (e.g. a recurrent cell) is recorded by its last
    call.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> net = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    >>> acts = layer_activations(net, torch.zeros(5, 4), ["1", "2"])
    >>> {name: a.shape for name, a in acts.items()}
    {'1': (5, 3), '2': (5, 2)}
    """
    available = list_layers(model)
    names = [layers] if isinstance(layers, str) else list(layers)
    if not names or not all(isinstance(n, str) for n in names):
        raise ValidationError(
            f"'layers' must be a layer name or a non-empty sequence of names; got "
            f"{layers!r}."
        )
    modules = dict(model.named_modules())
    unknown = [n for n in names if n not in modules or n == ""]
    if unknown:
        raise ValidationError(
            f"'layers' holds unknown layer name(s) {unknown!r}; available: "
            f"{available!r}."
        )
    names = list(dict.fromkeys(names))
    if batch_size is not None:
        batch_size = check_int("batch_size", batch_size, minimum=1)
    if not isinstance(flatten, bool):
        raise ValidationError(f"'flatten' must be True or False; got {flatten!r}.")

    x = inputs.detach() if isinstance(inputs, Tensor) else torch.as_tensor(inputs)
    dtype, device = _model_dtype_device(model)
    if x.is_floating_point() and dtype is not None:
        x = x.to(dtype=dtype, device=device)
    else:
        x = x.to(device)
    if x.ndim == 0:
        raise ShapeError(
            f"'inputs' must have an input axis; got a 0-d value of shape "
            f"{tuple(x.shape)}."
        )
    batch_dim = check_int("batch_dim", batch_dim, minimum=0)
    if batch_dim >= x.ndim:
        raise ShapeError(
            f"'batch_dim' must be an axis of 'inputs'; got batch_dim={batch_dim} "
            f"for inputs of shape {tuple(x.shape)}."
        )
    n_inputs = x.shape[batch_dim]
    if n_inputs == 0:
        raise ShapeError(
            f"'inputs' must hold at least one input along axis {batch_dim}; got "
            f"shape {tuple(x.shape)}."
        )
    step = n_inputs if batch_size is None else batch_size

    chunks: dict[str, list[Tensor]] = {n: [] for n in names}
    current: dict[str, Tensor] = {}

    def make_hook(name: str) -> Any:
        def hook(module: nn.Module, args: Any, output: Any) -> None:
            t = _first_tensor(output)
            if t is None:
                raise ValidationError(
                    f"layer {name!r} ({type(module).__name__}) returned "
                    f"{type(output).__name__}, which holds no tensor to record."
                )
            current[name] = t.detach()

        return hook

    was_training = model.training
    handles = [modules[n].register_forward_hook(make_hook(n)) for n in names]
    try:
        model.eval()
        with torch.no_grad():
            for start in range(0, n_inputs, step):
                current.clear()
                xb = x.narrow(batch_dim, start, min(step, n_inputs - start))
                model(xb)
                for n in names:
                    if n not in current:
                        raise ValidationError(
                            f"layer {n!r} was not called in the model's forward "
                            "pass, so it has no activation to record."
                        )
                    out = current[n]
                    if (
                        out.ndim <= batch_dim
                        or out.shape[batch_dim] != xb.shape[batch_dim]
                    ):
                        raise ShapeError(
                            f"layer {n!r} output has shape {tuple(out.shape)}, "
                            f"without axis {batch_dim} of {xb.shape[batch_dim]} "
                            f"inputs (batch_dim={batch_dim})."
                        )
                    chunks[n].append(out.movedim(batch_dim, 0).cpu())
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)

    result: dict[str, np.ndarray] = {}
    for n in names:
        full = torch.cat(chunks[n], 0)
        if flatten:
            full = full.reshape(full.shape[0], -1)
        result[n] = full.numpy()
    return result
