"""neurodl.jobs: seeds by parameters, resume after a kill, any number of workers."""

from __future__ import annotations

import json
import socket
import time

import pytest

from neurodl.errors import ValidationError
from neurodl.jobs import grid, parse_grid, parse_scheduler, point_seed, run_jobs
from neurodl.jobs.runner import check_workers, connect_cluster
from tests.jobs._jobs import CALLS, FAIL_AT, noisy

POINTS = grid(x=[float(v) for v in range(6)])


def test_parse_grid():
    assert parse_grid("g", "3:8:17")[:3] == [3.0, 3.3125, 3.625]
    assert parse_grid("g", "3:8:17")[-1] == 8.0
    assert parse_grid("nu", " 0.5 : 4 : 2 ") == [0.5, 4.0]
    assert parse_grid("nu", "2.5") == [2.5]
    assert parse_grid("nu", "1:2:1") == [1.0]
    for bad in ("3:8", "3:8:x", "a:b:c", "3:8:2.5", "", "nan", "3::4", "1:inf:3"):
        with pytest.raises(ValidationError, match=r"'g' must be 'start:stop:count'"):
            parse_grid("g", bad)
    for bad in ("3:8:0", "3:8:-2"):
        with pytest.raises(ValidationError, match=r"'g' must have a count >= 1"):
            parse_grid("g", bad)


def test_parse_scheduler():
    assert parse_scheduler(None, 3) == ("local", 3)
    assert parse_scheduler("local:2", None) == ("local", 2)
    assert parse_scheduler("tcp://10.0.0.1:8786", None) == (
        "address",
        "tcp://10.0.0.1:8786",
    )
    with pytest.raises(ValidationError, match="'n_jobs' and 'scheduler' exclude"):
        parse_scheduler("local:2", 2)
    for bad in ("local:0", "local:x", "somewhere", "10.0.0.1:8786", ""):
        with pytest.raises(ValidationError, match="'scheduler'"):
            parse_scheduler(bad, None)
    with pytest.raises(ValidationError, match="'n_jobs' must be an integer >= 1"):
        parse_scheduler(None, 0)


def test_point_seed_depends_on_the_parameters_only():
    a = point_seed(7, {"g": 5.0, "nu": 2.0})
    assert a == point_seed(7, {"nu": 2.0, "g": 5.0})
    assert a != point_seed(8, {"g": 5.0, "nu": 2.0})
    assert a != point_seed(7, {"g": 5.0, "nu": 2.5})
    assert 0 <= a < 2**63
    with pytest.raises(ValidationError, match=r"'params\.g' must be finite"):
        point_seed(7, {"g": float("nan")})


def test_results_do_not_depend_on_the_number_of_workers(tmp_path):
    one = run_jobs(noisy, POINTS, seed=3, n_jobs=1, out=tmp_path / "one")
    two = run_jobs(noisy, POINTS, seed=3, scheduler="local:2", out=tmp_path / "two")
    assert one["run"]["workers"] == 1 and two["run"]["workers"] == 2
    assert one["points"] == two["points"]
    # a point alone gives what it gives inside the sweep
    for p in one["points"]:
        assert p["result"] == noisy(p["params"], point_seed(3, p["params"]))
    # the result file holds the same, and nothing temporary is left behind
    doc = json.loads((tmp_path / "one" / "results.json").read_text())
    assert doc["points"] == one["points"]
    assert not [f for f in (tmp_path / "one").rglob("*") if f.name.endswith(".tmp")]
    assert len(list((tmp_path / "one" / "points").glob("*.json"))) == len(POINTS)


