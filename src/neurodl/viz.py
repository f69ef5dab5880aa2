"""Figures for the worked examples, written as PNG files (matplotlib, no screen)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from neurodl.learning.trainer import History
    from neurodl.networks.feedforward import FeedForward

__all__ = [
    "save_confusion_matrix",
    "save_learning_curve",
    "save_raster",
    "save_xor_figure",
]


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Figure, path: str | os.PathLike[str]) -> Path:
    """Write ``fig`` to ``path`` atomically and close it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")
    fig.savefig(tmp, dpi=110)
    _pyplot().close(fig)
    os.replace(tmp, path)
    return path


def save_learning_curve(
    history: History, path: str | os.PathLike[str], title: str
) -> Path:
    """Plot training/validation loss and validation accuracy per epoch."""
    plt = _pyplot()
    fig, ax = plt.subplots(1, 2, figsize=(9, 3.4))
    epochs = np.arange(1, history.epochs + 1)
    ax[0].plot(epochs, history.loss, label="training")
    if history.val_loss:
        ax[0].plot(epochs, history.val_loss, label="validation")
    ax[0].set(xlabel="epoch", ylabel="loss", yscale="log", title=title)
    ax[0].legend()
    if history.val_accuracy or history.accuracy:
        if history.accuracy:
            ax[1].plot(epochs, history.accuracy, color="C0", label="training")
        if history.val_accuracy:
            ax[1].plot(epochs, history.val_accuracy, color="C1", label="validation")
        if history.best_epoch:
            ax[1].axvline(history.best_epoch, color="grey", ls=":", label="best epoch")
        ax[1].set(xlabel="epoch", ylabel="accuracy")
        ax[1].legend()
    else:
        ax[1].axis("off")
    fig.tight_layout()
    return _save(fig, path)


def save_confusion_matrix(
    confusion: Sequence[Sequence[int]], path: str | os.PathLike[str], title: str
) -> Path:
    """Plot a confusion matrix (rows: true class, columns: predicted class)."""
    plt = _pyplot()
    cm = np.asarray(confusion)
    fig, ax = plt.subplots(figsize=(4.6, 4.2))
    ax.imshow(cm, cmap="Blues")
    for (i, j), v in np.ndenumerate(cm):
        ax.text(
            j,
            i,
            str(v),
            ha="center",
            va="center",
            fontsize=7,
            color="white" if v > cm.max() / 2 else "black",
        )
    ax.set(
        xlabel="predicted",
        ylabel="true",
        title=title,
        xticks=range(cm.shape[1]),
        yticks=range(cm.shape[0]),
    )
    fig.tight_layout()
    return _save(fig, path)


def save_xor_figure(
    net: FeedForward, losses: Sequence[float], path: str | os.PathLike[str], title: str
) -> Path:
    """Plot the trained XOR network's output over the input square and its loss."""
    plt = _pyplot()
    grid = np.linspace(-0.25, 1.25, 121)
    gx, gy = np.meshgrid(grid, grid)
    pts = torch.as_tensor(np.c_[gx.ravel(), gy.ravel()], dtype=net.dtype)
    with torch.no_grad():
        out = net(pts).reshape(gx.shape).numpy()
    fig, ax = plt.subplots(1, 2, figsize=(9, 3.6))
    im = ax[0].contourf(gx, gy, out, levels=np.linspace(0, 1, 11), cmap="RdBu_r")
    ax[0].contour(gx, gy, out, levels=[0.5], colors="k")
    xs = np.array([[0, 0], [0, 1], [1, 0], [1, 1]])
    ax[0].scatter(
        xs[:, 0],
        xs[:, 1],
        c=[0, 1, 1, 0],
        cmap="RdBu_r",
        edgecolors="k",
        s=80,
        vmin=0,
        vmax=1,
    )
    ax[0].set(xlabel="x1", ylabel="x2", title=title, aspect="equal")
    fig.colorbar(im, ax=ax[0], label="output")
    ax[1].plot(np.arange(1, len(losses) + 1), losses)
    ax[1].set(
        xlabel="epoch (all attempts)",
        ylabel="BCE loss",
        yscale="log",
        title="training loss",
    )
    fig.tight_layout()
    return _save(fig, path)


