"""Potjans & Diesmann (2014) cortical microcircuit: tables, scaling, rates vs NEST.

References: the published parameters (Potjans & Diesmann 2014,
doi:10.1093/cercor/bhs358; NEST's former ``Potjans_2014`` example) and NEST 3.10
runs of the same model made on this machine by
``benchmarks/peer_runners/nest_microcircuit.py`` (stored in
``tests/reference/microcircuit_nest_*.{json,npz}``, commands inside).
"""

import json
import math
from pathlib import Path

import numpy as np
import pytest

from neurodl.errors import ValidationError
from neurodl.models import potjans_diesmann as pd

REF = Path(__file__).resolve().parents[1] / "reference"


def load_reference(tag: str) -> tuple[dict, dict[str, np.ndarray]]:
    """Return the NEST reference's JSON and its npz arrays."""
    meta = json.loads((REF / f"microcircuit_nest_{tag}.json").read_text())
    with np.load(REF / f"microcircuit_nest_{tag}.npz") as z:
        arrays = {k: z[k] for k in z.files}
    return meta, arrays


# --------------------------------------------------------------------------- tables
def test_full_scale_tables_match_the_paper():
    # Potjans & Diesmann 2014 Table 5 / NEST example: 77,169 neurons; the Q formula
    # gives 298,880,968 synapses (SCALE.md §1.2, derived the same way)
    assert int(pd.N_FULL.sum()) == 77169
    q = pd.synapse_counts()
    assert int(q.sum()) == 298_880_968
    assert q[0, 5] == 0 and q[0, 7] == 0  # C = 0 -> no synapses
    # mean recurrent in-degrees, SCALE.md §1.2 (derived), to the integer
    k_in = q.sum(axis=1) / pd.N_FULL
    assert np.round(k_in).astype(int).tolist() == [
        4995,
        5285,
        2806,
        5888,
        4944,
        2736,
        2564,
        2434,
    ]


def test_weights_and_dc_drive():
    # PSC for a 0.15 mV PSP: 87.81 pA (585.39 pA/mV, Hanuschkin 2010 formula)
    assert pd.weight_e_pa() == pytest.approx(87.81, abs=0.005)
    t = pd.tables(1.0, drive="dc")
    assert t.w_pa[0, 2] == pytest.approx(2 * pd.weight_e_pa())  # L4E->L23E doubled
    assert t.w_pa[0, 1] == pytest.approx(-4 * pd.weight_e_pa())
    # I_DC = 8 Hz * K_ext * w_ext * tau_syn (SCALE.md §1.4, derived)
    np.testing.assert_allclose(
        t.dc_pa,
        [561.97, 526.85, 737.59, 667.34, 702.47, 667.34, 1018.58, 737.59],
        atol=0.01,
    )
    assert pd.tables(1.0, drive="poisson").dc_pa == pytest.approx(np.zeros(8))
    # pA -> mV: x = tau_m / C_m * I = 0.04 mV per pA
    assert pytest.approx(0.04) == pd.MV_PER_PA


def test_scaling_rules():
    full, small = pd.tables(1.0), pd.tables(0.1)
    assert small.n.tolist() == [2068, 583, 2192, 548, 485, 106, 1440, 295]
    # synapses scale by N_scaling * K_scaling
    np.testing.assert_allclose(small.q, np.round(pd._q_full() * 0.01), atol=0)
    assert small.n_synapses == pytest.approx(full.n_synapses * 0.01, rel=1e-5)
    # weights by 1/sqrt(K_scaling), K_ext by K_scaling
    np.testing.assert_allclose(small.w_pa, full.w_pa / math.sqrt(0.1))
    np.testing.assert_allclose(small.k_ext, pd.K_EXT * 0.1)

    # the DC compensation restores the full-scale mean input of every population
    def mean_input(t: pd.Tables) -> np.ndarray:
        k = t.q / pd.N_FULL[:, None] / (t.scale * t.k_scale) * t.k_scale
        rec = (t.w_pa * k * pd.FULL_MEAN_RATES_HZ).sum(axis=1)
        ext = t.w_ext_pa * t.k_ext * pd.BG_RATE_HZ
        return 0.001 * pd.TAU_SYN_MS * (rec + ext) + t.dc_pa

    np.testing.assert_allclose(mean_input(small), mean_input(full), rtol=1e-3)
    # N and K scaled apart
    t = pd.tables(0.5, k_scale=1.0)
    assert t.dc_pa == pytest.approx(np.zeros(8))
    assert t.n_synapses == pytest.approx(full.n_synapses * 0.5, rel=1e-5)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"scale": 0.0}, "scale"),
        ({"scale": 1.5}, "scale"),
        ({"scale": float("nan")}, "scale"),
        ({"scale": 0.1, "k_scale": -1.0}, "k_scale"),
        ({"scale": 0.1, "drive": "ac"}, "drive"),
    ],
)
def test_bad_tables(kwargs, name):
    with pytest.raises(ValidationError, match=f"'{name}'"):
        pd.tables(**kwargs)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"duration": 100.05}, "duration"),
        ({"duration": 0.0}, "duration"),
        ({"presim": -1.0}, "presim"),
        ({"seed": -3}, "seed"),
    ],
)
def test_bad_run_arguments(kwargs, name):
    args = {"duration": 10.0, "scale": 0.01, "presim": 0.0} | kwargs
    with pytest.raises(ValidationError, match=f"'{name}'"):
        pd.run(**args)


