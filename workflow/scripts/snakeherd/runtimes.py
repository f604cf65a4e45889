"""The runtime contract: which stage runs on which runtime, and whether this node can run it.

This module is the only place that knows the capability matrix (DESIGN.md §2). Two checks use it:

* :func:`validate_runtime` runs while Snakemake parses the config, before any job: the runtime must
  be a canonical name and inside the intersection of what the enabled model stages support.
* :func:`check_node` runs first thing inside every model job, on the node that runs it (a cluster's
  login node has no GPU): is the device, execution provider or package there? It never falls back
  to another backend; it fails with what is missing and how to install it.
"""

from __future__ import annotations

import contextlib
import difflib
import importlib
import importlib.util
import logging
import os
import re
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field

from .errors import ConfigError, RuntimeUnavailableError

logger = logging.getLogger("snakeherd")

RUNTIMES: tuple[str, ...] = (
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
"""Canonical runtime names, in the order every message lists them."""

ONNX_RUNTIMES = ("onnx_cpu", "onnx_cuda", "onnx_rocm")
NATIVE_RUNTIMES = ("cpu", "mps", "cuda", "rocm")
CPU_ONLY_RUNTIMES = ("cpu", "onnx_cpu", "tract")
GPU_RUNTIMES = ("cuda", "rocm", "onnx_cuda", "onnx_rocm", "tensorrt")
"""Runtimes whose model jobs must run on a node with a GPU (a scheduler must be asked for one).
``mps`` is not among them: Apple GPUs are not scheduler resources (no SLURM node has one)."""


def needs_gpu(runtime: str) -> bool:
    """Whether a model job on ``runtime`` needs a GPU on its node (CPU-only work never does)."""
    return runtime in GPU_RUNTIMES


@dataclass(frozen=True)
class ModelStage:
    """A stage that runs a model, hence depends on the runtime."""

    name: str
    label: str
    config_key: str
    method: str
    runtimes: frozenset[str]


_ALL = frozenset(RUNTIMES)

MODEL_STAGES: dict[str, ModelStage] = {
    stage.name: stage
    for stage in (
        ModelStage("yolo_obb", "YOLO-OBB detection", "detection", "yolo_obb", _ALL),
        ModelStage("yolo_pose", "YOLO-pose", "pose", "yolo_pose", _ALL),
        # sleap-nn has no ROCm build and runs exported models only through ONNX Runtime
        # (CPU/CUDA providers) or TensorRT, so tract and the ROCm runtimes are out.
        ModelStage(
            "sleap",
            "SLEAP pose",
            "pose",
            "sleap",
            _ALL - {"rocm", "onnx_rocm", "tract"},
        ),
    )
}
"""Stages whose support is limited by the runtime; every other stage (background-subtraction
detection, tracking, outputs, evaluation) is CPU work and runs under any runtime."""

_ORT_PROVIDERS = {
    "onnx_cpu": ["CPUExecutionProvider"],
    "onnx_cuda": ["CUDAExecutionProvider", "CPUExecutionProvider"],
    "onnx_rocm": ["ROCMExecutionProvider", "CPUExecutionProvider"],
}


def onnxruntime_providers(runtime: str) -> list[str]:
    """The ONNX Runtime provider list for an ``onnx_*`` runtime, accelerator first."""
    return list(_ORT_PROVIDERS[runtime])


def enabled_model_stages(config: dict) -> list[ModelStage]:
    """Model stages switched on by a (schema-validated) config, in pipeline order."""
    stages = []
    for stage in MODEL_STAGES.values():
        section = config.get(stage.config_key) or {}
        if section.get("method") == stage.method:
            stages.append(stage)
    return stages


def valid_runtimes(stages: list[ModelStage]) -> list[str]:
    """Runtimes every given stage supports, in canonical order (all of them when none)."""
    return [r for r in RUNTIMES if all(r in stage.runtimes for stage in stages)]


def validate_runtime(runtime: object, stages: list[ModelStage]) -> str:
    """Reject a runtime that is unknown or outside the enabled stages' intersection.

    Returns the runtime when valid; raises :class:`ConfigError` naming the runtime, the stage(s)
    that exclude it and the valid runtimes otherwise.
    """
    valid = valid_runtimes(stages)
    valid_text = ", ".join(valid)
    stage_text = (
        ", ".join(f"{s.label} ({s.config_key}.method: {s.method})" for s in stages)
        or "no model stage"
    )
    if not isinstance(runtime, str) or runtime not in RUNTIMES:
        suggestion = ""
        if isinstance(runtime, str):
            close = difflib.get_close_matches(
                runtime.lower().replace("-", "_"), RUNTIMES, n=1, cutoff=0.5
            )
            if close:
                suggestion = f" Did you mean '{close[0]}'?"
        raise ConfigError(
            f"runtime: {runtime!r} is not a runtime snakeherd knows.{suggestion}\n"
            f"Known runtimes: {', '.join(RUNTIMES)}.\n"
            f"Valid for this config's enabled stages [{stage_text}]: {valid_text}.",
            f"set `runtime:` in your config to one of: {valid_text}.",
        )
    excluding = [s for s in stages if runtime not in s.runtimes]
    if excluding:
        names = ", ".join(f"{s.label} ({s.config_key}.method: {s.method})" for s in excluding)
        raise ConfigError(
            f"runtime: '{runtime}' cannot run the enabled stage(s) {names}.\n"
            + "".join(
                f"{s.label} supports: {', '.join(r for r in RUNTIMES if r in s.runtimes)}.\n"
                for s in excluding
            )
            + f"Valid for this config's enabled stages [{stage_text}]: {valid_text}.",
            f"set `runtime:` to one of: {valid_text}; or disable the stage that excludes "
            f"'{runtime}'.",
        )
    return runtime


# --------------------------------------------------------------------------------------------
# Inside the job: can this node run the runtime?
# --------------------------------------------------------------------------------------------

_INSTALL_HINTS = {
    "torch": "install PyTorch with torchvision from one index (https://pytorch.org/get-started/"
    "locally/), e.g. `pip install torch torchvision`",
    "torchvision": "install torchvision from the same index as torch "
    "(`pip install torch torchvision` together)",
    "ultralytics": "`pip install ultralytics` (or run with `--sdm conda`, which builds "
    "envs/ultralytics.yaml)",
    "onnxruntime": "`pip install onnxruntime` (CPU) or `pip install onnxruntime-gpu` (CUDA)",
    "tensorrt": "`pip install tensorrt` on a node with an NVIDIA GPU and driver",
    "tract": "`pip install tract`",
    "sleap_nn": "run the SLEAP stage in its own environment: `--sdm conda` (envs/sleap*.yaml) "
    "or `pose.env` naming an environment that has `pip install sleap-nn[export]`",
}

# Which Python packages each (stage family, runtime family) imports inside the job.
_STAGE_PACKAGES = {
    ("yolo", "native"): ("torch", "ultralytics"),
    ("yolo", "onnx"): ("onnxruntime",),
    ("yolo", "tensorrt"): ("torch", "tensorrt", "ultralytics"),
    ("yolo", "tract"): ("tract",),
    ("sleap", "native"): ("torch", "sleap_nn"),
    ("sleap", "onnx"): ("onnxruntime", "sleap_nn"),
    ("sleap", "tensorrt"): ("torch", "tensorrt", "sleap_nn"),
}


def _runtime_family(runtime: str) -> str:
    if runtime in NATIVE_RUNTIMES:
        return "native"
    if runtime in ONNX_RUNTIMES:
        return "onnx"
    return runtime


@dataclass
class NodeCapability:
    """What a job found on its node for its runtime; recorded in the outputs' provenance."""

    runtime: str
    stage: str
    device: str
    providers: list[str] = field(default_factory=list)
    packages: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {
            "runtime": self.runtime,
            "stage": self.stage,
            "device": self.device,
            "providers": list(self.providers),
            "packages": dict(self.packages),
        }


def accelerator_hiding_environment(runtime: str) -> dict[str, str]:
    """Environment variables that keep CPU runtimes off any accelerator present on the node.

    Results must not depend on a GPU happening to be there, and frameworks' GPU probing stays out
    of the logs.
    """
    if runtime not in CPU_ONLY_RUNTIMES:
        return {}
    return {
        "CUDA_VISIBLE_DEVICES": "-1",
        "HIP_VISIBLE_DEVICES": "-1",
        "ROCR_VISIBLE_DEVICES": "-1",
        "JAX_PLATFORMS": "cpu",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "PYTORCH_ENABLE_MPS_FALLBACK": "0",
    }


def prepare_process(runtime: str) -> None:
    """Call first in a job, before any framework is imported."""
    os.environ.update(accelerator_hiding_environment(runtime))


def _import_or_fail(module: str, runtime: str, stage: str):
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise RuntimeUnavailableError(
            f"runtime '{runtime}' for stage {stage} needs the Python package '{module}', "
            f"which this environment cannot import ({error}).",
            _INSTALL_HINTS.get(module, f"`pip install {module}`"),
        ) from error


def _package_version(module) -> str:
    return str(getattr(module, "__version__", "unknown"))


def _check_torch_device(torch, runtime: str, stage: str) -> str:
    if runtime == "cpu":
        return "cpu"
    if runtime == "mps":
        if not torch.backends.mps.is_available():
            raise RuntimeUnavailableError(
                f"runtime 'mps' for stage {stage}: PyTorch reports no MPS device "
                f"(torch {torch.__version__}, built with MPS: {torch.backends.mps.is_built()}).",
                "MPS needs an Apple Silicon Mac with macOS 12.3 or newer and an arm64 Python; "
                "elsewhere use runtime 'cpu' or 'onnx_cpu'.",
            )
        return "mps"
    hip = getattr(torch.version, "hip", None)
    if runtime == "rocm":
        if hip is None:
            raise RuntimeUnavailableError(
                f"runtime 'rocm' for stage {stage}: torch {torch.__version__} is not a ROCm build.",
                "install a ROCm build of torch and torchvision "
                "(`pip install torch torchvision --index-url "
                "https://download.pytorch.org/whl/rocm6.4`) on a node with an AMD GPU.",
            )
        if not torch.cuda.is_available():
            raise RuntimeUnavailableError(
                f"runtime 'rocm' for stage {stage}: no AMD GPU is visible (torch "
                f"{torch.__version__}, HIP {hip}, HIP_VISIBLE_DEVICES="
                f"{os.environ.get('HIP_VISIBLE_DEVICES', '<unset>')}).",
                "run on a node with an AMD GPU (on SLURM request one with --gres=gpu:1) and "
                "check `rocm-smi`.",
            )
        return f"rocm:{torch.cuda.get_device_name(0)}"
    # cuda and tensorrt both need an NVIDIA device.
    if hip is not None or torch.version.cuda is None:
        raise RuntimeUnavailableError(
            f"runtime '{runtime}' for stage {stage}: torch {torch.__version__} has no CUDA "
            f"support ({'a ROCm build' if hip else 'a CPU-only build'}).",
            "install a CUDA build of torch and torchvision (https://pytorch.org/get-started/"
            "locally/) on a node with an NVIDIA GPU.",
        )
    if not torch.cuda.is_available():
        raise RuntimeUnavailableError(
            f"runtime '{runtime}' for stage {stage}: no CUDA device is visible (torch "
            f"{torch.__version__} built for CUDA {torch.version.cuda}, CUDA_VISIBLE_DEVICES="
            f"{os.environ.get('CUDA_VISIBLE_DEVICES', '<unset>')}).",
            "run on a node with an NVIDIA GPU (on SLURM request one, e.g. --gres=gpu:1) and "
            "check `nvidia-smi`; a driver older than the torch build's CUDA also hides the GPU.",
        )
    return f"cuda:{torch.cuda.get_device_name(0)}"


def check_node(runtime: str, stage: str) -> NodeCapability:
    """Check, inside the job, that this node can run ``stage`` on ``runtime``; never falls back.

    ``stage`` is a key of :data:`MODEL_STAGES`. Returns what was found (device, providers,
    package versions) for provenance; raises :class:`RuntimeUnavailableError` naming what is
    missing and how to install it.
    """
    if runtime not in RUNTIMES:
        raise RuntimeUnavailableError(
            f"unknown runtime {runtime!r}", f"use one of {', '.join(RUNTIMES)}"
        )
    model_stage = MODEL_STAGES[stage]
    if runtime not in model_stage.runtimes:
        raise RuntimeUnavailableError(
            f"stage {model_stage.label} does not support runtime '{runtime}'.",
            "use one of "
            + ", ".join(r for r in RUNTIMES if r in model_stage.runtimes)
            + " (the config check should have caught this; is the config edited mid-run?)",
        )
    family = "sleap" if stage == "sleap" else "yolo"
    label = model_stage.label
    capability = NodeCapability(runtime=runtime, stage=stage, device="cpu")
    modules = {}
    for module_name in _STAGE_PACKAGES[(family, _runtime_family(runtime))]:
        module = _import_or_fail(module_name, runtime, label)
        modules[module_name] = module
        capability.packages[module_name] = _package_version(module)

    if runtime in ONNX_RUNTIMES:
        available = modules["onnxruntime"].get_available_providers()
        wanted = onnxruntime_providers(runtime)
        if wanted[0] not in available:
            raise RuntimeUnavailableError(
                f"runtime '{runtime}' for stage {label} needs ONNX Runtime's {wanted[0]}, but "
                f"this onnxruntime {capability.packages['onnxruntime']} offers only "
                f"{', '.join(available)}.",
                {
                    "onnx_cpu": "reinstall onnxruntime: `pip install --force-reinstall "
                    "onnxruntime`.",
                    "onnx_cuda": "`pip uninstall onnxruntime && pip install "
                    "onnxruntime-gpu[cuda,cudnn]` (one of the two, never both; the extras bring "
                    "the CUDA and cuDNN libraries it was built for) on a node with an NVIDIA GPU.",
                    "onnx_rocm": "install AMD's onnxruntime-rocm wheel (https://rocm.docs.amd."
                    "com, 'ONNX Runtime') on a node with an AMD GPU.",
                }[runtime],
            )
        capability.providers = wanted
        capability.device = wanted[0].removesuffix("ExecutionProvider").lower()
    elif "torch" in modules:
        capability.device = _check_torch_device(modules["torch"], runtime, label)
    if runtime == "tract":
        capability.device = "cpu"
    return capability


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
            if runtime == "onnx_cuda" and hasattr(onnxruntime, "preload_dlls"):
                onnxruntime.preload_dlls()
            session = onnxruntime.InferenceSession(
                model_path, options, providers=onnxruntime_providers(runtime)
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
    wanted = onnxruntime_providers(runtime)[0]
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
    if runtime == "onnx_cuda" and "libcuda.so.1" in missing:
        remedy = (
            "libcuda.so.1 is the NVIDIA driver's library: this node has no NVIDIA driver. Run "
            "the job on a GPU node (on SLURM the profile requests --gres=gpu:1; check that the "
            "partition has GPUs and `nvidia-smi` works there) or pick runtime 'onnx_cpu'."
        )
    elif runtime == "onnx_cuda":
        remedy = (
            "install the CUDA and cuDNN libraries this onnxruntime-gpu was built for into the "
            "same environment (`pip install onnxruntime-gpu[cuda,cudnn]`, as envs/onnx-cuda.yaml "
            "does) or pick runtime 'onnx_cpu'."
        )
    else:
        remedy = (
            "install ROCm and AMD's onnxruntime-rocm wheel on a node with an AMD GPU "
            "(https://rocm.docs.amd.com, 'ONNX Runtime') or pick runtime 'onnx_cpu'."
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


def find_spec(module: str) -> bool:
    """Whether a module is importable, without importing it."""
    return importlib.util.find_spec(module) is not None
