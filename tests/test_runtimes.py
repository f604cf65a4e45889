"""The runtime contract: every stage x runtime cell, the intersection, messages, node checks."""

from __future__ import annotations

import importlib.util

import pytest

from snakeherd import runtimes
from snakeherd.runtimes import onnx_sessions
from snakeherd.errors import ConfigError, RuntimeUnavailableError


def providers_of(runtime):
    return list(runtimes.get(runtime).providers)


# DESIGN.md §2, with the extra ONNX engine tract (YOLO stages only: sleap-nn cannot drive it).
EXPECTED = {
    "yolo_obb": dict.fromkeys(runtimes.RUNTIMES, True),
    "yolo_pose": dict.fromkeys(runtimes.RUNTIMES, True),
    "sleap": {
        "cpu": True,
        "mps": True,
        "cuda": True,
        "rocm": False,
        "onnx_cpu": True,
        "onnx_cuda": True,
        "onnx_rocm": False,
        "tensorrt": True,
        "tract": False,
    },
}
CELLS = [(stage, runtime) for stage in EXPECTED for runtime in runtimes.RUNTIMES]


def config_with(detection="background", pose="none", runtime="cpu"):
    return {"runtime": runtime, "detection": {"method": detection}, "pose": {"method": pose}}


STAGE_CONFIGS = {
    "yolo_obb": config_with(detection="yolo_obb"),
    "yolo_pose": config_with(pose="yolo_pose"),
    "sleap": config_with(detection="none", pose="sleap"),
}


def test_canonical_order():
    assert runtimes.RUNTIMES == (
        "cpu",
        "mps",
        "cuda",
        "rocm",
        "onnx_cpu",
        "onnx_cuda",
        "onnx_rocm",
        "tensorrt",
        "tract",
    )


@pytest.mark.parametrize(("stage", "runtime"), CELLS)
def test_every_cell_of_the_matrix(stage, runtime):
    stages = runtimes.enabled_model_stages(STAGE_CONFIGS[stage])
    assert [s.name for s in stages] == [stage]
    if EXPECTED[stage][runtime]:
        assert runtimes.validate_runtime(runtime, stages) == runtime
    else:
        with pytest.raises(ConfigError) as caught:
            runtimes.validate_runtime(runtime, stages)
        message = str(caught.value)
        assert f"'{runtime}'" in message
        assert "SLEAP pose" in message
        assert "cpu, mps, cuda, onnx_cpu, onnx_cuda, tensorrt" in message


def test_no_model_stage_accepts_every_runtime():
    stages = runtimes.enabled_model_stages(config_with())
    assert stages == []
    assert runtimes.valid_runtimes(stages) == list(runtimes.RUNTIMES)
    for runtime in runtimes.RUNTIMES:
        assert runtimes.validate_runtime(runtime, stages) == runtime


def test_intersection_names_only_the_excluding_stage_and_keeps_canonical_order():
    config = config_with(detection="yolo_obb", pose="sleap")
    stages = runtimes.enabled_model_stages(config)
    assert [s.name for s in stages] == ["yolo_obb", "sleap"]
    assert runtimes.valid_runtimes(stages) == [
        "cpu",
        "mps",
        "cuda",
        "onnx_cpu",
        "onnx_cuda",
        "tensorrt",
    ]
    with pytest.raises(ConfigError) as caught:
        runtimes.validate_runtime("onnx_rocm", stages)
    message = str(caught.value)
    assert "cannot run the enabled stage(s) SLEAP pose (pose.method: sleap)" in message
    assert "YOLO-OBB detection supports" not in message
    assert "Valid for this config's enabled stages" in message
    assert message.strip().endswith("or disable the stage that excludes 'onnx_rocm'.")


@pytest.mark.parametrize(
    ("typo", "suggestion"),
    [
        ("onnx-cpu", "onnx_cpu"),
        ("CUDA", "cuda"),
        ("tensort", "tensorrt"),
        ("onnxcuda", "onnx_cuda"),
    ],
)
def test_misspelled_runtime_suggests_the_closest(typo, suggestion):
    with pytest.raises(ConfigError) as caught:
        runtimes.validate_runtime(typo, [])
    assert f"Did you mean '{suggestion}'?" in str(caught.value)


