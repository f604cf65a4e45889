"""Command lines run in the SLEAP environment: sleap-nn's own ``predict`` CLI, the reference the
stage is measured against, and the SLEAP stage's rule scripts as their rules call them."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.support.paths import SCRIPTS


def sleap_nn_predict(
    sleap_python: Path, video: Path, frames: str, models: list, output: Path, max_instances: int = 0
) -> list[str]:
    """``sleap-nn predict`` on the CPU for ``frames`` of ``video``, writing ``output`` (.slp);
    ``max_instances`` 0 keeps sleap-nn's default."""
    command = [
        str(Path(sleap_python).parent / "sleap-nn"),
        "predict",
        "--data_path",
        str(video),
        "--frames",
        frames,
        "--device",
        "cpu",
        "--output_path",
        str(output),
    ]
    for model in models:
        command += ["--model_paths", str(model)]
    if max_instances:
        command += ["--max_instances", str(max_instances)]
    return command


def stage_script(
    sleap_python: Path,
    script: str,
    runtime: str,
    kind: str,
    models: list,
    video: Path,
    *options: str,
    nodes: tuple[str, ...] = ("A", "B"),
) -> list[str]:
    """``workflow/scripts/<script>`` (``sleap_predict.py``, ``sleap_export.py``) with the
    arguments every one of them takes, then ``options``; ``nodes`` are the models' node names
    (the shared test models' are A and B)."""
    return [
        str(sleap_python),
        str(SCRIPTS / script),
        "--runtime",
        runtime,
        "--kind",
        kind,
        "--models",
        *[str(model) for model in models],
        "--nodes",
        *nodes,
        "--video",
        str(video),
        *[str(option) for option in options],
    ]


def run_sleap_nn_predict(
    sleap_python: Path, video: Path, frames: str, models: list, output: Path
) -> Path:
    """Run ``sleap-nn predict`` itself in the SLEAP environment (:func:`sleap_nn_predict`);
    returns ``output``."""
    command = sleap_nn_predict(sleap_python, video, frames, models, output)
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    return output
