"""Scoring keypoints against ground-truth keypoints: OKS-mAP (COCO) and PCK.

Runs when the tracks carry keypoints (a pose stage ran, or a track-only run) and the ground
truth is a SLEAP file sharing node names with them; only the shared nodes are scored (a 6-node
model against 24-node labels is scored on its 6 nodes). Only frames the workflow processed and
the ground truth labels are scored; interpolated track rows are not predictions and are left out.

- OKS-mAP: COCO keypoint average precision over OKS thresholds 0.50:0.05:0.95, computed by
  pycocotools. OKS of a keypoint is ``exp(-d² / (2 · area · (2σ)²))`` with ``area`` the ground-truth
  instance's keypoint bounding-box area and σ ``evaluation.oks_sigma`` for every node (default
  0.025, as sleap-nn's evaluator uses; COCO's human sigmas range 0.025-0.107). Predicted instances
  are ranked by their instance score. Also AP at OKS 0.5 and 0.75.
- PCK: each ground-truth instance is paired with a prediction in its frame (Hungarian on mean
  keypoint distance); PCK at ``t`` px is the fraction of the ground truth's visible keypoints whose
  prediction lies within ``t`` px (a keypoint the prediction lacks counts as wrong); an unpaired
  ground-truth instance counts all its keypoints wrong. Also the median keypoint error (px).
"""

from __future__ import annotations

import contextlib
import io as _io
from collections.abc import Callable

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment

from . import slp


def load_pose_ground_truth(path: str) -> tuple[pd.DataFrame, np.ndarray, list[str]]:
    """Ground-truth instances of a .slp (its first skeleton's, with a visible point): a (frame)
    table, their keypoints (n, K, 2), node names. Read as arrays a block at a time (a whole
    video's file as sleap-io's objects took ~3 KB an instance), in frame order."""
    _, skeletons, _, _ = slp.read_records(path, slp.GROUND_TRUTH)
    nodes = [str(name) for name in skeletons[0].node_names] if skeletons else []
    frames, points = [np.zeros(0, dtype=np.int64)], [np.zeros((0, len(nodes), 2))]
    for block in slp.iter_instances(path, len(nodes), slp.GROUND_TRUTH):
        frames.append(block.frame_idx)
        points.append(block.points)
    table = pd.DataFrame({"frame": np.concatenate(frames)})
    return table, np.concatenate(points), nodes


def track_keypoints(tracks: pd.DataFrame, nodes: list[str]) -> np.ndarray:
    """(rows, K, 2) keypoints from a tracks table's ``<node>.x/.y`` columns."""
    return np.stack([tracks[[f"{n}.x", f"{n}.y"]].to_numpy(dtype=np.float64) for n in nodes], 1)


