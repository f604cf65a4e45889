"""Shared fixtures: the shared real data, the other environments, generated videos, the fly
clip's YOLO models exported, and writable copies of the models. Helpers live in tests/support."""

from __future__ import annotations

from pathlib import Path

import pytest

# Plain asserts in the helpers report their values too, as they do in test modules.
pytest.register_assert_rewrite("tests.support")

from tests.support.data import (  # noqa: E402
    FLY_HELD_OUT_FRAMES,
    SHARED_DATA,
    copy_sleap_models,
    copy_yolo_models,
)
from tests.support.paths import ONNX_CUDA_PYTHON, SLEAP_PYTHON  # noqa: E402


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
def offline_ultralytics(tmp_path_factory) -> None:
    """Ultralytics without a network, its settings in a private folder; must come before
    anything imports Ultralytics (snakeherd imports it only when a model is loaded)."""
    from snakeherd.yolo import offline

    offline.configure(tmp_path_factory.mktemp("ultralytics"))


@pytest.fixture(scope="session")
def exported(offline_ultralytics, shared_data, clip, tmp_path_factory) -> dict:
    """Both fly YOLO models exported to ONNX by the export code the workflow runs, with parity
    records."""
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


@pytest.fixture(scope="module")
def yolo_models(shared_data, tmp_path_factory) -> Path:
    """Writable copies of the fly YOLO models, one folder per test module: exports land next to
    them, and a module may touch them."""
    return copy_yolo_models(shared_data, tmp_path_factory.mktemp("yolo_models"))


@pytest.fixture(scope="module")
def sleap_models(shared_data, tmp_path_factory) -> Path:
    """Writable copies of the shared SLEAP model folders, one folder per test module: exports
    land next to them, and a module may edit them."""
    return copy_sleap_models(shared_data, tmp_path_factory.mktemp("sleap_models"))


@pytest.fixture(scope="session")
def sleap_video(shared_data) -> Path:
    """The two-fly clip the shared SLEAP models were trained on (one labelled frame)."""
    return shared_data / "sleap" / "centered_pair_small.mp4"
