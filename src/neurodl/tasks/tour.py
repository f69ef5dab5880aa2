"""The tour: every chapter neurodl has, run end to end into one HTML report.

Each chapter is a function ``chapter(out: Path, progress: bool) -> Chapter`` that
does real work, writes its figures into ``out`` and returns its results. Later
capabilities add a chapter to :data:`CHAPTERS`.
"""

from __future__ import annotations

import html
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from neurodl import __version__
from neurodl._json import json_text

__all__ = ["CHAPTERS", "Chapter", "Table", "run_tour"]


@dataclass
class Chapter:
    """One chapter of the tour: a title, a paragraph, figures and results."""

    key: str
    title: str
    text: str
    figures: list[str] = field(default_factory=list)
    results: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    tables: list[Table] = field(default_factory=list)


@dataclass
class Table:
    """A small results table for the report: a caption, a header and rows."""

    caption: str
    header: list[str]
    rows: list[list[str]]


def xor_chapter(out: Path, progress: bool) -> Chapter:
    """XOR with the article's 2-3-1 ReLU network, one seed shown, 200 seeds counted."""
    from neurodl.tasks.xor import XorConfig, solve_xor, sweep_xor
    from neurodl.viz import save_xor_figure

    cfg = XorConfig()
    one = solve_xor(0, cfg, progress=progress)
    fig = save_xor_figure(
        one.network,
        one.history,
        out / "xor.png",
        "2-3-1 ReLU network, seed 0",
    )
    sweep = sweep_xor(range(200), cfg)
    # attempt 0 of a seed is that seed's single run without restarts (same seed,
    # same epochs), so the sweep's first-attempt fraction is the single-run figure
    single = sweep["first_attempt_fraction"]
    return Chapter(
        key="xor",
        title="XOR with a 2-3-1 network",
        text=(
            "Two inputs, three ReLU hidden units and a sigmoid output learn XOR by "
            "plain gradient descent with gradients from the explicit delta rules. "
            f"A single run from a standard initialisation solves it from "
            f"{100 * single:.1f}% of seeds 0-199; with the restart rule "
            f"(redraw a run that is stuck after {cfg.epochs} epochs) "
            f"{100 * sweep['fraction']:.1f}% are solved."
        ),
        figures=[fig.name],
        results={
            "seed0": {k: v for k, v in one.to_dict().items() if k != "history"},
            "seeds_0_199": {k: v for k, v in sweep.items() if k != "config"},
            "seeds_0_199_without_restarts": single,
        },
    )


def digits_chapter(out: Path, progress: bool) -> Chapter:
    """Handwritten digits with a 64-64-10 MLP; test accuracy and confusion matrix."""
    from neurodl.networks.io import save
    from neurodl.tasks.digits import train_digits
    from neurodl.viz import save_confusion_matrix, save_learning_curve

    r = train_digits(progress=progress)
    model = save(r.network, out / "digits.safetensors")
    curve = save_learning_curve(r.history, out / "digits_learning_curve.png", "digits")
    cm = save_confusion_matrix(
        r.confusion,
        out / "digits_confusion.png",
        f"test accuracy {100 * r.test_accuracy:.1f}%",
    )
    return Chapter(
        key="digits",
        title="Handwritten digits",
        text=(
            f"A 64-64-10 network trained with Adam on {r.n_train} of scikit-learn's "
            f"8x8 digits, early-stopped on {r.n_val} validation images, reaches "
            f"{100 * r.test_accuracy:.2f}% accuracy on {r.n_test} held-out test "
            "images (stratified split)."
        ),
        figures=[curve.name, cm.name],
        results={k: v for k, v in r.to_dict().items() if k != "history"}
        | {"model": model.name},
    )


