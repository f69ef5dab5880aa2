"""ALIF, Izhikevich and AdEx populations in networks, on both engine paths.

Reference: tests/reference/models_brian2.json, made by
``python benchmarks/models_brian2.py reference`` (Brian2 2.9.0, numpy target,
float64): a network mixing LIF, adaptive LIF (exact and Euler), Izhikevich and
AdEx populations with explicit current and conductance synapses, delays and given
input spikes, with its complete definition; Brian2's spike steps per population.
"""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from neurodl import neurons
from neurodl.errors import ValidationError
from neurodl.neurons import (
    AdExParams,
    ALIFParams,
    IzhikevichParams,
    LIFParams,
    adex_initial_state,
    adex_step,
    alif_step,
    izhikevich_step,
)
from neurodl.neurons.adex import AdExState
from neurodl.neurons.alif import ALIFState
from neurodl.neurons.izhikevich import IzhikevichState
from neurodl.simulate import (
    AdaptiveThreshold,
    ConductanceSynapse,
    CurrentSynapse,
    DeltaSynapse,
    Explicit,
    FixedProbability,
    Network,
)

REF = json.loads(
    (Path(__file__).parents[1] / "reference" / "models_brian2.json").read_text()
)
BACKENDS = ["numba", "torch"]


def _from_definition(spec, backend):
    """The reference network in neurodl (same definition as Brian2's)."""
    net = Network(dt=spec["dt"], seed=spec["seed"], backend=backend)
    src = spec["source"]
    groups = {
        "source": net.spike_source(
            src["n"],
            times=np.asarray(src["steps"]) * spec["dt"],
            indices=np.asarray(src["indices"]),
        )
    }
    synapses = {}
    for pop in spec["populations"]:
        params = getattr(neurons, pop["model"])(**pop["params"])
        groups[pop["name"]] = net.population(
            pop["n"],
            params,
            method=pop["method"],
            i_ext=pop["i_ext"],
            v0=np.asarray(pop["v0"]),
        )
        for ch in pop["channels"]:
            synapses[(pop["name"], ch["name"])] = (
                CurrentSynapse(ch["tau"])
                if ch["kind"] == "current"
                else ConductanceSynapse(ch["tau"], ch["e_rev"])
            )
    for proj in spec["projections"]:
        rule = Explicit(
            np.asarray(proj["i"]),
            np.asarray(proj["j"]),
            weight=np.asarray(proj["w"]),
            delay=np.asarray(proj["d"], dtype=np.float64) * spec["dt"],
        )
        post = proj["post"]
        net.connect(
            groups[proj["pre"]], groups[post], rule, synapses[(post, proj["channel"])]
        )
    mons = {
        p["name"]: net.spike_monitor(groups[p["name"]]) for p in spec["populations"]
    }
    return net, mons


@pytest.mark.parametrize("backend", BACKENDS)
def test_spike_steps_equal_brian2(backend):
    # Brian2 2.9.0 ran the same definition (same equations, integration methods,
    # inputs, synapses and delays) in float64: every spike on the same step.
    spec = REF["definition"]
    net, mons = _from_definition(spec, backend)
    net.run(spec["duration"], progress=False)
    models = {p["name"]: p["model"] for p in spec["populations"]}
    assert set(models.values()) == {
        "LIFParams",
        "ALIFParams",
        "IzhikevichParams",
        "AdExParams",
    }
    for name, mon in mons.items():
        ref = REF["spikes"][name]
        assert len(ref["steps"]) > 100, name  # every population fires
        order = np.lexsort((mon.indices, mon.steps))
        assert mon.steps[order].tolist() == ref["steps"], name
        assert mon.indices[order].tolist() == ref["indices"], name


