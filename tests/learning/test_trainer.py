import math

import pytest
import torch

from neurodl._io import read_tensors
from neurodl.errors import TrainingDivergedError, ValidationError
from neurodl.learning import TrainConfig, accuracy, fit
from neurodl.networks import FeedForward


def _data(n=60, seed=0):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 4, generator=gen, dtype=torch.float64)
    y = (x[:, 0] * x[:, 1] > 0).long() + (x[:, 2] > 1).long()
    return x, y


def _net(seed=0):
    return FeedForward((4, 8, 3), "tanh", "softmax", seed=seed, dtype=torch.float64)


CFG = TrainConfig(
    loss="cross_entropy",
    optimizer="adam",
    lr=0.01,
    epochs=12,
    batch_size=16,
    seed=5,
    checkpoint_every=3,
)


def _params(net):
    return [p.detach().clone() for p in net.parameters()]


def test_training_reduces_the_loss():
    x, y = _data()
    net = _net()
    h = fit(net, x, y, CFG)
    assert h.epochs == 12 and h.loss[-1] < 0.7 * h.loss[0]


def test_engines_agree():
    x, y = _data()
    a, b = _net(), _net()
    ha = fit(a, x, y, CFG)
    hb = fit(b, x, y, TrainConfig(**{**CFG.__dict__, "engine": "autograd"}))
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        torch.testing.assert_close(pa, pb, rtol=1e-9, atol=1e-12)
    assert ha.loss == pytest.approx(hb.loss, rel=1e-9)


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam"])
def test_resume_is_bit_identical(tmp_path, optimizer):
    x, y = _data()
    cfg = TrainConfig(**{**CFG.__dict__, "optimizer": optimizer, "patience": 50})
    whole = _net()
    h_whole = fit(whole, x, y, cfg, checkpoint_dir=tmp_path / "a")

    class Interrupt(Exception):
        pass

    def interrupt(net, history):
        if history.epochs == 8:  # checkpoint at 6 is the last one before this
            raise Interrupt
        return False

    part = _net()
    with pytest.raises(Interrupt):
        fit(part, x, y, cfg, checkpoint_dir=tmp_path / "b", stop_when=interrupt)
    resumed = _net(seed=99)  # weights come from the checkpoint, not from here
    h_resumed = fit(resumed, x, y, cfg, checkpoint_dir=tmp_path / "b", resume=True)
    for pa, pb in zip(whole.parameters(), resumed.parameters(), strict=True):
        assert torch.equal(pa, pb)
    assert h_resumed.loss == h_whole.loss  # exact float equality, every epoch


def test_resume_refuses_a_different_config(tmp_path):
    x, y = _data()
    fit(_net(), x, y, CFG, checkpoint_dir=tmp_path)
    other = TrainConfig(**{**CFG.__dict__, "lr": 0.5})
    with pytest.raises(ValidationError, match=r"lr: checkpoint 0\.01 vs now 0\.5"):
        fit(_net(), x, y, other, checkpoint_dir=tmp_path, resume=True)


def test_resume_may_extend_the_epochs(tmp_path):
    x, y = _data()
    net = _net()
    fit(net, x, y, CFG, checkpoint_dir=tmp_path)
    h = fit(
        net,
        x,
        y,
        TrainConfig(**{**CFG.__dict__, "epochs": 15}),
        checkpoint_dir=tmp_path,
        resume=True,
    )
    assert h.epochs == 15


def test_divergence_stops_with_a_clear_message_and_keeps_the_checkpoint(tmp_path):
    x, y = _data()
    x[:, 0] *= 1e150  # squares overflow to inf once the weights grow
    net = FeedForward((4, 8, 3), "identity", "identity", seed=0, dtype=torch.float64)
    cfg = TrainConfig(
        loss="mse", optimizer="sgd", lr=10.0, epochs=50, checkpoint_every=1
    )
    with pytest.raises(TrainingDivergedError) as err:
        fit(
            net,
            x,
            torch.nn.functional.one_hot(y, 3).double(),
            cfg,
            checkpoint_dir=tmp_path,
        )
    msg = str(err.value)
    assert "training loss became" in msg and "lower the learning rate (lr=10.0)" in msg
    assert all(torch.isfinite(p).all() for p in net.parameters())
    assert err.value.epoch == 2  # epoch 1 finished and was checkpointed
    assert err.value.checkpoint is not None
    tensors, meta = read_tensors(err.value.checkpoint, kind="neurodl.Checkpoint")
    assert meta["history"]["epochs"] == 1
    assert all(torch.isfinite(t).all() for k, t in tensors.items() if k != "rng")


