"""FA, DFA, sign symmetry and Kolen-Pollack: exact deltas, drop-in layers, KP, errors.

The references are written here independently of neurodl's delta code: plain
autograd in which each layer's backward is rerouted through the feedback matrix
(``z = a.detach() W + a B - (a B).detach() + b`` carries ``dz B^T`` to ``a`` and
``a^T dz`` to ``W``), with torch's own loss functions.
"""

import itertools
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from neurodl.errors import ValidationError
from neurodl.learning.feedback import (
    feedback_descend,
    feedback_loss_and_grads,
    feedback_step,
    kp_update,
    make_feedback,
    update_angles,
    vector_angle,
    weight_angles,
)
from neurodl.learning.feedback_layers import DFA, FeedbackLinear
from neurodl.learning.optimizers import Adam, GradientDescent
from neurodl.learning.trainer import TrainConfig, fit
from neurodl.networks import FeedForward
from neurodl.networks.losses import get_loss

D64 = torch.float64
SIZES = (12, 20, 16, 5)


def _data(n=30, seed=0):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, SIZES[0], generator=gen, dtype=D64)
    y = torch.randint(0, SIZES[-1], (n,), generator=gen)
    return x, y


def _teacher_data(n, seed=0):
    """Labels from a random tanh teacher: learnable, unlike random labels."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, SIZES[0], generator=gen, dtype=D64)
    A = torch.randn(SIZES[0], 8, generator=gen, dtype=D64)
    C = torch.randn(8, SIZES[-1], generator=gen, dtype=D64)
    return x, (torch.tanh(x @ A) @ C).argmax(dim=1)


def _net(seed=0, activation="tanh"):
    return FeedForward(SIZES, activation, "softmax", seed=seed, dtype=D64)


def _setup(rule, activation="tanh"):
    net = _net(activation=activation)
    fb = make_feedback(net, rule, seed=3, kp_decay=0.5)
    x, y = _data()
    fn = get_loss("cross_entropy")
    return net, fb, x, y, fn, net._check_target(fn, x, y)


def _feedback_of(net, fb):
    """The matrix each layer l >= 2 sends the error down with."""
    Ws = [p.detach() for p in net.parameters()][0::2]
    if fb.rule == "sign":
        return [torch.sign(W) * math.sqrt(2 / sum(W.shape)) for W in Ws[1:]]
    return [m.clone() for m in fb.matrices]


def _reference(net, fb, x, y, activation="tanh"):
    """Rule's gradients by autograd with rerouted backward passes (see module doc)."""
    f = {"tanh": torch.tanh, "relu": torch.relu}[activation]
    params = [p.detach().clone().requires_grad_(True) for p in net.parameters()]
    Ws, bs = params[0::2], params[1::2]
    n = len(Ws)
    if fb.rule == "dfa":
        a, hidden = x, []
        for i in range(n):
            z = a.detach() @ Ws[i] + bs[i]  # every layer's input cut off
            if i < n - 1:
                a = f(z)
                hidden.append(a)
        loss = F.cross_entropy(z, y)
        (e,) = torch.autograd.grad(loss, z, retain_graph=True)
        total = loss + sum(
            (h * (e @ D)).sum() for h, D in zip(hidden, fb.matrices, strict=True)
        )
    else:
        Bs = _feedback_of(net, fb)
        a = x
        for i in range(n):
            z = a.detach() @ Ws[i] + bs[i]
            if i > 0:
                aB = a @ Bs[i - 1]
                z = z + (aB - aB.detach())  # value unchanged, backward through B
            a = f(z) if i < n - 1 else z
        total = F.cross_entropy(a, y)
    return torch.autograd.grad(total, params)


RULES = ["fa", "dfa", "sign", "kp"]


