"""Where things are: the repository, the rule scripts and the other environments' interpreters."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SCRIPTS = REPO / "workflow" / "scripts"
# `make sleap-env` and `make onnx-cuda-env` build them; the tests that need them say so.
SLEAP_PYTHON = REPO / ".venv-sleap" / "bin" / "python"
ONNX_CUDA_PYTHON = REPO / ".venv-onnx-cuda" / "bin" / "python"
