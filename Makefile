# Two commands: `make demo` (demo needs only, then the embedded demo) and `make test` (everything,
# then the whole suite). Both create .venv on first use and reinstall only when requirements change.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# No wheel cache: where pip downloads torch and its CUDA libraries (~4 GB) a cache would keep a
# second copy of them on disk, and a CI machine's disk can be small.
PIP_FLAGS := --disable-pip-version-check --no-cache-dir
PIP := $(BIN)/python -m pip $(PIP_FLAGS)
# uv installs the demo's wheels in parallel, a tenth of pip's CPU time. It leaves bytecode to be
# compiled at first import, as Python does by default: compiling every module of the demo's
# packages at install costs more than the demo compiling only what it imports. Pinned; it comes
# from PyPI into the venv itself, so nothing is needed beforehand. The environments with torch
# keep pip, which reads the machine's pip configuration (indexes, constraints) that uv does not.
UV_VERSION := 0.13.9
UV := $(BIN)/uv
# SLEAP runs in its own environment; tests build it once here and reuse it.
SLEAP_VENV := .venv-sleap
# The onnx_cuda environment (envs/onnx-cuda.yaml as a venv); tests build it once here and reuse it.
ONNX_CUDA_VENV := .venv-onnx-cuda
CORES ?= all

.PHONY: demo test lint unit bench clean sleap-env onnx-cuda-env slurm-cluster check-config

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(UV): | $(BIN)/python
	$(PIP) install --quiet uv==$(UV_VERSION)

$(VENV)/.demo-installed: requirements/demo.txt | $(UV)
	$(UV) pip install --quiet --python $(BIN)/python -r requirements/demo.txt
	touch $@

# On top of the demo's packages (uv, fast), pip adds the rest.
$(VENV)/.test-installed: requirements/test.txt $(VENV)/.demo-installed
	$(PIP) install --quiet -r requirements/test.txt
	touch $@

# The SLEAP environment pins the main one's torch build: its files (~5 GB with the CUDA
# libraries) are hard-linked from .venv rather than installed twice (tools/link-packages.py).
$(SLEAP_VENV)/.installed: requirements/sleap.txt | $(VENV)/.test-installed
	$(PYTHON) -m venv $(SLEAP_VENV)
	$(PYTHON) tools/link-packages.py $(VENV) $(SLEAP_VENV) torch torchvision
	$(SLEAP_VENV)/bin/python -m pip $(PIP_FLAGS) install --quiet -r requirements/sleap.txt
	touch $@

sleap-env: $(SLEAP_VENV)/.installed

$(ONNX_CUDA_VENV)/.installed: requirements/onnx-cuda.txt
	$(PYTHON) -m venv $(ONNX_CUDA_VENV)
	$(ONNX_CUDA_VENV)/bin/python -m pip $(PIP_FLAGS) install --quiet -r requirements/onnx-cuda.txt
	touch $@

onnx-cuda-env: $(ONNX_CUDA_VENV)/.installed

# uv installs without bytecode: where PYTHONDONTWRITEBYTECODE is set (containers, CI), each job of
# the demo and of the tests would compile everything it imports again. They write the bytecode
# once instead (into .venv and the workflow's __pycache__ folders, both ignored by git).
WRITE_BYTECODE := PYTHONDONTWRITEBYTECODE=

demo: $(VENV)/.demo-installed
	$(WRITE_BYTECODE) $(BIN)/snakemake --cores $(CORES)
	$(WRITE_BYTECODE) $(BIN)/snakemake --report results/demo/report.html
	@echo "Demo results: $(CURDIR)/results/demo/ (per video: detections.parquet, tracks.parquet,"
	@echo "tracks.csv, evaluation.csv, provenance.json, overlay.mp4, plots/; all videos:"
	@echo "evaluation_summary.csv, report/summary.csv)"
	@echo "Report: $(CURDIR)/results/demo/report.html"

# Snakemake reads a --configfile before the workflow starts and names no line of a YAML error:
# `make check-config CONFIG=your.yaml` does.
CONFIG ?= config/config.yaml
check-config: $(VENV)/.demo-installed
	$(BIN)/python workflow/scripts/check_config_yaml.py $(CONFIG)

lint: $(VENV)/.test-installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/snakefmt --check .
	$(BIN)/snakemake --lint

test: lint sleap-env onnx-cuda-env
	$(WRITE_BYTECODE) $(BIN)/python -m pytest

unit: $(VENV)/.test-installed
	$(WRITE_BYTECODE) $(BIN)/python -m pytest -m "not workflow"

bench: $(VENV)/.test-installed
	$(BIN)/python benchmarks/dry_run.py
	$(BIN)/python benchmarks/slurm_dry_run.py
	$(BIN)/python benchmarks/demo_throughput.py
	$(BIN)/python benchmarks/yolo_throughput.py
	$(BIN)/python benchmarks/tracking_throughput.py
	$(BIN)/python benchmarks/tracking_accuracy.py
	$(BIN)/python benchmarks/identity_cues.py
	$(BIN)/python benchmarks/overlay_throughput.py
	$(BIN)/python benchmarks/suspect_coverage.py
	$(BIN)/python benchmarks/long_video.py

# A one-node SLURM cluster on this machine for the SLURM tests (root: installs Debian packages and
# starts munge, MariaDB, slurmdbd, slurmctld, slurmd without systemd). CI runs it in .ci/run.
slurm-cluster:
	tools/local-slurm.sh up

clean:
	rm -rf results .snakemake