def _coco_boxes(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    visible = np.isfinite(points).all(axis=2)
    low = np.where(visible[..., None], points, np.inf).min(axis=1)
    high = np.where(visible[..., None], points, -np.inf).max(axis=1)
    size = np.clip(high - low, 1.0, None)
    return np.column_stack([low, size]), size[:, 0] * size[:, 1]


def oks_map(
    truth_frames: np.ndarray,
    truth_points: np.ndarray,
    predicted_frames: np.ndarray,
    predicted_points: np.ndarray,
    predicted_scores: np.ndarray,
    sigma: float,
    areas: np.ndarray | None = None,
) -> dict[str, float]:
    """COCO keypoint mAP@[.5:.95], AP50 and AP75 (pycocotools) with one σ for every node.

    ``areas`` are the ground-truth instances' areas (default: their keypoint box areas).
    """
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    n_nodes = truth_points.shape[1]
    boxes, own_areas = _coco_boxes(truth_points)
    areas = own_areas if areas is None else areas
    annotations = []
    for index, (frame, points) in enumerate(zip(truth_frames, truth_points, strict=True)):
        visible = np.isfinite(points).all(axis=1)
        flat = np.column_stack([np.nan_to_num(points), 2 * visible]).ravel()
        annotations.append(
            {
                "id": index + 1,
                "image_id": int(frame),
                "category_id": 1,
                "keypoints": flat.tolist(),
                "num_keypoints": int(visible.sum()),
                "area": float(areas[index]),
                "bbox": boxes[index].tolist(),
                "iscrowd": 0,
            }
        )
    dataset = {
        "images": [{"id": int(f)} for f in np.unique(truth_frames)],
        "annotations": annotations,
        "categories": [{"id": 1, "name": "animal", "keypoints": [str(i) for i in range(n_nodes)]}],
    }
    keep = np.isin(predicted_frames, truth_frames)
    results = []
    for frame, points, score in zip(
        predicted_frames[keep], predicted_points[keep], predicted_scores[keep], strict=True
    ):
        visible = np.isfinite(points).all(axis=1)
        # A keypoint the prediction lacks is placed far outside the image, so it scores zero.
        placed = np.where(visible[:, None], points, -1e6)
        flat = np.column_stack([placed, visible.astype(float)]).ravel()
        results.append(
            {
                "image_id": int(frame),
                "category_id": 1,
                "keypoints": flat.tolist(),
                "score": float(np.nan_to_num(score, nan=0.0)),
            }
        )
    if not results:
        return {"pose_oks_map": 0.0, "pose_oks_ap50": 0.0, "pose_oks_ap75": 0.0}
    with contextlib.redirect_stdout(_io.StringIO()):
        truth = COCO()
        truth.dataset = dataset
        truth.createIndex()
        detections = truth.loadRes(results)
        evaluator = COCOeval(truth, detections, "keypoints")
        evaluator.params.kpt_oks_sigmas = np.full(n_nodes, sigma)
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    stats = evaluator.stats
    return {
        "pose_oks_map": float(max(stats[0], 0.0)),
        "pose_oks_ap50": float(max(stats[1], 0.0)),
        "pose_oks_ap75": float(max(stats[2], 0.0)),
    }


def pck(
    truth_frames: np.ndarray,
    truth_points: np.ndarray,
    predicted_frames: np.ndarray,
    predicted_points: np.ndarray,
    thresholds: list[float],
) -> dict[str, float]:
    """PCK at each threshold (px) and the median keypoint error (px) of paired instances."""
    errors = []  # per ground-truth visible keypoint: distance, inf when not predicted
    by_frame = pd.Series(np.arange(len(predicted_frames))).groupby(predicted_frames).apply(list)
    for frame in np.unique(truth_frames):
        truth_rows = np.flatnonzero(truth_frames == frame)
        truth = truth_points[truth_rows]
        visible = np.isfinite(truth).all(axis=2)
        candidates = by_frame.get(frame, [])
        distance = np.full(visible.shape, np.inf)
        if len(candidates):
            predicted = predicted_points[np.asarray(candidates)]
            d = np.sqrt(((truth[:, None] - predicted[None]) ** 2).sum(axis=-1))  # (G, P, K)
            d = np.where(np.isfinite(d), d, np.inf)
            both = visible[:, None, :] & np.isfinite(d)
            with np.errstate(invalid="ignore"):
                mean = np.where(both, d, 0).sum(-1) / both.sum(-1)
            cost = np.where(np.isfinite(mean), mean, 1e9)
            rows, cols = linear_sum_assignment(cost)
            for g, p in zip(rows, cols, strict=True):
                if np.isfinite(mean[g, p]):
                    distance[g] = d[g, p]
        errors.append(distance[visible])
    errors = np.concatenate(errors) if errors else np.zeros(0)
    result = {}
    for threshold in thresholds:
        result[f"pose_pck_{threshold:g}px"] = (
            float((errors <= threshold).mean()) if len(errors) else float("nan")
        )
    finite = errors[np.isfinite(errors)]
    result["pose_error_median_px"] = float(np.median(finite)) if len(finite) else float("nan")
    return result


def evaluate_poses(
    tracks: pd.DataFrame | Callable[[np.ndarray, list[str]], pd.DataFrame],
    nodes: list[str],
    ground_truth_path: str,
    frames: np.ndarray,
    sigma: float,
    pck_thresholds: list[float],
) -> dict[str, float] | None:
    """Pose metrics of the tracks' keypoints over the nodes they share (by name) with the ground
    truth, or None when the ground truth is not a .slp or shares no node. ``tracks``: the
    tracks table, or what reads the given columns of its rows of some frames (only the ground
    truth's frames and the shared nodes are scored: a long video's keypoint columns are read
    there alone)."""
    if not nodes or not str(ground_truth_path).lower().endswith(".slp"):
        return None
    truth_table, truth_points, truth_nodes = load_pose_ground_truth(ground_truth_path)
    truth_index = {name.lower(): k for k, name in enumerate(truth_nodes)}
    shared = [(name, truth_index[name.lower()]) for name in nodes if name.lower() in truth_index]
    if not shared:
        return None
    if callable(tracks):
        columns = ["frame", "score", "interpolated"]
        columns += [f"{name}.{axis}" for name, _ in shared for axis in ("x", "y")]
        tracks = tracks(np.unique(truth_table["frame"].to_numpy()), columns)
    scored = truth_table["frame"].isin(frames).to_numpy()
    truth_frames = truth_table["frame"].to_numpy()[scored]
    # The instance's area (OKS scale) comes from all its labelled keypoints, shared or not.
    _, areas = _coco_boxes(truth_points[scored])
    truth_points = truth_points[scored][:, [k for _, k in shared]]
    predicted = tracks[~tracks["interpolated"]] if "interpolated" in tracks else tracks
    predicted_points = track_keypoints(predicted, [name for name, _ in shared])
    predicted_frames = predicted["frame"].to_numpy()
    scores = predicted["score"].to_numpy(dtype=np.float64)
    result = {
        "pose_gt_instances": len(truth_frames),
        "pose_nodes_scored": len(shared),
        "pose_oks_sigma": sigma,
    }
    result.update(
        oks_map(
            truth_frames, truth_points, predicted_frames, predicted_points, scores, sigma, areas
        )
    )
    result.update(
        pck(truth_frames, truth_points, predicted_frames, predicted_points, pck_thresholds)
    )
    return result
