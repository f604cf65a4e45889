"""How alike a detection is to a track's recent instances: sleap-nn's features, scores, reductions.

A track remembers its last few instances (its *candidates*, chosen by ``candidates`` and
``window`` as in sleap-nn). Each candidate is first moved by the track's predicted displacement
since it was seen, so a walking animal is compared with where it should be now (with no motion
this is exactly sleap-nn's comparison). The detection is scored against every candidate and the
scores are reduced to one similarity in [0, 1]:

- ``oks``: object keypoint similarity, mean over the detection's visible keypoints of
  ``exp(-d² / (2 (oks_sigma · size)²))`` (a keypoint the candidate lacks scores 0); ``size`` is the
  square root of the detection's keypoint bounding-box area (or of its box area).
- ``euclidean_dist``: ``exp(-d / (oks_sigma · size))`` for the mean distance ``d`` between the
  keypoints both have (the centres for ``centroids``).
- ``iou``: intersection over union of axis-aligned bounding boxes (of the keypoints, or of the
  oriented detection box).
- ``cosine_sim``: cosine similarity of the centred keypoint vectors (posture, not position),
  mapped from [-1, 1] to [0, 1].

Reductions over a track's candidates: ``mean``, ``max`` or ``robust_quantile`` (the
``robust_quantile`` quantile, which ignores a few bad candidates).
"""

from __future__ import annotations

import numpy as np

from ..keypoints import BLOCK_ROWS


def bounding_boxes(points: np.ndarray) -> np.ndarray:
    """(..., P, 2) points → (..., 4) boxes x0, y0, x1, y1 over finite points."""
    if points.ndim == 3 and len(points) > BLOCK_ROWS:  # a video's instances: in blocks of rows
        return np.concatenate(
            [bounding_boxes(points[i : i + BLOCK_ROWS]) for i in range(0, len(points), BLOCK_ROWS)]
        )
    with np.errstate(invalid="ignore"), _quiet():
        low = np.nanmin(points, axis=-2)
        high = np.nanmax(points, axis=-2)
    return np.concatenate([low, high], axis=-1)


class _quiet:
    """Silence NumPy's warnings about all-NaN slices (they yield NaN, handled by the caller)."""

    def __enter__(self):
        import warnings

        self._catcher = warnings.catch_warnings()
        self._catcher.__enter__()
        warnings.simplefilter("ignore", RuntimeWarning)

    def __exit__(self, *exc):
        self._catcher.__exit__(*exc)


