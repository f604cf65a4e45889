"""Scoring keypoints against ground-truth keypoints: OKS-mAP (COCO) and PCK.

Runs when the tracks carry keypoints (a pose stage ran, or a track-only run) and the ground
truth is a SLEAP file sharing node names with them; only the shared nodes are scored (a 6-node
model against 24-node labels is scored on its 6 nodes). Only frames the workflow processed and
the ground truth labels are scored; interpolated track rows are not predictions and are left out.

- OKS-mAP: COCO keypoint average precision over OKS thresholds 0.50:0.05:0.95, as pycocotools
  computes it (here a frame at a time on arrays; tested against it). OKS of a keypoint is
  ``exp(-d² / (2 · area · (2σ)²))`` with ``area`` the ground-truth instance's keypoint
  bounding-box area and σ ``evaluation.oks_sigma`` for every node (default 0.025, as sleap-nn's
  evaluator uses; COCO's human sigmas range 0.025-0.107). Predicted instances are ranked by
  their instance score. Also AP at OKS 0.5 and 0.75.
- PCK: each ground-truth instance is paired with a prediction in its frame (Hungarian on mean
  keypoint distance); PCK at ``t`` px is the fraction of the ground truth's visible keypoints whose
  prediction lies within ``t`` px (a keypoint the prediction lacks counts as wrong); an unpaired
  ground-truth instance counts all its keypoints wrong. Also the median keypoint error (px).
"""

from __future__ import annotations

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


def track_keypoints(
    tracks: pd.DataFrame, nodes: list[str], rows: np.ndarray | None = None
) -> np.ndarray:
    """(rows, K, 2) keypoints from a tracks table's ``<node>.x/.y`` columns (of ``rows``: the
    positions of some of its rows; None: all)."""
    points = np.empty((len(tracks) if rows is None else len(rows), len(nodes), 2))
    for k, node in enumerate(nodes):
        for axis, part in enumerate(("x", "y")):
            column = tracks[f"{node}.{part}"].to_numpy(dtype=np.float64)
            points[:, k, axis] = column if rows is None else column[rows]
    return points


