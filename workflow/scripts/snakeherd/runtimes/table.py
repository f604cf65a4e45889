"""The runtime table: every runtime, what runs it, where, and which model stages support it.

The only place in the library that lists runtime names. Everything else asks it:
the config check (:func:`validate_runtime`, while Snakemake parses the config, before any job),
the rules (the environment file of each stage, whether a job needs a GPU, whether a model is
exported first), the YOLO and SLEAP code (torch device, ONNX Runtime providers) and the in-job
node check (:mod:`.node`).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from ..errors import ConfigError

# Runtime families: how a model runs.
TORCH = "torch"  # the framework itself (Ultralytics, sleap-nn) on a torch device
ONNX = "onnx"  # an exported .onnx on ONNX Runtime
TENSORRT = "tensorrt"  # a serialized TensorRT engine
TRACT = "tract"  # an exported .onnx on tract, a pure-Rust CPU engine

# The environment files (envs/) of the rules that run models, by environment kind.
YOLO = "yolo"  # YOLO detection and pose jobs
YOLO_EXPORT = "yolo_export"  # YOLO export rules
SLEAP = "sleap"  # every SLEAP rule


# Accelerators: the hardware a runtime runs on besides the CPU (None: the CPU alone).
NVIDIA = "nvidia"
AMD = "amd"
APPLE = "apple"


@dataclass(frozen=True)
class Runtime:
    """One row of the table."""

    name: str
    family: str
    accelerator: str | None
    providers: tuple[str, ...]  # ONNX Runtime providers, accelerator first (onnx family only)
    envs: dict[str, str | None]  # environment file per kind; None: that stage cannot run it

    @property
    def needs_gpu(self) -> bool:
        """Model jobs must run on a node with a GPU that a scheduler hands out (Apple GPUs sit
        in no cluster node, so ``mps`` asks for none)."""
        return self.accelerator in (NVIDIA, AMD)

    @property
    def cpu_only(self) -> bool:
        """Jobs hide every accelerator, so results never depend on one being there."""
        return self.accelerator is None

    @property
    def torch_device(self) -> str | None:
        """The torch device of a torch (or TensorRT) run; None where torch runs no model.
        ROCm builds of torch address AMD GPUs through ``torch.cuda``."""
        if self.family not in (TORCH, TENSORRT):
            return None
        return {None: "cpu", APPLE: "mps", NVIDIA: "cuda", AMD: "cuda"}[self.accelerator]

    @property
    def exports(self) -> bool:
        """Whether models are exported (an artifact made by a rule) before they run."""
        return self.family != TORCH

    @property
    def imports_torch(self) -> bool:
        """Whether a YOLO job on it runs Ultralytics (and so torch) rather than the lean path."""
        return self.family in (TORCH, TENSORRT)

    def env(self, kind: str) -> str | None:
        return self.envs[kind]


def _envs(yolo: str, yolo_export: str | None, sleap: str | None) -> dict[str, str | None]:
    return {YOLO: yolo, YOLO_EXPORT: yolo_export, SLEAP: sleap}


_ULTRALYTICS = "envs/ultralytics.yaml"
_TENSORRT = "envs/ultralytics-tensorrt.yaml"
_ONNX = "envs/onnx.yaml"
_SLEAP_CPU = "envs/sleap-cpu.yaml"
_SLEAP_GPU = "envs/sleap-gpu.yaml"
_CPU = "CPUExecutionProvider"

# sleap-nn has no ROCm build and runs exported models only through ONNX Runtime's CPU and CUDA
# providers or TensorRT, so its environment column is empty for ROCm and tract.
TABLE: tuple[Runtime, ...] = (
    Runtime("cpu", TORCH, None, (), _envs(_ULTRALYTICS, None, _SLEAP_CPU)),
    Runtime("mps", TORCH, APPLE, (), _envs(_ULTRALYTICS, None, _SLEAP_CPU)),
    Runtime("cuda", TORCH, NVIDIA, (), _envs(_ULTRALYTICS, None, _SLEAP_GPU)),
    Runtime("rocm", TORCH, AMD, (), _envs(_ULTRALYTICS, None, None)),
    Runtime("onnx_cpu", ONNX, None, (_CPU,), _envs(_ONNX, _ULTRALYTICS, _SLEAP_CPU)),
    Runtime(
        "onnx_cuda",
        ONNX,
        NVIDIA,
        ("CUDAExecutionProvider", _CPU),
        _envs("envs/onnx-cuda.yaml", _ULTRALYTICS, _SLEAP_GPU),
    ),
    Runtime(
        "onnx_rocm",
        ONNX,
        AMD,
        ("ROCMExecutionProvider", _CPU),
        _envs("envs/onnx-rocm.yaml", _ULTRALYTICS, None),
    ),
    Runtime(
        "tensorrt", TENSORRT, NVIDIA, (), _envs(_TENSORRT, _TENSORRT, "envs/sleap-tensorrt.yaml")
    ),
    Runtime("tract", TRACT, None, (), _envs(_ONNX, _ULTRALYTICS, None)),
)

RUNTIMES: tuple[str, ...] = tuple(runtime.name for runtime in TABLE)
"""Canonical runtime names, in the order every message lists them."""

_BY_NAME = {runtime.name: runtime for runtime in TABLE}


def get(name: str) -> Runtime:
    """The row of a canonical runtime name (KeyError for any other)."""
    return _BY_NAME[name]


def names(family: str) -> tuple[str, ...]:
    """The runtimes of one family, in canonical order."""
    return tuple(runtime.name for runtime in TABLE if runtime.family == family)


def cpu_runtime(family: str) -> str | None:
    """The family's runtime on the CPU alone (None where it has none)."""
    return next((r.name for r in TABLE if r.family == family and r.cpu_only), None)


