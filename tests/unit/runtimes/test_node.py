"""The in-job node check, against what this machine really has, and the accelerators CPU
runtimes hide."""

from __future__ import annotations

import importlib.util

import pytest

from snakeherd import runtimes
from snakeherd.errors import RuntimeUnavailableError


def test_cpu_runtimes_hide_accelerators_and_gpu_runtimes_do_not():
    for runtime in ("cpu", "onnx_cpu", "tract"):
        hidden = runtimes.accelerator_hiding_environment(runtime)
        assert hidden["CUDA_VISIBLE_DEVICES"] == "-1"
        assert hidden["JAX_PLATFORMS"] == "cpu"
    for runtime in ("cuda", "rocm", "mps", "onnx_cuda", "onnx_rocm", "tensorrt"):
        assert runtimes.accelerator_hiding_environment(runtime) == {}


def _torch():
    import torch

    return torch


def _node_can_run(runtime: str) -> bool:
    """Independent answer to 'can this node run it?', from the frameworks themselves."""
    if runtime in ("onnx_cpu", "onnx_cuda", "onnx_rocm"):
        import onnxruntime

        return runtimes.get(runtime).providers[0] in onnxruntime.get_available_providers()
    if runtime == "tract":
        return importlib.util.find_spec("tract") is not None
    torch = _torch()
    if runtime == "cpu":
        return True
    if runtime == "mps":
        return torch.backends.mps.is_available()
    if runtime == "rocm":
        return torch.version.hip is not None and torch.cuda.is_available()
    cuda = torch.version.cuda is not None and torch.cuda.is_available()
    if runtime == "tensorrt":
        return cuda and importlib.util.find_spec("tensorrt") is not None
    return cuda


@pytest.mark.parametrize("runtime", runtimes.RUNTIMES)
def test_node_check_matches_what_this_machine_has(runtime):
    can_run = _node_can_run(runtime)
    if can_run:
        capability = runtimes.check_node(runtime, "yolo_obb")
        assert capability.runtime == runtime
        if runtime.startswith("onnx_"):
            assert capability.providers == list(runtimes.get(runtime).providers)
    else:
        with pytest.raises(RuntimeUnavailableError) as caught:
            runtimes.check_node(runtime, "yolo_obb")
        message = str(caught.value)
        assert f"runtime '{runtime}'" in message
        assert "Fix:" in message


def test_node_check_on_cpu_records_versions():
    capability = runtimes.check_node("onnx_cpu", "yolo_pose")
    assert capability.device == "cpu"
    assert capability.packages["onnxruntime"]
    assert capability.as_dict()["providers"] == ["CPUExecutionProvider"]


def test_node_check_names_a_missing_package_and_its_install():
    # sleap-nn lives in its own environment, never in the main one.
    assert importlib.util.find_spec("sleap_nn") is None
    with pytest.raises(RuntimeUnavailableError) as caught:
        runtimes.check_node("cpu", "sleap")
    message = str(caught.value)
    assert "'sleap_nn'" in message
    assert "envs/sleap" in message


def test_node_check_refuses_a_runtime_the_stage_cannot_run():
    with pytest.raises(RuntimeUnavailableError, match="does not support runtime 'rocm'"):
        runtimes.check_node("rocm", "sleap")
