# The two commands of the README. Each works from a fresh clone with nothing installed:
#   make demo   set up .venv if needed, then run the main job (neurodl tour)
#   make test   set up .venv with the test extras if needed, then run the test suite
# Installs run again only when pyproject.toml or constraints.txt change.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip --disable-pip-version-check
OUT    ?= tour
# compile the simulation kernels once, at install (numba caches them on disk)
COMPILE := $(BIN)/python -c "import neurodl.simulate as s; print(f'compiled simulation kernels in {s.compile_kernels():.1f} s')"

.PHONY: demo test lint clean

demo: $(VENV)/.installed
	$(BIN)/neurodl tour --out $(OUT)

test: $(VENV)/.installed-test
	$(BIN)/python -m pytest

lint: $(VENV)/.installed-test
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
	  { echo "neurodl needs Python >= 3.11; $(PYTHON) is $$($(PYTHON) --version)"; exit 1; }
	$(PYTHON) -m venv $(VENV)

# torch first, pinned (CPU wheel), then the package under the same constraint.
$(VENV)/.torch: constraints.txt | $(BIN)/python
	$(PIP) install -c constraints.txt torch
	@touch $@

$(VENV)/.installed: pyproject.toml constraints.txt $(VENV)/.torch
	$(PIP) install -c constraints.txt -e .
	$(COMPILE)
	@touch $@

$(VENV)/.installed-test: pyproject.toml constraints.txt $(VENV)/.torch
	$(PIP) install -c constraints.txt -e '.[test]'
	$(COMPILE)
	@touch $@ $(VENV)/.installed

clean:
	rm -rf $(VENV) $(OUT) runs .pytest_cache .mypy_cache .ruff_cache