def spiking_chapter(out: Path, progress: bool) -> Chapter:
    """Run CUBA and COBA (Brette et al. 2007): rasters, rates and ISI CVs."""
    from neurodl.simulate import run_reference
    from neurodl.viz import save_raster

    runs = {
        m: run_reference(m, 4000, 1000.0, seed=0, progress=progress)
        for m in ("cuba", "coba")
    }
    figs = [
        save_raster(
            r.times_ms,
            r.indices,
            r.n,
            r.duration_ms,
            out / f"{m}_raster.png",
            f"{m.upper()} N=4000, seed 0: {r.rate_hz:.2f} Hz, ISI CV {r.cv_isi:.2f}",
        )
        for m, r in runs.items()
    ]
    cuba = runs["cuba"]
    return Chapter(
        key="spiking",
        title="A spiking network: CUBA and COBA",
        text=(
            "4000 leaky integrate-and-fire neurons (80% excitatory), about 80 random "
            "synapses each, with exponential current (CUBA) or conductance (COBA) "
            "synapses, simulated for 1 s at dt 0.1 ms by neurodl's compiled "
            f"event-driven path. CUBA fires at {cuba.rate_hz:.2f} Hz with an ISI CV "
            f"of {cuba.cv_isi:.3f} (Brian2, NEST and BrainPy span 5.3-6.1 Hz and "
            f"0.48-0.56); the simulated second took {cuba.run_seconds:.3f} s."
        ),
        figures=[f.name for f in figs],
        results={m: r.summary() for m, r in runs.items()},
    )


TOUR_EEG_PIPELINES = ("csp-lda", "riemann", "mdm", "fbcsp", "convnet")
"""EEG pipelines the decoding chapter cross-validates."""
TOUR_M1_DECODERS = ("wiener", "kalman", "gru")
"""Decoders the decoding chapter trains on the M1 recording."""
TOUR_GRU_EPOCHS = 3
"""The GRU's training epochs in the tour (``neurodl decode spikes``: 12)."""
TOUR_LIVE_SECONDS = 6.0
"""Seconds of live decoding over LSL (the first cue-scored window comes after ~5 s)."""
_TORCH_PIPELINES = frozenset({"convnet", "eegnet", "gru", "lstm"})


RECORDED_SUBJECTS = Path(__file__).parent / "recorded" / "eegmmidb_subjects.json"
"""Evaluations across eegmmidb S001-S008 recorded by ``benchmarks/subjects_tables.py``.

The tour bundles one subject's recordings (the other seven would add about 110 MB),
so its across-subject part draws these recorded results again instead of
computing them; ``neurodl benchmark eeg --data DIR`` recomputes them from a folder
of the subjects' files, and a test holds the recorded scores against a fresh run.
"""


def _across_subjects(out: Path) -> tuple[list[str], list[Table], dict[str, Any], str]:
    """Figure, table and text of the recorded evaluation across S001-S008."""
    import json

    from neurodl.viz import save_pair_scores

    rec = json.loads(RECORDED_SUBJECTS.read_text(encoding="utf-8"))
    runs = rec["evaluations"]
    within = runs["within"]
    fig = save_pair_scores(within, "csp-lda", "riemann", out / "subjects_pairs.png")
    cols = [k for k in runs if k != "calibration"]
    header = ["pipeline"] + [f"{k} {t}" for k in cols for t in runs[k]["tasks"]]
    means: dict[tuple[str, str, str], str] = {}
    for k in cols:
        metric = runs[k]["report"]["metric"]
        for e in runs[k]["report"]["summary"]:
            m = e[metric]
            means[k, e["task"], e["pipeline"]] = f"{m['mean']:.3f} ± {m['sd']:.3f}"
    pipes = list(within["pipelines"])
    rows = [
        [p] + [means.get((k, t, p), "—") for k in cols for t in runs[k]["tasks"]]
        for p in pipes
    ]
    n = len(within["files"][next(iter(within["files"]))])
    text = (
        f" Across {n} subjects (eegmmidb S001-S008 under MOABB's protocol, ROC-AUC, "
        "recorded with `neurodl benchmark eeg`; the table gives the mean ± SD over "
        "subjects within each subject (5 folds; the seeded pipelines over 3 seeds) "
        "and leave-one-subject-out (one seed), without and with Euclidean "
        "alignment): the figure draws each subject's within-subject score of CSP + "
        "LDA against the tangent space's."
    )
    if "loso" in runs and "loso-ea" in runs:
        acc, share = {}, {}
        for k in ("loso", "loso-ea"):
            for e in runs[k]["report"]["summary"]:
                key = (k, e["task"], e["pipeline"])
                if e.get("accuracy"):
                    acc[key] = e["accuracy"]["mean"]
                if e.get("majority_share") is not None:
                    share[key] = e["majority_share"]

        def pair(t: str, p: str) -> str:
            a, b = ("loso", t, p), ("loso-ea", t, p)
            s = f"{p} {t} {acc[a]:.3f} -> {acc[b]:.3f}"
            if a in share and b in share:
                s += f" (one class gets {share[a]:.0%} -> {share[b]:.0%} of the trials)"
            return s

        pairs = [
            pair(t, p)
            for p in ("riemann", "convnet")
            for t in runs["loso"]["tasks"]
            if ("loso", t, p) in acc and ("loso-ea", t, p) in acc
        ]
        if pairs:
            text += (
                " ROC-AUC ranks a new user's trials and ignores where the decoder "
                "puts its threshold; the tangent space's gain from alignment is mostly "
                "the threshold, so it shows in the accuracy a new user gets with no "
                "calibration, and in the share of the trials the decoder gives to the "
                "class it predicts most often (near 50 % when the threshold is right; "
                "the classes are nearly balanced) (without -> with EA): "
                + ", ".join(pairs)
                + "."
            )
    table = Table(
        f"Across subjects: eegmmidb S001-S008, {within['protocol']['metric']} "
        "(recorded; `neurodl benchmark eeg --data DIR` recomputes it)",
        header,
        rows,
    )
    results = {k: runs[k]["report"]["summary"] for k in cols}
    return [fig.name], [table], results, text