def save_raster(
    times: np.ndarray,
    indices: np.ndarray,
    n: int,
    duration: float,
    path: str | os.PathLike[str],
    title: str,
    *,
    bin_ms: float = 1.0,
    max_neurons: int = 500,
) -> Path:
    """Spike raster (top) and population rate in Hz (bottom) of a network run.

    Parameters
    ----------
    times : ndarray, shape (n_spikes,)
        Spike times in ms.
    indices : ndarray of int, shape (n_spikes,)
        Neuron of each spike, in ``[0, n)``.
    n : int
        Number of neurons (the rate is per neuron).
    duration : float
        Simulated time in ms.
    max_neurons : int
        The raster shows neurons ``0..max_neurons-1`` (the rate uses all).
    """
    from neurodl.simulate.analysis import population_rate

    plt = _pyplot()
    times = np.asarray(times, dtype=np.float64)
    indices = np.asarray(indices)
    fig, ax = plt.subplots(
        2, 1, figsize=(8, 4.6), sharex=True, gridspec_kw={"height_ratios": [3, 1]}
    )
    shown = indices < max_neurons
    ax[0].plot(times[shown], indices[shown], "|", ms=2, color="k")
    ax[0].set(ylabel=f"neuron (first {min(n, max_neurons)})", title=title)
    starts, rate = population_rate(times, n, duration, bin_ms)
    ax[1].plot(starts, rate, color="C0", lw=1)
    ax[1].set(xlabel="time (ms)", ylabel="rate (Hz)", xlim=(0, duration))
    fig.tight_layout()
    return _save(fig, path)


def save_decoded_velocity(
    true: np.ndarray,
    predicted: dict[str, np.ndarray],
    bin_s: float,
    path: str | os.PathLike[str],
    title: str,
    *,
    labels: Sequence[str] = ("x", "y"),
    seconds: float = 30.0,
) -> Path:
    """Plot decoded against true velocity, one panel per component, first ``seconds``.

    Parameters
    ----------
    true : ndarray, shape (n_bins, n_dims)
        Recorded velocity.
    predicted : dict of str to ndarray (n_bins, n_dims)
        Each decoder's prediction, labelled in the legend.
    bin_s : float
        Bin width in seconds (the time axis).
    """
    plt = _pyplot()
    true = np.asarray(true, dtype=np.float64)
    n = min(true.shape[0], max(1, round(seconds / bin_s)))
    t = np.arange(n) * bin_s
    dims = true.shape[1]
    fig, ax = plt.subplots(dims, 1, figsize=(9, 2.3 * dims + 0.6), sharex=True)
    ax = np.atleast_1d(ax)
    for j in range(dims):
        ax[j].plot(t, true[:n, j], color="k", lw=1.6, label="recorded")
        for i, (name, pred) in enumerate(predicted.items()):
            ax[j].plot(t, np.asarray(pred)[:n, j], lw=1, color=f"C{i}", label=name)
        ax[j].set(ylabel=f"velocity {labels[j] if j < len(labels) else j}")
    ax[0].set_title(title)
    ax[0].legend(loc="upper right", fontsize=8, ncol=len(predicted) + 1)
    ax[-1].set(xlabel="time in the test part (s)")
    fig.tight_layout()
    return _save(fig, path)