def test_population_stats_on_known_trains():
    # neuron 0 regular (CV 0), neuron 1 with ISIs 1, 3, 1, 3 ms (mean 2, sd 1:
    # CV 0.5), neuron 2 one spike (no CV)
    t = np.array([0.5, 4.5, 8.5, 12.5, 0.5, 1.5, 4.5, 5.5, 8.5, 10.0])
    i = np.array([0, 0, 0, 0, 1, 1, 1, 1, 1, 2])
    counts, cv, cc = pd.population_stats(t, i, 3, 0.0, 16.0, cc_n=3)
    assert counts.tolist() == [4, 5, 1]
    np.testing.assert_allclose(cv, [0.0, 0.5], atol=1e-12)
    assert cc.size == 3 and np.isfinite(cc).all() and np.all(np.abs(cc) <= 1.0)
    # spikes outside the window do not count
    counts, _, _ = pd.population_stats(t, i, 3, 4.0, 9.0, cc_n=3)
    assert counts.tolist() == [2, 3, 0]


# --------------------------------------------------------------- run against NEST
def test_scale_01_rates_match_nest():
    """Population rates at scale 0.1 within 10 % of NEST's 4-seed mean.

    NEST 3.10, the same scaled model (N and K scaling with the DC compensation),
    Poisson drive, 4 seeds x 5 s after 500 ms
    (tests/reference/microcircuit_nest_0p1.json); neurodl runs the same window.
    NEST's seed-to-seed sd of the population rates is <= 1.5 % of the mean
    (``rate_sd_hz``), so 10 % (the issue's full-scale criterion) leaves room for
    the documented difference of the inputs (a binomial count per step for the
    Poisson background) and for neurodl's own seed, and still fails a wrong
    weight, scaling or delay (each moves some population by far more: e.g.
    without the DC compensation L23E falls silent).
    """
    meta, _ = load_reference("0p1")
    ref = np.asarray(meta["rate_mean_hz"])
    t_sim = meta["seeds"][0]["t_sim_ms"]
    res = pd.run(t_sim, 0.1, seed=7, presim=500.0)
    rates = np.array(res.rates_hz)
    assert np.all(np.abs(rates / ref - 1.0) < 0.10), (rates.round(3), ref.round(3))
    # asynchronous irregular as in NEST: mean ISI CV within 0.05 of NEST's (CVs of
    # the same window length), mean pairwise correlation below 0.02 in both
    ref_cv = np.mean([s["mean_cv"] for s in meta["seeds"]], axis=0)
    assert np.all(np.abs(np.array(res.cv_mean) - ref_cv) < 0.05), (
        np.round(res.cv_mean, 3),
        ref_cv.round(3),
    )
    assert np.all(np.abs(res.cc_mean) < 0.02)


def test_thalamic_pulse_drives_layer_4():
    # 902 thalamic neurons at 120 Hz for 10 ms from 700 ms project to L4 and L6
    # (C = 0.0983, 0.0619, 0.0512, 0.0196) but not to L2/3 or L5
    res = pd.run(200.0, 0.05, seed=2, presim=600.0, thalamic=True)
    times, _ = res.spikes["L4E"]
    during = np.sum((times >= 701.0) & (times < 716.0))
    before = np.sum((times >= 681.0) & (times < 696.0))
    assert during > 3 * max(before, 1), (during, before)  # 4.6x seen; 1x without