def decoding_chapter(out: Path, progress: bool) -> Chapter:
    """Decode real recordings: EEG motor imagery, M1 hand velocity, a live loop.

    The decoders that use no torch (all but the GRU and the ConvNet) run in a
    second thread while the torch ones train here, one after the other (each
    seeds torch's global generator, so two at once would not be reproducible);
    each thread uses one core. The live loop then runs alone.
    """
    from concurrent.futures import ThreadPoolExecutor

    # scikit-learn's own dependency
    from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

    from neurodl._threads import use_threads
    from neurodl.tasks.decoding import decode_eeg, decode_spikes
    from neurodl.viz import save_decoded_velocity, save_latency_histogram

    def no_torch() -> tuple[dict[str, Any], dict[str, Any]]:
        eeg = {
            p: decode_eeg(pipeline=p)
            for p in TOUR_EEG_PIPELINES
            if p not in _TORCH_PIPELINES
        }
        m1 = {
            d: decode_spikes(decoder=d)
            for d in TOUR_M1_DECODERS
            if d not in _TORCH_PIPELINES
        }
        return eeg, m1

    # one BLAS and one torch thread per lane: a lane's second BLAS or OpenMP
    # thread would spin against the other lane (measured: riemann's CV 2 s -> 60 s
    # on a busy machine); restored before the live loop
    with (
        threadpool_limits(1),
        use_threads(1),
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="tour-decode") as pool,
    ):
        side = pool.submit(no_torch)
        m1 = {
            d: decode_spikes(decoder=d, epochs=TOUR_GRU_EPOCHS)
            for d in TOUR_M1_DECODERS
            if d in _TORCH_PIPELINES
        }
        eeg = {
            p: decode_eeg(pipeline=p)
            for p in TOUR_EEG_PIPELINES
            if p in _TORCH_PIPELINES
        }
        eeg_side, m1_side = side.result()
    eeg = {p: (eeg | eeg_side)[p] for p in TOUR_EEG_PIPELINES}
    m1 = {d: (m1 | m1_side)[d] for d in TOUR_M1_DECODERS}
    rows = [
        [
            p,
            f"{r['mean']['accuracy']:.4f} +/- {r['std']['accuracy']:.4f}",
            f"{r['mean']['balanced_accuracy']:.4f}",
            f"{r['mean']['kappa']:.4f}",
            f"{r['chance_level']:.4f}",
            f"{r['seconds']:.1f}",
        ]
        for p, r in eeg.items()
    ]
    first = m1["wiener"]
    fig_m1 = save_decoded_velocity(
        first.y_test,
        {d: r.y_pred for d, r in m1.items()},
        first.bin_s,
        out / "m1_velocity.png",
        "M1 hand velocity, test part: "
        + ", ".join(f"{d} R² {r.summary['test']['r2']:.3f}" for d, r in m1.items()),
    )
    live = _live_loopback(seconds=TOUR_LIVE_SECONDS)
    fig_live = save_latency_histogram(
        live["latencies_ms"],
        out / "live_latency.png",
        f"live decoding, 64 ch at 160 Hz over LSL: p50 {live['p50_ms']:.2f} ms, "
        f"p95 {live['p95_ms']:.2f} ms, {live['dropped_samples']} dropped",
    )
    csp = eeg["csp-lda"]["mean"]["accuracy"]
    text = (
        "EEG motor imagery (PhysioNet eegmmidb, subject 1, runs 6, 10, 14: imagined "
        "both fists vs both feet, 45 trials) cross-validated as MNE's example does "
        "(ShuffleSplit 10 x 20%, every fitted step inside the fold): CSP + LDA "
        f"scores {csp:.4f}, as MNE's own pipeline. Monkey M1 hand velocity "
        "(Stevenson et al. 2011, 171 units, 50 ms bins, 13-bin history, time-ordered "
        f"70/15/15 split; the GRU trained for {TOUR_GRU_EPOCHS} epochs): test R² "
        + ", ".join(f"{d} {r.summary['test']['r2']:.3f}" for d, r in m1.items())
        + ". Live: a 64-channel, 160 Hz replay of run 6 streamed over Lab Streaming "
        "Layer on this machine and decoded window by window into commands for a "
        f"simulated 2-D cursor for {live['seconds']:g} s, end-to-end latency over "
        f"{len(live['latencies_ms'])} windows p50 {live['p50_ms']:.2f} ms and "
        f"p95 {live['p95_ms']:.2f} ms, {live['dropped_samples']} dropped samples."
    )
    figs_subj, tables_subj, results_subj, text_subj = _across_subjects(out)
    text += text_subj
    return Chapter(
        key="decoding",
        title="Reading the brain: decoding recordings, offline and live",
        text=text,
        figures=[fig_m1.name, fig_live.name, *figs_subj],
        tables=[
            Table(
                "EEG motor imagery, S001 runs 6/10/14, 10 shuffle splits",
                [
                    "pipeline",
                    "accuracy",
                    "balanced accuracy",
                    "kappa",
                    "chance level",
                    "CV seconds",
                ],
                rows,
            ),
            *tables_subj,
        ],
        results={
            "subjects": results_subj,
            "eeg": {
                p: {k: r[k] for k in ("mean", "std", "chance_level", "seconds")}
                for p, r in eeg.items()
            },
            "m1": {d: r.summary for d, r in m1.items()},
            "live": {k: v for k, v in live.items() if k != "latencies_ms"},
        },
    )


