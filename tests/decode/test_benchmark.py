"""Evaluation across subjects: MNE and MOABB protocols, backends, cache, errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from neurodl.decode import benchmark as bm
from neurodl.decode.benchmark import evaluate_subjects
from neurodl.decode.report import to_markdown
from neurodl.decode.subjects import PROTOCOLS, TASKS, load_subject, parse_subjects
from neurodl.decode.transfer import alignment_filter, calibration_draws
from neurodl.decode.units import CALIBRATION_REPEATS, run_unit
from neurodl.errors import DataFileError, ValidationError
from neurodl.viz import save_pair_scores

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data" / "eegmmidb"
REFERENCE = Path(__file__).resolve().parents[1] / "reference"


def _need(*subjects: int) -> Path:
    for s in subjects:
        if not (SHARED / f"S{s:03d}").is_dir():
            pytest.skip(f"eegmmidb S{s:03d} is not in {SHARED}")
    return SHARED


def _scores(doc: dict) -> dict:
    return {
        (
            u["spec"]["task"],
            u["spec"]["pipeline"],
            u["spec"]["subject"],
            u["spec"]["seed"],
        ): [(f["accuracy"], f["roc_auc"], f["test"]) for f in u["result"]["folds"]]
        for u in doc["units"]
    }


def test_mne_protocol_keeps_the_s001_anchor() -> None:
    """MNE's CSP example on S001 (both fists vs both feet) scores 0.9333."""
    data = _need(1)
    doc = evaluate_subjects(data, [1], tasks=["hands-feet"], pipelines=["csp-lda"])
    (unit,) = doc["units"]
    assert unit["result"]["accuracy"] == pytest.approx(0.9333, abs=5e-5)
    assert len(unit["result"]["folds"]) == 10
    row = doc["report"]["table"][0]
    assert row["trials_per_class"] == {"both_feet": 24, "both_fists": 21}
    assert row["chance_threshold"] == pytest.approx(29 / 45)  # Combrisson & Jerbi
    assert row["above_chance"] is True


def test_moabb_protocol_equals_moabb_subject_by_subject() -> None:
    """Scores equal MOABB 1.7.2's own (run beside it; its folds) to 1e-6."""
    data = _need(*range(1, 9))
    ref = json.loads((REFERENCE / "moabb_within_left_right.json").read_text())
    doc = evaluate_subjects(
        data, range(1, 9), pipelines=["csp-lda", "riemann"], protocol="moabb"
    )
    ours = {
        (u["spec"]["subject"], u["spec"]["pipeline"]): u["result"] for u in doc["units"]
    }
    name = {"csp-lda": "csp-lda", "ts-lr": "riemann"}
    assert len(ref["scores"]) == 16
    for r in ref["scores"]:
        res = ours[r["subject"], name[r["pipeline"]]]
        assert res["roc_auc"] == pytest.approx(r["roc_auc"], abs=1e-6)
        folds = [f["roc_auc"] for f in res["folds"]]
        np.testing.assert_allclose(folds, r["fold_roc_auc"], atol=1e-6)
    # the results the tour draws again were recorded by this same computation
    from neurodl.tasks.tour import RECORDED_SUBJECTS

    recorded = json.loads(RECORDED_SUBJECTS.read_text())["evaluations"]["within"]
    table = {
        (r["pipeline"], r["subject"]): r["roc_auc"]
        for r in recorded["report"]["table"]
        if r["task"] == "left-right"
    }
    for (subject, pipe), res in ours.items():
        assert table[pipe, subject] == pytest.approx(res["roc_auc"], abs=1e-12)


def test_moabb_epochs_are_moabbs() -> None:
    """481 samples (0-3 s inclusive at 160 Hz), µV, MOABB's first samples of S001."""
    data = _need(1)
    sub = load_subject(data, 1, TASKS["left-right"], PROTOCOLS["moabb"])
    assert sub.X.shape == (45, 64, 481)
    assert sub.trials_per_class() == {"left_fist": 23, "right_fist": 22}
    # MOABB 1.7.2's paradigm.get_data X[0, 0, :5] for S001 (FC5, µV)
    expected = [
        -20.186672225360088,
        -15.236800251097367,
        -0.4406467834378081,
        18.943005030405665,
        32.1477466618713,
    ]
    np.testing.assert_allclose(sub.X[0, 0, :5], expected, rtol=1e-9)
    assert sub.ch_names[0] == "FC5"
    first = [
        "right",
        "left",
        "left",
        "right",
        "right",
        "left",
        "right",
        "left",
        "right",
        "left",
    ]
    assert [sub.classes[i] for i in sub.y[:10]] == [f"{c}_fist" for c in first]


