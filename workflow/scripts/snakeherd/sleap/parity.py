"""The parity check of a SLEAP export: checkpoint and export on the same real frames.

Runs inside the SLEAP environment, in the export rule. The checkpoint runs on the CPU, the export
on the rule's runtime, both as sleap-nn's own output ("raw") and as the stage corrects it
("corrected"); instances are matched per frame by least mean keypoint distance and the distances
of the keypoints both found are summarised.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..runtimes import table
from ..video import probe
from . import inference
from .predictors import build_predictor


def _match(reference: np.ndarray, other: np.ndarray) -> list[tuple[int, int]]:
    """Pairs of instances (rows of ``(n, nodes, 2)``) by least mean keypoint distance."""
    from scipy.optimize import linear_sum_assignment

    if len(reference) == 0 or len(other) == 0:
        return []
    distances = np.linalg.norm(reference[:, None] - other[None], axis=-1)
    with np.errstate(all="ignore"):
        cost = np.nanmean(np.where(np.isnan(distances), np.nan, distances), axis=-1)
    cost = np.where(np.isnan(cost), 1e9, cost)
    rows, columns = linear_sum_assignment(cost)
    return [(r, c) for r, c in zip(rows, columns, strict=True) if cost[r, c] < 1e9]


def compare_poses(reference: dict, other: dict) -> dict:
    """Keypoint agreement of two results (``PoseArrays.arrays()``), matched per frame."""
    deltas = []
    only_one = 0
    unmatched = 0
    frames = sorted(set(reference["frame"].tolist()) | set(other["frame"].tolist()))
    for frame in frames:
        ref = reference["points"][reference["frame"] == frame]
        oth = other["points"][other["frame"] == frame]
        # An instance without any keypoint (a crop with no animal) has nothing to compare.
        ref = ref[~np.isnan(ref).all(axis=(1, 2))]
        oth = oth[~np.isnan(oth).all(axis=(1, 2))]
        pairs = _match(ref, oth)
        unmatched += len(ref) + len(oth) - 2 * len(pairs)
        for r, c in pairs:
            both = ~np.isnan(ref[r]).any(-1) & ~np.isnan(oth[c]).any(-1)
            either = ~np.isnan(ref[r]).any(-1) | ~np.isnan(oth[c]).any(-1)
            only_one += int((either & ~both).sum())
            deltas.append(oth[c][both] - ref[r][both])
    delta = np.concatenate(deltas) if deltas else np.zeros((0, 2))
    distance = np.linalg.norm(delta, axis=-1)

    def stat(function):
        return round(float(function(distance)), 4) if len(distance) else None

    return {
        "keypoints": len(distance),
        "median_px": stat(np.median),
        "mean_px": stat(np.mean),
        "p90_px": stat(lambda d: np.percentile(d, 90)),
        "max_px": stat(np.max),
        "mean_offset_xy_px": [round(float(v), 4) for v in delta.mean(axis=0)]
        if len(delta)
        else None,
        "unmatched_instances": int(unmatched),
        "keypoints_found_by_one_only": int(only_one),
        "reference_instances": len(reference["frame"]),
        "other_instances": len(other["frame"]),
    }


def _grid_detections(frames: np.ndarray, height: int, width: int, crop_size: int) -> dict:
    """Crop centres on a 3×3 grid of each frame (for a centered-instance model alone)."""
    rows = []
    for frame in frames:
        for fy in (0.25, 0.5, 0.75):
            for fx in (0.25, 0.5, 0.75):
                rows.append((int(frame), len(rows), round(width * fx), round(height * fy)))
    table = np.asarray(rows, dtype=np.float64).reshape(-1, 4)
    return {
        "frame": table[:, 0].astype(np.int64),
        "det_id": table[:, 1].astype(np.int64),
        "x": table[:, 2],
        "y": table[:, 3],
        "w": np.full(len(table), float(crop_size)),
        "score": np.ones(len(table)),
    }


def _run(predictor, kind, video, frames, node_names, crop_size, detections):
    timing = inference.Timing()
    if kind == "crops":
        arrays = inference.predict_crops(
            predictor, video, frames, detections, crop_size, 1.0, 4, timing, node_names
        )
    else:
        labels = inference.predict_whole_frames(predictor, video, frames, timing)
        arrays = inference.labels_to_arrays(labels, node_names)
    return arrays.arrays()


def parity_check(
    *,
    kind: str,
    model_paths: list[str],
    folder: Path,
    runtime: str,
    video: str,
    frames: np.ndarray,
    node_names: list[str],
    crop_size: int | None,
    threads: int,
    max_instances: int | None = None,
    before_corrected=None,
) -> dict:
    """Checkpoint (cpu) vs export (``runtime``), raw and corrected, on real frames.

    ``before_corrected``: called between the two, for the corrections made in the graphs.
    """
    info = probe(video)
    detections = (
        _grid_detections(frames, info.height, info.width, int(crop_size))
        if kind == "crops"
        else None
    )
    checkpoint = build_predictor(
        model_paths, table.cpu_runtime(table.TORCH), None, 4, threads, max_instances=max_instances
    )
    reference = _run(checkpoint, kind, video, frames, node_names, crop_size, detections)
    results = {}
    for label, correct in (("raw", False), ("corrected", True)):
        if correct and before_corrected is not None:
            before_corrected()
        predictor = build_predictor(
            model_paths, runtime, str(folder), 4, threads, correct, max_instances
        )
        exported = _run(predictor, kind, video, frames, node_names, crop_size, detections)
        results[label] = compare_poses(reference, exported)
    return results