def box_corners(xy: np.ndarray, size: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """Axis-aligned envelope (n, 4) of oriented boxes centred at ``xy`` with sides ``size``."""
    half_w, half_h = size[:, 0] / 2, size[:, 1] / 2
    cos, sin = np.abs(np.cos(angle)), np.abs(np.sin(angle))
    extent_x = np.where(np.isfinite(angle), half_w * cos + half_h * sin, half_w)
    extent_y = np.where(np.isfinite(angle), half_w * sin + half_h * cos, half_h)
    return np.column_stack(
        [xy[:, 0] - extent_x, xy[:, 1] - extent_y, xy[:, 0] + extent_x, xy[:, 1] + extent_y]
    )


def instance_scale(keypoints: np.ndarray, size: np.ndarray) -> np.ndarray:
    """Animal size (px) per instance: sqrt of the keypoint box area, else of the detection box."""
    return box_scale(bounding_boxes(keypoints) if keypoints.shape[1] >= 2 else None, size)


def box_scale(keypoint_boxes: np.ndarray | None, size: np.ndarray) -> np.ndarray:
    """:func:`instance_scale` from the keypoints' :func:`bounding_boxes` (None: one keypoint or
    none, so the detection box)."""
    scale = np.sqrt(np.abs(size[:, 0] * size[:, 1]))
    if keypoint_boxes is not None:
        boxes = keypoint_boxes
        area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
        from_points = np.sqrt(area)
        scale = np.where(np.isfinite(from_points) & (from_points > 0), from_points, scale)
    return np.where(np.isfinite(scale) & (scale > 0), scale, 1.0)


def pair_scores(
    scoring: str,
    det_points: np.ndarray,
    det_boxes: np.ndarray,
    det_scale: np.ndarray,
    cand_points: np.ndarray,
    cand_boxes: np.ndarray,
    oks_sigma: float,
) -> np.ndarray:
    """Scores (pairs, W) of each detection against each of its paired track's candidates.

    ``det_points`` (pairs, P, 2), ``det_boxes`` (pairs, 4), ``det_scale`` (pairs,);
    ``cand_points`` (pairs, W, P, 2) and ``cand_boxes`` (pairs, W, 4), already motion-shifted.
    NaN where a candidate slot is empty or nothing is comparable.
    """
    if scoring == "iou":
        a = det_boxes[:, None, :]
        b = cand_boxes
        width = np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0])
        height = np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1])
        inter = np.clip(width, 0, None) * np.clip(height, 0, None)
        area_a = (a[..., 2] - a[..., 0]) * (a[..., 3] - a[..., 1])
        area_b = (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])
        with np.errstate(invalid="ignore", divide="ignore"):
            return inter / (area_a + area_b - inter)

    det = det_points[:, None, :, :]
    visible_det = np.isfinite(det[..., 0])  # (pairs, 1, P)
    visible_both = visible_det & np.isfinite(cand_points[..., 0])  # (pairs, W, P)
    empty_slot = ~np.isfinite(cand_points[..., 0]).any(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        if scoring == "cosine_sim":
            a = det - np.nanmean(det_points, axis=1)[:, None, None, :]
            b = cand_points - _nanmean_points(cand_points)[..., None, :]
            a = np.where(visible_both[..., None], a, 0.0)
            b = np.where(visible_both[..., None], b, 0.0)
            dot = (a * b).sum(axis=(-1, -2))
            norm = np.sqrt((a * a).sum(axis=(-1, -2)) * (b * b).sum(axis=(-1, -2)))
            score = (1.0 + dot / norm) / 2.0
        else:
            d2 = ((det - cand_points) ** 2).sum(axis=-1)  # (pairs, W, P)
            spread = (oks_sigma * det_scale)[:, None, None]
            if scoring == "oks":
                terms = np.where(visible_both, np.exp(-d2 / (2 * spread**2)), 0.0)
                score = terms.sum(axis=-1) / visible_det.sum(axis=-1)
            else:  # euclidean_dist
                distance = np.where(visible_both, np.sqrt(d2), 0.0).sum(axis=-1) / (
                    visible_both.sum(axis=-1)
                )
                score = np.exp(-distance / spread[..., 0])
    return np.where(empty_slot | (visible_both.sum(axis=-1) == 0), np.nan, score)


def _nanmean_points(points: np.ndarray) -> np.ndarray:
    visible = np.isfinite(points[..., 0])
    total = np.where(visible[..., None], points, 0.0).sum(axis=-2)
    with np.errstate(invalid="ignore", divide="ignore"):
        return total / visible.sum(axis=-1)[..., None]


def reduce_scores(scores: np.ndarray, reduction: str, quantile: float) -> np.ndarray:
    """Reduce (pairs, W) candidate scores to (pairs,), ignoring NaN; NaN when all are."""
    valid = np.isfinite(scores)
    count = valid.sum(axis=1)
    if reduction == "mean":
        total = np.where(valid, scores, 0.0).sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            result = total / count
    elif reduction == "max":
        result = np.where(valid, scores, -np.inf).max(axis=1)
    else:  # robust_quantile: linear interpolation between sorted finite scores
        ordered = np.sort(np.where(valid, scores, np.inf), axis=1)
        position = quantile * np.maximum(count - 1, 0)
        low = np.floor(position).astype(np.int64)
        high = np.minimum(low + 1, np.maximum(count - 1, 0))
        rows = np.arange(len(scores))
        fraction = position - low
        low_value, high_value = ordered[rows, low], ordered[rows, high]
        with np.errstate(invalid="ignore"):
            result = low_value + (high_value - low_value) * np.where(count > 1, fraction, 0.0)
    return np.where(count > 0, result, np.nan)