def test_backends_give_identical_scores(tmp_path: Path) -> None:
    """Serial, joblib (2 processes) and a local Dask cluster (2 workers) agree."""
    data = _need(1, 2)
    kw = dict(tasks=["hands-feet"], pipelines=["csp-lda", "mdm"], scheme="within")
    serial = evaluate_subjects(data, [1, 2], **kw)
    joblib = evaluate_subjects(data, [1, 2], n_jobs=2, **kw)
    dask = evaluate_subjects(data, [1, 2], scheduler="local:2", **kw)
    assert serial["run"]["backend"] == "serial"
    assert joblib["run"]["backend"] == "joblib"
    assert dask["run"]["backend"] == "dask" and dask["run"]["workers"] == 2
    assert _scores(serial) == _scores(joblib) == _scores(dask)


def test_interrupted_evaluation_computes_only_what_is_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = _need(1, 2, 3)
    kw = dict(tasks=["hands-feet"], pipelines=["csp-lda"], out=tmp_path)
    real = bm.run_unit

    def dies_on_subject_3(spec, subjects):  # type: ignore[no-untyped-def]
        if spec["subject"] == 3:
            raise KeyboardInterrupt
        return real(spec, subjects)

    monkeypatch.setattr(bm, "run_unit", dies_on_subject_3)
    with pytest.raises(KeyboardInterrupt):
        evaluate_subjects(data, [1, 2, 3], **kw)
    assert len(list((tmp_path / "cache").glob("*.json"))) == 2  # S001, S002 kept
    monkeypatch.setattr(bm, "run_unit", real)
    doc = evaluate_subjects(data, [1, 2, 3], **kw)
    assert (doc["run"]["computed"], doc["run"]["reused"]) == (1, 2)
    full = evaluate_subjects(
        data, [1, 2, 3], tasks=["hands-feet"], pipelines=["csp-lda"]
    )
    assert _scores(doc) == _scores(full)
    # a new pipeline computes only itself; the files record provenance
    doc2 = evaluate_subjects(
        data,
        [1, 2, 3],
        tasks=["hands-feet"],
        pipelines=["csp-lda", "mdm"],
        out=tmp_path,
    )
    assert (doc2["run"]["computed"], doc2["run"]["reused"]) == (3, 3)
    stored = json.loads((tmp_path / "results.json").read_text())
    files = stored["subjects"]["hands-feet"]["1"]["files"]
    assert set(files) == {"S001R06.edf", "S001R10.edf", "S001R14.edf"}
    assert files["S001R06.edf"].startswith("5369364f")  # PhysioNet's sha256
    assert {"numpy", "scikit-learn", "mne", "pyriemann"} <= set(stored["versions"])
    assert stored["units"][0]["spec"]["cv_seed"] == 42


def _csp_lda(out: Path) -> dict[str, Any]:
    return dict(tasks=["hands-feet"], pipelines=["csp-lda"], out=out)


def _stored_then_edited(tmp_path: Path, *edits: Any) -> tuple[dict, list[Path]]:
    """Evaluate CSP+LDA on S001-S002, then edit the i-th stored result with edits[i]."""
    first = evaluate_subjects(_need(1, 2), [1, 2], **_csp_lda(tmp_path))
    paths = sorted((tmp_path / "cache").glob("*.json"))
    for path, edit in zip(paths, edits, strict=False):
        stored = json.loads(path.read_text())
        edit(stored["result"])
        path.write_text(json.dumps(stored))
    return first, paths


def test_unit_stored_without_a_score_is_recomputed(tmp_path: Path) -> None:
    """A unit cached before its scores included the majority share is run again."""
    # as an earlier version stored it
    first, (old, _) = _stored_then_edited(tmp_path, lambda r: r.pop("majority_share"))
    doc = evaluate_subjects(_need(1, 2), [1, 2], **_csp_lda(tmp_path))
    assert (doc["run"]["computed"], doc["run"]["reused"]) == (1, 1)
    assert _scores(doc) == _scores(first)
    assert all(u["result"]["majority_share"] is not None for u in doc["units"])
    assert "majority_share" in json.loads(old.read_text())["result"]  # stored anew


