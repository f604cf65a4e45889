"""The YOLO stages' onnx_cuda environment, built for real: onnxruntime-gpu and pip's CUDA.

`.venv-onnx-cuda` (`make onnx-cuda-env`) holds what envs/onnx-cuda.yaml installs, and no torch.
The lean detection path runs in it on the real fly clip. On a node without an NVIDIA driver (CI)
an `onnx_cuda` job must stop and say the driver is missing: ONNX Runtime itself would quietly run
on the CPU, and without its CUDA libraries preloaded it would blame them instead of the driver.
On a GPU node the same test checks that `onnx_cuda` runs on the GPU and gives the CPU's boxes.
The CPU provider of this environment must give exactly the main environment's boxes.
"""

from __future__ import annotations

import ctypes
import json

import pandas as pd
import pytest

from snakeherd.video import FrameSelection
from snakeherd.yolo.decode import Filters
from snakeherd.yolo.detect import YoloRun, detect_video
from tests.support.environments import run_python
from tests.support.matching import box_differences
from tests.support.paths import SCRIPTS

FRAMES = "900-929"

# Runs inside .venv-onnx-cuda: the node check, onnx_cuda, then onnx_cpu, on the same frames.
IN_ENVIRONMENT = """
import importlib.util, json, sys
sys.path.insert(0, sys.argv[1])
model, video, frames, folder = sys.argv[2:6]
from snakeherd import runtimes
from snakeherd.errors import RuntimeUnavailableError
from snakeherd.video import FrameSelection
from snakeherd.yolo.decode import Filters
from snakeherd.yolo.detect import YoloRun, detect_video

report = {"torch_installed": importlib.util.find_spec("torch") is not None}
report["node_check"] = runtimes.check_node("onnx_cuda", "yolo_obb").as_dict()
for runtime in ("onnx_cuda", "onnx_cpu"):
    run = YoloRun(model=model, runtime=runtime, filters=Filters())
    try:
        table, summary = detect_video(video, FrameSelection.parse(frames), run)
    except RuntimeUnavailableError as error:
        report[runtime] = {"refused": str(error)}
        continue
    table.to_parquet(f"{folder}/{runtime}.parquet")
    report[runtime] = {"providers": summary["providers"]}
report["torch_imported"] = "torch" in sys.modules
print(json.dumps(report))
"""


def node_has_nvidia_driver() -> bool:
    try:
        ctypes.CDLL("libcuda.so.1")
    except OSError:
        return False
    return True


@pytest.fixture(scope="module")
def in_environment(onnx_cuda_python, exported, clip, tmp_path_factory):
    folder = tmp_path_factory.mktemp("onnx_cuda_env")
    result = run_python(
        onnx_cuda_python,
        "-c",
        IN_ENVIRONMENT,
        SCRIPTS,
        exported["obb"]["onnx"],
        clip,
        FRAMES,
        folder,
        timeout=300,
    )
    report = json.loads(result.stdout.strip().splitlines()[-1])
    report["tables"] = {
        runtime: pd.read_parquet(folder / f"{runtime}.parquet")
        for runtime in ("onnx_cuda", "onnx_cpu")
        if (folder / f"{runtime}.parquet").exists()
    }
    return report


def test_the_environment_has_the_lean_path_and_no_torch(in_environment):
    assert not in_environment["torch_installed"]
    assert not in_environment["torch_imported"]
    check = in_environment["node_check"]
    assert check["providers"] == ["CUDAExecutionProvider", "CPUExecutionProvider"]
    assert check["packages"]["onnxruntime"] == "1.31.1"


def test_onnx_cuda_runs_on_the_gpu_or_names_the_missing_driver(in_environment):
    outcome = in_environment["onnx_cuda"]
    if node_has_nvidia_driver():
        assert outcome["providers"][0] == "CUDAExecutionProvider"
        differences = box_differences(
            in_environment["tables"]["onnx_cpu"], in_environment["tables"]["onnx_cuda"]
        )
        print(f"onnx_cuda vs onnx_cpu: {differences}")
        assert differences["centre_px"] < 0.05
        assert differences["score"] < 1e-2
        return
    message = outcome["refused"]
    print(message)
    assert "instead of CUDAExecutionProvider" in message
    # pip's CUDA and cuDNN libraries were found (preloaded); only the driver is missing.
    assert "could not load libcuda.so.1." in message
    assert "no NVIDIA driver" in message
    assert "libcublas" not in message
    assert "onnx_cuda" not in in_environment["tables"]


def test_its_cpu_provider_gives_the_main_environments_boxes(in_environment, exported, clip):
    assert in_environment["onnx_cpu"]["providers"] == ["CPUExecutionProvider"]
    run = YoloRun(model=exported["obb"]["onnx"], runtime="onnx_cpu", filters=Filters())
    main_environment, _ = detect_video(clip, FrameSelection.parse(FRAMES), run)
    theirs = in_environment["tables"]["onnx_cpu"]
    assert len(theirs) == len(main_environment) > 50
    differences = box_differences(main_environment, theirs)
    print(f"onnx-cuda env vs main env, both on the CPU provider: {differences}")
    assert differences["matched"] == len(main_environment)
    assert differences["centre_px"] < 1e-3
    assert differences["score"] < 1e-5
