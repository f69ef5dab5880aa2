"""The recurrent continuous decoder: a GRU or LSTM over the history window.

:class:`RecurrentDecoder`, the GRU/LSTM decoders of Glaser et al. (2020), "Machine
learning for neural decoding", eNeuro 7(4), a scikit-learn regressor trained with
Adam and early stopping. Importable from :mod:`neurodl.decode.continuous` too,
beside the Wiener and Kalman decoders and the history helpers it uses.
"""

from __future__ import annotations

import copy
import math
import time
from typing import Any

import numpy as np
import torch
from numpy.typing import ArrayLike
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data
from torch import nn

from neurodl._threads import resolve_threads, use_threads
from neurodl._validate import check_int, check_option
from neurodl.decode.continuous import _as_sequence, _multioutput_tags
from neurodl.errors import ShapeError, TrainingDivergedError, ValidationError

__all__ = ["RecurrentDecoder"]


class _RecurrentReadout(nn.Module):
    """GRU/LSTM over the history, dropout, linear readout of the last state."""

    def __init__(
        self, cell: str, n_units: int, hidden: int, n_out: int, dropout: float
    ) -> None:
        super().__init__()
        rnn = nn.GRU if cell == "gru" else nn.LSTM
        self.rnn = rnn(n_units, hidden, batch_first=True)
        self.drop = nn.Dropout(dropout)
        self.readout = nn.Linear(hidden, n_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, _ = self.rnn(self.drop(x))
        return self.readout(self.drop(h[:, -1]))


def _check_fraction(name: str, value: Any) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not 0 <= value < 1
    ):
        raise ValidationError(f"{name!r} must be a number in [0, 1); got {value!r}.")
    return float(value)