def test_unit_stored_by_another_neurodl_is_recomputed(tmp_path: Path) -> None:
    """Another neurodl may score a pipeline differently: its units run again."""
    first, paths = _stored_then_edited(
        tmp_path,
        lambda r: r["versions"].update(neurodl="0.0.1"),
        lambda r: r.pop("versions"),  # as neurodl stored units before recording them
    )
    assert all(u["result"]["versions"] == first["versions"] for u in first["units"])
    doc = evaluate_subjects(_need(1, 2), [1, 2], **_csp_lda(tmp_path))
    assert (doc["run"]["computed"], doc["run"]["reused"]) == (2, 0)
    assert _scores(doc) == _scores(first)
    for path in paths:  # stored anew, with this version
        assert json.loads(path.read_text())["result"]["versions"] == doc["versions"]
    assert doc["report"]["other_versions"] == []
    assert "other package versions" not in to_markdown(doc)


def test_units_computed_under_other_dependencies_are_named(tmp_path: Path) -> None:
    """A unit computed before a dependency was upgraded is kept, and reported."""
    first, _ = _stored_then_edited(
        tmp_path, lambda r: r["versions"].update(numpy="1.26.4")
    )
    doc = evaluate_subjects(_need(1, 2), [1, 2], **_csp_lda(tmp_path))
    assert (doc["run"]["computed"], doc["run"]["reused"]) == (0, 2)
    assert _scores(doc) == _scores(first)
    assert doc["report"]["other_versions"] == [
        {"package": "numpy", "version": "1.26.4", "units": 1}
    ]
    assert sorted(u["result"]["versions"]["numpy"] for u in doc["units"]) == sorted(
        ["1.26.4", doc["versions"]["numpy"]]
    )
    assert (
        f"numpy 1.26.4 (this run: {doc['versions']['numpy']}) in 1 of 2 units"
        in to_markdown(doc)
    )
    stored_doc = json.loads((tmp_path / "results.json").read_text())
    assert stored_doc["report"]["other_versions"] == doc["report"]["other_versions"]


def test_changed_data_is_recomputed(tmp_path: Path) -> None:
    data = _need(1)
    kw = dict(tasks=["hands-feet"], pipelines=["csp-lda"], out=tmp_path)
    evaluate_subjects(data, [1], **kw)
    doc = evaluate_subjects(data, [1], min_trials_per_class=6, **kw)
    assert doc["run"]["computed"] == 1  # another protocol setting: other key


def test_bad_input_errors_are_clear(tmp_path: Path) -> None:
    data = _need(1, 2)
    with pytest.raises(
        ValidationError, match=r"subject 2 \(S002\).*at least 30 trials"
    ):
        evaluate_subjects(data, [2], tasks=["hands-feet"], min_trials_per_class=30)
    with pytest.raises(
        ValidationError, match=r"'runs' must be runs of the 'left-right'"
    ):
        evaluate_subjects(data, [1], runs=[4, 6])
    with pytest.raises(DataFileError, match=r"lacks subject 99's run 4"):
        evaluate_subjects(data, [99])
    with pytest.raises(ValidationError, match=r"'align' 'ea' .* needs scheme 'loso'"):
        evaluate_subjects(data, [1, 2], align="ea")
    with pytest.raises(ValidationError, match="'pipelines' must be one of"):
        evaluate_subjects(data, [1], pipelines=["svm"])
    with pytest.raises(
        ValidationError,
        match=r"'align' 'tangent' centres .* 'riemann' only; got pipelines \['mdm'\]",
    ):
        evaluate_subjects(
            data, [1, 2], scheme="loso", align="tangent", pipelines=["riemann", "mdm"]
        )
    # an unreachable scheduler: one error, what is stored stays
    evaluate_subjects(data, [1], pipelines=["csp-lda"], out=tmp_path)
    with pytest.raises(ValidationError, match="does not answer"):
        evaluate_subjects(
            data,
            [1, 2],
            pipelines=["csp-lda"],
            out=tmp_path,
            scheduler="tcp://127.0.0.1:9",
            timeout_s=2,
        )
    assert len(list((tmp_path / "cache").glob("*.json"))) == 1


