"""No network: the package and its commands run with sockets blocked (issue 12, §5).

A subprocess replaces the socket calls that reach a network (connect, sendto, bind,
create_connection, getaddrinfo) by one that raises, then imports every module of the
package and runs commands that touch data, models and files. Neural data must never
leave the machine by accident (no downloads, no telemetry). The guard is itself
tested: with it, an HTTP request fails.

The whole test suite also runs with the network blocked (``tests/_offline.py``,
installed by ``conftest.py``; loopback stays open for local plumbing), and
:data:`RUNS_OFFLINE` names, for every command of the CLI, a test that runs it to
success. Lab Streaming Layer, which the ``bci`` commands use on purpose, talks through
liblsl's own C sockets; neurodl keeps its stream discovery on this machine
(``ResolveScope = machine``, :data:`neurodl.bci.stream.LSL_CONFIG`).
"""

import subprocess
import sys
import textwrap

GUARD = textwrap.dedent(
    """
    import socket

    def _blocked(*args, **kwargs):
        raise OSError("network access attempted")

    for _name in ("connect", "connect_ex", "sendto", "bind"):
        setattr(socket.socket, _name, _blocked)
    socket.create_connection = _blocked
    socket.getaddrinfo = _blocked
    """
)


def _run(code: str, tmp_path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", GUARD + textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=tmp_path,
    )


def test_the_guard_blocks_a_request(tmp_path):
    r = _run(
        """
        import urllib.request
        try:
            urllib.request.urlopen("http://example.org", timeout=5)
        except OSError as exc:
            print("blocked:", exc)
        """,
        tmp_path,
    )
    assert r.returncode == 0, r.stderr
    assert "blocked:" in r.stdout and "network access attempted" in r.stdout


