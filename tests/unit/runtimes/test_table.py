"""The runtime table: every stage x runtime cell, the intersection of the enabled stages,
messages for unknown runtimes, and each runtime's ONNX Runtime providers."""

from __future__ import annotations

import ast

import pytest

from snakeherd import runtimes
from snakeherd.errors import ConfigError
from tests.support.paths import REPO


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


def test_runtime_names_live_only_in_the_table():
    # Names that are runtimes and nothing else (tensorrt, tract, cpu and cuda are also package
    # or device names): no rule, script or library module outside the table spells them.
    only_runtimes = {"mps", "rocm", "onnx_cpu", "onnx_cuda", "onnx_rocm"}
    workflow = REPO / "workflow"
    table = workflow / "scripts" / "snakeherd" / "runtimes" / "table.py"
    found = []
    for path in sorted(workflow.rglob("*.py")):
        if path == table:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and node.value in only_runtimes:
                found.append(f"{path.relative_to(REPO)}:{node.lineno} {node.value!r}")
    for path in sorted(workflow.rglob("*.smk")):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            code = line.split("#")[0]
            found += [
                f"{path.relative_to(REPO)}:{number} {name!r}"
                for name in only_runtimes
                if f'"{name}"' in code or f"'{name}'" in code
            ]
    assert not found


def test_every_runtime_row_is_consistent():
    for runtime in runtimes.TABLE:
        # An ONNX runtime has providers, accelerator first and the CPU last; nothing else has.
        assert bool(runtime.providers) == (runtime.family == "onnx")
        if runtime.providers:
            assert runtime.providers[-1] == "CPUExecutionProvider"
        # A scheduler GPU and the CPU-only promise exclude each other; mps is neither.
        assert not (runtime.needs_gpu and runtime.cpu_only)
        # Every environment file a row names exists.
        for env_file in runtime.envs.values():
            assert env_file is None or (REPO / env_file).is_file(), env_file
        assert (runtime.torch_device is None) == (runtime.family in ("onnx", "tract"))
    assert runtimes.get("mps").torch_device == "mps"
    assert runtimes.get("rocm").torch_device == "cuda"  # ROCm torch speaks torch.cuda
    assert [runtimes.table.cpu_counterpart(r) for r in ("onnx_cuda", "cuda", "tensorrt")] == [
        "onnx_cpu",
        "cpu",
        "cpu",
    ]