def test_loso_needs_one_channel_set() -> None:
    data = _need(1, 2)

    def loader(subject: int):  # type: ignore[no-untyped-def]
        from neurodl.data.eeg import load_eeg

        picks = None if subject == 1 else ["C3", "Cz", "C4"]
        return load_eeg(data, subject=subject, runs=(6, 10, 14), picks=picks)

    with pytest.raises(ValidationError, match=r"subject 2 lacks \['AF3'"):
        evaluate_subjects(loader, [1, 2], tasks=["hands-feet"], scheme="loso")


def test_loso_alignment_and_calibration_curve() -> None:
    data = _need(1, 2, 3)
    doc = evaluate_subjects(
        data,
        [1, 2, 3],
        tasks=["hands-feet"],
        pipelines=["csp-lda"],
        scheme="loso",
        align="ea",
        calibration=[0, 4],
    )
    assert doc["run"]["units"] == 3
    unit = doc["units"][0]
    assert unit["result"]["n_train"] == 90  # the two other subjects' trials
    assert 0.5 <= unit["result"]["majority_share"] <= 1.0  # two classes
    curve = doc["report"]["calibration"]["hands-feet"]["csp-lda"]
    assert set(curve) == {"0", "4"} and curve["0"]["n"] == 3
    draws = unit["result"]["calibration"]["4"]
    assert len(draws) == CALIBRATION_REPEATS
    for d in draws:
        assert not set(d["calibration"]) & set(d["test"])
        assert len(d["calibration"]) == 8
    text = to_markdown(doc)
    assert "calibration trials per class" in text
    # the subjects were aligned once before dispatch; aligning inside the unit
    # (from the raw epochs) gives the same numbers
    raw = [
        {"subject": s, "X": sub.X, "y": sub.y, "groups": sub.groups}
        for s in (1, 2, 3)
        for sub in [load_subject(data, s, TASKS["hands-feet"], PROTOCOLS["mne"])]
    ]
    again = run_unit(unit["spec"], raw)
    assert again["folds"][0]["accuracy"] == unit["result"]["folds"][0]["accuracy"]
    assert again["calibration"] == unit["result"]["calibration"]


def test_euclidean_alignment_whitens_the_mean_covariance() -> None:
    """He & Wu: after EA the arithmetic mean of the trial covariances is I."""
    rng = np.random.default_rng(0)
    mix = rng.normal(size=(6, 6))
    X = np.einsum("ij,njt->nit", mix, rng.normal(size=(40, 6, 500)))
    W = alignment_filter(X, "ea")
    from pyriemann.geometry.covariance import covariances

    mean = covariances(X, estimator="lwf").mean(axis=0)
    np.testing.assert_allclose(W @ mean @ W, np.eye(6), atol=1e-8)
    np.testing.assert_allclose(W, W.T)
    R = alignment_filter(X, "recenter")
    from pyriemann.geometry.mean import mean_riemann

    M = mean_riemann(covariances(X, estimator="oas"))
    np.testing.assert_allclose(R @ M @ R, np.eye(6), atol=1e-8)
    assert alignment_filter(X, "none") is None