@pytest.mark.parametrize("bad", ["gpu", "", None, 3, ["cpu"]])
def test_unknown_runtime_lists_the_known_ones(bad):
    with pytest.raises(ConfigError) as caught:
        runtimes.validate_runtime(bad, [])
    assert "is not a runtime snakeherd knows" in str(caught.value)
    assert "cpu, mps, cuda, rocm, onnx_cpu, onnx_cuda, onnx_rocm, tensorrt, tract" in str(
        caught.value
    )


def test_cpu_runtimes_hide_accelerators_and_gpu_runtimes_do_not():
    for runtime in ("cpu", "onnx_cpu", "tract"):
        hidden = runtimes.accelerator_hiding_environment(runtime)
        assert hidden["CUDA_VISIBLE_DEVICES"] == "-1"
        assert hidden["JAX_PLATFORMS"] == "cpu"
    for runtime in ("cuda", "rocm", "mps", "onnx_cuda", "onnx_rocm", "tensorrt"):
        assert runtimes.accelerator_hiding_environment(runtime) == {}


def test_onnxruntime_provider_lists_put_the_accelerator_first():
    assert providers_of("onnx_cpu") == ["CPUExecutionProvider"]
    assert providers_of("onnx_cuda") == [
        "CUDAExecutionProvider",
        "CPUExecutionProvider",
    ]
    assert providers_of("onnx_rocm") == [
        "ROCMExecutionProvider",
        "CPUExecutionProvider",
    ]


# ---- the in-job node check, against what this machine really has --------------------------


def _torch():
    import torch

    return torch


def _node_can_run(runtime: str) -> bool:
    """Independent answer to 'can this node run it?', from the frameworks themselves."""
    if runtime in ("onnx_cpu", "onnx_cuda", "onnx_rocm"):
        import onnxruntime

        return providers_of(runtime)[0] in onnxruntime.get_available_providers()
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
            assert capability.providers == providers_of(runtime)
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


def test_session_provider_check_refuses_a_silent_cpu_fallback(tmp_path):
    """A real CPU session stands in for one where ONNX Runtime dropped the CUDA provider."""
    import onnx
    import onnxruntime
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["y"])],
        "identity",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])],
    )
    model_path = tmp_path / "identity.onnx"
    onnx.save(helper.make_model(graph), model_path)
    session = onnxruntime.InferenceSession(model_path, providers=["CPUExecutionProvider"])

    with pytest.raises(RuntimeUnavailableError, match="instead of CUDAExecutionProvider"):
        runtimes.require_session_providers(session, "onnx_cuda", str(model_path))
    assert runtimes.require_session_providers(session, "onnx_cpu", str(model_path)) == [
        "CPUExecutionProvider"
    ]

    # The libraries ONNX Runtime could not load decide the remedy.
    no_driver = [
        "Failed to load library libonnxruntime_providers_cuda.so with error: libcuda.so.1: "
        "cannot open shared object file: No such file or directory"
    ]
    with pytest.raises(RuntimeUnavailableError) as caught:
        runtimes.require_session_providers(session, "onnx_cuda", str(model_path), no_driver)
    assert "could not load libcuda.so.1." in str(caught.value)
    assert "no NVIDIA driver" in str(caught.value)
    no_cuda_libraries = [
        "Failed to load libcublasLt.so.13: libcublasLt.so.13: cannot open shared object file",
        "Failed to load libcurand.so.10: libcurand.so.10: cannot open shared object file",
    ]
    with pytest.raises(RuntimeUnavailableError) as caught:
        runtimes.require_session_providers(session, "onnx_cuda", str(model_path), no_cuda_libraries)
    assert "could not load libcublasLt.so.13, libcurand.so.10." in str(caught.value)
    assert "onnxruntime-gpu[cuda,cudnn]" in str(caught.value)


def test_what_native_code_prints_while_a_session_opens_is_captured_as_lines():
    import os

    printed = []
    with onnx_sessions._native_output_captured(printed):
        os.write(2, b"\x1b[1;31m2026 [E:onnxruntime] Failed to load library\x1b[m\n\n")
        os.write(1, b"Please follow the CUDA install guide.\n")
    assert printed == [
        "2026 [E:onnxruntime] Failed to load library",
        "Please follow the CUDA install guide.",
    ]
