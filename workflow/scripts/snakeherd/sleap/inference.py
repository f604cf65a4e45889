"""The SLEAP pose stage proper: one process per video, sleap-nn's Python API, every runtime.

Runs inside the SLEAP environment (it needs only what sleap-nn brings: numpy, torch, sleap-io,
opencv). Two modes:

* **whole frames** (single-instance, bottom-up, top-down pair, multi-class): sleap-nn's
  ``Predictor`` streams the selected frames of the video exactly as ``sleap-nn predict`` does
  (same decoder, same defaults), so on ``cpu`` the keypoints equal the CLI's;
* **crops**: a centered-instance model runs on crops around the detections of the detection
  stage (:mod:`snakeherd.crops`: square around the box centre, side ``crop_scale`` × the box's
  long side, resampled to the model's crop size), keypoints mapped back exactly.

Outputs: a ``.slp`` that opens in SLEAP, and the arrays of :mod:`.handover`, which the main
environment turns into ``poses.parquet`` / ``detections.parquet``.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import runtimes
from ..crops import Crop, extract
from ..runtimes import table
from ..video import FrameSelection, probe, require_frame
from .checkpoints import require_safe
from .handover import PoseArrays, read_crop_boxes, write_pose_arrays
from .predictors import build_predictor

logger = logging.getLogger("snakeherd")


def frames_at_limit(arrays: PoseArrays, limit: int) -> int:
    """How many frames hold ``limit`` or more instances (a limit that may have cut animals)."""
    if not arrays.frame:
        return 0
    return int((np.unique(arrays.frame, return_counts=True)[1] >= limit).sum())


def _instance_identity(instance) -> str:
    track = getattr(instance, "track", None)
    if track is not None and getattr(track, "name", None):
        return str(track.name)
    identity = getattr(instance, "identity", None)
    if identity is not None and getattr(identity, "name", None):
        return str(identity.name)
    return ""


def labels_to_arrays(labels, node_names: list[str]) -> PoseArrays:
    """Instances of sleap-io ``Labels`` as flat arrays (det_id = index within the frame)."""
    arrays = PoseArrays(node_names=list(node_names))
    for labeled_frame in sorted(labels.labeled_frames, key=lambda lf: lf.frame_idx):
        for index, instance in enumerate(labeled_frame.instances):
            if hasattr(instance, "score"):
                with_scores = instance.numpy(scores=True)
                points, scores = with_scores[:, :2], with_scores[:, 2]
            else:
                points = instance.numpy()
                scores = np.full(len(points), np.nan)
            arrays.add(
                labeled_frame.frame_idx,
                index,
                points,
                scores,
                float(getattr(instance, "score", np.nan)),
                _instance_identity(instance),
            )
    return arrays


@dataclass
class Timing:
    started: float = field(default_factory=time.perf_counter)
    model_loaded: float | None = None
    first_frame: float | None = None
    done: float | None = None
    frames: int = 0

    def summary(self) -> dict:
        def since(mark):
            return None if mark is None else round(mark - self.started, 3)

        running = (self.done or time.perf_counter()) - (self.model_loaded or self.started)
        return {
            "frames": self.frames,
            "load_s": since(self.model_loaded),
            "first_frame_s": since(self.first_frame),
            "total_s": since(self.done),
            "fps_after_load": round(self.frames / running, 3) if running > 0 else None,
        }


def _canonical(objects: dict, item):
    if item is None:
        return None
    return objects.setdefault(getattr(item, "name", id(item)), item)


def predict_whole_frames(predictor, video_path: str, frames: np.ndarray, timing: Timing):
    """Run ``predictor`` over the selected frames (as ``sleap-nn predict`` does); sio.Labels."""
    import sleap_io as sio

    video = sio.Video(video_path)
    labeled_frames = []
    tracks: dict = {}
    identities: dict = {}

    def progress(done, _total):
        if timing.first_frame is None:
            timing.first_frame = time.perf_counter()
        timing.frames = done

    for outputs in predictor.predict_streaming(
        video_path, frames=[int(f) for f in frames], progress_callback=progress
    ):
        batch = predictor.to_labels([outputs], videos=[video], keep_empty_frames=True)
        # Each batch builds its own Track objects for the identity classes; keep one per name.
        for labeled_frame in batch.labeled_frames:
            for instance in labeled_frame.instances:
                if getattr(instance, "track", None) is not None:
                    instance.track = _canonical(tracks, instance.track)
                if getattr(instance, "identity", None) is not None:
                    instance.identity = _canonical(identities, instance.identity)
            labeled_frames.append(labeled_frame)
    timing.done = time.perf_counter()
    labels = sio.Labels(
        labeled_frames=labeled_frames,
        videos=[video],
        skeletons=[predictor.skeleton] if predictor.skeleton is not None else [],
    )
    if tracks:
        labels.tracks = list(tracks.values())
    if identities:
        labels.identities = list(identities.values())
    return labels


def centered_instance_layer(predictor):
    """The layer that runs the centered-instance model on crops (native or exported)."""
    layer = predictor.layer
    return getattr(layer, "centered_instance_layer", layer)


def predict_crops(
    predictor,
    video_path: str,
    frames: np.ndarray,
    detections: dict[str, np.ndarray],
    crop_size: int,
    crop_scale: float,
    batch_size: int,
    timing: Timing,
    node_names: list[str],
) -> PoseArrays:
    """Keypoints of every detection from a centered-instance model on its crop."""
    import sleap_io as sio
    import torch

    layer = centered_instance_layer(predictor)
    video = sio.Video(video_path)
    arrays = PoseArrays(node_names=list(node_names))
    by_frame: dict[int, list[int]] = {}
    for row, frame in enumerate(detections["frame"]):
        by_frame.setdefault(int(frame), []).append(row)

    pending: list[tuple[int, int, Crop, np.ndarray]] = []

    def flush():
        if not pending:
            return
        images = np.stack([crop_image for *_, crop_image in pending])
        if images.ndim == 3:
            images = images[..., None]
        tensor = torch.from_numpy(np.ascontiguousarray(images.transpose(0, 3, 1, 2)))
        outputs = layer.predict(tensor)
        points = outputs.pred_keypoints.detach().cpu().numpy().reshape(len(pending), -1, 2)
        scores = outputs.pred_peak_values.detach().cpu().numpy().reshape(len(pending), -1)
        for (frame, det_id, crop, _), crop_points, point_scores in zip(
            pending, points, scores, strict=True
        ):
            video_points = crop.to_video(crop_points)
            score = float(np.nanmean(point_scores)) if np.isfinite(point_scores).any() else 0.0
            arrays.add(frame, det_id, video_points, point_scores, score)
        pending.clear()
        if timing.first_frame is None:
            timing.first_frame = time.perf_counter()

    for frame in frames:
        rows = by_frame.get(int(frame))
        timing.frames += 1
        if not rows:
            continue
        image = np.asarray(video[int(frame)])
        for row in rows:
            crop = Crop.around(
                float(detections["x"][row]),
                float(detections["y"][row]),
                float(detections["w"][row]),
                crop_scale,
                crop_size,
            )
            crop_image = extract(image, crop)
            pending.append((int(frame), int(detections["det_id"][row]), crop, crop_image))
        if len(pending) >= batch_size * 4:
            flush()
    flush()
    timing.done = time.perf_counter()
    return arrays


def arrays_to_labels(arrays: PoseArrays, video_path: str, skeleton):
    """A sleap-io ``Labels`` (for the ``.slp``) from flat arrays."""
    import sleap_io as sio

    video = sio.Video(video_path)
    frames: dict[int, list] = {}
    tracks: dict[str, object] = {}
    for index, frame in enumerate(arrays.frame):
        identity = arrays.identity[index]
        track = tracks.setdefault(identity, sio.Track(name=identity)) if identity else None
        instance = sio.PredictedInstance.from_numpy(
            arrays.points[index],
            skeleton=skeleton,
            point_scores=arrays.point_scores[index],
            score=arrays.instance_score[index],
            track=track,
        )
        frames.setdefault(frame, []).append(instance)
    labeled_frames = [
        sio.LabeledFrame(video=video, frame_idx=frame, instances=instances)
        for frame, instances in sorted(frames.items())
    ]
    labels = sio.Labels(labeled_frames=labeled_frames, videos=[video], skeletons=[skeleton])
    if tracks:
        labels.tracks = list(tracks.values())
    return labels


def save_slp(labels, path: str | Path) -> None:
    """Write a ``.slp`` atomically (a crash leaves no half-written file)."""
    import sleap_io as sio

    path = Path(path)
    temporary = path.with_name(f".{path.name}.tmp.slp")
    sio.save_slp(labels, str(temporary))
    temporary.replace(path)


def resolve_frames(video_path: str, selection: str) -> np.ndarray:
    return FrameSelection.parse(selection).resolve(probe(video_path).n_frames).frames()


def predict_video(
    *,
    runtime: str,
    kind: str,
    models: list[str],
    nodes: list[str],
    video: str,
    frame_selection: str,
    export: str | None,
    crop_boxes: str | None,
    crop_size: int | None,
    crop_scale: float,
    batch_size: int,
    threads: int,
    max_instances: int | None,
    slp: str,
    arrays_path: str,
    trust_model_files: bool = False,
) -> dict:
    """The SLEAP stage on one video: ``slp`` for SLEAP, the hand-over arrays for the tables.

    Returns the timing summary.
    """
    timing = Timing()
    capability = runtimes.check_node(runtime, "sleap")
    frames = resolve_frames(video, frame_selection)
    if len(frames):
        require_frame(video, frames[-1])
    if not table.get(runtime).exports:  # exported graphs are ONNX or engines, not pickles
        require_safe(models, trust_model_files)
    predictor = build_predictor(
        models, runtime, export, batch_size, threads, max_instances=max_instances
    )
    timing.model_loaded = time.perf_counter()
    if kind == "crops":
        detections = read_crop_boxes(crop_boxes)
        arrays = predict_crops(
            predictor, video, frames, detections, crop_size, crop_scale, batch_size, timing, nodes
        )
        labels = arrays_to_labels(arrays, video, predictor.skeleton)
    else:
        labels = predict_whole_frames(predictor, video, frames, timing)
        arrays = labels_to_arrays(labels, nodes)
    save_slp(labels, slp)
    stage = {
        "method": "sleap",
        "pipeline": kind,
        "models": list(models),
        "export": export,
        "runtime": capability.as_dict(),
        "frame_selection": frame_selection,
        "frames": len(frames),
        "batch_size": batch_size,
        "max_instances": max_instances,
        "crop_scale": crop_scale if kind == "crops" else None,
    }
    limit = max_instances
    if export:
        parity = Path(export) / "parity.json"
        if parity.exists():
            report = json.loads(parity.read_text())
            report.pop("export_s", None)  # tables hold nothing time-dependent
            stage["export_parity"] = report
            limit = limit or report.get("max_instances")
    if limit and kind != "crops":  # on crops, the detection stage decides how many
        full = frames_at_limit(arrays, limit)
        stage["frames_at_max_instances"] = full
        if full:
            logger.warning(
                "%d of %d frames have %d animals, the most this run finds per frame: some may "
                "have more. Set pose.max_instances to the most animals a frame can show.",
                full,
                len(frames),
                limit,
            )
    write_pose_arrays(arrays, stage, arrays_path)
    summary = timing.summary()
    logger.info(
        "%d instances in %d frames; model load %.2f s, first frame %.2f s, %.2f frames/s",
        len(arrays.frame),
        summary["frames"],
        summary["load_s"] or 0,
        summary["first_frame_s"] or 0,
        summary["fps_after_load"] or 0,
    )
    return summary
