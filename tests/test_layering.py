"""Layers import only downwards: cli > tasks > viz > imaging > bci > decode > compare >
simulate > learning > networks > neurons|data.

(The contract import-linter would enforce, checked here with the standard library.)
"""

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "neurodl"
RANK = {
    "cli": 5,
    "tasks": 4,
    "imaging": 3.45,
    "bci": 3.4,
    "decode": 3.3,
    "compare": 3.25,
    "models": 3.22,
    "simulate": 3.2,
    "learning": 3,
    "networks": 2,
    "neurons": 1,
    "data": 1,
}
# core modules (errors, _validate, _io, _threads, viz) have rank 0 unless listed
CORE_RANK = {"viz": 3.5}  # figures: above learning, below tasks


def _rank(parts: list[str]) -> float:
    if not parts:
        return 0
    return RANK.get(parts[0], CORE_RANK.get(parts[0], 0))


def _imports(path: Path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            yield node.module
        elif isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)


MODULES = sorted(p for p in SRC.rglob("*.py") if p.name != "__main__.py")


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(SRC)))
def test_imports_point_downwards(path):
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    own = _rank(parts[:1]) if len(parts) > 1 or parts[:1] in (["viz"],) else 0
    for name in _imports(path):
        if not name.startswith("neurodl."):
            continue
        target = name.split(".")[1:]
        if target[:1] == parts[:1]:
            continue  # within one subpackage
        assert _rank(target[:1]) < own or _rank(target[:1]) == 0, (
            f"{path.relative_to(SRC)} (rank {own}) imports {name} "
            f"(rank {_rank(target[:1])})"
        )
