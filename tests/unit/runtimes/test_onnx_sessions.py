"""ONNX Runtime sessions on exactly a runtime's providers: no silent CPU fallback, a remedy
named from what ONNX Runtime could not load, native output captured as lines."""

from __future__ import annotations

import pytest

from snakeherd import runtimes
from snakeherd.errors import RuntimeUnavailableError
from snakeherd.runtimes import onnx_sessions


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
