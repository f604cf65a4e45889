"""Opening ONNX Runtime sessions on exactly a runtime's providers: no silent CPU fallback."""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
import tempfile
from collections.abc import Sequence

from ..errors import RuntimeUnavailableError
from . import table

logger = logging.getLogger("snakeherd")


def open_onnxruntime_session(model_path: str, runtime: str, intra_op_threads: int):
    """An ONNX Runtime session on exactly the runtime's providers; never a silent CPU fallback.

    ``intra_op_threads`` threads run each operator, with full graph optimisation; idle threads
    sleep rather than spin, because jobs share the node's cores. For ``onnx_cuda`` the CUDA and
    cuDNN libraries of ``onnxruntime-gpu[cuda,cudnn]`` (pip's ``nvidia`` packages) are loaded
    first: ONNX Runtime does not look for them there unless torch loaded them already, and the
    lean YOLO path never imports torch. What ONNX Runtime prints while it sets up its providers
    goes to the process's stdout and stderr, not to the rule's log; it is captured, logged, and
    quoted when the accelerator could not be used.
    """
    import onnxruntime

    row = table.get(runtime)
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = max(1, int(intra_op_threads))
    options.inter_op_num_threads = 1
    options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3
    printed: list[str] = []
    try:
        with _native_output_captured(printed):
            if row.accelerator == table.NVIDIA and hasattr(onnxruntime, "preload_dlls"):
                onnxruntime.preload_dlls()
            session = onnxruntime.InferenceSession(
                model_path, options, providers=list(row.providers)
            )
    finally:
        for line in printed:
            logger.warning("onnxruntime: %s", line)
    require_session_providers(session, runtime, model_path, printed)
    return session


def require_session_providers(
    session, runtime: str, model_path: str, onnxruntime_output: Sequence[str] = ()
) -> list[str]:
    """Fail when ONNX Runtime quietly dropped the accelerator provider when creating a session.

    ONNX Runtime falls back to the CPU provider when, say, the CUDA libraries do not load; that
    would silently run ``onnx_cuda`` on the CPU. ``onnxruntime_output`` is what it printed
    meanwhile: the libraries it could not load decide the remedy.
    """
    used = list(session.get_providers())
    wanted = table.get(runtime).providers[0]
    if used and used[0] == wanted:
        return used
    missing = list(
        dict.fromkeys(
            match.group(1)
            for line in onnxruntime_output
            for match in _MISSING_LIBRARY.finditer(line)
        )
    )
    problem = (
        f"runtime '{runtime}': ONNX Runtime created the session for {model_path} with "
        f"{used} instead of {wanted}"
    )
    if missing:
        problem += f"; it could not load {', '.join(missing)}."
    else:
        problem += " (it could not use the accelerator; its messages are above in this log)."
    accelerator = table.get(runtime).accelerator
    fallback = table.cpu_counterpart(runtime)
    if accelerator == table.NVIDIA and "libcuda.so.1" in missing:
        remedy = (
            "libcuda.so.1 is the NVIDIA driver's library: this node has no NVIDIA driver. Run "
            "the job on a GPU node (on SLURM the profile requests --gres=gpu:1; check that the "
            f"partition has GPUs and `nvidia-smi` works there) or pick runtime '{fallback}'."
        )
    elif accelerator == table.NVIDIA:
        remedy = (
            "install the CUDA and cuDNN libraries this onnxruntime-gpu was built for into the "
            "same environment (`pip install onnxruntime-gpu[cuda,cudnn]`, as envs/onnx-cuda.yaml "
            f"does) or pick runtime '{fallback}'."
        )
    else:
        remedy = (
            "install ROCm and AMD's onnxruntime-rocm wheel on a node with an AMD GPU "
            f"(https://rocm.docs.amd.com, 'ONNX Runtime') or pick runtime '{fallback}'."
        )
    raise RuntimeUnavailableError(problem, remedy)


# How the dynamic loader reports a library it cannot find (ONNX Runtime passes it on).
_MISSING_LIBRARY = re.compile(r"(lib[\w.+-]+?\.so(?:\.\d+)*): cannot open shared object file")
_TERMINAL_COLOURS = re.compile(r"\x1b\[[0-9;]*m")


@contextlib.contextmanager
def _native_output_captured(lines: list[str]):
    """Append to ``lines`` what is written to file descriptors 1 and 2 inside the block.

    Native libraries write there directly, around Python's logging and its log file.
    """
    saved: list[int] = []
    try:
        for descriptor in (1, 2):
            saved.append(os.dup(descriptor))
    except OSError:  # a process started without stdout or stderr: nothing to collect
        for descriptor in saved:
            os.close(descriptor)
        yield
        return
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 1)
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            for stream in (sys.stdout, sys.stderr):
                stream.flush()
            for descriptor, original in zip((1, 2), saved, strict=True):
                os.dup2(original, descriptor)
                os.close(original)
            sink.seek(0)
            text = _TERMINAL_COLOURS.sub("", sink.read().decode(errors="replace"))
            lines.extend(line.strip() for line in text.splitlines() if line.strip())