def save_latency_histogram(
    latencies_ms: np.ndarray,
    path: str | os.PathLike[str],
    title: str,
) -> Path:
    """Plot a histogram of end-to-end latencies, median and 95th percentile marked."""
    plt = _pyplot()
    lat = np.asarray(latencies_ms, dtype=np.float64)
    fig, ax = plt.subplots(figsize=(7, 3.4))
    if lat.size:
        ax.hist(lat, bins=min(60, max(10, lat.size // 5)), color="C0")
        for q, style in ((50, "--"), (95, ":")):
            v = float(np.percentile(lat, q))
            ax.axvline(v, color="k", ls=style, label=f"p{q} = {v:.2f} ms")
        ax.legend()
    ax.set(xlabel="end-to-end latency (ms)", ylabel="windows", title=title)
    fig.tight_layout()
    return _save(fig, path)


def save_slice_map(
    values: np.ndarray,
    path: str | os.PathLike[str],
    title: str,
    *,
    label: str = "accuracy",
    vmin: float | None = None,
    vmax: float | None = None,
) -> Path:
    """Plot a 2-D map (one brain slice) with a colour bar; NaN shows as blank."""
    plt = _pyplot()
    arr = np.asarray(values, dtype=np.float64)
    fig, ax = plt.subplots(figsize=(6, 4.2))
    im = ax.imshow(arr.T, origin="lower", cmap="viridis", vmin=vmin, vmax=vmax)
    fig.colorbar(im, ax=ax, label=label)
    ax.set(title=title, xlabel="voxel x", ylabel="voxel y")
    fig.tight_layout()
    return _save(fig, path)


def save_rsa_layers(
    results: Sequence[dict[str, Any]],
    path: str | os.PathLike[str],
    title: str,
) -> Path:
    """Plot each network's layers against human IT (bars) and monkey IT (points).

    ``results`` are :meth:`neurodl.tasks.rsa92.LayerRSA.to_dict` outputs: the bars
    are the mean Spearman correlation with the subjects' IT RDMs (dots: subjects),
    the grey band is the human noise ceiling (lower to upper bound), the black
    diamonds the correlation with monkey IT.
    """
    plt = _pyplot()
    fig, axes = plt.subplots(
        1, len(results), figsize=(3.6 * len(results) + 0.8, 3.8), sharey=True
    )
    axes = np.atleast_1d(axes)
    for ax, res in zip(axes, results, strict=True):
        layers = list(res["layers"])
        pos = np.arange(len(layers))
        lo, hi = res["noise_ceiling"]
        ax.axhspan(lo, hi, color="0.85", label="human noise ceiling")
        ax.bar(pos, res["human_it_spearman_mean"], color="C0", label="human IT (mean)")
        for i, subj in enumerate(res["human_it_spearman_per_subject"]):
            ax.plot([i] * len(subj), subj, ".", color="C1", ms=4)
        ax.plot(pos, res["monkey_it_spearman"], "kD", ms=5, label="monkey IT")
        ax.set_xticks(pos, layers, rotation=30, ha="right")
        ax.set_title(res["model"])
        ax.axhline(0, color="k", lw=0.5)
    axes[0].set_ylabel("Spearman correlation with IT RDM")
    axes[0].legend(fontsize=7, loc="upper left")
    fig.suptitle(title)
    fig.tight_layout()
    return _save(fig, path)


def save_rule_curves(
    runs: Sequence[dict[str, Any]], path: str | os.PathLike[str], title: str
) -> Path:
    """Plot test accuracy per epoch for each rule, and the feedback rules' angles.

    ``runs``: records of :func:`neurodl.tasks.rules.learn_rule`. Right panel: the
    angle between each rule's update of the first hidden layer's weights and the
    back-propagation gradient, per epoch (Lillicrap et al. 2016, fig. 2), for the
    rules that record it.
    """
    plt = _pyplot()
    fig, ax = plt.subplots(1, 2, figsize=(9.5, 3.6))
    for r in runs:
        curve = r["test_accuracy_curve"]
        ax[0].plot(np.arange(1, len(curve) + 1), curve, label=r["rule"])
    ax[0].set(xlabel="epoch", ylabel="test accuracy", title=title)
    ax[0].legend(fontsize=8)
    angled = [r for r in runs if r.get("update_angle")]
    for r in angled:
        first = [a[0] for a in r["update_angle"]]
        ax[1].plot(np.arange(1, len(first) + 1), first, label=r["rule"])
    if angled:
        ax[1].axhline(90, color="grey", ls=":")
        ax[1].set(
            xlabel="epoch",
            ylabel="angle to BP gradient (deg)",
            title="layer 1 update vs back-propagation",
            ylim=(0, 100),
        )
        ax[1].legend(fontsize=8)
    else:
        ax[1].axis("off")
    fig.tight_layout()
    return _save(fig, path)


def save_stdp_window(
    dt_ms: np.ndarray,
    dw_measured: np.ndarray,
    dw_analytic: np.ndarray,
    path: str | os.PathLike[str],
    title: str,
) -> Path:
    """Plot an STDP window: simulated weight change per spike pair and the formula."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.2, 3.4))
    order = np.argsort(dt_ms)
    ax.plot(dt_ms[order], dw_analytic[order], color="grey", lw=1, label="analytic")
    ax.plot(dt_ms, dw_measured, ".", color="C3", ms=4, label="simulated")
    ax.axhline(0, color="black", lw=0.5)
    ax.axvline(0, color="black", lw=0.5)
    ax.set(xlabel="t_post - t_pre (ms)", ylabel="weight change", title=title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return _save(fig, path)


def save_receptive_fields(
    fields: np.ndarray, path: str | os.PathLike[str], title: str
) -> Path:
    """Tile ``fields`` (n, rows, cols), e.g. STDP-learned input weights, in a grid."""
    plt = _pyplot()
    fields = np.asarray(fields)
    n, rows, cols = fields.shape
    side = int(np.ceil(np.sqrt(n)))
    grid = np.full((side * rows, side * cols), np.nan)
    for k in range(n):
        i, j = divmod(k, side)
        grid[i * rows : (i + 1) * rows, j * cols : (j + 1) * cols] = fields[k]
    fig, ax = plt.subplots(figsize=(5.5, 5.5))
    im = ax.imshow(grid, cmap="hot_r", interpolation="nearest")
    ax.set(title=title, xticks=[], yticks=[])
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="weight")
    fig.tight_layout()
    return _save(fig, path)


def save_phase_diagram(
    doc: dict[str, Any],
    g_axis: Sequence[float],
    nu_axis: Sequence[float],
    path: str | os.PathLike[str],
) -> Path:
    """Draw Brunel's (2000) phase diagram: the regime of every (g, nu) point.

    ``doc`` is a sweep's ``results.json`` (:func:`neurodl.jobs.run_jobs` of
    :func:`neurodl.models.brunel.sweep_job`); the four points of Brunel's Fig. 8
    are marked A-D.
    """
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    from neurodl.models.brunel import FIG8, REGIMES

    plt = _pyplot()
    g_axis, nu_axis = list(g_axis), list(nu_axis)
    colours = ["#d62728", "#ff7f0e", "#9467bd", "#2ca02c", "#bbbbbb"]
    code = {r: i for i, r in enumerate(REGIMES)}
    z = np.full((len(nu_axis), len(g_axis)), np.nan)
    for p in doc["points"]:
        i = nu_axis.index(p["params"]["nu"])
        j = g_axis.index(p["params"]["g"])
        z[i, j] = code[p["result"]["regime"]]

    def edges(v: list[float]) -> np.ndarray:
        a = np.asarray(v, dtype=float)
        if a.size == 1:
            return np.array([a[0] - 0.5, a[0] + 0.5])
        mid = (a[1:] + a[:-1]) / 2
        return np.concatenate([[2 * a[0] - mid[0]], mid, [2 * a[-1] - mid[-1]]])

    fig, ax = plt.subplots(figsize=(6.4, 4.8))
    ax.pcolormesh(
        edges(g_axis),
        edges(nu_axis),
        z,
        cmap=ListedColormap(colours),
        vmin=-0.5,
        vmax=len(REGIMES) - 0.5,
    )
    for name, pt in FIG8.items():
        ax.annotate(
            name, (pt["g"], pt["nu"]), ha="center", va="center", fontweight="bold"
        )
    ax.set_xlabel("g (relative inhibition)")
    ax.set_ylabel("nu_ext / nu_thr")
    n = doc["common"]["n_exc"]
    ax.set_title(
        f"Brunel (2000) phase diagram, N_E={n}, {doc['common']['duration']:g} ms"
    )
    ax.legend(
        handles=[
            Patch(color=c, label=r) for r, c in zip(REGIMES, colours, strict=True)
        ],
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
    )
    fig.tight_layout()
    return _save(fig, path)


def save_microcircuit(
    res: Any,
    path: str | os.PathLike[str],
    *,
    max_per_pop: int = 100,
    reference_hz: Sequence[float] | None = None,
    reference_label: str = "NEST",
) -> Path:
    """Draw a microcircuit run: a raster and the per-neuron rates per population.

    ``res`` is a :class:`neurodl.models.potjans_diesmann.MicrocircuitResult` run
    with ``record=True``; the raster shows its first ``max_per_pop`` neurons per
    population after the discarded ``presim``; the boxes the per-neuron rates,
    with ``reference_hz`` (one mean rate per population, e.g. NEST's) as marks.
    """
    from neurodl.models.potjans_diesmann import POPULATIONS

    plt = _pyplot()
    fig, ax = plt.subplots(
        1, 2, figsize=(10, 5), gridspec_kw={"width_ratios": [3, 1.2]}
    )
    offset, ticks = 0, []
    colors = ("#595289", "#af143c")
    t0 = res.presim_ms
    for p, name in enumerate(POPULATIONS):
        times, idx = res.spikes[name]
        keep = (idx < max_per_pop) & (times >= t0)
        shown = min(max_per_pop, res.n[p])
        ax[0].plot(times[keep], -(offset + idx[keep]), "|", ms=1.5, color=colors[p % 2])
        ticks.append(-(offset + shown / 2))
        offset += shown + 10
    ax[0].set_yticks(ticks, POPULATIONS)
    ax[0].set(xlabel="time (ms)", xlim=(t0, t0 + res.duration_ms))
    ax[0].set_title(
        f"PD14 scale {res.scale:g}, {res.drive}, seed {res.seed}: first "
        f"{max_per_pop} neurons per population"
    )
    rates = [res.counts[name] / (res.duration_ms / 1000.0) for name in POPULATIONS]
    ax[1].boxplot(rates[::-1], orientation="horizontal", showfliers=False)
    ax[1].plot(
        [float(np.mean(r)) for r in rates[::-1]], range(1, 9), "o", color="#595289",
        label="neurodl mean",
    )  # fmt: skip
    if reference_hz is not None:
        ax[1].plot(
            list(reference_hz)[::-1], range(1, 9), "x", color="#af143c", ms=8,
            label=f"{reference_label} mean",
        )  # fmt: skip
    ax[1].legend(loc="lower right", fontsize="small")
    ax[1].set_yticks(range(1, 9), POPULATIONS[::-1])
    ax[1].set(xlabel="rate (Hz)", title="per-neuron rates")
    fig.tight_layout()
    return _save(fig, path)


def save_pair_scores(
    doc: dict[str, Any], a: str, b: str, path: str | os.PathLike[str]
) -> Path:
    """Draw the per-subject scores of pipeline ``a`` (x) against ``b`` (y)."""
    rep = doc["report"]
    metric = rep["metric"]
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(4.6, 4.4))
    lo = 1.0
    for task, marker in zip(
        dict.fromkeys(r["task"] for r in rep["table"]), "os^v", strict=False
    ):
        by = {
            (r["pipeline"], r["subject"]): r[metric]
            for r in rep["table"]
            if r["task"] == task
        }
        subj = sorted({s for p, s in by if p == a} & {s for p, s in by if p == b})
        xs = np.array([by[a, s] for s in subj], float)
        ys = np.array([by[b, s] for s in subj], float)
        if xs.size == 0:
            continue
        lo = min(lo, float(xs.min()), float(ys.min()))
        ax.scatter(xs, ys, marker=marker, label=f"{task} ({xs.size} subjects)")
        for s, x, y in zip(subj, xs, ys, strict=True):
            ax.annotate(
                f"S{s:03d}",
                (x, y),
                fontsize=6,
                alpha=0.7,
                xytext=(2, 2),
                textcoords="offset points",
            )
    lo = max(0.0, np.floor(lo * 10) / 10 - 0.05)
    ax.plot([lo, 1], [lo, 1], color="grey", lw=0.8, ls="--")
    chance = 0.5
    ax.axhline(chance, color="grey", lw=0.5)
    ax.axvline(chance, color="grey", lw=0.5)
    ax.set(
        xlim=(lo, 1.01),
        ylim=(lo, 1.01),
        xlabel=f"{a} ({metric})",
        ylabel=f"{b} ({metric})",
        title=f"{doc['scheme']} · {doc['protocol']['name']}",
    )
    ax.legend(fontsize=7, loc="lower right")
    return _save(fig, path)