def test_early_stopping_restores_the_best_epoch():
    x, y = _data(200)
    xv, yv = _data(100, seed=1)
    net = FeedForward((4, 64, 3), "relu", "softmax", seed=0, dtype=torch.float64)
    cfg = TrainConfig(
        loss="cross_entropy",
        optimizer="adam",
        lr=0.05,
        epochs=300,
        batch_size=20,
        patience=5,
    )
    h = fit(net, x, y, cfg, validation=(xv, yv))
    assert h.stopped == "early_stopping"
    assert h.epochs == h.best_epoch + 5
    with torch.no_grad():
        best = net.loss(xv, yv, "cross_entropy").item()
    assert best == pytest.approx(min(h.val_loss), rel=1e-12)
    assert len(h.val_accuracy) == h.epochs
    assert h.val_accuracy[h.best_epoch - 1] == accuracy(net, xv, yv, "cross_entropy")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(lr=0.0), "'lr' must be > 0; got 0.0"),
        (dict(epochs=0), "'epochs' must be >= 1; got 0"),
        (
            dict(engine="jax"),
            "'engine' must be one of 'explicit', 'autograd'; got 'jax'",
        ),
        (dict(batch_size=0), "'batch_size' must be >= 1"),
        (dict(lr=math.nan), "'lr' must be a finite number"),
    ],
)
def test_bad_config(kwargs, match):
    with pytest.raises(ValidationError, match=match):
        TrainConfig(**kwargs)


def test_resume_needs_a_folder():
    x, y = _data()
    with pytest.raises(ValidationError, match="'resume' needs 'checkpoint_dir'"):
        fit(_net(), x, y, CFG, resume=True)


def test_training_accuracy_is_tracked_on_request():
    x, y = _data()
    cfg = TrainConfig(**{**CFG.__dict__, "track_accuracy": True})
    net = _net()
    h = fit(net, x, y, cfg)
    assert len(h.accuracy) == h.epochs
    assert h.accuracy[-1] == accuracy(net, x, y, "cross_entropy")
    with pytest.raises(
        ValidationError, match="'track_accuracy' needs a classification"
    ):
        TrainConfig(loss="mse", track_accuracy=True)


@pytest.mark.parametrize(
    ("engine", "optimizer"),
    [("explicit", "sgd"), ("explicit", "adam"), ("autograd", "momentum")],
)
def test_a_refused_step_changes_nothing(engine, optimizer):
    # fit() reads a one-batch epoch's loss before updating, instead of copying the
    # parameters every epoch to put them back on divergence: train_step(accept=)
    # must leave weights and optimizer state alone when accept says no.
    from neurodl.learning import make_optimizer
    from neurodl.learning.trainer import train_step
    from neurodl.networks import get_loss

    x, labels = _data()
    net = _net()
    fn = get_loss("cross_entropy")
    y = net._check_target(fn, x, labels)
    weights = net.weights()
    opt = make_optimizer(optimizer, weights, 0.01)
    train_step(net, weights, x, y, fn, opt, None, engine)  # some optimizer state
    before = _params(net)
    state = {k: t.clone() for k, t in opt.state_tensors().items()}
    seen = []
    value = train_step(
        net, weights, x, y, fn, opt, None, engine, accept=lambda v: seen.append(v)
    )
    assert seen == [value] and value.item() > 0
    for a, b in zip(before, _params(net), strict=True):
        assert torch.equal(a, b)
    assert opt.state_scalars() == {} or opt.state_scalars()["steps"] == 1
    for k, t in opt.state_tensors().items():
        assert torch.equal(t, state[k]), k
    total = torch.zeros((), dtype=torch.float64)
    again = train_step(net, weights, x, y, fn, opt, total, engine)
    assert again.item() == pytest.approx(value.item(), rel=1e-12)
    assert total.item() == pytest.approx(value.item(), rel=1e-12)
    moved = zip(before, _params(net), strict=True)
    assert not all(torch.equal(a, b) for a, b in moved)


def test_one_batch_history_holds_the_loss_before_each_update():
    x, y = _data()
    net = _net()
    start = [p.detach().clone() for p in net.parameters()]
    cfg = TrainConfig(loss="cross_entropy", lr=0.5, epochs=3)
    h = fit(net, x, y, cfg)
    replay = _net()
    with torch.no_grad():
        for p, p0 in zip(replay.parameters(), start, strict=True):
            p.copy_(p0)
    opt = torch.optim.SGD(replay.parameters(), lr=0.5)
    for epoch in range(3):
        loss = replay.loss(x, y, "cross_entropy")
        assert h.loss[epoch] == pytest.approx(loss.item(), rel=1e-12)
        opt.zero_grad()
        loss.backward()
        opt.step()
    for a, b in zip(net.parameters(), replay.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-14)


def test_divergence_in_a_minibatch_epoch_puts_the_epoch_back():
    x, y = _data()
    x[:, 0] *= 1e150
    net = FeedForward((4, 8, 3), "identity", "identity", seed=0, dtype=torch.float64)
    cfg = TrainConfig(loss="mse", lr=10.0, epochs=50, batch_size=16, seed=1)
    target = torch.nn.functional.one_hot(y, 3).double()
    with pytest.raises(TrainingDivergedError) as err:
        fit(net, x, target, cfg)
    assert all(torch.isfinite(p).all() for p in net.parameters())
    epoch = err.value.epoch
    again = FeedForward((4, 8, 3), "identity", "identity", seed=0, dtype=torch.float64)
    if epoch > 1:  # the network is that of a run stopped after the last good epoch
        fit(again, x, target, TrainConfig(**{**cfg.__dict__, "epochs": epoch - 1}))
    for a, b in zip(net.parameters(), again.parameters(), strict=True):
        assert torch.equal(a, b)