def _erd_subjects() -> tuple[list[tuple[np.ndarray, np.ndarray]], tuple]:
    """Four source subjects and a new user with 3x the power on channel 0.

    60 trials of 6 channels each; class 0 lowers channel 0's variance to 0.6 of the
    subject's power, class 1 channel 1's (see the threshold test below).
    """
    rng = np.random.default_rng(0)

    def subject(power: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        y = np.repeat([0, 1], 30)
        scale = np.tile(np.sqrt(power), (y.size, 1))
        scale[y == 0, 0] *= np.sqrt(0.6)
        scale[y == 1, 1] *= np.sqrt(0.6)
        return scale[:, :, None] * rng.normal(size=(y.size, 6, 300)), y

    sources = [subject(np.exp(rng.normal(0, 0.1, 6))) for _ in range(4)]
    return sources, subject(np.array([3.0, 1, 1, 1, 1, 1]))


def test_alignment_brings_back_a_new_users_threshold() -> None:
    """A subject with a stronger rhythm on one channel defeats the unaligned
    decoder's threshold, not its ranking; EA puts the threshold back.

    Motor imagery desynchronises a rhythm relative to the subject's own power
    (ERD, Pfurtscheller & Lopes da Silva 1999). Each subject here has its own
    channel powers ``p`` and the same relative modulation: class 0 lowers channel
    0's variance to 0.6 of its power, class 1 channel 1's. EA whitens each
    subject by its own mean covariance, so the aligned subjects coincide; without
    it the new user's 3x power on channel 0 makes every trial look like class 1.
    """
    from sklearn.metrics import roc_auc_score

    from neurodl.decode.transfer import align
    from neurodl.decode.units import build_pipeline

    sources, (Xt, yt) = _erd_subjects()
    scores = {}
    for method in ("none", "ea"):

        def al(X: np.ndarray, m: str = method) -> np.ndarray:
            return align(X, alignment_filter(X, m))

        est = build_pipeline("riemann", PROTOCOLS["moabb"], sfreq=100.0, rank=6)
        est.fit(
            np.concatenate([al(X) for X, _ in sources]),
            np.concatenate([y for _, y in sources]),
        )
        Xa = al(Xt)
        pred = est.predict(Xa)
        scores[method] = (
            float(np.mean(pred == yt)),
            float(roc_auc_score(yt, est.decision_function(Xa))),
            float(max(pred.mean(), 1 - pred.mean())),
        )
    acc, auc, share = scores["none"]
    assert auc > 0.95 and acc < 0.65 and share > 0.8  # ranks well, one command
    acc, auc, share = scores["ea"]
    assert auc > 0.95 and acc > 0.9 and share < 0.6


@pytest.mark.parametrize("protocol", ["moabb", "mne"])
def test_tangent_centring_is_pyriemanns_tlcenter(protocol: str) -> None:
    """``align="tangent"``: pyRiemann's TangentSpace, then its TLCenter on the
    tangent vectors of each subject (the new user's from its unlabelled trials),
    then the pipeline's logistic regression; the same scores to 1e-12.

    On the subjects of the threshold test above (a new user with 3x the power on
    channel 0), centring keeps the ranking and puts the threshold back, as EA does,
    without a filter on the signals.
    """
    from pyriemann.estimation import Covariances
    from pyriemann.tangentspace import TangentSpace
    from pyriemann.transfer import TLCenter, encode_domains
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score

    sources, new_user = _erd_subjects()
    data = [*sources, new_user]
    subjects = [
        {"subject": i + 1, "X": X, "y": y, "groups": np.zeros(y.size, int)}
        for i, (X, y) in enumerate(data)
    ]
    spec = {
        "task": "t",
        "classes": ["a", "b"],
        "pipeline": "riemann",
        "subject": 5,
        "scheme": "loso",
        "protocol": protocol,
        "align": "tangent",
        "calibration": [],
        "seed": 0,
        "cv_seed": 42,
        "sfreq": 100.0,
        "rank": None,
    }
    got = run_unit(spec, subjects)

    covs = [Covariances("oas").transform(X) for X, _ in data]
    ts = TangentSpace(metric="riemann").fit(np.concatenate(covs[:4]))
    V = np.concatenate([ts.transform(c) for c in covs[:4]])
    y_src = np.concatenate([y for _, y in data[:4]])
    domains = np.repeat(["s1", "s2", "s3", "s4"], 60)
    _, y_enc = encode_domains(V, y_src, domains)
    V = TLCenter(target_domain="s1").fit_transform(V, y_enc)
    Vt = ts.transform(covs[4])
    _, yt_enc = encode_domains(Vt, data[4][1], np.repeat(["new"], 60))
    Vt = TLCenter(target_domain="new").fit(Vt, yt_enc).transform(Vt)
    lr = LogisticRegression(C=1.0, max_iter=100 if protocol == "moabb" else 1000)
    lr.fit(V, y_src)
    d = lr.decision_function(Vt)
    yt = data[4][1]
    assert got["accuracy"] == float(np.mean((d > 0) == yt))
    assert got["roc_auc"] == pytest.approx(roc_auc_score(yt, d), abs=1e-12)
    assert got["roc_auc"] > 0.95 and got["accuracy"] > 0.9
    assert got["majority_share"] == max(np.mean(d > 0), np.mean(d <= 0)) < 0.6
    # the report's majority share catches the unaligned decoder's one command
    spec["align"] = "none"
    unaligned = run_unit(spec, subjects)
    assert unaligned["majority_share"] > 0.8 and unaligned["roc_auc"] > 0.95
    spec["align"] = "tangent"

    # calibration trials of the new user keep the new user's centre
    spec["calibration"] = [0, 4]
    curve = run_unit(spec, subjects)["calibration"]
    assert len(curve["4"]) == CALIBRATION_REPEATS
    assert all(d["accuracy"] > 0.9 for d in curve["4"])


def test_report_shows_accuracy_beside_a_threshold_free_metric() -> None:
    from neurodl.decode.report import summarize

    doc: dict = {
        "protocol": {"name": "moabb", "metric": "roc_auc"},
        "scheme": "loso",
        "align": "none",
        "seeds": [0],
        "calibration": None,
        "subjects": {
            "left-right": {
                str(s): {"trials_per_class": {"left_fist": 22, "right_fist": 23}}
                for s in (1, 2)
            }
        },
        "units": [
            {
                "spec": {
                    "task": "left-right",
                    "pipeline": "riemann",
                    "subject": s,
                    "seed": 0,
                },
                "result": {
                    "accuracy": acc,
                    "roc_auc": auc,
                    "majority_share": share,
                    "folds": [{"fit_s": 0.1}],
                },
            }
            for s, acc, auc, share in ((1, 0.5, 0.9, 1.0), (2, 0.6, 0.8, 0.7))
        ],
    }
    doc["report"] = summarize(doc)
    text = to_markdown(doc)
    assert "| above chance | accuracy (mean) | majority share (mean) |" in text
    assert "| 0.850 ± 0.071 |" in text and "| 0.550 | 0.85 |" in text
    # a unit stored before the majority share was recorded: no figure, no error
    del doc["units"][1]["result"]["majority_share"]
    doc["report"] = summarize(doc)
    assert "| 0.550 | — |" in to_markdown(doc)
    # within a subject the column is left out
    doc["scheme"] = "within"
    assert "majority share" not in to_markdown(doc)


def test_calibration_draws_are_nested_and_test_sets_shared() -> None:
    y = np.repeat([0, 1], [22, 23])
    for calib, test in calibration_draws(y, (0, 4, 8), repeats=3, seed=1):
        assert set(calib[4]) <= set(calib[8]) and calib[0].size == 0
        assert not set(calib[8]) & set(test)
        assert np.bincount(y[calib[8]]).tolist() == [8, 8]
        assert test.size == 45 - 16
    with pytest.raises(ValidationError, match="more than 22 trials"):
        calibration_draws(y, (22,), repeats=1, seed=0)


def test_parse_subjects() -> None:
    assert parse_subjects("1-3,7") == [1, 2, 3, 7]
    assert parse_subjects([3, 1]) == [1, 3]
    for bad in ("0-2", "3-1", "a", "1,1"):
        with pytest.raises(ValidationError, match="'subjects'"):
            parse_subjects(bad)


def test_cli_runs_and_names_options(tmp_path: Path) -> None:
    from neurodl.cli.main import app

    data = _need(1, 2)
    runner = CliRunner()
    res = runner.invoke(
        app,
        [
            "benchmark",
            "eeg",
            "--data",
            str(data),
            "--subjects",
            "1-2",
            "--task",
            "hands-feet",
            "--pipelines",
            "csp-lda",
            "mdm",
            "--out",
            str(tmp_path),
            "--quiet",
        ],
    )
    assert res.exit_code == 0, res.output
    assert "csp-lda vs mdm" in res.output
    assert (tmp_path / "report.md").is_file() and (tmp_path / "pairs.png").is_file()
    for args, msg in (
        (["--task", "feet"], "'--task' must be one of"),
        (["--runs", "4", "6"], "'--runs' must be runs of the 'left-right' task"),
        (["--subjects", "0"], "'--subjects' must be subject numbers"),
        (["--scheme", "kfold"], "'--scheme' must be one of"),
        (
            ["--scheme", "loso", "--align", "tangent", "--pipelines", "csp-lda"],
            "'--align' 'tangent' centres each subject's tangent vectors",
        ),
    ):
        res = runner.invoke(
            app,
            ["benchmark", "eeg", "--data", str(data), "--out", str(tmp_path), *args],
        )
        assert res.exit_code != 0
        assert msg in str(res.exception), res.exception


def test_pair_figure(tmp_path: Path) -> None:
    data = _need(1, 2)
    doc = evaluate_subjects(
        data, [1, 2], tasks=["hands-feet"], pipelines=["csp-lda", "mdm"]
    )
    path = save_pair_scores(doc, "csp-lda", "mdm", tmp_path / "p.png")
    assert path.stat().st_size > 1000