def _live_loopback(seconds: float) -> dict[str, Any]:
    """Replay run 6 over LSL on this machine and decode it live; latency summary."""
    from neurodl.bci.online import loopback_demo

    return loopback_demo(seconds=seconds)


def imaging_chapter(out: Path, progress: bool) -> Chapter:
    """Decode the Haxby slice, map a searchlight, and hold networks against IT."""
    import numpy as np

    from neurodl.data.registry import dataset_file
    from neurodl.imaging import (
        decode_volumes,
        load_haxby,
        load_img,
        searchlight,
        standardize_runs,
        unmask,
    )
    from neurodl.tasks.rsa92 import rsa_against_it
    from neurodl.viz import save_rsa_layers, save_slice_map

    X, labels, runs = load_haxby()
    tasks = {
        t: decode_volumes(X, labels, runs, task=t) for t in ("8way", "faces-houses")
    }
    keep = np.isin(labels, ["face", "house"])
    z = standardize_runs(X, runs)[keep]
    mask = load_img(dataset_file("haxby_slice", "mask.nii.gz"))
    sl = searchlight(unmask(z, mask), mask, labels[keep], runs[keep], radius_mm=5.6)
    sl_map = np.asarray(sl.get_fdata())[:, :, 0]
    inside = np.asarray(unmask(np.ones(X.shape[1]), mask).get_fdata())[:, :, 0] > 0
    fig = save_slice_map(
        np.where(inside, sl_map, np.nan),
        out / "haxby_searchlight.png",
        "faces vs houses, 5.6 mm searchlight",
        vmin=0.5,
        vmax=1.0,
    )
    rsa = [rsa_against_it(m).to_dict() for m in ("digits", "animacy", "random")]
    fig_rsa = save_rsa_layers(rsa, out / "rsa_layers.png", "92 images: layers vs IT")
    best = max(rsa[0]["human_it_spearman_mean"][1:])
    rows = [
        [
            t,
            f"{r['balanced_accuracy']:.3f} +/- {r['std']:.3f}",
            f"{r['chance_level']:.3f}",
            str(r["n_volumes"]),
            f"{r['seconds']:.2f}",
        ]
        for t, r in tasks.items()
    ]
    return Chapter(
        key="imaging",
        title="Brain imaging and comparing networks with brains",
        text=(
            "Haxby et al. (2001), subject 1, one axial slice (530 voxels), 12 runs: "
            "a linear SVM, each voxel detrended and z-scored within its run, "
            "leave-one-run-out. 8 categories: balanced accuracy "
            f"{tasks['8way']['balanced_accuracy']:.3f} (chance 0.125); faces vs "
            f"houses {tasks['faces-houses']['balanced_accuracy']:.3f}. The "
            "searchlight map (each voxel: the cross-validated accuracy of a ridge "
            f"classifier on its 5.6 mm disc) peaks at {np.nanmax(sl_map):.3f}. "
            "RSA on Kriegeskorte et al.'s 92 images (8x8 thumbnails; the photos "
            "are not bundled): the layers of neurodl's digits network reach a "
            f"Spearman correlation of {best:.3f} with human IT (noise ceiling "
            f"{rsa[0]['noise_ceiling'][0]:.3f}-{rsa[0]['noise_ceiling'][1]:.3f}), "
            "barely above its untrained twin (random features); a network trained "
            "on these images' animacy labels reaches "
            f"{max(rsa[1]['human_it_spearman_mean']):.3f}, as the animate/inanimate "
            "split it learnt is the main structure of IT."
        ),
        figures=[fig.name, fig_rsa.name],
        tables=[
            Table(
                "Haxby slice, leave-one-run-out (12 folds)",
                ["task", "balanced accuracy", "chance level", "volumes", "seconds"],
                rows,
            )
        ],
        results={
            "haxby": {
                t: {
                    k: r[k]
                    for k in ("balanced_accuracy", "std", "chance_level", "n_volumes")
                }
                for t, r in tasks.items()
            },
            "searchlight_max": round(float(np.nanmax(sl_map)), 6),
            "rsa": rsa,
        },
    )


