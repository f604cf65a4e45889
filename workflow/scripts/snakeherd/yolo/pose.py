"""YOLO-pose: keypoints on crops around each detection (default) or on whole frames.

Crops follow ``snakeherd.crops`` (square on the box centre, side = crop_scale × long side, zero
padding), sampled straight at the model's input size, so no letterbox is involved. In a crop the
neighbouring animal is often visible too; the instance whose box centre is nearest the crop centre
is the one the crop was made for. On whole frames every instance becomes a detection of its own.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from ..crops import Crop, extract
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
from .decode import decode_pose
from .detect import YoloRun, batched
from .geometry import Letterbox

POSE_COLUMNS = ["frame", "det_id", "node", "x", "y", "score", "instance_score"]
DETECTION_COLUMNS = ["frame", "det_id", "x", "y", "w", "h", "angle", "score", "class_id"]


@dataclass(frozen=True)
class PoseRun:
    yolo: YoloRun
    mode: str = "crops"  # or "frames"
    crop_scale: float = 1.5
    node_names: tuple[str, ...] | None = None
    edges: tuple[tuple[str, str], ...] = ()  # skeleton edges by node name, for tracks.slp


class PoseModel:
    """A YOLO-pose model on any runtime: model-sized BGR images → instances per image."""

    def __init__(self, run: YoloRun):
        self.run = run
        if run.runtime in LEAN_RUNTIMES:
            self.info = ModelInfo.read(run.model)
            if self.info.task != "pose":
                from ..errors import InputFileError

                raise InputFileError(
                    f"pose.models[0]: {run.model} was exported from a {self.info.task} model, "
                    "not a pose model.",
                    "point pose.models at your YOLO-pose .pt file.",
                )
            self.model = open_lean_model(run.model, run.runtime, self.info, run.threads)
            self.providers = list(self.model.providers)
            self.workers = self.model.workers
            self.size = self.info.size
            self.n_keypoints = self.info.kpt_shape[0]
        else:
            from .offline import load

            self.model = load(run.model, "pose", "pose.models[0]")
            self.size = run.size or int(self.model.model.args.get("imgsz", 640))
            self.n_keypoints = int(self.model.model.kpt_shape[0])
            self.providers = [f"ultralytics:{ultralytics_device(run.runtime)}"]
            self.workers = 1  # torch spreads one call over the job's threads itself

    def predict(self, images: list[np.ndarray]):
        """Per image: boxes ``(x1, y1, x2, y2, score, class)`` and keypoints ``(n, K, 3)``."""
        if not images:
            return []
        if self.run.runtime in LEAN_RUNTIMES:
            raw = run_in_batches(self.model, images, self.info.batch)
            return [decode_pose(output, self.n_keypoints, self.run.filters) for output in raw]
        results = ultralytics_predict(self.model, images, self.run, self.size)
        out = []
        for result in results:
            boxes = result.boxes
            rows = np.column_stack(
                [
                    boxes.xyxy.cpu().numpy(),
                    boxes.conf.cpu().numpy(),
                    boxes.cls.cpu().numpy(),
                ]
            ).astype(np.float64)
            keypoints = result.keypoints.data.cpu().numpy().astype(np.float64)
            out.append((rows, keypoints.reshape(len(rows), self.n_keypoints, 3)))
        return out


def node_names(run: PoseRun, n_keypoints: int) -> list[str]:
    if run.node_names is None:
        return [f"kp{i}" for i in range(n_keypoints)]
    if len(run.node_names) != n_keypoints:
        from ..errors import ConfigError

        raise ConfigError(
            f"pose.node_names lists {len(run.node_names)} names, but the model predicts "
            f"{n_keypoints} keypoints.",
            f"give exactly {n_keypoints} names, in the model's keypoint order.",
        )
    return list(run.node_names)


def clip_to_image(boxes: np.ndarray, keypoints: np.ndarray, width: float, height: float) -> None:
    """Clip boxes (xyxy) and keypoints to the image in place, as Ultralytics' predictor does, so
    every runtime picks and reports the same instances."""
    boxes[:, [0, 2]] = boxes[:, [0, 2]].clip(0, width)
    boxes[:, [1, 3]] = boxes[:, [1, 3]].clip(0, height)
    keypoints[..., 0] = keypoints[..., 0].clip(0, width)
    keypoints[..., 1] = keypoints[..., 1].clip(0, height)


def nearest_to_centre(boxes: np.ndarray, centre: float) -> int | None:
    if len(boxes) == 0:
        return None
    cx = (boxes[:, 0] + boxes[:, 2]) / 2
    cy = (boxes[:, 1] + boxes[:, 3]) / 2
    return int(np.argmin(np.hypot(cx - centre, cy - centre)))


def _pose_rows(frame, det_id, names, keypoints, instance_score):
    """Long-format rows for one instance; missing keypoints (no instance) are NaN."""
    return [
        (frame, det_id, name, keypoints[k, 0], keypoints[k, 1], keypoints[k, 2], instance_score)
        for k, name in enumerate(names)
    ]


def pose_on_crops(video_path: str, detections: pd.DataFrame, run: PoseRun):
    """Keypoints for every detection (table without ``video_id``) and a stage summary."""
    model = PoseModel(run.yolo)
    names = node_names(run, model.n_keypoints)
    missing = np.full((model.n_keypoints, 3), [np.nan, np.nan, 0.0])
    rows = []
    frames = np.sort(detections["frame"].unique())
    # Each frame's boxes as plain tuples, made once: itertuples() on each frame's group built a
    # namedtuple class per frame (~2 ms a frame on the fly clip, a third of what the stage costs
    # besides its model; benchmarks/long_video.py --pipeline).
    boxes_by_frame: dict[int, list[tuple[int, float, float, float]]] = {}
    for frame_index, det_id, x, y, w in zip(
        *(detections[column].to_numpy() for column in ("frame", "det_id", "x", "y", "w")),
        strict=True,
    ):
        boxes_by_frame.setdefault(int(frame_index), []).append((int(det_id), x, y, w))

    def predict_chunk(chunk):
        crops, owners = [], []
        for frame_index, image in chunk:
            for det_id, x, y, w in boxes_by_frame[frame_index]:
                crop = Crop.around(x, y, w, run.crop_scale, model.size)
                crops.append(extract(image, crop))
                owners.append((frame_index, det_id, crop))
        return owners, model.predict(crops)

    with VideoReader(video_path, grayscale=False) as reader:
        chunks = batched(reader.iter_frames(frames), max(run.yolo.batch, 1))
        for owners, predicted in map_in_order(predict_chunk, chunks, model.workers):
            for (frame_index, det_id, crop), (boxes, keypoints) in zip(
                owners, predicted, strict=True
            ):
                clip_to_image(boxes, keypoints, model.size, model.size)
                best = nearest_to_centre(boxes, model.size / 2)
                if best is None:
                    rows += _pose_rows(frame_index, det_id, names, missing, 0.0)
                    continue
                points = keypoints[best].copy()
                points[:, :2] = crop.to_video(points[:, :2])
                rows += _pose_rows(frame_index, det_id, names, points, boxes[best, 4])
    table = pd.DataFrame(rows, columns=POSE_COLUMNS).astype({"frame": "int64", "det_id": "int64"})
    return table, _summary(run, model, names, "crops", len(frames), None)


def pose_on_frames(video_path: str, selection: FrameSelection, run: PoseRun):
    """Pose instances on whole frames: (detections, poses, summary); the model finds animals."""
    model = PoseModel(run.yolo)
    names = node_names(run, model.n_keypoints)
    detection_rows, pose_rows = [], []
    with VideoReader(video_path, grayscale=False) as reader:
        resolved = selection.resolve(reader.info.n_frames)
        letterbox = Letterbox.fit(reader.info.height, reader.info.width, model.size)
        lean = run.yolo.runtime in LEAN_RUNTIMES

        def predict_chunk(chunk):
            images = [letterbox.apply(image) if lean else image for _, image in chunk]
            return [index for index, _ in chunk], model.predict(images)

        chunks = batched(reader.iter_frames(resolved.frames()), max(run.yolo.batch, 1))
        for indices, predicted in map_in_order(predict_chunk, chunks, model.workers):
            for frame_index, (boxes, keypoints) in zip(indices, predicted, strict=True):
                if lean:
                    boxes[:, 0:2] = letterbox.to_video(boxes[:, 0:2])
                    boxes[:, 2:4] = letterbox.to_video(boxes[:, 2:4])
                    keypoints[..., :2] = letterbox.to_video(keypoints[..., :2])
                    clip_to_image(boxes, keypoints, reader.info.width, reader.info.height)
                for det_id in range(len(boxes)):
                    points = keypoints[det_id]
                    x1, y1, x2, y2 = boxes[det_id, :4]
                    width, height = x2 - x1, y2 - y1
                    detection_rows.append(
                        (
                            frame_index,
                            det_id,
                            (x1 + x2) / 2,
                            (y1 + y2) / 2,
                            max(width, height),
                            min(width, height),
                            0.0 if width >= height else np.pi / 2,
                            boxes[det_id, 4],
                            int(boxes[det_id, 5]),
                        )
                    )
                    pose_rows += _pose_rows(frame_index, det_id, names, points, boxes[det_id, 4])
    detections = pd.DataFrame(detection_rows, columns=DETECTION_COLUMNS).astype(
        {"frame": "int64", "det_id": "int64", "class_id": "int64"}
    )
    poses = pd.DataFrame(pose_rows, columns=POSE_COLUMNS).astype(
        {"frame": "int64", "det_id": "int64"}
    )
    summary = _summary(run, model, names, "frames", len(resolved), str(resolved))
    summary["video"] = asdict(reader.info)
    return detections, poses, summary


def skeleton(run: PoseRun, names: list[str]) -> dict:
    """Nodes and edges for outputs that carry a skeleton (``tracks.slp``)."""
    unknown = sorted({node for edge in run.edges for node in edge} - set(names))
    if unknown:
        from ..errors import ConfigError

        raise ConfigError(
            f"pose.edges names node(s) {unknown} that are not among the keypoints {names}.",
            "use names from pose.node_names in pose.edges.",
        )
    return {"nodes": names, "edges": [list(edge) for edge in run.edges]}


def _summary(run: PoseRun, model: PoseModel, names, mode, n_frames, selection) -> dict:
    return {
        "method": "yolo_pose",
        "mode": mode,
        "model": run.yolo.model,
        "input_size": model.size,
        "crop_scale": run.crop_scale if mode == "crops" else None,
        "nodes": names,
        "skeleton": skeleton(run, names),
        "filters": asdict(run.yolo.filters),
        "batch": run.yolo.batch,
        "providers": model.providers,
        "concurrent_runs": model.workers,
        "frames": int(n_frames),
        "frame_selection": selection,
    }
