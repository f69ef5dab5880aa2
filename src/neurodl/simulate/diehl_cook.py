"""Diehl & Cook (2015): unsupervised digit recognition with STDP.

Diehl, P. U. & Cook, M. (2015). Unsupervised learning of digit recognition using
spike-timing-dependent plasticity. Front. Comput. Neurosci. 9:99,
doi:10.3389/fncom.2015.00099. Constants and schedule as in the authors' Brian code
(``peter-u-diehl/stdp-mnist``, ``Diehl&Cook_spiking_MNIST.py`` and
``Diehl&Cook_MNIST_random_conn_generator.py``).

784 Poisson inputs (pixel ``x`` in 0..255 fires at ``x / 8 * intensity`` Hz,
intensity 2: at most 63.75 Hz) drive ``n_exc`` excitatory neurons through plastic,
delayed synapses; each excitatory neuron excites one inhibitory neuron (``ge +=
10.4``), which inhibits all the other excitatory neurons (``gi += w_ie``, 50; the
authors' code: 17, see :class:`DiehlCookParams`). Conductance-based LIF (mV, ms;
conductances relative to the leak)::

    100 dv/dt = (-65 - v) + ge (0 - v) + gi (-100 - v)     excitatory
     10 dv/dt = (-60 - v) + ge (0 - v)                      inhibitory
      1 dge/dt = -ge,   2 dgi/dt = -gi
    excitatory spike:  v > -52 + theta - 20 and timer > 5;  v <- -65, held for
                       5 ms (refractory), timer <- 0, theta <- theta + 0.05
                       (during training); 1e7 dtheta/dt = -theta;
                       dtimer/dt = 0.1 (``timer_rate``; timer starts at 0)
    inhibitory spike:  v > -40;  v <- -45, 2 ms refractory

Plasticity: the rule of the authors' released code (``eqs_stdp_pre_ee`` and
``eqs_stdp_post_ee``) on the input -> excitatory weights, ``w`` in ``[0, 1]``::

    pre spike of pixel i:   w_ij <- max(w_ij - nu_pre x_post1_j, 0);  x_pre_i <- 1
    post spike of neuron j: w_ij <- min(w_ij + nu_post x_pre_i x_post2_j(t-), 1)
                            x_post1_j <- 1;  x_post2_j <- 1
    tau_pre = tau_post1 = 20 ms, tau_post2 = 40 ms, nu_pre = 1e-4, nu_post = 1e-2

(a minimal triplet form, Pfister & Gerstner 2006: pair depression, potentiation
gated by the second post trace; ``x_post2_j(t-)`` is its value just before the
spike). It is *not* the paper's post-only power-law rule
``dw = eta (x_pre - x_tar) (w_max - w)^mu`` (no ``x_tar`` or ``mu`` are published).
Before each presentation the weights onto each excitatory neuron are scaled to sum
to 78. Each image is shown for 350 ms and followed by 150 ms without input
(simulated, so the state decays as in the original); when the excitatory neurons
fire fewer than 5 spikes, the intensity rises by 1 (32 Hz at full pixel) and the
image is shown again. After training, learning and thresholds are frozen, each
neuron is assigned the class to which it responded most (averaged over the
training set, as the paper; the original demo assigned on the test set), and an
image is classified by the class whose assigned neurons fire most on average
("all activity"), or with BindsNET's proportion weighting.

The ``timer`` rule (``dtimer/dt = 0.1 : second`` in the Brian 2 ports of the
code; ``dtimer/dt = 100.0  : ms`` and
``(timer>refrac_e)`` in the threshold of the Brian 1 original) keeps an excitatory
neuron from spiking again for ``t_ref_e / timer_rate`` = 50 ms (101 steps) after a
spike, while its ``v`` is free after 5 ms: about 20 Hz at most. Read literally, Brian
1's ``100.0 : ms`` is 100 s per s (units are SI), a block of one step, i.e. only the
5 ms refractory period: ``timer_rate=100.0`` runs that reading.

Implementation choices (differences from Brian 1, each small): a refractory
neuron cannot spike (Brian 1 clamped ``v`` but still tested the threshold);
each input synapse has a delay (0-10 ms, uniform on the 0.5 ms grid) after which
its spike adds ``w`` to ``ge``, sets the synapse's pre trace and depresses it
(Brian's delayed STDP: everything happens at the synapse, on arrival); in a step,
arrivals come before post events.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np
import torch

from neurodl._io import read_tensors, write_tensors
from neurodl._validate import check_int, check_option, check_positive
from neurodl.errors import FormatError, ShapeError, ValidationError
from neurodl.simulate import _diehl_cook_kernel as _k
from neurodl.simulate._diehl_cook_data import _as_images, _as_labels, _seeds

__all__ = [
    "DiehlCook",
    "DiehlCookParams",
    "assign_labels",
    "classify",
    "train_stdp_mnist",
]

N_INPUT = 784
N_CLASSES = 10
MNIST_TRAIN = 60000
MNIST_TEST = 10000
KIND = "diehl_cook"
METHODS = ("all", "proportion")
_ANY_SIGN = frozenset(
    {"v_rest_e", "v_rest_i", "v_reset_e", "v_reset_i", "v_th_e", "v_th_i", "e_exc"}
    | {"e_inh_e", "theta_offset"}
)
_NON_NEGATIVE = frozenset(
    {"t_rest", "t_ref_e", "t_ref_i", "theta_plus", "theta_init", "w_ei", "w_ie"}
    | {"max_delay", "nu_pre", "nu_post", "intensity_step"}
)


@dataclass(frozen=True)
class DiehlCookParams:
    """Constants of the Diehl & Cook (2015) network (mV, ms, Hz).

    Defaults are the authors' released Brian code (``Diehl&Cook_spiking_MNIST.py``;
    the recurrent weights from ``Diehl&Cook_MNIST_random_conn_generator.py``),
    which the paper's Methods describe, with one exception: the inhibitory weight
    ``w_ie`` is 50, not the code's 17. With 17, competition in this simulation is
    soft (about 4 neurons fire per image), half the neurons keep faint, mixed
    receptive fields, and 100 neurons reach 67.8 % on MNIST after one pass; with
    50, about 2 fire, every field is a crisp digit as in the paper's figures, and
    the same protocol reaches 81.4 % (the paper: 82.9 %; ``benchmarks/RESULTS.md``).
    ``DiehlCookParams(w_ie=17.0)`` runs the released code's value.
    """

    dt: float = 0.5  # ms, Brian clock
    t_present: float = 350.0  # ms of input per image
    t_rest: float = 150.0  # ms without input after each image
    tau_e: float = 100.0  # ms, exc. membrane
    tau_i: float = 10.0  # ms, inh. membrane
    v_rest_e: float = -65.0
    v_rest_i: float = -60.0
    v_reset_e: float = -65.0
    v_reset_i: float = -45.0
    v_th_e: float = -52.0
    v_th_i: float = -40.0
    t_ref_e: float = 5.0  # v held at v_reset_e; the spike block is t_ref_e / timer_rate
    t_ref_i: float = 2.0
    timer_rate: float = 0.1  # ``dtimer/dt = 0.1 : second``; spike needs timer > t_ref_e
    e_exc: float = 0.0  # excitatory reversal (both populations)
    e_inh_e: float = -100.0  # inhibitory reversal at exc. neurons
    tau_ge: float = 1.0
    tau_gi: float = 2.0
    theta_plus: float = 0.05  # mV per exc. spike
    tau_theta: float = 1e7  # ms
    theta_init: float = 20.0  # mV, initial theta (Brian code)
    theta_offset: float = 20.0  # mV: threshold = v_th_e + theta - offset
    w_ei: float = 10.4  # exc -> inh, one to one
    w_ie: float = 50.0  # inh -> every other exc (the authors' code: 17.0)
    w_init: float = 0.3  # input weights start as (U(0, 1) + 0.01) * w_init
    max_delay: float = 10.0  # ms, input delays uniform in [0, max_delay]
    nu_pre: float = 1e-4
    nu_post: float = 1e-2
    tau_pre: float = 20.0
    tau_post1: float = 20.0
    tau_post2: float = 40.0
    w_max: float = 1.0
    w_sum: float = 78.0  # each exc. neuron's input weights sum to this
    intensity: float = 2.0  # rate = pixel / 8 * intensity Hz
    intensity_step: float = 1.0  # + 1 (about 32 Hz at full pixel) per retry
    rate_scale: float = 1.0 / 8.0
    min_spikes: int = 5  # fewer exc. spikes in a presentation: show it again
    max_attempts: int = 20  # give up raising the intensity after this many

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in ("min_spikes", "max_attempts"):
                check_int(f.name, value, minimum=1 if f.name == "max_attempts" else 0)
                continue
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValidationError(f"{f.name!r} must be a number; got {value!r}.")
            if not math.isfinite(value):
                raise ValidationError(
                    f"{f.name!r} must be a finite number; got {value!r}."
                )
            if f.name in _ANY_SIGN:
                continue
            check_positive(f.name, value, strict=f.name not in _NON_NEGATIVE)
        fastest = min(self.tau_ge, self.tau_gi, self.tau_i, self.tau_e)
        if self.dt >= fastest:
            raise ValidationError(
                f"'dt' must be below the fastest time constant ({fastest} ms) for "
                f"the Euler step; got {self.dt!r}."
            )
        if self.t_rest < self.max_delay:
            raise ValidationError(
                f"'t_rest' must be at least 'max_delay' ({self.max_delay} ms) so that "
                f"every input spike arrives before the next image; got {self.t_rest!r}."
            )
        if self.steps(self.t_present) < 1:
            raise ValidationError(
                f"'t_present' must be at least one step of 'dt' ({self.dt} ms); "
                f"got {self.t_present!r}."
            )

    def steps(self, ms: float) -> int:
        """``ms`` in whole steps of ``dt``."""
        return round(ms / self.dt)

    def _vectors(self) -> tuple[np.ndarray, np.ndarray]:
        pf = np.zeros(_k.N_F)
        pf[_k.F_DT] = self.dt
        pf[_k.F_TAU_E] = self.tau_e
        pf[_k.F_TAU_I] = self.tau_i
        pf[_k.F_VREST_E] = self.v_rest_e
        pf[_k.F_VREST_I] = self.v_rest_i
        pf[_k.F_VRESET_E] = self.v_reset_e
        pf[_k.F_VRESET_I] = self.v_reset_i
        pf[_k.F_VTH_E] = self.v_th_e
        pf[_k.F_VTH_I] = self.v_th_i
        pf[_k.F_E_EXC] = self.e_exc
        pf[_k.F_E_INH_E] = self.e_inh_e
        pf[_k.F_TAU_GE] = self.tau_ge
        pf[_k.F_TAU_GI] = self.tau_gi
        pf[_k.F_THETA_PLUS] = self.theta_plus
        pf[_k.F_TAU_THETA] = self.tau_theta
        pf[_k.F_OFFSET] = self.theta_offset
        pf[_k.F_W_EI] = self.w_ei
        pf[_k.F_W_IE] = self.w_ie
        pf[_k.F_NU_PRE] = self.nu_pre
        pf[_k.F_NU_POST] = self.nu_post
        pf[_k.F_TAU_PRE] = self.tau_pre
        pf[_k.F_TAU_POST1] = self.tau_post1
        pf[_k.F_TAU_POST2] = self.tau_post2
        pf[_k.F_WMAX] = self.w_max
        pf[_k.F_W_SUM] = self.w_sum
        pf[_k.F_INTENSITY] = self.intensity
        pf[_k.F_INTENSITY_STEP] = self.intensity_step
        pf[_k.F_RATE_SCALE] = self.rate_scale
        pi = np.zeros(_k.N_I, np.int64)
        pi[_k.I_PRESENT] = self.steps(self.t_present)
        pi[_k.I_REST] = self.steps(self.t_rest)
        pi[_k.I_REF_E] = self.steps(self.t_ref_e)
        pi[_k.I_REF_I] = self.steps(self.t_ref_i)
        pi[_k.I_MIN_SPIKES] = self.min_spikes
        pi[_k.I_MAX_ATTEMPTS] = self.max_attempts
        pi[_k.I_BLOCK_E] = self.block_steps()
        return pf, pi

    def block_steps(self) -> int:
        """Return the least ``s`` with ``s dt timer_rate > t_ref_e``.

        An excitatory neuron can spike again ``s`` steps after its last spike.
        """
        return math.floor(self.t_ref_e / (self.timer_rate * self.dt) + 1e-9) + 1


_STATE = (
    "w",
    "delays",
    "v_e",
    "ge_e",
    "gi_e",
    "theta",
    "refr_e",
    "timer_e",
    "v_i",
    "ge_i",
    "refr_i",
    "post1",
    "post2",
    "last_arr",
    "clock",
)


def assign_labels(
    counts: np.ndarray, labels: np.ndarray, n_classes: int = N_CLASSES
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Assign each neuron the class it responds to most (Diehl & Cook 2015).

    Parameters
    ----------
    counts : ndarray, shape (n_images, n_neurons)
        Spike counts per presentation.
    labels : ndarray of int, shape (n_images,)
        The class of each image.

    Returns
    -------
    assignments : ndarray of int64, shape (n_neurons,)
        ``argmax_c`` of the neuron's mean count over the images of class ``c``
        (the original ``get_new_assignments``); a neuron that never fired gets
        class 0 (its first maximum).
    proportions : ndarray, shape (n_neurons, n_classes)
        Each neuron's class means divided by their sum (BindsNET's proportions;
        zeros for a silent neuron).
    class_rates : ndarray, shape (n_neurons, n_classes)
        The mean counts themselves (a class with no image: 0).
    """
    c = np.asarray(counts, dtype=np.float64)
    if c.ndim != 2:
        raise ShapeError(f"'counts' must be 2-D (images, neurons); got {c.shape}.")
    y = _as_labels(labels, c.shape[0])
    sums = np.zeros((n_classes, c.shape[1]))
    np.add.at(sums, y, c)
    n_per = np.bincount(y, minlength=n_classes).astype(np.float64)
    rates = np.divide(
        sums, n_per[:, None], out=np.zeros_like(sums), where=n_per[:, None] > 0
    ).T
    total = rates.sum(axis=1, keepdims=True)
    props = np.divide(rates, total, out=np.zeros_like(rates), where=total > 0)
    return rates.argmax(axis=1).astype(np.int64), props, rates