TOUR_RULES = ("bp", "fa", "dfa", "sign", "kp")
"""Credit-assignment rules the learning chapter trains on MNIST-1D."""
TOUR_RULE_EPOCHS = 20
TOUR_STDP_IMAGES = 1000


def learning_chapter(out: Path, progress: bool) -> Chapter:
    """Rules without weight transport on MNIST-1D, the STDP window, STDP on MNIST."""
    import numpy as np

    from neurodl.data import load_mnist
    from neurodl.learning.rule_runs import load_rule_data
    from neurodl.simulate.diehl_cook import DiehlCook
    from neurodl.tasks.rules import learn_rule, stdp_window
    from neurodl.viz import save_receptive_fields, save_rule_curves, save_stdp_window

    arrays = load_rule_data("mnist1d")
    runs = [
        learn_rule(r, "mnist1d", epochs=TOUR_RULE_EPOCHS, arrays=arrays)
        for r in TOUR_RULES
    ]
    fig_rules = save_rule_curves(
        runs, out / "rules_mnist1d.png", "MNIST-1D, 40-256-256-10 tanh"
    )
    win = stdp_window()
    err = float(np.abs(win["dw"] - win["analytic"]).max())
    fig_win = save_stdp_window(
        win["lag_ms"],
        win["dw"],
        win["analytic"],
        out / "stdp_window.png",
        "pair STDP, tau+ 16.8 ms, tau- 33.7 ms",
    )
    x, _ = load_mnist("train")
    dc = DiehlCook(n_exc=100, seed=0).train(x[:TOUR_STDP_IMAGES])
    fig_rf = save_receptive_fields(
        dc.receptive_fields(),
        out / "stdp_receptive_fields.png",
        f"Diehl & Cook, 100 neurons, {TOUR_STDP_IMAGES} images",
    )
    acc = {r["rule"]: r["test_accuracy"] for r in runs}
    rows = [
        [
            r["rule"],
            f"{100 * r['test_accuracy']:.1f}%",
            f"{r['update_angle'][-1][0]:.1f}" if r["update_angle"] else "-",
            f"{r['seconds']:.1f}",
        ]
        for r in runs
    ]
    return Chapter(
        key="learning",
        title="Learning rules the brain could run",
        text=(
            "Back-propagation sends the error down through the transposed forward "
            "weights, which no synapse can know. Feedback alignment (fixed random "
            "feedback), direct feedback alignment (the output error straight to "
            "each layer), sign symmetry and Kolen-Pollack (feedback that learns "
            "with the same update and decay as the weights) each train the same "
            f"40-256-256-10 network on MNIST-1D for {TOUR_RULE_EPOCHS} epochs: "
            f"back-propagation {100 * acc['bp']:.1f}%, feedback alignment "
            f"{100 * acc['fa']:.1f}%, sign symmetry {100 * acc['sign']:.1f}%, "
            f"Kolen-Pollack {100 * acc['kp']:.1f}% test accuracy; the right panel "
            "shows the angle between each rule's update of the first layer and "
            "the back-propagation gradient (below 90 degrees: the rule learns in a "
            "descent direction). Pair STDP in the spiking engine: one spike pair "
            "per synapse reproduces the window of Bi & Poo's fit to within "
            f"{err:.1e}. Diehl & Cook's network (100 excitatory neurons, STDP, "
            "lateral inhibition, adaptive thresholds), shown "
            f"{TOUR_STDP_IMAGES} MNIST images without labels, begins to grow "
            "digit-shaped receptive fields (one pass over all 60,000 reaches 80.7% "
            "test accuracy with labels assigned afterwards, mean of 3 seeds, and "
            "400 neurons 88.6%; the paper: 82.9% and 87.0%)."
        ),
        figures=[fig_rules.name, fig_win.name, fig_rf.name],
        tables=[
            Table(
                f"MNIST-1D, {TOUR_RULE_EPOCHS} epochs, seed 0",
                ["rule", "test accuracy", "layer-1 angle to BP (deg)", "seconds"],
                rows,
            )
        ],
        results={
            "mnist1d": {
                r["rule"]: {
                    "test_accuracy": r["test_accuracy"],
                    "update_angle": r["update_angle"][-1] if r["update_angle"] else [],
                }
                for r in runs
            },
            "stdp_window_max_error": err,
            "stdp_images": TOUR_STDP_IMAGES,
        },
    )


