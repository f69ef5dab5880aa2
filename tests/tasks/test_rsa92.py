"""RSA of neurodl networks against the bundled 92-image IT RDMs."""

import json

import numpy as np
import pytest

from neurodl.cli import main
from neurodl.compare import compare_rdms, noise_ceiling
from neurodl.tasks.rsa92 import load_it_rdms, rsa_against_it


def test_bundled_rdms_are_the_papers():
    d = load_it_rdms()
    assert d["human_subjects"].shape == (4, 4186)
    assert d["human_names"] == ["BE", "KO", "SN", "TI"]
    assert d["stimuli"].shape == (92, 64)
    assert d["stimuli"].min() >= 0.0 and d["stimuli"].max() <= 1.0
    # figure 1 of Kriegeskorte et al. 2008: human and monkey IT agree (rank r ~ 0.5)
    r = compare_rdms(d["human_it"], d["monkey_it"], "spearman")
    assert 0.3 < r < 0.7
    lower, upper = noise_ceiling(d["human_subjects"], "spearman")
    assert 0 < lower < upper < 1


def test_animacy_network_beats_its_random_twin_and_stays_below_the_ceiling():
    trained = rsa_against_it("animacy")
    random = rsa_against_it("random")
    assert trained.layers[0] == "input"
    assert max(trained.human_mean) > max(random.human_mean) + 0.15
    assert max(trained.human_mean) < trained.ceiling_upper
    assert trained.human_mean[0] == pytest.approx(random.human_mean[0])  # same input


def test_cli_compare_rsa_json(capsys, tmp_path):
    fig = tmp_path / "rsa.png"
    with pytest.raises(SystemExit) as e:
        main(["compare", "rsa", "--model", "random", "--json", "--figure", str(fig)])
    assert (e.value.code or 0) == 0
    data = json.loads(capsys.readouterr().out)
    (res,) = data["models"]
    assert res["layers"] == ["input", "layers.0", "layers.1"]
    assert len(res["human_it_spearman_per_subject"]) == 3
    assert np.all(np.isfinite(res["monkey_it_spearman"]))
    assert fig.read_bytes()[:4] == b"\x89PNG"


def test_cli_compare_rsa_bad_brain(capsys):
    with pytest.raises(SystemExit) as e:
        main(["compare", "rsa", "--brain", "haxby_slice"])
    assert e.value.code == 1
    assert "'--brain' must be 'rsa_92images'" in capsys.readouterr().err