def _mixed(backend, batch=1, v0_array=False):
    net = Network(dt=0.1, seed=7, backend=backend, batch=batch)
    rng = np.random.default_rng(1)
    flat = rng.choice(1500 * 30, 500, replace=False)
    src = net.spike_source(30, times=(flat // 30) * 0.1, indices=flat % 30)
    lif = LIFParams(tau_mem=20.0, v_rest=-65.0, v_th=-50.0, v_reset=-65.0)
    alif = ALIFParams(tau_mem=20.0, v_rest=-65.0, v_th=-50.0, v_reset=-65.0,
                      tau_adapt=50.0, delta_th=2.0)  # fmt: skip
    specs = [  # params, method, i_ext, current weight, conductance weight
        (lif, "auto", 12.0, 3.0, 0.05),
        (alif, "exact", 13.0, 3.0, None),
        (alif, "euler", 12.0, 3.0, 0.05),
        (IzhikevichParams(), "euler", 3.0, 4.0, 0.02),
        (IzhikevichParams(a=0.1, d=2.0), "izhikevich2003", 3.0, 4.0, 0.02),
        (AdExParams(t_ref=2.0), "euler", 400.0, 300.0, 3.0),
    ]
    pops, aux_mons, v_mons = [], [], []
    for params, method, i_ext, wc, wg in specs:
        v0 = np.linspace(-66.0, -55.0, 25) if v0_array else ("uniform", -66.0, -55.0)
        pop = net.population(25, params, method=method, i_ext=i_ext, v0=v0)
        net.connect(src, pop, FixedProbability(0.2), CurrentSynapse(5.0),
                    weight=wc, delay=0.5)  # fmt: skip
        if wg is not None:
            net.connect(src, pop, FixedProbability(0.1), ConductanceSynapse(3.0),
                        weight=wg)  # fmt: skip
        pops.append(pop)
        v_mons.append(net.state_monitor(pop, "v", [0, 3, 7]))
        name = {ALIFParams: "b", IzhikevichParams: "u", AdExParams: "w"}.get(
            type(params)
        )
        if name:
            aux_mons.append(net.state_monitor(pop, name, [1, 2], every=3))
    for a, b in zip(pops, pops[1:] + pops[:1], strict=True):  # a recurrent ring
        w = 150.0 if isinstance(b.params, AdExParams) else 1.5
        weight = lambda r, n, w=w: r.uniform(-w, w, n)  # noqa: E731
        net.connect(a, b, FixedProbability(0.1), CurrentSynapse(5.0), weight=weight,
                    delay=1.2)  # fmt: skip
    mons = [net.spike_monitor(p) for p in pops]
    net.run(150.0, progress=False)
    return mons, v_mons, aux_mons


def test_compiled_and_tensor_paths_give_identical_spikes_and_states():
    a = _mixed("numba")
    b = _mixed("torch")
    for ma, mb in zip(a[0], b[0], strict=True):
        assert ma.steps.size > 20  # every population fires
        np.testing.assert_array_equal(ma.steps, mb.steps)
        np.testing.assert_array_equal(ma.indices, mb.indices)
    for sa, sb in zip(a[1] + a[2], b[1] + b[2], strict=True):
        np.testing.assert_array_equal(sa.times, sb.times)
        if isinstance(sa.pop.params, AdExParams):
            # AdEx's exp(): numba calls libm, torch its own vectorised exp; both
            # are within 1 ulp of the true value but need not be the same double
            # (seen: 13 of 1500 samples of one neuron, 1e-15 relative), so its
            # states agree to rounding while its spikes above are equal
            np.testing.assert_allclose(sa.values, sb.values, rtol=1e-12, atol=0)
        else:
            np.testing.assert_array_equal(sa.values, sb.values)  # bit for bit


def test_batches_on_the_tensor_path():
    # the same initial state in every trial: each trial is the compiled run
    ref = _mixed("numba", v0_array=True)[0]
    out = _mixed("torch", batch=3, v0_array=True)[0]
    for mr, mo in zip(ref, out, strict=True):
        for trial in range(3):
            keep = mo.trials == trial
            np.testing.assert_array_equal(mo.steps[keep], mr.steps)
            np.testing.assert_array_equal(mo.indices[keep], mr.indices)


def _single(params, method, i_ext, backend, n_steps=3000):
    net = Network(dt=0.1, backend=backend)
    pop = net.population(3, params, method=method, i_ext=i_ext, v0=-60.0)
    mon = net.spike_monitor(pop)
    vm = net.state_monitor(pop, "v")
    net.run(n_steps * 0.1, progress=False)
    return mon, vm


@pytest.mark.parametrize(
    ("params", "method", "step"),
    [
        (ALIFParams(t_ref=3.0), "exact", alif_step),
        (ALIFParams(t_ref=3.0), "euler", alif_step),
        (IzhikevichParams(), "euler", izhikevich_step),
        (IzhikevichParams(), "izhikevich2003", izhikevich_step),
        (AdExParams(t_ref=2.0), "euler", adex_step),
    ],
)
def test_one_population_follows_the_neurons_step_function(params, method, step):
    # constant drive, no synapses: the network's step is the model's *_step
    # (same spikes; v to rounding, as the two order a few operations differently)
    i_ext = {ALIFParams: 25.0, IzhikevichParams: 10.0, AdExParams: 1000.0}[type(params)]
    i = torch.full((3,), float(i_ext), dtype=torch.float64)
    v0 = torch.full((3,), -60.0, dtype=torch.float64)
    zeros = torch.zeros(3, dtype=torch.float64)
    if isinstance(params, ALIFParams):
        s = ALIFState(v0, zeros, zeros)
    elif isinstance(params, IzhikevichParams):
        s = IzhikevichState(v0, params.b * v0)
    else:
        s = AdExState(v0, zeros, zeros)
    steps, vs = [], []
    for k in range(3000):
        vs.append(s.v[0].item())
        z, s = step(i, s, params, 0.1, method=method)
        if z[0]:
            steps.append(k)
    assert len(steps) >= 5
    for backend in BACKENDS:
        mon, vm = _single(params, method, i_ext, backend)
        assert mon.steps[mon.indices == 0].tolist() == steps
        np.testing.assert_allclose(vm.values[:, 0], vs, rtol=0, atol=1e-9)


def _grad_case(params, i_ext, w_scale):
    """Network gradient d loss / d w and the same through the neurons' steps."""
    dt, tau_s, n_steps = 0.1, 5.0, 600
    in_steps = np.array([20, 50, 51, 120, 200, 260, 330, 400, 470, 520])
    in_idx = np.array([0, 1, 0, 1, 0, 1, 0, 0, 1, 1])
    w0 = np.array([1.0, 0.6, 0.8, 1.2]) * w_scale  # (pre, post) 0-0, 0-1, 1-0, 1-1
    pre, post = np.array([0, 0, 1, 1]), np.array([0, 1, 0, 1])
    net = Network(dt=dt, backend="torch")
    src = net.spike_source(2, times=in_steps * dt, indices=in_idx)
    pop = net.population(2, params, i_ext=i_ext, method="euler", v0=-62.0)
    proj = net.connect(src, pop, Explicit(pre, post), CurrentSynapse(tau_s),
                       weight=w0)  # fmt: skip
    mon = net.spike_monitor(pop)
    vm = net.state_monitor(pop, "v")
    net.build()
    proj.weight.requires_grad_(True)
    net.run(n_steps * dt, grad=True, progress=False)
    loss = mon.spikes.sum() + 0.01 * vm.tensor.sum()
    (g_net,) = torch.autograd.grad(loss, proj.weight)
    # the same with the neurons' step functions: x decays, then input arrives
    w = torch.tensor(w0, dtype=torch.float64, requires_grad=True)
    x = torch.zeros(2, dtype=torch.float64)
    v0 = torch.full((2,), -62.0, dtype=torch.float64)
    if isinstance(params, ALIFParams):
        s, step = ALIFState(v0, v0 * 0, v0 * 0), alif_step
    elif isinstance(params, IzhikevichParams):
        s, step = IzhikevichState(v0, params.b * v0), izhikevich_step
    else:
        s, step = adex_initial_state(v0, params)._replace(v=v0), adex_step
    total = torch.zeros((), dtype=torch.float64)
    n_spikes = 0
    for k in range(n_steps):
        total = total + 0.01 * s.v.sum()
        z, s = step(i_ext + x, s, params, dt, method="euler")
        total = total + z.sum()
        n_spikes += int(z.sum())
        x = x * (1.0 - dt / tau_s)
        for j in in_idx[in_steps == k]:
            x = x + torch.zeros(2, dtype=torch.float64).index_add(
                0, torch.as_tensor(post[pre == j]), w[torch.as_tensor(pre == j)]
            )
    (g_ref,) = torch.autograd.grad(total, w)
    assert n_spikes == int(mon.spikes.sum()) and n_spikes >= 2
    return g_net, g_ref


@pytest.mark.parametrize(
    ("params", "i_ext", "w_scale"),
    [
        (ALIFParams(t_ref=1.0, delta_th=3.0), 18.0, 8.0),
        (IzhikevichParams(), 4.0, 6.0),
        (AdExParams(t_ref=1.0), 500.0, 400.0),
    ],
)
def test_gradients_equal_autograd_of_the_neurons_step_functions(params, i_ext, w_scale):
    g_net, g_ref = _grad_case(params, i_ext, w_scale)
    assert bool((g_ref != 0).all())
    torch.testing.assert_close(g_net, g_ref, rtol=1e-7, atol=1e-9)


def test_bad_input_gives_clear_errors():
    # the neurons' own checks on the parameters
    with pytest.raises(ValidationError, match="'tau_adapt' must be > 0"):
        ALIFParams(tau_adapt=-1.0)
    with pytest.raises(ValidationError, match="'a' must be > 0"):
        IzhikevichParams(a=0.0)
    with pytest.raises(ValidationError, match="'delta_t' must be > 0"):
        AdExParams(delta_t=0.0)
    with pytest.raises(ValidationError, match="'v_reset' must be below 'v_peak'"):
        AdExParams(v_reset=-40.0, v_peak=-45.0)
    net = Network()
    with pytest.raises(ValidationError, match="'params' must be LIFParams, ALIF"):
        net.population(3, {"tau_mem": 10.0})
    with pytest.raises(ValidationError, match=r"'method' must be one of.*Izhikevich"):
        net.population(3, IzhikevichParams(), method="exact")
    with pytest.raises(ValidationError, match=r"'method' must be one of.*AdEx"):
        net.population(3, AdExParams(), method="izhikevich2003")
    with pytest.raises(ValidationError, match=r"'adaptation'.*LIFParams populations"):
        net.population(3, ALIFParams(), adaptation=AdaptiveThreshold())
    izh = net.population(3, IzhikevichParams())
    with pytest.raises(ValidationError, match=r"learnable parameters.*Izhikevich"):
        izh.learn("v_th")
    lif = net.population(3)
    with pytest.raises(ValidationError, match="'variable' must be 'v' or a syn"):
        net.state_monitor(lif, "u")
    with pytest.raises(ValidationError, match="'variable' must be 'v', 'u' or"):
        net.state_monitor(izh, "w")
    net.connect(lif, izh, FixedProbability(0.5), CurrentSynapse())
    with pytest.raises(ValidationError, match="ALIF, Izhikevich or AdEx populations"):
        net.run(1.0, backend="numba", grad=True)
    n2 = Network()
    a = n2.population(2, ALIFParams(), method="exact")
    n2.connect(a, a, FixedProbability(1.0), ConductanceSynapse())
    with pytest.raises(ValidationError, match="method 'exact' needs current"):
        n2.run(1.0)


def test_tensor_parameters_are_refused_in_a_network():
    net = Network()
    with pytest.raises(ValidationError, match="'tau_w' of AdExParams must be a num"):
        net.population(2, AdExParams(tau_w=torch.tensor([100.0, 200.0])))


@pytest.mark.parametrize("backend", BACKENDS)
def test_runs_continue_and_reset_restores_the_models_state(backend):
    def build():
        net = Network(dt=0.1, seed=2, backend=backend)
        src = net.spike_source(20, rate=50.0)
        pops = [
            net.population(20, ALIFParams(), i_ext=15.0),
            net.population(20, IzhikevichParams(), i_ext=5.0),
            net.population(20, AdExParams(t_ref=1.0), i_ext=600.0),
        ]
        for p, w in zip(pops, (3.0, 3.0, 200.0), strict=True):
            net.connect(src, p, FixedProbability(0.3), CurrentSynapse(), weight=w,
                        delay=1.0)  # fmt: skip
        return net, [net.spike_monitor(p) for p in pops]

    net, mons = build()
    net.run(150.0, progress=False)
    whole = [m.steps.copy() for m in mons]
    net2, mons2 = build()
    net2.run(90.0, progress=False)
    net2.run(60.0, progress=False)
    for a, m in zip(whole, mons2, strict=True):
        assert a.size > 20
        np.testing.assert_array_equal(a, m.steps)
    net2.reset()
    for m in mons2:
        m.clear()
    net2.run(150.0, progress=False)
    for a, m in zip(whole, mons2, strict=True):
        np.testing.assert_array_equal(a, m.steps)


def test_stdp_onto_the_models_is_the_same_on_both_paths():
    from neurodl.simulate import STDP

    out = {}
    for backend in BACKENDS:
        net = Network(dt=0.1, seed=2, backend=backend)
        src = net.spike_source(50, rate=30.0)
        pops = [
            net.population(10, ALIFParams(), i_ext=12.0),
            net.population(10, IzhikevichParams(), i_ext=3.0),
            net.population(10, AdExParams(t_ref=1.0), i_ext=450.0),
        ]
        projs = [
            net.connect(src, p, FixedProbability(0.5), CurrentSynapse(), weight=w,
                        plasticity=STDP(0.01 * w, 0.012 * w, w_max=2 * w))
            for p, w in zip(pops, (2.0, 2.0, 150.0), strict=True)
        ]  # fmt: skip
        mons = [net.spike_monitor(p) for p in pops]
        net.run(200.0, progress=False)
        out[backend] = [(m.steps, pr.weight.detach().numpy()) for m, pr in
                        zip(mons, projs, strict=True)]  # fmt: skip
    for (sa, wa), (sb, wb), w0 in zip(out["numba"], out["torch"], (2.0, 2.0, 150.0),
                                      strict=True):  # fmt: skip
        assert sa.size > 5 and np.abs(wa - w0).max() > 1e-3 * w0  # it learned
        np.testing.assert_array_equal(sa, sb)
        np.testing.assert_array_equal(wa, wb)


@pytest.mark.parametrize("params", [IzhikevichParams(), AdExParams()])
def test_delta_synapses_onto_current_driven_models_are_refused(params):
    net = Network()
    pop = net.population(3, params)
    src = net.spike_source(1, [1.0], [0])
    with pytest.raises(ValidationError, match=r"'synapse'.*use CurrentSynapse"):
        net.connect(src, pop, FixedProbability(1.0), DeltaSynapse(), weight=1.0)
    with pytest.raises(ValidationError, match=r"'synapse'.*use CurrentSynapse"):
        net.poisson_input(pop, 10, 5.0, 1.0, DeltaSynapse())
    # ALIF integrates v like LIF, so a delta synapse is exact there
    alif = net.population(3, ALIFParams())
    net.connect(src, alif, FixedProbability(1.0), DeltaSynapse(), weight=1.0)