def classify(
    counts: np.ndarray,
    assignments: np.ndarray,
    proportions: np.ndarray | None = None,
    *,
    method: str = "all",
    n_classes: int = N_CLASSES,
) -> np.ndarray:
    """Classify presentations from spike counts and neuron assignments.

    ``method="all"`` (Diehl & Cook's all-activity): the class whose assigned neurons
    have the highest mean count. ``"proportion"`` (BindsNET's
    ``proportion_weighting``): the same mean with each neuron's count weighted by
    its proportion for that class. A class with no assigned neuron scores 0; ties
    go to the lowest class.
    """
    check_option("method", method, METHODS)
    c = np.asarray(counts, dtype=np.float64)
    a = np.asarray(assignments)
    if c.ndim != 2 or a.shape != (c.shape[1],):
        raise ShapeError(
            f"'counts' (images, neurons) and 'assignments' (neurons,) disagree; got "
            f"{c.shape} and {a.shape}."
        )
    if method == "proportion":
        if proportions is None:
            raise ValidationError(
                "'proportions' is required with method='proportion'; got None."
            )
        if np.shape(proportions) != (c.shape[1], n_classes):
            raise ShapeError(
                f"'proportions' must have shape ({c.shape[1]}, {n_classes}); got "
                f"{np.shape(proportions)}."
            )
    scores = np.zeros((c.shape[0], n_classes))
    for k in range(n_classes):
        sel = a == k
        n_k = int(sel.sum())
        if n_k == 0:
            continue
        if proportions is not None and method == "proportion":
            weights = np.asarray(proportions)[sel, k]
            scores[:, k] = c[:, sel] @ weights / n_k
        else:
            scores[:, k] = c[:, sel].sum(axis=1) / n_k
    return scores.argmax(axis=1).astype(np.int64)


