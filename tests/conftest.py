"""Shared fixtures: the repository, the shared real data, and real Snakemake runs in temp dirs."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("SNAKEHERD_SHARED_DATA", REPO.parent / "shared" / "data"))
SLEAP_PYTHON = REPO / ".venv-sleap" / "bin" / "python"
ONNX_CUDA_PYTHON = REPO / ".venv-onnx-cuda" / "bin" / "python"
# Frames of the fly clip the YOLO models in shared/data/yolo did not train on.
FLY_HELD_OUT_FRAMES = "900-1099"


def box_differences(reference, other) -> dict:
    """Largest differences between two runs' detections of the same frames: centre (px), angle
    (rad, modulo pi) and score, over the boxes both have (matched on frame and det_id)."""
    import numpy as np

    merged = reference.merge(other, on=["frame", "det_id"], suffixes=("", "_other"))
    centre = np.hypot(merged["x"] - merged["x_other"], merged["y"] - merged["y_other"])
    angle = np.abs(
        np.remainder(merged["angle"] - merged["angle_other"] + np.pi / 2, np.pi) - np.pi / 2
    )
    score = np.abs(merged["score"] - merged["score_other"])
    return {
        "matched": len(merged),
        "centre_px": float(centre.max()),
        "angle_rad": float(angle.max()),
        "score": float(score.max()),
    }


@dataclass
class SnakemakeRun:
    returncode: int
    stdout: str
    stderr: str
    workdir: Path

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def snakemake_command(workdir: Path, config: dict | None, *args: str) -> list[str]:
    """The workflow's command line for ``workdir``, writing ``config`` there when given."""
    workdir.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        str(REPO / "Snakefile"),
        "--directory",
        str(workdir),
    ]
    if config is not None:
        config_path = workdir / "config.yaml"
        config_path.write_text(yaml.safe_dump(config, sort_keys=False))
        command += ["--configfile", str(config_path)]
    return command + list(args)


def run_snakemake(
    workdir: Path,
    config: dict | None = None,
    *args: str,
    cores: int = 2,
    timeout: float = 600,
) -> SnakemakeRun:
    """Run the real workflow in ``workdir`` (with ``config`` written there when given)."""
    command = snakemake_command(workdir, config, "--cores", str(cores), *args)
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=timeout, cwd=workdir, check=False
    )
    return SnakemakeRun(result.returncode, result.stdout, result.stderr, workdir)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.fail(
            f"shared test data not found at {SHARED_DATA}; CI puts ../shared beside the repo "
            "(or set SNAKEHERD_SHARED_DATA)"
        )
    return SHARED_DATA


@pytest.fixture(scope="session")
def sleap_python() -> Path:
    """The interpreter of the separate SLEAP environment (`make sleap-env` builds it)."""
    if not SLEAP_PYTHON.exists():
        pytest.fail(f"{SLEAP_PYTHON} not found: run `make sleap-env` (make test does)")
    return SLEAP_PYTHON


@pytest.fixture(scope="session")
def onnx_cuda_python() -> Path:
    """The interpreter of the onnx_cuda environment (`make onnx-cuda-env` builds it)."""
    if not ONNX_CUDA_PYTHON.exists():
        pytest.fail(f"{ONNX_CUDA_PYTHON} not found: run `make onnx-cuda-env` (make test does)")
    return ONNX_CUDA_PYTHON


@pytest.fixture(scope="session")
def small_videos(tmp_path_factory) -> dict[str, Path]:
    """Two short generated videos with ground truth tables, written outside any workflow."""
    from snakeherd import io
    from snakeherd.synthetic import SceneSpec, simulate, write_video

    folder = tmp_path_factory.mktemp("videos")
    videos = {}
    for name, seed in (("small_a", 11), ("small_b", 12)):
        spec = SceneSpec(n_animals=4, n_frames=60, width=256, height=256, seed=seed)
        truth = simulate(spec)
        write_video(spec, truth, str(folder / f"{name}.mp4"))
        io.write_table(truth, folder / f"{name}_truth.parquet", "ground_truth", {})
        videos[name] = folder / f"{name}.mp4"
    return videos


@pytest.fixture(scope="session")
def clip(shared_data) -> str:
    """The real fly clip the YOLO models in shared/data/yolo were trained on (frames 0-799)."""
    return str(shared_data / "tracking" / "centered_pair_low_quality.mp4")


@pytest.fixture(scope="session")
def exported(shared_data, clip, tmp_path_factory) -> dict:
    """Both fly YOLO models exported to ONNX by the export code the workflow runs, with parity
    records. Test modules using it call ``offline.configure`` before importing Ultralytics."""
    from snakeherd.yolo import offline
    from snakeherd.yolo.export import (
        ParityTolerance,
        check_parity,
        export_artifact,
        model_record,
        parity_frames,
        write_sidecar,
    )

    folder = tmp_path_factory.mktemp("exports")
    paths = {}
    for task, name, size in (
        ("obb", "fly_obb_yolo11n", 384),
        ("pose", "fly_pose_crops_yolo11n", 128),
    ):
        source = str(shared_data / "yolo" / f"{name}.pt")
        model = offline.load(source, task, "test")
        artifact = str(folder / f"{name}.onnx")
        export_artifact(model, artifact, size, 1, "cpu")
        _, frames = parity_frames([clip], [FLY_HELD_OUT_FRAMES], 4)
        parity = check_parity(model, artifact, task, frames, size, 1, ParityTolerance(), "cpu")
        write_sidecar(
            artifact, {"model": model_record(model, task, size, 1, source), "parity": parity}
        )
        paths[task] = {"pt": source, "onnx": artifact, "parity": parity}
    return paths
