"""YOLO-OBB detection over a video, on any runtime, streamed in batches.

The lean runtimes (``onnx_*``, ``tract``) decode frames with OpenCV, letterbox them, run the
exported model and decode its raw output here, without torch. The native runtimes and TensorRT
run Ultralytics' own predictor with an explicit thread count. Both return oriented boxes in video
pixels, ``w`` the long side, ``angle`` in [0, π).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass
from itertools import islice

import numpy as np
import pandas as pd

from ..parallel import map_in_order
from ..video import FrameSelection, VideoReader
from .backends import (
    LEAN_RUNTIMES,
    ModelInfo,
    open_lean_model,
    run_in_batches,
    ultralytics_device,
    ultralytics_predict,
)
from .decode import Filters, area_filter, decode_obb
from .geometry import Letterbox, long_side_first

COLUMNS = ["frame", "det_id", "x", "y", "w", "h", "angle", "score", "class_id"]


@dataclass(frozen=True)
class YoloRun:
    """How to run one YOLO model: the model file for the runtime, filters and batching."""

    model: str  # .pt for native runtimes, .onnx for onnx_*/tract, .engine for tensorrt
    runtime: str
    filters: Filters
    batch: int = 1
    threads: int = 1
    size: int | None = None  # model input size for native runtimes (None = the model's own)

    @classmethod
    def from_config(cls, section: dict, model: str, runtime: str, threads: int) -> YoloRun:
        """From a config section (``detection.yolo`` or ``pose.yolo``)."""
        return cls(
            model=str(model),
            runtime=runtime,
            filters=Filters.from_config(section),
            batch=int(section.get("batch", 1)),
            threads=int(threads),
            size=section.get("imgsz"),
        )


def batched(items: Iterator, size: int) -> Iterator[list]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


class ObbDetector:
    """Turns batches of BGR frames into oriented boxes (video pixels), per frame."""

    def __init__(self, run: YoloRun, frame_shape: tuple[int, int]):
        self.run = run
        if run.runtime in LEAN_RUNTIMES:
            self.info = ModelInfo.read(run.model)
            self.model = open_lean_model(run.model, run.runtime, self.info, run.threads)
            self.providers = list(self.model.providers)
            self.workers = self.model.workers
            self.letterbox = Letterbox.fit(*frame_shape, self.info.size)
            self.size = self.info.size
        else:
            from .offline import load

            self.model = load(run.model, "obb", "detection.model")
            self.size = run.size or int(self.model.model.args.get("imgsz", 640))
            self.providers = [f"ultralytics:{ultralytics_device(run.runtime)}"]
            self.workers = 1  # torch spreads one call over the job's threads itself

    def detect(self, frames: list[np.ndarray]) -> list[np.ndarray]:
        """Rows ``(x, y, w, h, angle, score, class)`` per frame, in video pixels."""
        if self.run.runtime in LEAN_RUNTIMES:
            raw = run_in_batches(
                self.model, [self.letterbox.apply(f) for f in frames], self.info.batch
            )
            found = []
            for output in raw:
                rows = decode_obb(output, self.run.filters)
                rows[:, 0:2] = self.letterbox.to_video(rows[:, 0:2])
                rows[:, 2] /= self.letterbox.gain_x
                rows[:, 3] /= self.letterbox.gain_y
                found.append(area_filter(rows, self.run.filters))
            return found
        results = ultralytics_predict(self.model, frames, self.run, self.size)
        found = []
        for result in results:
            obb = result.obb
            boxes = long_side_first(obb.xywhr.cpu().numpy().astype(np.float64))
            rows = np.column_stack(
                [boxes, obb.conf.cpu().numpy().astype(np.float64), obb.cls.cpu().numpy()]
            )
            found.append(area_filter(rows, self.run.filters))
        return found


def detect_video(video_path: str, selection: FrameSelection, run: YoloRun):
    """Detections of the selected frames (table without ``video_id``) and a stage summary."""
    if run.runtime not in LEAN_RUNTIMES:
        import torch

        torch.set_num_threads(run.threads)
    per_frame = []
    with VideoReader(video_path, grayscale=False) as reader:
        resolved = selection.resolve(reader.info.n_frames)
        detector = ObbDetector(run, (reader.info.height, reader.info.width))

        def detect_chunk(chunk):
            return [index for index, _ in chunk], detector.detect([image for _, image in chunk])

        chunks = batched(reader.iter_frames(resolved.frames()), run.batch)
        for indices, found in map_in_order(detect_chunk, chunks, detector.workers):
            for frame_index, rows in zip(indices, found, strict=True):
                if len(rows):
                    per_frame.append(
                        np.column_stack(
                            [np.full(len(rows), frame_index), np.arange(len(rows)), rows]
                        )
                    )
    table = pd.DataFrame(
        np.concatenate(per_frame) if per_frame else np.empty((0, len(COLUMNS))), columns=COLUMNS
    ).astype({"frame": "int64", "det_id": "int64", "class_id": "int64"})
    summary = {
        "method": "yolo_obb",
        "model": run.model,
        "input_size": detector.size,
        "batch": run.batch,
        "filters": asdict(run.filters),
        "providers": detector.providers,
        "concurrent_runs": detector.workers,
        "frames": len(resolved),
        "frame_selection": str(resolved),
        "video": asdict(reader.info),
    }
    return table, summary