class DiehlCook:
    """The Diehl & Cook (2015) network, simulated by one compiled kernel.

    Parameters
    ----------
    n_exc : int
        Excitatory neurons (as many inhibitory ones). The paper: 100 to 6400.
    params : DiehlCookParams, optional
        The constants; default: the paper's (the authors' code).
    seed : int
        Seeds the initial weights, the delays and every image's Poisson input (a
        hash of seed, phase and image index, so a run is the same whether it is
        done in one call or many).

    Examples
    --------
    >>> import numpy as np
    >>> net = DiehlCook(n_exc=4, seed=0)
    >>> images = np.zeros((2, 28, 28), np.uint8)
    >>> images[:, 8:20, 12:16] = 255
    >>> net.train(images).n_trained_
    2
    >>> net.receptive_fields().shape
    (4, 28, 28)
    """

    def __init__(
        self, n_exc: int = 100, *, params: DiehlCookParams | None = None, seed: int = 0
    ) -> None:
        self.n_exc = check_int("n_exc", n_exc, minimum=1)
        self.seed = check_int("seed", seed, minimum=0)
        if params is None:
            params = DiehlCookParams()
        if not isinstance(params, DiehlCookParams):
            raise ValidationError(
                f"'params' must be a DiehlCookParams; got {type(params).__name__}."
            )
        self.params = params
        self._pf, self._pi = params._vectors()
        p = params
        rng = np.random.default_rng(self.seed)
        n = self.n_exc
        self.w = (rng.random((N_INPUT, n)) + 0.01) * p.w_init
        self.delays = rng.integers(0, p.steps(p.max_delay) + 1, size=(N_INPUT, n))
        self.v_e = np.full(n, p.v_rest_e - 40.0)  # the Brian code's initial state
        self.ge_e = np.zeros(n)
        self.gi_e = np.zeros(n)
        self.theta = np.full(n, p.theta_init)
        self.refr_e = np.zeros(n, np.int64)
        self.timer_e = np.zeros(n, np.int64)  # Brian's timer starts at 0
        self.v_i = np.full(n, p.v_rest_i - 40.0)
        self.ge_i = np.zeros(n)
        self.refr_i = np.zeros(n, np.int64)
        self.post1 = np.zeros(n)
        self.post2 = np.zeros(n)
        self.last_arr = np.full((N_INPUT, n), _k.NEVER, np.int64)
        self._csr()
        self.clock = np.zeros(1, np.int64)
        self.n_trained_ = 0
        self.n_evaluated_ = 0
        self.attempts_: np.ndarray = np.zeros(0, np.int32)
        self.assignments_: np.ndarray | None = None
        self.proportions_: np.ndarray | None = None

    def _csr(self) -> None:
        """Group the synapses by (pixel, delay) for the kernel's arrivals."""
        self.n_delay = self.params.steps(self.params.max_delay) + 1
        key = np.arange(N_INPUT)[:, None] * self.n_delay + self.delays
        order = np.argsort(key.ravel(), kind="stable")
        self.syn_j = (order % self.n_exc).astype(np.int64)
        counts = np.bincount(key.ravel(), minlength=N_INPUT * self.n_delay)
        self.syn_ptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)

    # -- simulation -----------------------------------------------------------
    def _run(
        self,
        images: np.ndarray,
        *,
        learn: bool,
        first: int,
        progress: Callable[[int, int], None] | None,
        chunk: int,
    ) -> tuple[np.ndarray, np.ndarray]:
        n = images.shape[0]
        counts = np.zeros((n, self.n_exc), np.int32)
        attempts = np.zeros(n, np.int32)
        seeds = _seeds(self.seed, 0 if learn else 1, np.arange(first, first + n))
        for a in range(0, n, chunk):
            b = min(n, a + chunk)
            _k.present(
                images[a:b],
                learn,
                self.w,
                self.syn_ptr,
                self.syn_j,
                self.n_delay,
                self.v_e,
                self.ge_e,
                self.gi_e,
                self.theta,
                self.refr_e,
                self.timer_e,
                self.v_i,
                self.ge_i,
                self.refr_i,
                self.post1,
                self.post2,
                self.last_arr,
                self.clock,
                self._pf,
                self._pi,
                seeds[a:b],
                counts[a:b],
                attempts[a:b],
            )
            if learn:
                self.n_trained_ += b - a
            if progress is not None:
                progress(b, n)
        return counts, attempts

    def train(
        self,
        images: Any,
        *,
        progress: Callable[[int, int], None] | None = None,
        chunk: int = 100,
    ) -> DiehlCook:
        """Present ``images`` once each, learning on; return ``self``.

        STDP, adaptive thresholds and weight normalisation act (the paper's
        training).
        ``progress(done, total)`` is called after each block of ``chunk`` images.
        Training continues where an earlier call (or a loaded checkpoint) stopped.
        """
        x = _as_images("images", images)
        chunk = check_int("chunk", chunk, minimum=1)
        _, self.attempts_ = self._run(
            x, learn=True, first=self.n_trained_, progress=progress, chunk=chunk
        )
        return self

    def responses(
        self,
        images: Any,
        *,
        progress: Callable[[int, int], None] | None = None,
        chunk: int = 100,
    ) -> np.ndarray:
        """Excitatory spike counts (n_images, n_exc) with learning frozen.

        Weights and thresholds stay fixed (the paper's test mode); the neurons'
        state runs on from where it is, and an image with fewer than
        ``min_spikes`` spikes is shown again at a higher intensity, as in training.
        """
        x = _as_images("images", images)
        chunk = check_int("chunk", chunk, minimum=1)
        counts, _ = self._run(
            x, learn=False, first=self.n_evaluated_, progress=progress, chunk=chunk
        )
        self.n_evaluated_ += x.shape[0]
        return counts

    def assign_labels(
        self,
        images: Any,
        labels: Any,
        *,
        progress: Callable[[int, int], None] | None = None,
    ) -> np.ndarray:
        """Assign each neuron a class from its responses to labelled ``images``.

        Returns the spike counts; sets ``assignments_`` and ``proportions_``.
        """
        x = _as_images("images", images)
        y = _as_labels(labels, x.shape[0])
        counts = self.responses(x, progress=progress)
        self.set_assignments(counts, y)
        return counts

    def set_assignments(self, counts: np.ndarray, labels: Any) -> None:
        """Assign classes from recorded spike counts (see :func:`assign_labels`)."""
        self.assignments_, self.proportions_, _ = assign_labels(counts, labels)

    def predict(
        self,
        images: Any,
        *,
        method: str = "all",
        progress: Callable[[int, int], None] | None = None,
    ) -> np.ndarray:
        """Classify ``images`` by the assigned labels ("all" or "proportion")."""
        check_option("method", method, METHODS)
        counts = self.responses(images, progress=progress)
        return self.classify(counts, method=method)

    def classify(self, counts: np.ndarray, *, method: str = "all") -> np.ndarray:
        """Classify recorded spike counts by the assigned labels."""
        if self.assignments_ is None:
            raise ValidationError(
                "no labels assigned yet: call 'assign_labels' (or 'set_assignments') "
                "before 'predict'."
            )
        return classify(counts, self.assignments_, self.proportions_, method=method)

    def receptive_fields(self) -> np.ndarray:
        """Each excitatory neuron's input weights as an image, (n_exc, 28, 28)."""
        return self.w.T.reshape(self.n_exc, 28, 28).copy()

    # -- files ----------------------------------------------------------------
    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the whole state to a safetensors file, atomically.

        Weights, delays, thresholds, neuron state and clock: :meth:`load` resumes
        from it exactly.
        """
        tensors = {
            name: torch.from_numpy(np.array(getattr(self, name))) for name in _STATE
        }
        if self.assignments_ is not None and self.proportions_ is not None:
            tensors["assignments"] = torch.from_numpy(self.assignments_)
            tensors["proportions"] = torch.from_numpy(self.proportions_)
        meta = {
            "kind": KIND,
            "n_exc": self.n_exc,
            "seed": self.seed,
            "n_trained": self.n_trained_,
            "n_evaluated": self.n_evaluated_,
            "params": asdict(self.params),
        }
        write_tensors(path, tensors, meta)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> DiehlCook:
        """Read a network written by :meth:`save`."""
        tensors, meta = read_tensors(path, kind=KIND)
        try:
            n_exc = int(meta["n_exc"])
            w_shape = tuple(tensors["w"].shape)
            if w_shape != (N_INPUT, n_exc):  # before allocating n_exc neurons
                raise FormatError(
                    f"{str(path)!r}: 'w' has shape {w_shape}, but the file says "
                    f"n_exc={n_exc} (expected ({N_INPUT}, {n_exc})).",
                    path=path,
                    fmt="neurodl Diehl & Cook model",
                )
            net = cls(
                n_exc,
                params=DiehlCookParams(**meta["params"]),
                seed=int(meta["seed"]),
            )
            for name in _STATE:
                old = getattr(net, name)
                new = tensors[name].numpy()
                if new.shape != old.shape or new.dtype != old.dtype:
                    raise FormatError(
                        f"{str(path)!r}: {name!r} has shape {new.shape} {new.dtype}, "
                        f"expected {old.shape} {old.dtype}.",
                        path=path,
                        fmt="neurodl Diehl & Cook model",
                    )
                setattr(net, name, np.ascontiguousarray(new).copy())
            if net.delays.min() < 0 or net.delays.max() >= net.n_delay:
                raise FormatError(
                    f"{str(path)!r}: 'delays' must lie in 0..{net.n_delay - 1} steps.",
                    path=path,
                    fmt="neurodl Diehl & Cook model",
                )
            net._csr()
            net.n_trained_ = int(meta["n_trained"])
            net.n_evaluated_ = int(meta["n_evaluated"])
            if "assignments" in tensors:
                net.assignments_ = tensors["assignments"].numpy().copy()
                net.proportions_ = tensors["proportions"].numpy().copy()
        except FormatError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
            raise FormatError(
                f"{str(path)!r} is not a complete Diehl & Cook file: {exc!r}",
                path=path,
                fmt="neurodl Diehl & Cook model",
            ) from exc
        return net


def _timed(fn: Callable[[], Any]) -> tuple[Any, float, float]:
    w0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - w0, time.process_time() - c0


def train_stdp_mnist(
    n_neurons: int = 100,
    n_images: int | None = None,
    n_test: int = 10000,
    *,
    n_assign: int | None = None,
    seed: int = 0,
    params: DiehlCookParams | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    checkpoint: str | os.PathLike[str] | None = None,
    checkpoint_every: int = 10000,
) -> dict[str, Any]:
    """Reproduce Diehl & Cook (2015) on MNIST: train, assign labels, test.

    Parameters
    ----------
    n_neurons : int
        Excitatory neurons (the paper: 82.9 % test accuracy with 100, 87.0 % with
        400, after several passes).
    n_images : int, optional
        Training images, the first ``n_images`` of MNIST's training set presented
        once each (default: all 60,000).
    n_test : int
        Test images (the first ``n_test`` of the test set).
    n_assign : int, optional
        Training images whose responses (learning frozen) assign the labels, as the
        paper (default: the ``n_images`` used for training).
    seed : int
        See :class:`DiehlCook`.
    progress : callable, optional
        ``progress(phase, done, total)`` with phase "train", "assign" or "test".
    checkpoint : path-like, optional
        A safetensors file written every ``checkpoint_every`` training images and
        after training; if it exists, training resumes from it.

    Returns
    -------
    dict
        ``accuracy`` (all-activity) and ``accuracy_proportion`` on the test images,
        wall and process-CPU seconds of each phase, presentation counts, and
        ``receptive_fields`` (n_neurons, 28, 28) and ``assignments``.
    """
    from neurodl.data import load_mnist

    n_neurons = check_int("n_neurons", n_neurons, minimum=1)
    n_test = check_int("n_test", n_test, minimum=1)
    checkpoint_every = check_int("checkpoint_every", checkpoint_every, minimum=1)
    n_images = (
        MNIST_TRAIN if n_images is None else check_int("n_images", n_images, minimum=1)
    )
    if n_images > MNIST_TRAIN:
        raise ValidationError(
            f"'n_images' must be at most {MNIST_TRAIN} (MNIST's training set); "
            f"got {n_images}."
        )
    n_assign = (
        n_images if n_assign is None else check_int("n_assign", n_assign, minimum=1)
    )
    if n_assign > MNIST_TRAIN:
        raise ValidationError(
            f"'n_assign' must be at most {MNIST_TRAIN}; got {n_assign}."
        )
    if n_test > MNIST_TEST:
        raise ValidationError(
            f"'n_test' must be at most {MNIST_TEST} (MNIST's test set); got {n_test}."
        )
    x_train, y_train = load_mnist("train")
    x_test, y_test = load_mnist("test")
    net: DiehlCook | None = None
    if checkpoint is not None and os.path.exists(checkpoint):
        net = DiehlCook.load(checkpoint)
        if net.n_exc != n_neurons or net.seed != seed or net.n_trained_ > n_images:
            raise ValidationError(
                f"'checkpoint' {str(checkpoint)!r} holds a network of {net.n_exc} "
                f"neurons, seed {net.seed}, {net.n_trained_} images trained; it "
                f"cannot resume a run of {n_neurons} neurons, seed {seed}, "
                f"{n_images} images."
            )
    if net is None:
        net = DiehlCook(n_neurons, params=params, seed=seed)
    resumed_from = net.n_trained_

    def report(
        phase: str, offset: int, total: int
    ) -> Callable[[int, int], None] | None:
        if progress is None:
            return None
        return lambda done, _n: progress(phase, offset + done, total)

    def train() -> np.ndarray:
        attempts = []
        while net.n_trained_ < n_images:
            a = net.n_trained_
            b = min(n_images, a + checkpoint_every)
            net.train(x_train[a:b], progress=report("train", a, n_images))
            attempts.append(net.attempts_)
            if checkpoint is not None:
                net.save(checkpoint)
        return np.concatenate(attempts) if attempts else np.zeros(0, np.int32)

    attempts, train_s, train_cpu = _timed(train)
    counts_a, assign_s, assign_cpu = _timed(
        lambda: net.assign_labels(
            x_train[:n_assign],
            y_train[:n_assign],
            progress=report("assign", 0, n_assign),
        )
    )
    if checkpoint is not None:
        net.save(checkpoint)
    counts_t, test_s, test_cpu = _timed(
        lambda: net.responses(x_test[:n_test], progress=report("test", 0, n_test))
    )
    y = y_test[:n_test]
    acc_all = float(np.mean(net.classify(counts_t, method="all") == y))
    acc_prop = float(np.mean(net.classify(counts_t, method="proportion") == y))
    assert net.assignments_ is not None
    return {
        "model": "diehl_cook_2015",
        "n_neurons": n_neurons,
        "n_images": n_images,
        "n_assign": n_assign,
        "n_test": n_test,
        "seed": seed,
        "resumed_from": resumed_from,
        "accuracy": acc_all,
        "accuracy_proportion": acc_prop,
        "train_wall_s": train_s,
        "train_cpu_s": train_cpu,
        "assign_wall_s": assign_s,
        "assign_cpu_s": assign_cpu,
        "test_wall_s": test_s,
        "test_cpu_s": test_cpu,
        "total_wall_s": train_s + assign_s + test_s,
        "total_cpu_s": train_cpu + assign_cpu + test_cpu,
        "train_presentations": int(attempts.sum()),
        "train_retried": int(np.sum(attempts > 1)),
        "mean_spikes_assign": float(counts_a.sum(axis=1).mean()),
        "mean_spikes_test": float(counts_t.sum(axis=1).mean()),
        "assignments": net.assignments_.tolist(),
        "class_counts": np.bincount(net.assignments_, minlength=N_CLASSES).tolist(),
        "receptive_fields": net.receptive_fields(),
        "params": asdict(net.params),
    }
