"""No loader in the package can run code: no pickle anywhere (issue 12, section 5).

Pickle-based formats execute code while loading, so a shared recording or model file
could take over the machine. The package must not import a pickle-family module
(pickle, cloudpickle, dill, marshal, shelve, joblib's loader) nor call a loader that
unpickles (``torch.load``, ``joblib.load``, ``pandas.read_pickle``, ``np.load`` /
``numpy.load`` with ``allow_pickle=True``). Checked on the syntax tree of every module
of ``src/neurodl``; the checker itself is tested on snippets so that it can fail.
"""

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "neurodl"

MODULES = {"pickle", "_pickle", "cPickle", "cloudpickle", "dill", "marshal", "shelve"}
# (object, attribute) calls that unpickle
CALLS = {
    ("torch", "load"),
    ("joblib", "load"),
    ("pickle", "load"),
    ("pickle", "loads"),
    ("pd", "read_pickle"),
    ("pandas", "read_pickle"),
}
NUMPY = {"np", "numpy"}


def _dotted(node: ast.expr) -> tuple[str, str] | None:
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
        return node.value.id, node.attr
    return None


def violations(source: str) -> list[str]:
    """Return one line per pickle import or unpickling call in ``source``."""
    out = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            out += [
                f"{node.lineno}: import {a.name}"
                for a in node.names
                if a.name.split(".")[0] in MODULES
            ]
        elif isinstance(node, ast.ImportFrom) and node.module:
            top = node.module.split(".")[0]
            names = {a.name for a in node.names}
            if top in MODULES or (top == "joblib" and "load" in names):
                out.append(f"{node.lineno}: from {node.module} import ...")
            if top in {"torch", "pandas"} and names & {"load", "read_pickle"}:
                out.append(f"{node.lineno}: from {node.module} import a loader")
        elif isinstance(node, ast.Call):
            name = _dotted(node.func)
            if name in CALLS:
                out.append(f"{node.lineno}: {name[0]}.{name[1]}(...)")
            elif name is not None and name[0] in NUMPY and name[1] == "load":
                for kw in node.keywords:
                    value = kw.value
                    if kw.arg == "allow_pickle" and not (
                        isinstance(value, ast.Constant) and value.value is False
                    ):
                        out.append(f"{node.lineno}: {name[0]}.load(allow_pickle=...)")
    return out


@pytest.mark.parametrize(
    "snippet",
    [
        "import pickle",
        "import cloudpickle as cp",
        "from dill import loads",
        "from joblib import load",
        "import torch\ntorch.load('m.pt')",
        "import joblib\njoblib.load('m.joblib')",
        "import numpy as np\nnp.load('a.npy', allow_pickle=True)",
        "import numpy\nnumpy.load('a.npz', allow_pickle=flag)",
        "import pandas as pd\npd.read_pickle('t.pkl')",
        "from torch import load",
    ],
)
def test_the_checker_catches_each_form(snippet):
    assert violations(snippet), snippet


@pytest.mark.parametrize(
    "snippet",
    [
        "import numpy as np\nnp.load('a.npz', allow_pickle=False)",
        "import numpy as np\nnp.load('a.npy')",
        "import joblib\njoblib.Parallel(n_jobs=2)",
        "from safetensors.torch import load_file",
        "import torch\ntorch.save",
    ],
)
def test_the_checker_passes_safe_code(snippet):
    assert violations(snippet) == []


def test_no_module_of_the_package_can_unpickle():
    files = sorted(SRC.rglob("*.py"))
    assert len(files) > 50
    found = {
        str(p.relative_to(SRC)): v for p in files if (v := violations(p.read_text()))
    }
    assert found == {}