def test_every_module_and_the_main_commands_run_offline(tmp_path):
    r = _run(
        """
        import importlib, pkgutil
        import neurodl
        from neurodl.cli.main import main

        names = [
            m.name
            for m in pkgutil.walk_packages(neurodl.__path__, "neurodl.")
            if not m.name.endswith("__main__")
        ]
        for name in names:
            importlib.import_module(name)
        print("imported", len(names))
        (open("rec.bin", "wb")).write(b"a recording" * 1000)
        commands = [
            ["--help"],
            ["data", "list", "--verify"],
            ["learn", "--rule", "fa", "--data", "digits", "--epochs", "1", "--quiet"],
            ["simulate", "neuron", "lif", "--duration", "50"],
            ["demo", "xor", "--epochs", "50", "--restarts", "0", "--quiet"],
            ["keygen", "--out", "k.key"],
            ["encrypt", "rec.bin", "--out", "rec.enc", "--key-file", "k.key"],
            ["decrypt", "rec.enc", "--out", "back.bin", "--key-file", "k.key"],
        ]
        for args in commands:
            try:
                main(args)
            except SystemExit as exc:
                assert exc.code in (0, None), (args, exc.code)
            print("ok", args[0])
        """,
        tmp_path,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    assert "network access attempted" not in r.stderr
    n = int(r.stdout.split("imported ")[1].split()[0])
    assert n > 90
    assert r.stdout.count("\nok ") + r.stdout.startswith("ok ") >= 8
    assert (tmp_path / "back.bin").read_bytes() == b"a recording" * 1000


# Every command of the CLI, and a test that runs it to success. The whole suite runs
# with the network blocked (tests/_offline.py, installed by conftest.py), so each of
# these runs offline.
RUNS_OFFLINE = {
    "tour": "cli/test_cli.py::test_tour",
    "encrypt": "cli/test_privacy_cli.py::test_key_file_and_passphrase_round_trips",
    "decrypt": "cli/test_privacy_cli.py::test_key_file_and_passphrase_round_trips",
    "keygen": "cli/test_privacy_cli.py::test_key_file_and_passphrase_round_trips",
    "deid": "cli/test_deid_cli.py::test_deid_writes_output_mapping_and_report",
    "deface": "privacy/test_deface.py::test_cli",
    "info": "cli/test_dp_cli.py::test_train_info_audit_round_trip",
    "audit membership": "cli/test_dp_cli.py::test_train_info_audit_round_trip",
    "train features": "cli/test_dp_cli.py::test_train_info_audit_round_trip",
    "train eeg": "cli/test_dp_cli.py::test_train_eeg_private_per_subject",
    "train digits": "cli/test_cli.py::test_train_digits",
    "bci replay": "cli/test_bci_cli.py::test_replay_streams_for_the_duration",
    "bci run": "cli/test_bci_cli.py::test_run_decodes_a_live_replay",
    "compare rsa": "cli/test_json_nan.py::test_silent_layer_has_no_rsa",
    "data list": "cli/test_decode_cli.py::test_data_list_json",
    "benchmark eeg": "decode/test_benchmark.py::test_cli_runs_and_names_options",
    "decode eeg": "cli/test_decode_cli.py::test_decode_eeg_csp_lda_as_in_the_issue",
    "decode spikes": "cli/test_decode_cli.py::test_decode_spikes_kalman_json",
    "demo xor": "cli/test_cli.py::test_demo_xor_table",
    "imaging decode": "cli/test_imaging_cli.py::test_decode_text",
    "learn": "cli/test_learn_cli.py::test_learn_fa_reports_curves_accuracy_and_angles",
    "learn stdp-mnist": "test_no_network.py::test_stdp_mnist_runs_offline",
    "simulate neuron": "cli/test_simulate_neuron.py::test_json_output",
    "simulate cuba": "cli/test_simulate_net.py::test_json_keys_and_values",
    "simulate coba": "cli/test_simulate_net.py::test_json_keys_and_values",
    # simulate microcircuit (issue 13, helper "microcircuit")
    "simulate microcircuit": "models/test_potjans_diesmann.py::test_cli_json_shape",
    # Brunel (2000) and the Dask sweep (issue 13, helper "brunel"): a local cluster
    # on 127.0.0.1
    "simulate brunel": "cli/test_brunel_cli.py::test_simulate_brunel_json",
    "sweep brunel": (
        "cli/test_brunel_cli.py::test_sweep_brunel_writes_results_and_figure_and_resumes"
    ),
}


def test_the_suite_runs_offline():
    import urllib.request

    from tests import _offline

    assert _offline.installed()
    try:
        urllib.request.urlopen("http://example.org", timeout=5)
    except OSError as exc:
        assert _offline.MESSAGE in str(exc)
    else:  # pragma: no cover - the guard failed
        raise AssertionError("a request left the machine")


def test_every_command_has_an_offline_run():
    import ast
    from pathlib import Path

    from tests.cli.test_cli_options import _commands

    assert set(RUNS_OFFLINE) == set(_commands())
    root = Path(__file__).parent
    for command, node in RUNS_OFFLINE.items():
        path, name = node.split("::")
        tree = ast.parse((root / path).read_text())
        funcs = {f.name: f for f in ast.walk(tree) if isinstance(f, ast.FunctionDef)}
        assert name in funcs, node
        words = {
            c.value
            for c in ast.walk(funcs[name])
            if isinstance(c, ast.Constant) and isinstance(c.value, str)
        }
        # the test passes the command's words (or a parametrized model name)
        last = command.split()[-1]
        assert last in words or "model" in ast.unparse(funcs[name].args), node


def test_stdp_mnist_runs_offline(capsys):
    import json

    import pytest

    from neurodl.cli.main import main

    with pytest.raises(SystemExit) as info:
        main(
            [
                "learn",
                "stdp-mnist",
                "--neurons",
                "10",
                "--images",
                "20",
                "--test-images",
                "20",
                "--json",
                "--quiet",
            ]
        )
    assert info.value.code in (0, None)
    result = json.loads(capsys.readouterr().out)
    assert result["n_neurons"] == 10 and result["n_test"] == 20


def test_lsl_discovery_stays_on_this_machine():
    from neurodl.bci.stream import LSL_CONFIG

    assert "ResolveScope = machine" in LSL_CONFIG