def test_cli_json_shape(tmp_path):
    from typer.testing import CliRunner

    from neurodl.cli.main import app

    fig = tmp_path / "mc.png"
    r = CliRunner().invoke(
        app,
        [
            "simulate",
            "microcircuit",
            "--scale",
            "0.02",
            "--duration",
            "50",
            "--presim",
            "0",
            "--json",
            "--figure",
            str(fig),
            "--quiet",
        ],
    )
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert set(out["populations"]) == set(pd.POPULATIONS)
    for row in out["populations"].values():
        assert set(row) == {"n", "rate_hz", "cv_isi", "correlation"}
    for key in ("setup_s", "run_s", "real_time_factor", "peak_memory_mb"):
        assert out[key] is None or out[key] >= 0
    assert out["n_neurons"] == sum(pd.tables(0.02).n)
    assert fig.stat().st_size > 1000


def test_cli_procs_gives_the_same_statistics(tmp_path):
    """--procs 2 (one network over two processes): the same spikes, so the same
    rates, CVs and correlations as one process."""
    from typer.testing import CliRunner

    from neurodl.cli.main import app

    args = ["simulate", "microcircuit", "--scale", "0.03", "--duration", "60",
            "--presim", "20", "--json", "--quiet"]  # fmt: skip
    outs = []
    for procs in ("1", "2"):
        r = CliRunner().invoke(app, [*args, "--procs", procs])
        assert r.exit_code == 0, r.output
        outs.append(json.loads(r.output)["populations"])
    assert sum(row["rate_hz"] for row in outs[0].values()) > 0
    assert outs[0] == outs[1]


# ------------------------------------------------------------------ full scale (slow)
def _ks(a: np.ndarray, b: np.ndarray) -> float:
    a, b = np.sort(a.astype(float)), np.sort(b.astype(float))
    x = np.concatenate([a, b])
    return float(
        np.max(
            np.abs(
                np.searchsorted(a, x, side="right") / a.size
                - np.searchsorted(b, x, side="right") / b.size
            )
        )
    )


@pytest.mark.slow
def test_full_scale_matches_nest_over_seeds():
    """Full scale, Poisson, 5 seeds: rates within 10 % of NEST's 5-seed mean; KS.

    Per population, the KS distance of neurodl's per-neuron rate and ISI-CV
    distributions from NEST's, averaged over all (neurodl seed, NEST seed) pairs,
    is no larger than the largest KS distance between two NEST seeds (the INM-6
    protocol compares seeds pairwise the same way).
    """
    meta, arr = load_reference("full")
    seeds = [s["seed"] for s in meta["seeds"]]
    if len(seeds) < 2:  # seed-to-seed KS needs two NEST seeds
        pytest.skip(f"the stored full-scale NEST reference has {len(seeds)} seed(s)")
    t_sim = meta["seeds"][0]["t_sim_ms"]
    ref = np.mean([s["rates_hz"] for s in meta["seeds"]], axis=0)
    runs = [pd.run(t_sim, 1.0, seed=100 + s, presim=500.0) for s in seeds]
    rates = np.mean([r.rates_hz for r in runs], axis=0)
    assert np.all(np.abs(rates / ref - 1.0) < 0.10), (rates.round(3), ref.round(3))
    for name in pd.POPULATIONS:
        for kind in ("counts", "cv"):
            nest = [arr[f"s{s}_{kind}_{name}"] for s in seeds]
            ours = [getattr(r, kind)[name] for r in runs]
            own = max(
                _ks(nest[a], nest[b])
                for a in range(len(nest))
                for b in range(a + 1, len(nest))
            )
            cross = np.mean([_ks(o, n) for o in ours for n in nest])
            assert cross <= own, (name, kind, cross, own)


def test_run_drops_its_kept_weight_copy(monkeypatch):
    """The kernel's weight copy is kept between a network's runs; ``run`` returns
    without it (a loop over seeds would otherwise hold one per network)."""
    nets = []
    build = pd.build

    def spy(*args, **kwargs):
        mc = build(*args, **kwargs)
        nets.append(mc.net)
        return mc

    monkeypatch.setattr(pd, "build", spy)
    res = pd.run(20.0, 0.02, seed=3, presim=10.0)
    assert res.rates_hz and len(nets) == 1
    assert nets[0].built and nets[0]._w_cache is None