@pytest.mark.parametrize("activation", ["tanh", "relu"])
@pytest.mark.parametrize("rule", RULES)
def test_explicit_deltas_equal_the_rerouted_autograd(rule, activation):
    net, fb, x, y, fn, yp = _setup(rule, activation)
    _, grads = feedback_loss_and_grads(net, fb, x, yp, fn, with_loss=False)
    ref = _reference(net, fb, x, y, activation)
    for g, r in zip(grads, ref, strict=True):
        assert (g - r).abs().max() <= 1e-12
    # and they are not back-propagation's (the hidden layers differ)
    _, true = net.loss_and_grads(x, yp, fn, with_loss=False)
    assert (grads[0] - true[0]).abs().max() > 1e-4


@pytest.mark.parametrize("rule", ["fa", "dfa", "sign"])
def test_fused_descent_equals_gradients_then_step(rule):
    net, fb, x, _, fn, yp = _setup(rule)
    w0 = [p.clone() for p in net.weights()]
    _, grads = feedback_loss_and_grads(net, fb, x, yp, fn, with_loss=False)
    expected = [p - 0.1 * g for p, g in zip(w0, grads, strict=True)]
    feedback_descend(net, fb, x, yp, fn, 0.1, net.weights())
    for p, e in zip(net.weights(), expected, strict=True):
        assert (p - e).abs().max() <= 1e-12


def _copy_linear(layer, W, b):
    with torch.no_grad():
        layer.weight.copy_(W.T)
        layer.bias.copy_(b)


@pytest.mark.parametrize("rule", RULES)
def test_drop_in_layers_equal_the_explicit_deltas(rule):
    net, fb, x, y, fn, yp = _setup(rule)
    _, grads = feedback_loss_and_grads(net, fb, x, yp, fn, with_loss=False)
    Ws, bs = net.weights()[0::2], net.weights()[1::2]
    widths = SIZES[1:-1]
    if rule == "dfa":
        dfa = DFA(SIZES[-1], widths, seed=0, dtype=D64)
        for tap, D in zip(dfa.taps, fb.matrices, strict=True):
            tap.D.copy_(D)
        linears = [nn.Linear(i, o, dtype=D64) for i, o in itertools.pairwise(SIZES)]
        mods = [linears[0], nn.Tanh(), dfa.taps[0], linears[1], nn.Tanh()]
        mods += [dfa.taps[1], linears[2], dfa.head]
    else:
        linears = [
            FeedbackLinear(i, o, rule=rule, seed=7, dtype=D64)
            for i, o in itertools.pairwise(SIZES)
        ]
        if rule != "sign":
            with torch.no_grad():
                for lin, B in zip(linears[1:], fb.matrices, strict=True):
                    lin.feedback.copy_(B.T)
        mods = [linears[0], nn.Tanh(), linears[1], nn.Tanh(), linears[2]]
    for lin, W, b in zip(linears, Ws, bs, strict=True):
        _copy_linear(lin, W, b)
    model = nn.Sequential(*mods)
    F.cross_entropy(model(x), y).backward()
    for i, lin in enumerate(linears):
        assert (lin.weight.grad.T - grads[2 * i]).abs().max() <= 1e-12
        assert (lin.bias.grad - grads[2 * i + 1]).abs().max() <= 1e-12
    if rule == "kp":  # B's gradient is W's
        for lin in linears:
            assert torch.equal(lin.feedback.grad, lin.weight.grad)


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_kp_difference_shrinks_by_one_minus_lr_decay_every_step(optimizer):
    # Akrout et al. 2019: same update and same decay => W - B -> (1 - lr lam)(W - B)
    net, fb, x, _, fn, yp = _setup("kp")
    w = net.weights()
    lr, lam = (0.05, 0.4) if optimizer == "sgd" else (1e-3, 30.0)
    opt = GradientDescent(w, lr) if optimizer == "sgd" else Adam(w, lr)
    fb.kp_decay = lam
    factor = 1 - lr * lam
    before = [
        torch.linalg.norm(W - B) for W, B in zip(w[2::2], fb.matrices, strict=True)
    ]
    for _ in range(15):
        feedback_step(net, fb, w, x, yp, fn, opt)
        after = [
            torch.linalg.norm(W - B) for W, B in zip(w[2::2], fb.matrices, strict=True)
        ]
        for b0, b1 in zip(before, after, strict=True):
            assert abs(float(b1 / b0) / factor - 1) <= 1e-12
        before = after