class RecurrentDecoder(RegressorMixin, BaseEstimator):
    """A GRU or LSTM over the history window, with a linear readout of its last state.

    As the GRU/LSTM decoders of Glaser et al. (2020): the input at each of the
    ``n_history`` steps is the spike counts of one bin; the last hidden state is
    mapped linearly to the targets. Inputs (per unit) and targets are standardized
    inside ``fit`` with statistics of the inner training part only, stored on the
    estimator. Training: Adam on the mean squared error, minibatches drawn in random
    order, early stopping on a time-ordered validation tail of the training data
    (the last ``validation_fraction`` of the rows), restoring the weights of the
    best validation epoch.

    Parameters
    ----------
    cell : {"gru", "lstm"}
        Recurrent cell.
    hidden : int
        Size of the hidden state.
    dropout : float
        Dropout on the inputs and on the last hidden state, in [0, 1).
    epochs : int
        Maximum number of passes over the training data.
    lr : float
        Adam's learning rate.
    batch_size : int
        Minibatch size.
    validation_fraction : float
        Fraction of the rows, taken from the end (rows must be in time order), held
        out for early stopping; 0 trains for all ``epochs`` and keeps the last
        weights.
    patience : int
        Stop after this many epochs without a lower validation loss.
    n_history : int or None
        Steps per sample when ``X`` is 2-D: each row is ``n_history`` bins of
        ``n_units`` counts flattened in C order. None: 3-D inputs give it, 2-D
        inputs are one step per row.
    random_state : int, numpy.random.RandomState or None
        Seed of the initial weights, minibatch order and dropout; an int makes
        ``fit`` deterministic (on one device and thread count).
    device : str
        ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"auto"`` (CUDA when available).
    threads : int or "auto"
        CPU threads while training (see :mod:`neurodl._threads`).

    Attributes
    ----------
    module_ : torch.nn.Module
        The trained network (on the CPU).
    n_history_, n_units_, n_outputs_ : int
        Input steps, inputs per step and outputs.
    x_mean_, x_scale_ : numpy.ndarray, shape (n_units,)
        Input standardization (per unit, over samples and steps).
    y_mean_, y_scale_ : numpy.ndarray, shape (n_outputs,)
        Target standardization.
    loss_curve_, validation_loss_curve_ : list of float
        Mean training loss and validation loss (standardized units) per epoch.
    best_epoch_ : int
        The epoch (1-based) whose weights were kept.
    n_epochs_ : int
        Epochs run.
    fit_time_s_ : float
        Wall-clock seconds spent in ``fit``.
    """

    def __init__(
        self,
        cell: str = "gru",
        hidden: int = 256,
        dropout: float = 0.3,
        epochs: int = 15,
        lr: float = 1e-3,
        batch_size: int = 128,
        validation_fraction: float = 0.1,
        patience: int = 4,
        n_history: int | None = None,
        random_state: int | np.random.RandomState | None = None,
        device: str = "cpu",
        threads: int | str = "auto",
    ) -> None:
        self.cell = cell
        self.hidden = hidden
        self.dropout = dropout
        self.epochs = epochs
        self.lr = lr
        self.batch_size = batch_size
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.n_history = n_history
        self.random_state = random_state
        self.device = device
        self.threads = threads

    def __sklearn_tags__(self) -> Any:
        return _multioutput_tags(super().__sklearn_tags__())

    # -- helpers
    def _check_params(self) -> None:
        check_option("cell", self.cell, ("gru", "lstm"))
        check_int("hidden", self.hidden, minimum=1)
        check_int("epochs", self.epochs, minimum=1)
        check_int("batch_size", self.batch_size, minimum=1)
        check_int("patience", self.patience, minimum=1)
        if self.n_history is not None:
            check_int("n_history", self.n_history, minimum=1)
        _check_fraction("dropout", self.dropout)
        _check_fraction("validation_fraction", self.validation_fraction)
        if (
            isinstance(self.lr, bool)
            or not isinstance(self.lr, int | float)
            or not self.lr > 0
            or not math.isfinite(self.lr)
        ):
            raise ValidationError(f"'lr' must be a finite number > 0; got {self.lr!r}.")

    def _device(self) -> torch.device:
        if not isinstance(self.device, str):
            raise ValidationError(
                f"'device' must be 'cpu', 'cuda', 'cuda:N' or 'auto'; got "
                f"{self.device!r}."
            )
        if self.device == "auto":
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        try:
            dev = torch.device(self.device)
        except RuntimeError as err:
            raise ValidationError(
                f"'device' must be 'cpu', 'cuda', 'cuda:N' or 'auto'; got "
                f"{self.device!r}."
            ) from err
        if dev.type == "cuda" and not torch.cuda.is_available():
            raise ValidationError(
                f"'device' is {self.device!r} but CUDA is not available; use 'cpu' "
                "or 'auto'."
            )
        if dev.type not in ("cpu", "cuda"):
            raise ValidationError(
                f"'device' must be 'cpu', 'cuda', 'cuda:N' or 'auto'; got "
                f"{self.device!r}."
            )
        return dev

    def _sequences(self, X: np.ndarray, n_history: int) -> np.ndarray:
        n, f = X.shape
        if f % n_history:
            raise ShapeError(
                f"'X' has {f} features per row, which is not a multiple of "
                f"'n_history' = {n_history}: 2-D rows must hold n_history x n_units "
                "values."
            )
        return X.reshape(n, n_history, f // n_history)

    def fit(self, X: ArrayLike, y: ArrayLike) -> RecurrentDecoder:
        """Train the network.

        Parameters
        ----------
        X : array-like, shape (n_samples, n_history, n_units) or (n_samples, n_features)
            History windows (see :func:`history_windows`), or the same flattened
            (give ``n_history``). Rows in time order when early stopping is used.
        y : array-like, shape (n_samples,) or (n_samples, n_outputs)
            Targets.

        Returns
        -------
        RecurrentDecoder
            The fitted estimator.

        Raises
        ------
        neurodl.errors.TrainingDivergedError
            If the training loss becomes NaN or infinite.
        """
        started = time.perf_counter()
        self._check_params()
        device = self._device()
        X, n_hist = _as_sequence(X, self.n_history)
        X, y = validate_data(self, X, y, multi_output=True, y_numeric=True)
        n_hist = n_hist or 1
        seq = self._sequences(np.asarray(X, dtype=np.float64), n_hist)
        Y = np.asarray(y, dtype=np.float64)
        self._y_1d = Y.ndim == 1
        Y = Y.reshape(len(Y), -1)
        n, _, n_units = seq.shape
        n_val = round(self.validation_fraction * n)
        if n_val < 1 or n - n_val < 1:
            n_val = 0
        n_tr = n - n_val

        # standardize with the inner training part only
        flat = seq[:n_tr].reshape(-1, n_units)
        self.x_mean_ = flat.mean(axis=0)
        sd = flat.std(axis=0)
        self.x_scale_ = np.where(sd > 1e-12, sd, 1.0)
        self.y_mean_ = Y[:n_tr].mean(axis=0)
        ysd = Y[:n_tr].std(axis=0)
        self.y_scale_ = np.where(ysd > 1e-12, ysd, 1.0)
        xs = torch.as_tensor(
            (seq - self.x_mean_) / self.x_scale_, dtype=torch.float32, device=device
        )
        ys = torch.as_tensor(
            (Y - self.y_mean_) / self.y_scale_, dtype=torch.float32, device=device
        )
        x_tr, y_tr, x_va, y_va = xs[:n_tr], ys[:n_tr], xs[n_tr:], ys[n_tr:]

        seed = int(check_random_state(self.random_state).randint(0, 2**31 - 1))
        self.n_history_, self.n_units_, self.n_outputs_ = n_hist, n_units, Y.shape[1]
        fork = [device.index or 0] if device.type == "cuda" else []
        with torch.random.fork_rng(devices=fork, device_type=device.type):
            torch.manual_seed(seed)
            module = _RecurrentReadout(
                self.cell, n_units, self.hidden, Y.shape[1], self.dropout
            ).to(device)
            n_params = sum(p.numel() for p in module.parameters())
            with use_threads(resolve_threads(self.threads, n_params * self.batch_size)):
                self._train(module, x_tr, y_tr, x_va, y_va, seed)
        self.module_ = module.to("cpu").eval()
        self.fit_time_s_ = time.perf_counter() - started
        return self

    def _train(
        self,
        module: nn.Module,
        x_tr: torch.Tensor,
        y_tr: torch.Tensor,
        x_va: torch.Tensor,
        y_va: torch.Tensor,
        seed: int,
    ) -> None:
        opt = torch.optim.Adam(module.parameters(), lr=self.lr)
        gen = torch.Generator(device="cpu").manual_seed(seed)
        n_tr = len(x_tr)
        best_loss, best_state, best_epoch, stale = math.inf, None, 0, 0
        self.loss_curve_: list[float] = []
        self.validation_loss_curve_: list[float] = []
        epoch = 0
        for epoch in range(1, self.epochs + 1):
            module.train()
            order = torch.randperm(n_tr, generator=gen).to(x_tr.device)
            total = 0.0
            for i in range(0, n_tr, self.batch_size):
                idx = order[i : i + self.batch_size]
                opt.zero_grad()
                loss = nn.functional.mse_loss(module(x_tr[idx]), y_tr[idx])
                loss.backward()
                opt.step()
                total += float(loss.detach()) * len(idx)
            train_loss = total / n_tr
            if not math.isfinite(train_loss):
                raise TrainingDivergedError(
                    f"the training loss became {train_loss} in epoch {epoch}; lower "
                    f"'lr' (now {self.lr}).",
                    epoch=epoch,
                )
            self.loss_curve_.append(train_loss)
            if len(x_va) == 0:
                continue
            module.eval()
            with torch.no_grad():
                val_loss = float(
                    nn.functional.mse_loss(self._forward(module, x_va), y_va)
                )
            self.validation_loss_curve_.append(val_loss)
            if val_loss < best_loss:
                best_loss, best_epoch, stale = val_loss, epoch, 0
                best_state = copy.deepcopy(module.state_dict())
            else:
                stale += 1
                if stale >= self.patience:
                    break
        self.n_epochs_ = epoch
        if best_state is not None:
            module.load_state_dict(best_state)
            self.best_epoch_ = best_epoch
        else:
            self.best_epoch_ = epoch
        module.eval()

    @staticmethod
    def _forward(module: nn.Module, x: torch.Tensor, chunk: int = 4096) -> torch.Tensor:
        """Evaluate in fixed-size chunks (bounded memory)."""
        if len(x) <= chunk:
            return module(x)
        return torch.cat([module(x[i : i + chunk]) for i in range(0, len(x), chunk)])

    def predict(self, X: ArrayLike) -> np.ndarray:
        """Predict the targets.

        Parameters
        ----------
        X : array-like, shape (n_samples, n_history, n_units) or (n_samples, n_features)
            As in ``fit``.

        Returns
        -------
        numpy.ndarray, shape (n_samples,) or (n_samples, n_outputs)
        """
        check_is_fitted(self)
        X, _ = _as_sequence(X, self.n_history_)
        X = validate_data(self, X, reset=False)
        seq = self._sequences(np.asarray(X, dtype=np.float64), self.n_history_)
        xs = torch.as_tensor((seq - self.x_mean_) / self.x_scale_, dtype=torch.float32)
        with torch.no_grad():
            out = self._forward(self.module_, xs).double().numpy()
        out = out * self.y_scale_ + self.y_mean_
        return out[:, 0] if self._y_1d else out
