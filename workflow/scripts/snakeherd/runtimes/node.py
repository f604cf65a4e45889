"""Inside the job: can this node run the runtime? Never falls back to another backend.

:func:`prepare_process` runs first thing in every model job, before any framework is imported
(CPU runtimes hide every accelerator); :func:`check_node` then checks, on the node that runs the
job (a cluster's login node has no GPU), that the device, execution provider or package is there,
and fails with what is missing and how to install it.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass, field

from ..errors import RuntimeUnavailableError
from . import table

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

# Which Python packages each (environment kind, runtime family) imports inside the job.
_STAGE_PACKAGES = {
    ("yolo", table.TORCH): ("torch", "ultralytics"),
    ("yolo", table.ONNX): ("onnxruntime",),
    ("yolo", table.TENSORRT): ("torch", "tensorrt", "ultralytics"),
    ("yolo", table.TRACT): ("tract",),
    ("sleap", table.TORCH): ("torch", "sleap_nn"),
    ("sleap", table.ONNX): ("onnxruntime", "sleap_nn"),
    ("sleap", table.TENSORRT): ("torch", "tensorrt", "sleap_nn"),
}


# How to get ONNX Runtime's provider for a runtime's accelerator.
_PROVIDER_REMEDIES = {
    None: "reinstall onnxruntime: `pip install --force-reinstall onnxruntime`.",
    table.NVIDIA: "`pip uninstall onnxruntime && pip install onnxruntime-gpu[cuda,cudnn]` (one of "
    "the two, never both; the extras bring the CUDA and cuDNN libraries it was built for) on a "
    "node with an NVIDIA GPU.",
    table.AMD: "install AMD's onnxruntime-rocm wheel (https://rocm.docs.amd.com, 'ONNX Runtime') "
    "on a node with an AMD GPU.",
}


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


# What keeps frameworks off every accelerator of a node.
ACCELERATOR_HIDING_ENVIRONMENT = {
    "CUDA_VISIBLE_DEVICES": "-1",
    "HIP_VISIBLE_DEVICES": "-1",
    "ROCR_VISIBLE_DEVICES": "-1",
    "JAX_PLATFORMS": "cpu",
    "TF_CPP_MIN_LOG_LEVEL": "2",
    "PYTORCH_ENABLE_MPS_FALLBACK": "0",
}


def accelerator_hiding_environment(runtime: str) -> dict[str, str]:
    """Environment variables that keep CPU runtimes off any accelerator present on the node.

    Results must not depend on a GPU happening to be there, and frameworks' GPU probing stays out
    of the logs.
    """
    return dict(ACCELERATOR_HIDING_ENVIRONMENT) if table.get(runtime).cpu_only else {}


def prepare_process(runtime: str) -> None:
    """Call first in a job, before any framework is imported."""
    os.environ.update(accelerator_hiding_environment(runtime))


def hide_accelerators() -> None:
    """Call first in a job that runs no model, before any framework is imported."""
    os.environ.update(ACCELERATOR_HIDING_ENVIRONMENT)


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


def _check_torch_device(torch, row: table.Runtime, stage: str) -> str:
    runtime = row.name
    if row.accelerator is None:
        return "cpu"
    if row.accelerator == table.APPLE:
        if not torch.backends.mps.is_available():
            cpu_runtimes = " or ".join(f"'{r.name}'" for r in table.TABLE if r.cpu_only)
            raise RuntimeUnavailableError(
                f"runtime '{runtime}' for stage {stage}: PyTorch reports no MPS device "
                f"(torch {torch.__version__}, built with MPS: {torch.backends.mps.is_built()}).",
                "MPS needs an Apple Silicon Mac with macOS 12.3 or newer and an arm64 Python; "
                f"elsewhere use runtime {cpu_runtimes}.",
            )
        return row.torch_device
    hip = getattr(torch.version, "hip", None)
    if row.accelerator == table.AMD:
        if hip is None:
            raise RuntimeUnavailableError(
                f"runtime '{runtime}' for stage {stage}: torch {torch.__version__} is not a ROCm "
                "build.",
                "install a ROCm build of torch and torchvision "
                "(`pip install torch torchvision --index-url "
                "https://download.pytorch.org/whl/rocm6.4`) on a node with an AMD GPU.",
            )
        if not torch.cuda.is_available():
            raise RuntimeUnavailableError(
                f"runtime '{runtime}' for stage {stage}: no AMD GPU is visible (torch "
                f"{torch.__version__}, HIP {hip}, HIP_VISIBLE_DEVICES="
                f"{os.environ.get('HIP_VISIBLE_DEVICES', '<unset>')}).",
                "run on a node with an AMD GPU (on SLURM request one with --gres=gpu:1) and "
                "check `rocm-smi`.",
            )
        return f"rocm:{torch.cuda.get_device_name(0)}"
    # An NVIDIA device, for torch itself or for TensorRT.
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
    if runtime not in table.RUNTIMES:
        raise RuntimeUnavailableError(
            f"unknown runtime {runtime!r}", f"use one of {', '.join(table.RUNTIMES)}"
        )
    model_stage = table.MODEL_STAGES[stage]
    if runtime not in model_stage.runtimes:
        raise RuntimeUnavailableError(
            f"stage {model_stage.label} does not support runtime '{runtime}'.",
            "use one of "
            + ", ".join(model_stage.supported())
            + " (the config check should have caught this; is the config edited mid-run?)",
        )
    row = table.get(runtime)
    label = model_stage.label
    capability = NodeCapability(runtime=runtime, stage=stage, device="cpu")
    modules = {}
    for module_name in _STAGE_PACKAGES[(model_stage.env_kind, row.family)]:
        module = _import_or_fail(module_name, runtime, label)
        modules[module_name] = module
        capability.packages[module_name] = _package_version(module)

    if row.family == table.ONNX:
        available = modules["onnxruntime"].get_available_providers()
        wanted = list(row.providers)
        if wanted[0] not in available:
            raise RuntimeUnavailableError(
                f"runtime '{runtime}' for stage {label} needs ONNX Runtime's {wanted[0]}, but "
                f"this onnxruntime {capability.packages['onnxruntime']} offers only "
                f"{', '.join(available)}.",
                _PROVIDER_REMEDIES[row.accelerator],
            )
        capability.providers = wanted
        capability.device = wanted[0].removesuffix("ExecutionProvider").lower()
    elif "torch" in modules:
        capability.device = _check_torch_device(modules["torch"], row, label)
    return capability