def test_a_killed_sweep_restarted_runs_only_the_missing_points(tmp_path, monkeypatch):
    calls = tmp_path / "calls"
    calls.mkdir()
    monkeypatch.setenv(CALLS, str(calls))
    monkeypatch.setenv(FAIL_AT, "3")
    out = tmp_path / "sweep"
    with pytest.raises(RuntimeError, match="job killed at x=3"):
        run_jobs(noisy, POINTS, seed=1, n_jobs=1, out=out)
    assert not (out / "results.json").exists()
    stored = {
        json.loads(f.read_text())["params"]["x"] for f in (out / "points").glob("*")
    }
    assert {0.0, 1.0, 2.0} <= stored and 3.0 not in stored
    for f in calls.iterdir():
        f.unlink()
    monkeypatch.delenv(FAIL_AT)
    doc = run_jobs(noisy, POINTS, seed=1, n_jobs=2, out=out)
    ran = {float(f.name) for f in calls.iterdir()}
    assert ran == {p["x"] for p in POINTS} - stored
    assert doc["run"]["computed"] == len(ran) and doc["run"]["reused"] == len(stored)
    fresh = run_jobs(noisy, POINTS, seed=1, n_jobs=1)
    assert doc["points"] == fresh["points"]
    # a third start finds every point and starts no cluster
    for f in calls.iterdir():
        f.unlink()
    again = run_jobs(noisy, POINTS, seed=1, out=out)
    assert again["run"]["computed"] == 0 and not list(calls.iterdir())
    # other settings are other points
    other = run_jobs(noisy, POINTS[:2], seed=1, common={"n": 3}, n_jobs=1, out=out)
    assert other["run"]["reused"] == 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_scheduler_that_does_not_answer_is_one_clear_error(tmp_path):
    address = f"tcp://127.0.0.1:{_free_port()}"
    out = tmp_path / "out"
    t0 = time.perf_counter()
    with pytest.raises(
        ValidationError, match=r"'scheduler' .* does not answer"
    ) as info:
        run_jobs(noisy, POINTS, scheduler=address, out=out, timeout_s=2.0)
    assert address in str(info.value)
    assert time.perf_counter() - t0 < 20
    assert not out.exists()


def test_a_scheduler_without_workers_is_one_clear_error():
    # jobs sent to it would wait forever
    from distributed import LocalCluster

    with LocalCluster(n_workers=0, host="127.0.0.1", dashboard_address=None) as cluster:
        address = cluster.scheduler_address
        t0 = time.perf_counter()
        with pytest.raises(ValidationError, match=r"answers but has no workers") as e:
            connect_cluster("address", address, 2.0)
        assert f"'dask worker {address}'" in str(e.value)
        assert time.perf_counter() - t0 < 20


def test_workers_with_another_neurodl_are_named():
    from importlib.metadata import PackageNotFoundError, version

    class Client:  # what a scheduler with three workers answers
        def wait_for_workers(self, n, timeout):
            pass

        def run(self, fn, *args, on_error):
            assert (fn, args, on_error) == (version, ("neurodl",), "return")
            return {
                "tcp://10.0.0.1:1": version("neurodl"),
                "tcp://10.0.0.2:1": "0.0.9",
                "tcp://10.0.0.3:1": PackageNotFoundError("neurodl"),
            }

    with pytest.raises(ValidationError) as e:
        check_workers(Client(), "tcp://10.0.0.9:8786", 1.0)
    text = str(e.value)
    assert "tcp://10.0.0.2:1 has 0.0.9, tcp://10.0.0.3:1 has no neurodl" in text
    assert "10.0.0.1" not in text and f"neurodl {version('neurodl')}" in text


def test_bad_points():
    with pytest.raises(ValidationError, match="repeats an earlier point"):
        run_jobs(noisy, [{"x": 1.0}, {"x": 1.0}], n_jobs=1)
    with pytest.raises(ValidationError, match="'points' must hold at least one"):
        run_jobs(noisy, [], n_jobs=1)
    with pytest.raises(ValidationError, match="both set"):
        run_jobs(noisy, [{"x": 1.0}], common={"x": 2.0}, n_jobs=1)
    with pytest.raises(ValidationError, match="'seed' must be an integer >= 0"):
        run_jobs(noisy, [{"x": 1.0}], seed=-1, n_jobs=1)


def test_an_existing_scheduler_by_address(tmp_path):
    # a cluster started elsewhere (here: on this machine's loopback) is used by its
    # address, and left running afterwards
    from distributed import LocalCluster

    with LocalCluster(
        n_workers=1,
        threads_per_worker=1,
        host="127.0.0.1",
        dashboard_address=None,
        memory_limit=0,
    ) as cluster:
        doc = run_jobs(noisy, POINTS[:3], seed=3, scheduler=cluster.scheduler_address)
        assert doc["run"]["workers"] == 1
        assert cluster.scheduler.status.name == "running"
    alone = [noisy(p, point_seed(3, p)) for p in POINTS[:3]]
    assert [p["result"] for p in doc["points"]] == alone
