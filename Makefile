# hydra_cnn developer commands. Each target creates .venv on first use.
# torch is installed first and pinned (a CPU build on this kind of machine).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
TORCH ?= torch==2.13.0
EXTRAS ?= dev,safetensors,examples
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench yaml matrix clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet $(TORCH)
	$(PY) -m pip install --quiet -e '.[$(EXTRAS)]'
	touch $(STAMP)

demo: $(STAMP)
	$(PY) examples/train.py

test: $(STAMP)
	$(PY) -m pytest -q --durations=15

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

bench: $(STAMP)
	$(PY) benchmarks/run.py $(if $(QUICK),--quick,)

# Regenerate the shipped YAML options from the dataclasses in hydra_cnn/configs.
yaml: $(STAMP)
	$(PY) -m hydra_cnn.configs.yaml_files

# One cell of the compatibility matrix (docs/compatibility.md): the suite against the built
# wheel in a fresh environment, which is deleted afterwards (a PyPI torch is 5-7 GB).
#   make matrix MATRIX_PY=3.10 MATRIX_REQS="torch==2.4.1 numpy==1.26.4"
MATRIX_PY ?= 3.11
MATRIX_REQS ?= $(TORCH)
matrix: $(STAMP)
	$(VENV)/bin/nox -s tests -P $(MATRIX_PY) -- $(MATRIX_REQS); status=$$?; rm -rf .nox; exit $$status

clean:
	rm -rf $(VENV) build dist *.egg-info outputs multirun .nox .pytest_cache .mypy_cache .ruff_cache