def _coco_boxes(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    visible = np.isfinite(points).all(axis=2)
    low = np.where(visible[..., None], points, np.inf).min(axis=1)
    high = np.where(visible[..., None], points, -np.inf).max(axis=1)
    size = np.clip(high - low, 1.0, None)
    return np.column_stack([low, size]), size[:, 0] * size[:, 1]


# COCO's keypoint evaluation parameters (pycocotools' Params.setKpParams), computed as it does.
OKS_THRESHOLDS = np.linspace(0.5, 0.95, int(np.round((0.95 - 0.5) / 0.05)) + 1, endpoint=True)
RECALL_THRESHOLDS = np.linspace(0.0, 1.00, int(np.round((1.00 - 0.0) / 0.01)) + 1, endpoint=True)
MAX_DETECTIONS = 20  # per image, the highest-scoring
ALL_AREAS = (0**2, 1e5**2)  # the "all" area range: instances outside it are ignored


def oks_map(
    truth_frames: np.ndarray,
    truth_points: np.ndarray,
    predicted_frames: np.ndarray,
    predicted_points: np.ndarray,
    predicted_scores: np.ndarray,
    sigma: float,
    areas: np.ndarray | None = None,
) -> dict[str, float]:
    """COCO keypoint mAP@[.5:.95], AP50 and AP75 with one σ for every node: what pycocotools'
    COCOeval gives (tested against it), a frame at a time on arrays. pycocotools keeps a Python
    dict per instance and per image (~15 KB a ground-truth instance with 24 nodes: a whole
    video's proofread file took gigabytes); here each prediction keeps its score and, per OKS
    threshold, whether it matched and whether it is ignored.

    ``areas`` are the ground-truth instances' areas (default: their keypoint box areas)."""
    boxes, own_areas = _coco_boxes(truth_points)
    areas = own_areas if areas is None else areas
    keep = np.isin(predicted_frames, truth_frames)
    if not keep.any():
        return {"pose_oks_map": 0.0, "pose_oks_ap50": 0.0, "pose_oks_ap75": 0.0}
    variances = (np.full(truth_points.shape[1], float(sigma)) * 2) ** 2
    truth_order = np.argsort(truth_frames, kind="stable")
    predicted_rows = np.flatnonzero(keep)
    predicted_rows = predicted_rows[np.argsort(predicted_frames[keep], kind="stable")]
    images = np.unique(truth_frames)
    truth_bounds = np.searchsorted(truth_frames[truth_order], np.r_[images, images[-1] + 1])
    predicted_bounds = np.searchsorted(
        predicted_frames[predicted_rows], np.r_[images, images[-1] + 1]
    )
    # Per kept prediction (at most MAX_DETECTIONS an image), filled image after image.
    kept = np.minimum(np.diff(predicted_bounds), MAX_DETECTIONS)
    starts = np.concatenate([[0], np.cumsum(kept)])
    scores = np.empty(starts[-1])
    matched = np.empty((len(OKS_THRESHOLDS), starts[-1]), dtype=bool)
    ignored = np.empty_like(matched)
    counted = 0
    for image in range(len(images)):
        truth = truth_order[truth_bounds[image] : truth_bounds[image + 1]]
        predicted = predicted_rows[predicted_bounds[image] : predicted_bounds[image + 1]]
        found = _match_image(
            truth_points[truth],
            boxes[truth],
            np.asarray(areas)[truth],
            predicted_points[predicted],
            np.nan_to_num(predicted_scores[predicted], nan=0.0),
            variances,
        )
        at = slice(starts[image], starts[image + 1])
        scores[at], matched[:, at], ignored[:, at] = found[:3]
        counted += found[3]
    precision = _precision(scores, matched, ignored, counted)
    return {
        "pose_oks_map": max(_mean_precision(precision), 0.0),
        "pose_oks_ap50": max(_mean_precision(precision, 0.5), 0.0),
        "pose_oks_ap75": max(_mean_precision(precision, 0.75), 0.0),
    }


def _match_image(truth_points, truth_boxes, truth_areas, points, scores, variances):
    """One image's COCOeval.evaluateImg (area "all"): the kept predictions' scores (highest
    first), whether each matched a ground-truth instance and whether it is ignored at each OKS
    threshold, and the ground-truth instances not ignored."""
    truth_visible = np.isfinite(truth_points).all(axis=2)
    truth_ignored = (truth_visible.sum(axis=1) == 0) | (truth_areas < ALL_AREAS[0])
    truth_ignored |= truth_areas > ALL_AREAS[1]
    # The prediction's box spans every keypoint, a missing one placed as the results place it.
    visible = np.isfinite(points).all(axis=2)
    placed = np.where(visible[..., None], points, -1e6)
    extent = placed.max(axis=1) - placed.min(axis=1)
    outside = (extent[:, 0] * extent[:, 1] < ALL_AREAS[0]) | (
        extent[:, 0] * extent[:, 1] > ALL_AREAS[1]
    )
    order = np.argsort(-scores, kind="mergesort")[:MAX_DETECTIONS]
    placed, scores, outside = placed[order], scores[order], outside[order]
    truth_order = np.argsort(truth_ignored.astype(int), kind="mergesort")
    oks = _oks(truth_points[truth_order], truth_boxes[truth_order], truth_areas[truth_order],
               placed, variances)  # fmt: skip
    truth_ignored = truth_ignored[truth_order]
    thresholds, n_truth, n_predicted = len(OKS_THRESHOLDS), len(truth_order), len(order)
    truth_taken = np.zeros((thresholds, n_truth), dtype=bool)
    matched = np.zeros((thresholds, n_predicted), dtype=bool)
    ignored = np.zeros((thresholds, n_predicted), dtype=bool)
    if n_truth and n_predicted:
        for t, threshold in enumerate(OKS_THRESHOLDS):
            for d in range(n_predicted):
                best, m = min(threshold, 1 - 1e-10), -1
                for g in range(n_truth):
                    if truth_taken[t, g]:
                        continue
                    if m > -1 and not truth_ignored[m] and truth_ignored[g]:
                        break
                    if oks[d, g] < best:
                        continue
                    best, m = oks[d, g], g
                if m == -1:
                    continue
                ignored[t, d] = truth_ignored[m]
                matched[t, d] = truth_taken[t, m] = True
    ignored |= ~matched & outside[None, :]
    return scores, matched, ignored, int((~truth_ignored).sum())


def _oks(truth_points, truth_boxes, truth_areas, placed, variances) -> np.ndarray:
    """COCOeval.computeOks: (predictions, ground truth) object keypoint similarity."""
    oks = np.zeros((len(placed), len(truth_points)))
    for g, (points, box, area) in enumerate(
        zip(truth_points, truth_boxes, truth_areas, strict=True)
    ):
        seen = np.isfinite(points).all(axis=1)
        if seen.any():
            truth = np.nan_to_num(points)
            dx = placed[..., 0] - truth[:, 0]
            dy = placed[..., 1] - truth[:, 1]
        else:  # the distance to the box doubled around the ground truth's
            x0, x1 = box[0] - box[2], box[0] + box[2] * 2
            y0, y1 = box[1] - box[3], box[1] + box[3] * 2
            zero = np.zeros(placed.shape[:2])
            dx = np.maximum(zero, x0 - placed[..., 0]) + np.maximum(zero, placed[..., 0] - x1)
            dy = np.maximum(zero, y0 - placed[..., 1]) + np.maximum(zero, placed[..., 1] - y1)
        e = (dx**2 + dy**2) / variances / (area + np.spacing(1)) / 2
        if seen.any():
            e = e[:, seen]
        oks[:, g] = np.exp(-e).sum(axis=1) / e.shape[1]
    return oks


def _precision(scores, matched, ignored, counted) -> np.ndarray:
    """COCOeval.accumulate for one category, area and detection limit: precision (thresholds,
    recall thresholds), -1 where no ground truth counts."""
    precision = -np.ones((len(OKS_THRESHOLDS), len(RECALL_THRESHOLDS)))
    if not counted:
        return precision
    order = np.argsort(-scores, kind="mergesort")
    matched, ignored = matched[:, order], ignored[:, order]
    tp_sum = np.cumsum(matched & ~ignored, axis=1).astype(float)
    fp_sum = np.cumsum(~matched & ~ignored, axis=1).astype(float)
    for t, (tp, fp) in enumerate(zip(tp_sum, fp_sum, strict=True)):
        recall = tp / counted
        envelope = (tp / (fp + tp + np.spacing(1))).tolist()
        for i in range(len(tp) - 1, 0, -1):
            envelope[i - 1] = max(envelope[i - 1], envelope[i])
        at = np.searchsorted(recall, RECALL_THRESHOLDS, side="left")
        # Recall thresholds never reached keep precision 0.
        reached = at < len(envelope)
        row = np.zeros(len(RECALL_THRESHOLDS))
        row[reached] = np.asarray(envelope)[at[reached]] if len(envelope) else 0.0
        precision[t] = row
    return precision


def _mean_precision(precision: np.ndarray, threshold: float | None = None) -> float:
    """COCOeval.summarize's AP: the mean precision over recall thresholds and OKS thresholds
    (or the one ``threshold``), -1 when none counts."""
    if threshold is not None:
        precision = precision[np.where(threshold == OKS_THRESHOLDS)[0]]
    kept = precision[:, :, None][precision[:, :, None] > -1]
    return float(np.mean(kept)) if len(kept) else -1.0


def pck(
    truth_frames: np.ndarray,
    truth_points: np.ndarray,
    predicted_frames: np.ndarray,
    predicted_points: np.ndarray,
    thresholds: list[float],
) -> dict[str, float]:
    """PCK at each threshold (px) and the median keypoint error (px) of paired instances."""
    errors = []  # per ground-truth visible keypoint: distance, inf when not predicted
    # Each frame's rows, in their order, as slices of the rows sorted by frame.
    truth_order = np.argsort(truth_frames, kind="stable")
    predicted_order = np.argsort(predicted_frames, kind="stable")
    frames = np.unique(truth_frames)
    truth_bounds = np.searchsorted(truth_frames[truth_order], np.r_[frames, np.inf])
    sorted_predicted = predicted_frames[predicted_order]
    first = np.searchsorted(sorted_predicted, frames, side="left")
    last = np.searchsorted(sorted_predicted, frames, side="right")
    for index in range(len(frames)):
        truth = truth_points[truth_order[truth_bounds[index] : truth_bounds[index + 1]]]
        visible = np.isfinite(truth).all(axis=2)
        candidates = predicted_order[first[index] : last[index]]
        distance = np.full(visible.shape, np.inf)
        if len(candidates):
            predicted = predicted_points[candidates]
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
    # Each array made once from the tables and the tables let go: with a whole video's ground
    # truth, every copy of its keypoints is large.
    scored = np.flatnonzero(truth_table["frame"].isin(frames).to_numpy())
    truth_frames = truth_table["frame"].to_numpy()[scored]
    truth_points = truth_points[scored]
    # The instance's area (OKS scale) comes from all its labelled keypoints, shared or not.
    _, areas = _coco_boxes(truth_points)
    truth_points = truth_points[:, [k for _, k in shared]]
    predicted = np.arange(len(tracks))  # interpolated rows are not predictions
    if "interpolated" in tracks:
        predicted = predicted[~tracks["interpolated"].to_numpy(bool)]
    predicted_points = track_keypoints(tracks, [name for name, _ in shared], predicted)
    predicted_frames = tracks["frame"].to_numpy()[predicted]
    scores = tracks["score"].to_numpy(dtype=np.float64)[predicted]
    del tracks
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
