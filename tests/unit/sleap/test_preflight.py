"""The SLEAP preflight's diagnoses: each import failure users meet, with its remedy."""

from __future__ import annotations

import pytest

from snakeherd.sleap import preflight as sleap_preflight


@pytest.mark.parametrize(
    ("module", "error", "expected"),
    [
        (
            "torchvision",
            "RuntimeError: operator torchvision::nms does not exist",
            "reinstall torch and torchvision together",
        ),
        (
            "torch",
            "ImportError: /x/libtorch_cuda.so: undefined symbol: ncclAlltoAll",
            "LD_LIBRARY_PATH",
        ),
        ("onnx", "ModuleNotFoundError: No module named 'onnx'", "sleap-nn[export]"),
        ("tensorrt", "ModuleNotFoundError: No module named 'tensorrt'", "tensorrt"),
        ("sleap_nn", "ModuleNotFoundError: No module named 'sleap_nn'", "pose.env"),
        (
            # As an H200 node without libEGL printed it, importing sleap-nn's predictor.
            "sleap_nn.inference.predictor",
            "ImportError: libEGL.so.1: cannot open shared object file: No such file or directory",
            "apt-get install libegl1",
        ),
        (
            "sleap_nn.inference.predictor",
            "ImportError: libfoo.so.3: cannot open shared object file: No such file or directory",
            "install libfoo.so.3",
        ),
    ],
)
def test_preflight_remedies(module, error, expected):
    diagnosis = sleap_preflight.diagnose(module, error, "onnx_cpu", "/env/bin/python")
    assert expected in diagnosis.fix or expected in diagnosis.problem


def test_missing_system_library_explains_skia_only_for_its_libraries():
    error = "ImportError: {}: cannot open shared object file: No such file or directory"
    egl = sleap_preflight.diagnose(
        "sleap_nn.inference.predictor", error.format("libEGL.so.1"), "cpu", "py"
    )
    other = sleap_preflight.diagnose(
        "sleap_nn.inference.predictor", error.format("libfoo.so"), "cpu", "py"
    )
    assert "libEGL.so.1" in egl.problem and "skia-python" in egl.problem
    assert "dnf install libglvnd-egl" in egl.fix
    assert "libfoo.so" in other.problem and "skia" not in other.problem


def test_preflight_asks_for_the_gpu_extras_on_gpu_runtimes():
    diagnosis = sleap_preflight.diagnose(
        "onnxruntime", "ModuleNotFoundError: No module named 'onnxruntime'", "onnx_cuda", "py"
    )
    assert "sleap-nn[export-gpu]" in diagnosis.fix
    assert sleap_preflight.required_modules("cpu") == sleap_preflight.CORE_MODULES
    assert "tensorrt" in sleap_preflight.required_modules("tensorrt")