@pytest.mark.parametrize("torch_opt", ["sgd", "adamw"])
def test_kp_drop_in_layer_with_torch_weight_decay_equals_kp_update(torch_opt):
    net, fb, x, y, fn, yp = _setup("kp")
    lr, lam = (0.05, 0.4) if torch_opt == "sgd" else (1e-2, 2.0)
    linears = [
        FeedbackLinear(i, o, rule="kp", seed=7, dtype=D64)
        for i, o in itertools.pairwise(SIZES)
    ]
    for lin, W, b in zip(
        linears, net.weights()[0::2], net.weights()[1::2], strict=True
    ):
        _copy_linear(lin, W, b)
    with torch.no_grad():
        for lin, B in zip(linears[1:], fb.matrices, strict=True):
            lin.feedback.copy_(B.T)
    model = nn.Sequential(linears[0], nn.Tanh(), linears[1], nn.Tanh(), linears[2])
    decayed = [lin.weight for lin in linears] + [lin.feedback for lin in linears]
    groups = [
        {"params": decayed, "weight_decay": lam},
        {"params": [lin.bias for lin in linears], "weight_decay": 0.0},
    ]
    topt = (
        torch.optim.SGD(groups, lr=lr)
        if torch_opt == "sgd"
        else torch.optim.AdamW(groups, lr=lr)
    )
    w = net.weights()
    opt = GradientDescent(w, lr) if torch_opt == "sgd" else Adam(w, lr)
    fb.kp_decay = lam
    for _ in range(3):
        topt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        topt.step()
        _, grads = feedback_loss_and_grads(net, fb, x, yp, fn, with_loss=False)
        kp_update(opt, grads, w, fb)
    for lin, W, b in zip(linears, w[0::2], w[1::2], strict=True):
        assert (lin.weight.detach().T - W).abs().max() <= 1e-12
        assert (lin.bias.detach() - b).abs().max() <= 1e-12
    for lin, B in zip(linears[1:], fb.matrices, strict=True):
        assert (lin.feedback.detach().T - B).abs().max() <= 1e-12


def test_angles_are_zero_for_bp_and_for_kp_once_b_equals_w():
    net, fb, x, _, fn, yp = _setup("kp")
    assert update_angles(net, None, x, yp, fn) == [0.0, 0.0, 0.0]
    assert weight_angles(net, None) == []
    angles = update_angles(net, fb, x, yp, fn)
    assert angles[-1] == 0.0 and min(angles[:-1]) > 10  # random B: far from BP
    for B, W in zip(fb.matrices, net.weights()[2::2], strict=True):
        B.copy_(W)
    assert update_angles(net, fb, x, yp, fn) == [0.0, 0.0, 0.0]
    assert weight_angles(net, fb) == [0.0, 0.0]


def test_sign_feedback_angle_matches_its_closed_form():
    # cos(W, sign W) = E|w| / sqrt(E w^2): sqrt(3)/2 (30 degrees) for uniform
    # weights (init "pytorch"), sqrt(2/pi) (37.0 degrees) for Gaussian ones ("he")
    gaussian = math.degrees(math.acos(math.sqrt(2 / math.pi)))
    for init, expected in (("pytorch", 30.0), ("he", gaussian)):
        net = FeedForward((4, 300, 300, 3), "tanh", "softmax", init=init, seed=0)
        angle = weight_angles(net, make_feedback(net, "sign"))[0]
        assert angle == pytest.approx(expected, abs=0.3)


