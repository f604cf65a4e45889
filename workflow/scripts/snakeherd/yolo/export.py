"""``model.pt`` → ``model.onnx`` (ONNX runtimes, tract) or ``model.engine`` (TensorRT), checked.

Ultralytics writes its export next to the ``.pt``; model folders are often read-only or shared, so
the export runs on a private copy in a temporary folder and only the finished artifact is moved to
its place. The parity check then feeds the same real frames, preprocessed once, to the source
model (torch) and to the artifact (ONNX Runtime on the CPU, or the TensorRT engine) and compares
their raw outputs on every anchor: box centre and size (model-input pixels), angle, class score
and keypoints. The numbers are written beside the
artifact (``<artifact>.parity.json``, which also describes the model for the inference stage); a
difference over tolerance fails the export, naming the numbers.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ..errors import InputFileError, SnakeherdError
from ..runtimes import table
from ..video import FrameSelection, VideoReader
from .geometry import Letterbox


@dataclass(frozen=True)
class ParityTolerance:
    """Largest acceptable source/artifact differences (the config's ``export`` section)."""

    position_px: float = 0.5  # box centre, box size and keypoints, model-input pixels
    angle_rad: float = 0.01
    score: float = 0.01
    frames: int = 8  # real frames compared


class ParityError(SnakeherdError):
    """The exported model disagrees with its source beyond tolerance."""


def file_sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def parity_frames(videos: list[str], selections: list[str], count: int):
    """Up to ``count`` real frames (BGR) spread over the first video that decodes."""
    problems = []
    for video, selection in zip(videos, selections, strict=True):
        try:
            with VideoReader(video, grayscale=False) as reader:
                frames = FrameSelection.parse(selection).resolve(reader.info.n_frames)
                return video, [
                    image for _, image in reader.iter_frames(frames.evenly_spaced(count))
                ]
        except SnakeherdError as error:
            problems.append(str(error).splitlines()[0])
    raise InputFileError(
        "the export's parity check needs real frames, and none of the candidate videos decodes: "
        + "; ".join(problems),
        "fix or replace the first videos of your config.",
    )


def export_artifact(model, artifact: str, size: int, batch: int, device: str) -> None:
    """Export ``model`` (a loaded Ultralytics YOLO) to ``artifact`` (.onnx or .engine)."""
    target = Path(artifact)
    fmt = "engine" if target.suffix == ".engine" else "onnx"
    source = Path(model.ckpt_path)
    with tempfile.TemporaryDirectory(prefix="snakeherd-export-") as tmp:
        private = Path(tmp) / source.name
        shutil.copyfile(source, private)
        from ultralytics import YOLO

        copy = YOLO(str(private))
        try:
            written = copy.export(
                format=fmt, imgsz=size, batch=batch, dynamic=False, device=device, verbose=False
            )
        except Exception as error:  # Ultralytics raises plain exceptions for missing GPUs etc.
            raise SnakeherdError(
                f"exporting {source} to {fmt} failed: {type(error).__name__}: {error}",
                "TensorRT export needs an NVIDIA GPU and `pip install tensorrt` on the node that "
                "runs the export job; ONNX export needs `pip install onnx onnxslim`."
                if fmt == "engine"
                else "check the model loads and exports with Ultralytics by hand "
                "(`yolo export model=... format=onnx`).",
            ) from error
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_name(f".{target.name}.tmp")
        shutil.move(str(written), temporary)
        temporary.replace(target)


class _TorchSource:
    def __init__(self, model, device: str):
        import torch

        self.torch = torch
        self.device = torch.device(device)
        self.module = model.model.to(self.device).float().eval()

    def run(self, batch: np.ndarray) -> np.ndarray:
        with self.torch.no_grad():
            output = self.module(self.torch.from_numpy(batch).to(self.device))
        output = output[0] if isinstance(output, (list, tuple)) else output
        return output.float().cpu().numpy()


class _EngineArtifact:
    def __init__(self, artifact: str, device: str):
        import torch
        from ultralytics.nn.autobackend import AutoBackend

        self.torch = torch
        self.device = torch.device(device)
        self.backend = AutoBackend(artifact, device=self.device, fp16=False, verbose=False)

    def run(self, batch: np.ndarray) -> np.ndarray:
        output = self.backend(self.torch.from_numpy(batch).to(self.device))
        output = output[0] if isinstance(output, (list, tuple)) else output
        return output.float().cpu().numpy()


def compare_raw(source: np.ndarray, artifact: np.ndarray, task: str, n_classes: int) -> dict:
    """Largest and mean differences between two raw outputs ``(B, C, anchors)``, over every
    anchor: the outputs are deterministic functions of the input, whatever they score."""
    diff = np.abs(source - artifact)

    def stats(rows) -> dict:
        values = diff[:, rows]
        return {"max": float(values.max()), "mean": float(values.mean())}

    result = {
        "anchors_compared": int(source.shape[0] * source.shape[2]),
        "position_px": stats(slice(0, 4)),
        "score": stats(slice(4, 4 + n_classes)),
    }
    if task == "obb":
        angle = np.abs(np.remainder(source[:, -1] - artifact[:, -1] + np.pi / 2, np.pi) - np.pi / 2)
        result["angle_rad"] = {"max": float(angle.max()), "mean": float(angle.mean())}
    else:
        keypoints = source.shape[1] - 4 - n_classes
        xy = [4 + n_classes + i for i in range(keypoints) if i % 3 != 2]
        visibility = [4 + n_classes + i for i in range(keypoints) if i % 3 == 2]
        result["keypoints_px"] = stats(xy)
        result["keypoint_visibility"] = stats(visibility)
    return result


def check_parity(
    model,
    artifact: str,
    task: str,
    frames: list[np.ndarray],
    size: int,
    batch: int,
    tolerance: ParityTolerance,
    device: str,
) -> dict:
    """Run source and artifact on the same inputs; the differences, and what is over tolerance
    under ``"over_tolerance"`` (empty when the artifact passes)."""
    from .backends import OnnxRuntimeModel, run_in_batches

    height, width = frames[0].shape[:2]
    letterbox = Letterbox.fit(height, width, size)
    images = [letterbox.apply(frame) for frame in frames]
    source = _TorchSource(model, device)
    if artifact.endswith(".engine"):
        artifact_model = _EngineArtifact(artifact, device)
        artifact_runtime = table.names(table.TENSORRT)[0]
    else:
        # An ONNX export is checked on the CPU: the same graph runs on every provider.
        artifact_runtime = table.cpu_runtime(table.ONNX)
        artifact_model = OnnxRuntimeModel(artifact, artifact_runtime, threads=1)
    source_out = np.stack(run_in_batches(source, images, batch))
    artifact_out = np.stack(run_in_batches(artifact_model, images, batch))
    result = compare_raw(source_out, artifact_out, task, len(model.names))
    result.update(
        {"frames": len(frames), "source_device": device, "artifact_runtime": artifact_runtime}
    )
    over = []
    if result["position_px"]["max"] > tolerance.position_px:
        over.append(f"box position/size differs by up to {result['position_px']['max']:.4f} px")
    if "keypoints_px" in result and result["keypoints_px"]["max"] > tolerance.position_px:
        over.append(f"keypoints differ by up to {result['keypoints_px']['max']:.4f} px")
    if "angle_rad" in result and result["angle_rad"]["max"] > tolerance.angle_rad:
        over.append(f"angles differ by up to {result['angle_rad']['max']:.5f} rad")
    if result["score"]["max"] > tolerance.score:
        over.append(f"scores differ by up to {result['score']['max']:.4f}")
    result["tolerance"] = asdict(tolerance)
    result["over_tolerance"] = over
    result["passed"] = not over
    return result


def model_record(model, task: str, size: int, batch: int, source: str) -> dict:
    return {
        "task": task,
        "size": size,
        "batch": batch,
        "names": {str(k): v for k, v in model.names.items()},
        "kpt_shape": list(getattr(model.model, "kpt_shape", None) or []) or None,
        "source": {"path": source, "sha256": file_sha256(source)},
    }


def write_sidecar(artifact: str, record: dict) -> None:
    path = Path(f"{artifact}.parity.json")
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(json.dumps(record, indent=2) + "\n")
    temporary.replace(path)