def privacy_chapter(out: Path, progress: bool) -> Chapter:
    """De-identify the bundled EEG runs, check them, encrypt and decrypt them."""
    from neurodl.tasks.privacy_tour import privacy_summary

    r = privacy_summary(out)
    checks = ", ".join(
        what
        for what, ok in (
            ("every sample bitwise equal", r["samples_bitwise_equal"]),
            ("annotations and T0/T1/T2 labels unchanged", r["annotations_unchanged"]),
            ("no header holds the recording date", r["headers_without_date"]),
        )
        if ok
    )
    return Chapter(
        key="privacy",
        title="Neural data is personal",
        text=(
            f"The {r['files']} bundled PhysioNet runs keep their real recording date "
            "and equipment field in their EDF headers. neurodl deid rewrote them in "
            f"{r['deid_seconds']:.2f} s ({r['fields_changed']} fields changed): the "
            "subject id became a random pseudonym, the date moved back by one random "
            f"shift per subject (the first run now starts {r['shifted_start']}, "
            "kept in scans.tsv; EDF headers say 01.01.85), and the mapping "
            "(encrypted) and the report went to a folder apart from the data. "
            "Checked: "
            f"{checks}. The de-identified folder ({r['encrypted_mib']} MiB) was then "
            "sealed with AES-256-GCM and opened again in "
            f"{r['encrypt_decrypt_seconds']:.2f} s, byte for byte."
        ),
        results=r,
        tables=[
            Table(
                caption=f"What changed in {r['example_file']} (first fields)",
                header=["field", "action", "now"],
                rows=r["example_changes"],
            )
        ],
    )


def microcircuit_chapter(out: Path, progress: bool) -> Chapter:
    """Run the cortical microcircuit at scale 0.1 beside NEST's rates."""
    from neurodl.tasks.scale_tour import microcircuit_summary

    r = microcircuit_summary(out)
    return Chapter(
        key="microcircuit",
        title="The cortical microcircuit (Potjans & Diesmann 2014)",
        text=(
            "The model the simulation field measures itself by: 8 populations of "
            "layers 2/3, 4, 5 and 6, here at scale 0.1 "
            f"({r['n_neurons']:,} neurons, {r['n_synapses']:,} synapses, Poisson "
            "background; neurodl.models.potjans_diesmann). It was built in "
            f"{r['setup_s']:.1f} s and the recorded second ran in {r['run_s']:.2f} s "
            f"(real-time factor {r['real_time_factor']:.2f}) after 500 ms discarded. "
            "Every population's mean rate is within "
            f"{100 * r['max_relative_difference']:.0f} % of NEST 3.10's mean over 4 "
            "seeds of the same model (marks on the boxes)."
        ),
        figures=[r["figure"]],
        results=r,
        tables=[
            Table(
                caption="Mean rate per population (Hz)",
                header=["population", "neurodl", "NEST 3.10"],
                rows=[
                    [name, f"{a:.2f}", f"{b:.2f}"]
                    for name, a, b in zip(
                        r["populations"], r["rates_hz"], r["nest_rates_hz"], strict=True
                    )
                ],
            )
        ],
    )