def test_vector_angle_against_known_angles():
    u = torch.tensor([1.0, 0.0], dtype=D64)
    for deg in (0.0, 1e-6, 30.0, 90.0, 179.0):
        c, s = math.cos(math.radians(deg)), math.sin(math.radians(deg))
        v = torch.tensor([c, s], dtype=D64)
        assert vector_angle(u, 3 * v) == pytest.approx(deg, abs=1e-9)


def test_fit_records_angles_and_fa_starts_orthogonal():
    # Lillicrap et al. 2016: with random B the update starts near 90 degrees from
    # the gradient and aligns as W learns.
    net = FeedForward((12, 64, 64, 5), "tanh", "softmax", seed=0, dtype=D64)
    fb = make_feedback(net, "fa", seed=0)
    x, y = _teacher_data(200)
    fn = get_loss("cross_entropy")
    # the second hidden layer (W_2), one feedback matrix below the output
    first = update_angles(net, fb, x, net._check_target(fn, x, y), fn)[1]
    cfg = TrainConfig(
        loss="cross_entropy",
        optimizer="adam",
        lr=1e-2,
        epochs=15,
        batch_size=50,
        rule="fa",
        track_alignment=True,
    )
    h = fit(net, x, y, cfg, progress=False)
    assert len(h.update_angle) == 15 and len(h.update_angle[0]) == 3
    assert len(h.weight_angle[-1]) == 2
    assert 80 < first < 100
    assert h.update_angle[-1][1] < first - 15  # measured: 93 -> 67 degrees
    assert h.weight_angle[-1][1] < 75  # W_3 has turned towards B_3 (measured 65)


def test_rule_errors():
    with pytest.raises(ValidationError, match=r"'rule' must be one of 'bp', 'fa'"):
        TrainConfig(rule="xx")
    with pytest.raises(ValidationError, match=r"'rule' 'fa' runs on engine"):
        TrainConfig(rule="fa", engine="autograd")
    with pytest.raises(ValidationError, match=r"'kp_decay' must be >= 0"):
        TrainConfig(rule="kp", kp_decay=-1.0)
    with pytest.raises(ValidationError, match=r"'feedback_seed' must be >= 0"):
        TrainConfig(rule="fa", feedback_seed=-1)
    one_layer = FeedForward((4, 3), "tanh", "softmax", seed=0)
    x, y = torch.randn(6, 4), torch.tensor([0, 1, 2, 0, 1, 2])
    for rule in ("dfa", "fa"):
        cfg = TrainConfig(loss="cross_entropy", rule=rule, epochs=1)
        with pytest.raises(ValidationError, match=rf"'rule' '{rule}' needs a network"):
            fit(one_layer, x, y, cfg, progress=False)
    with pytest.raises(ValidationError, match=r"'rule' 'dfa' is not a property"):
        FeedbackLinear(3, 2, rule="dfa")
    with pytest.raises(ValidationError, match=r"'rule' must be one of 'fa', 'sign'"):
        FeedbackLinear(3, 2, rule="bp")
    dfa = DFA(2, (3,), seed=0)
    out = nn.Linear(3, 2)(dfa.taps[0](torch.randn(4, 3, requires_grad=True)))
    with pytest.raises(ValidationError, match=r"put 'dfa\.head' on the network"):
        out.sum().backward()


