"""Running YOLO models: the lean path (ONNX Runtime or tract, no torch) and Ultralytics.

The lean path takes preprocessed float32 NCHW batches and returns the raw output, so every ONNX
engine shares the same pre- and post-processing (``geometry``, ``decode``). Ultralytics runs the
native runtimes (torch on cpu/mps/cuda/rocm) and TensorRT engines end to end.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import InputFileError
from ..runtimes import onnx_sessions, table

# Runtimes whose YOLO jobs run the exported model without Ultralytics or torch.
LEAN_RUNTIMES = tuple(runtime.name for runtime in table.TABLE if not runtime.imports_torch)


@dataclass(frozen=True)
class ModelInfo:
    """What the stage needs to know about an exported model (written beside it at export)."""

    task: str
    size: int
    batch: int
    names: dict[int, str]
    kpt_shape: tuple[int, int] | None = None
    source: dict = field(default_factory=dict)

    @classmethod
    def read(cls, artifact: str) -> ModelInfo:
        sidecar = Path(f"{artifact}.parity.json")
        if not sidecar.is_file():
            raise InputFileError(
                f"{artifact} has no {sidecar.name} beside it, so it was not exported by "
                "snakeherd (or the export failed).",
                "delete the artifact and let the workflow export it from the .pt file.",
            )
        record = json.loads(sidecar.read_text())["model"]
        return cls(
            task=record["task"],
            size=int(record["size"]),
            batch=int(record["batch"]),
            names={int(k): v for k, v in record["names"].items()},
            kpt_shape=tuple(record["kpt_shape"]) if record.get("kpt_shape") else None,
            source=record.get("source", {}),
        )


class OnnxRuntimeModel:
    """An ONNX Runtime session on the runtime's providers; refuses a silent CPU fallback.

    On the CPU a job's threads become ``workers``: that many concurrent one-thread runs of the
    session, nearly twice the frames per second of one run on two intra-op threads on two cores
    (measured with the fly OBB model). On a GPU one caller feeds the device.
    """

    def __init__(self, path: str, runtime: str, threads: int):
        on_cpu = table.get(runtime).cpu_only
        self.workers = threads if on_cpu else 1
        self.session = onnx_sessions.open_onnxruntime_session(
            path, runtime, 1 if on_cpu else threads
        )
        self.providers = self.session.get_providers()
        self.input_name = self.session.get_inputs()[0].name

    def run(self, batch: np.ndarray) -> np.ndarray:
        return self.session.run(None, {self.input_name: batch})[0]


class TractModel:
    """The same ONNX file on tract (a pure-Rust CPU engine), input shape fixed at load; each run
    takes one core, so a job's threads are concurrent runs (``workers``)."""

    providers = ("tract",)

    def __init__(self, path: str, batch: int, size: int, threads: int = 1):
        import tract

        self.workers = threads
        model = tract.onnx().load(path)
        model.set_input_fact(0, f"{batch},3,{size},{size},f32")
        self.runnable = tract.runtime_for_name("default").prepare(model.into_model())

    def run(self, batch: np.ndarray) -> np.ndarray:
        return self.runnable.run([batch])[0].to_numpy()


def open_lean_model(path: str, runtime: str, info: ModelInfo, threads: int):
    if table.get(runtime).family == table.TRACT:
        return TractModel(path, info.batch, info.size, threads)
    return OnnxRuntimeModel(path, runtime, threads)


def ultralytics_device(runtime: str) -> str:
    """Ultralytics' device string for a native runtime (ROCm builds of torch use 'cuda')."""
    device = table.get(runtime).torch_device
    return "cuda:0" if device == "cuda" else device


def ultralytics_predict(model, images: list[np.ndarray], run, size: int):
    """Ultralytics' own predictor on BGR images with the run's filters (native runtimes and
    TensorRT engines); its results carry coordinates in the images' pixels."""
    return model.predict(
        images,
        imgsz=size,
        conf=run.filters.conf,
        iou=run.filters.iou,
        max_det=run.filters.max_det,
        device=ultralytics_device(run.runtime),
        batch=len(images),
        half=False,
        verbose=False,
    )


def run_in_batches(model, images: list[np.ndarray], batch: int) -> list[np.ndarray]:
    """Raw outputs for model-sized images, in the model's fixed batch (the last one padded)."""
    from .geometry import to_input_tensor

    outputs = []
    for start in range(0, len(images), batch):
        chunk = images[start : start + batch]
        tensor = to_input_tensor(chunk)
        if len(chunk) < batch:
            padding = np.zeros((batch - len(chunk), *tensor.shape[1:]), dtype=tensor.dtype)
            tensor = np.concatenate([tensor, padding])
        outputs.extend(model.run(tensor)[: len(chunk)])
    return outputs