def brunel_chapter(out: Path, progress: bool) -> Chapter:
    """Sweep Brunel's (2000) phase diagram on a coarse grid through Dask."""
    from neurodl.tasks.scale_tour import brunel_summary

    r = brunel_summary(out)
    net = r["network"]
    counts: dict[str, int] = {}
    for p in r["points"]:
        counts[p["regime"]] = counts.get(p["regime"], 0) + 1
    found = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
    return Chapter(
        key="brunel",
        title="Brunel's phase diagram, swept on a local Dask cluster",
        text=(
            "Brunel's (2000) sparse network of excitatory and inhibitory neurons "
            f"(N_E = {net['n_exc']}, with the paper's in-degrees) at "
            f"{len(r['points'])} points of inhibition g and external drive "
            f"nu_ext/nu_thr, {net['duration']:g} ms each, run as independent jobs on "
            f"two local Dask workers in {r['seconds']:.1f} s (neurodl sweep brunel "
            "does the same on any grid, resumably, on a cluster with --scheduler). "
            "Each point's regime is classified from its rate, ISI CV, synchrony and "
            f"population spectrum: {found}. Synchronous regular firing for weak "
            "inhibition, slow oscillations at weak drive, asynchronous irregular "
            "activity in between and fast oscillations at strong drive, as in "
            "Brunel's Fig. 2; the letters mark his Fig. 8 points."
        ),
        figures=[r["figure"]],
        results=r,
    )


CHAPTERS: list[Callable[[Path, bool], Chapter]] = [
    xor_chapter,
    digits_chapter,
    spiking_chapter,
    microcircuit_chapter,
    brunel_chapter,
    decoding_chapter,
    imaging_chapter,
    learning_chapter,
    privacy_chapter,
]
"""The tour's chapters, in order."""


def run_tour(out: str | os.PathLike[str], *, progress: bool = False) -> list[Chapter]:
    """Run every chapter into ``out``; write ``index.html`` and ``results.json``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    chapters = []
    for make in CHAPTERS:
        t0 = time.perf_counter()
        ch = make(out, progress)
        ch.seconds = time.perf_counter() - t0
        chapters.append(ch)
    results = {
        "neurodl_version": __version__,
        "chapters": {
            ch.key: {"title": ch.title, "seconds": round(ch.seconds, 2), **ch.results}
            for ch in chapters
        },
    }
    _write_text(out / "results.json", json_text(results))
    _write_text(out / "index.html", _html(chapters))
    return chapters


def _html(chapters: list[Chapter]) -> str:
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>neurodl {html.escape(__version__)} tour</title>",
        "<style>body{font-family:sans-serif;max-width:960px;margin:2em auto;}"
        "img{max-width:100%;}</style></head><body>",
        f"<h1>neurodl tour</h1><p>neurodl {html.escape(__version__)}. Results as JSON: "
        '<a href="results.json">results.json</a>.</p>',
    ]
    for ch in chapters:
        parts.append(f'<h2 id="{ch.key}">{html.escape(ch.title)}</h2>')
        parts.append(f"<p>{html.escape(ch.text)} ({ch.seconds:.1f} s)</p>")
        for tab in ch.tables:
            parts.append(
                f"<table border=1 cellpadding=4><caption>{html.escape(tab.caption)}"
                "</caption><tr>"
                + "".join(f"<th>{html.escape(h)}</th>" for h in tab.header)
                + "</tr>"
            )
            parts.extend(
                "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>"
                for row in tab.rows
            )
            parts.append("</table>")
        parts.extend(
            f'<img src="{html.escape(f)}" alt="{html.escape(ch.title)}">'
            for f in ch.figures
        )
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