def cpu_counterpart(runtime: str) -> str:
    """The CPU-only runtime of the same family (the torch one where the family has none): what
    a remedy offers when a node cannot run ``runtime``'s accelerator."""
    return cpu_runtime(get(runtime).family) or cpu_runtime(TORCH)


def needs_gpu(runtime: str) -> bool:
    """Whether a model job on ``runtime`` needs a GPU on its node (CPU-only work never does)."""
    return get(runtime).needs_gpu


@dataclass(frozen=True)
class ModelStage:
    """A stage that runs a model, hence depends on the runtime."""

    name: str
    label: str
    config_key: str
    method: str
    env_kind: str  # its column of the table: runtimes without an environment there are out

    @property
    def runtimes(self) -> frozenset[str]:
        return frozenset(r.name for r in TABLE if r.envs[self.env_kind] is not None)

    def supported(self) -> list[str]:
        """The runtimes it supports, in canonical order."""
        return [name for name in RUNTIMES if name in self.runtimes]


MODEL_STAGES: dict[str, ModelStage] = {
    stage.name: stage
    for stage in (
        ModelStage("yolo_obb", "YOLO-OBB detection", "detection", "yolo_obb", YOLO),
        ModelStage("yolo_pose", "YOLO-pose", "pose", "yolo_pose", YOLO),
        ModelStage("sleap", "SLEAP pose", "pose", "sleap", SLEAP),
    )
}
"""Stages whose support is limited by the runtime; every other stage (background-subtraction
detection, tracking, outputs, evaluation) is CPU work and runs under any runtime."""


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
        names_text = ", ".join(f"{s.label} ({s.config_key}.method: {s.method})" for s in excluding)
        raise ConfigError(
            f"runtime: '{runtime}' cannot run the enabled stage(s) {names_text}.\n"
            + "".join(f"{s.label} supports: {', '.join(s.supported())}.\n" for s in excluding)
            + f"Valid for this config's enabled stages [{stage_text}]: {valid_text}.",
            f"set `runtime:` to one of: {valid_text}; or disable the stage that excludes "
            f"'{runtime}'.",
        )
    return runtime