@pytest.mark.parametrize(("rule", "optimizer"), [("kp", "adam"), ("fa", "sgd")])
def test_resume_with_a_rule_is_bit_identical(tmp_path, rule, optimizer):
    x, y = _data(60)
    cfg = TrainConfig(
        loss="cross_entropy",
        optimizer=optimizer,
        lr=0.01,
        epochs=9,
        batch_size=16,
        seed=5,
        checkpoint_every=3,
        rule=rule,
        feedback_seed=4,
        kp_decay=2.0,
    )
    whole = _net()
    h_whole = fit(whole, x, y, cfg, checkpoint_dir=tmp_path / "a", progress=False)

    class Interrupt(Exception):
        pass

    def interrupt(net, history):
        if history.epochs == 5:
            raise Interrupt
        return False

    with pytest.raises(Interrupt):
        fit(_net(), x, y, cfg, checkpoint_dir=tmp_path / "b", stop_when=interrupt)
    resumed = _net(seed=99)
    h_res = fit(resumed, x, y, cfg, checkpoint_dir=tmp_path / "b", resume=True)
    for pa, pb in zip(whole.parameters(), resumed.parameters(), strict=True):
        assert torch.equal(pa, pb)
    assert h_res.loss == h_whole.loss
    # a different feedback seed is a different run, and resume refuses it
    other = TrainConfig(**{**cfg.__dict__, "feedback_seed": 5})
    with pytest.raises(ValidationError, match="feedback_seed"):
        fit(_net(), x, y, other, checkpoint_dir=tmp_path / "b", resume=True)


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam"])
@pytest.mark.parametrize("rule", RULES)
def test_every_rule_trains_with_every_optimizer(rule, optimizer):
    x, y = _teacher_data(100)
    lr = 0.5 if optimizer == "sgd" else (0.1 if optimizer == "momentum" else 0.01)
    cfg = TrainConfig(
        loss="cross_entropy",
        optimizer=optimizer,
        lr=lr,
        epochs=10,
        batch_size=20,
        rule=rule,
        kp_decay=0.01,
    )
    h = fit(_net(), x, y, cfg, progress=False)
    assert h.loss[-1] < 0.8 * h.loss[0]


def test_train_rule_returns_curves_and_angles():
    from neurodl.learning.rule_runs import train_rule

    r = train_rule("sign", "digits", epochs=2, seed=1)
    assert r["sizes"] == [64, 256, 256, 10] and r["config"]["rule"] == "sign"
    assert len(r["train_loss"]) == 2 and len(r["test_accuracy_curve"]) == 2
    assert len(r["update_angle"]) == 2 and len(r["update_angle"][0]) == 3
    assert r["test_accuracy"] == r["test_accuracy_curve"][-1] > 0.8
    with pytest.raises(ValidationError, match=r"'data' must be one of 'mnist1d'"):
        train_rule("bp", "cifar")


@pytest.mark.slow
def test_alignment_angles_after_training_on_mnist1d():
    # LEARNING.md section 5 #3 (measured there: sign 15-22 degrees, fa and dfa
    # 44-67 degrees for the first layer's update after 60 epochs of MNIST-1D);
    # Lillicrap et al. 2016 Fig. 2: FA's updates stay well within 90 degrees.
    from neurodl.learning.rule_runs import load_rule_data, train_rule

    arrays = load_rule_data("mnist1d")
    first = {
        rule: train_rule(rule, "mnist1d", arrays=arrays)["update_angle"][-1][0]
        for rule in ("sign", "fa", "dfa")
    }
    assert first["sign"] < 30
    assert 40 < first["fa"] < 75
    assert 40 < first["dfa"] < 75


def test_a_checkpoint_written_before_rules_existed_still_resumes(tmp_path):
    from neurodl._io import read_tensors, write_tensors

    x, y = _data(40)
    cfg = TrainConfig(loss="cross_entropy", optimizer="adam", lr=0.01, epochs=2)
    fit(_net(), x, y, cfg, checkpoint_dir=tmp_path, progress=False)
    path = tmp_path / "checkpoint.safetensors"
    tensors, meta = read_tensors(path, kind="neurodl.Checkpoint")
    for key in ("rule", "feedback_seed", "kp_decay", "track_alignment"):
        del meta["train_config"][key]
    for key in ("update_angle", "weight_angle"):
        del meta["history"][key]
    write_tensors(path, tensors, meta)
    longer = TrainConfig(**{**cfg.__dict__, "epochs": 3})
    h = fit(_net(), x, y, longer, checkpoint_dir=tmp_path, resume=True)
    assert h.epochs == 3
