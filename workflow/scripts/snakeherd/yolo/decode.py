"""Raw YOLO outputs → oriented boxes or keypoints, filtered as Ultralytics' predictor does.

Raw OBB output per image: ``(4 + nc + 1, anchors)`` — box centre, size (model-input pixels),
sigmoided class scores, angle in radians last. Raw pose output: ``(4 + nc + 3K, anchors)`` — box
centre and size, class scores, then x, y (model-input pixels) and a sigmoided visibility per
keypoint. Candidates above ``conf`` go through NMS (probabilistic IoU for oriented boxes, greedy
IoU for axis-aligned ones), best ``max_det`` kept.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .geometry import fast_nms, greedy_nms, long_side_first

# Ultralytics' per-class offset that keeps boxes of different classes out of each other's NMS.
_CLASS_OFFSET = 7680.0
_MAX_NMS = 30000


@dataclass(frozen=True)
class Filters:
    """Which predictions become detections (the config's YOLO filter keys)."""

    conf: float = 0.25
    iou: float = 0.7
    max_det: int = 300
    min_area: float | None = None  # px² in video pixels
    max_area: float | None = None

    @classmethod
    def from_config(cls, section: dict) -> Filters:
        return cls(**{key: section[key] for key in cls.__dataclass_fields__ if key in section})


def _candidates(raw: np.ndarray, n_classes: int, conf: float):
    scores = raw[4 : 4 + n_classes]
    best = scores.max(axis=0)
    keep = np.flatnonzero(best > conf)
    if len(keep) > _MAX_NMS:
        keep = keep[np.argsort(-best[keep], kind="stable")[:_MAX_NMS]]
    return keep, best[keep], scores[:, keep].argmax(axis=0)


def decode_obb(raw: np.ndarray, filters: Filters) -> np.ndarray:
    """One image's raw OBB output → rows ``(x, y, w, h, angle, score, class)`` in model-input
    pixels, ``w`` the long side, ``angle`` in [0, π), descending score."""
    n_classes = raw.shape[0] - 5
    keep, scores, classes = _candidates(raw, n_classes, filters.conf)
    if len(keep) == 0:
        return np.empty((0, 7))
    boxes = np.column_stack([raw[0:4, keep].T, raw[-1, keep]]).astype(np.float64)
    shifted = boxes.copy()
    shifted[:, :2] += classes[:, None] * _CLASS_OFFSET
    kept = fast_nms(shifted, scores.astype(np.float64), filters.iou, rotated=True)[
        : filters.max_det
    ]
    boxes = long_side_first(boxes[kept])
    return np.column_stack([boxes, scores[kept], classes[kept]])


def decode_pose(raw: np.ndarray, n_keypoints: int, filters: Filters):
    """One image's raw pose output → (boxes ``(x1, y1, x2, y2, score, class)``, keypoints
    ``(n, K, 3)`` as x, y, visibility), model-input pixels, descending score."""
    n_classes = raw.shape[0] - 4 - 3 * n_keypoints
    keep, scores, classes = _candidates(raw, n_classes, filters.conf)
    if len(keep) == 0:
        return np.empty((0, 6)), np.empty((0, n_keypoints, 3))
    cx, cy, w, h = raw[0:4, keep].astype(np.float64)
    boxes = np.column_stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2])
    keypoints = raw[4 + n_classes :, keep].T.reshape(-1, n_keypoints, 3).astype(np.float64)
    kept = greedy_nms(boxes + classes[:, None] * _CLASS_OFFSET, scores, filters.iou)[
        : filters.max_det
    ]
    return (
        np.column_stack([boxes[kept], scores[kept], classes[kept]]),
        keypoints[kept],
    )


def area_filter(rows: np.ndarray, filters: Filters) -> np.ndarray:
    """Drop oriented boxes (video pixels) outside the configured area range."""
    if len(rows) == 0 or (filters.min_area is None and filters.max_area is None):
        return rows
    area = rows[:, 2] * rows[:, 3]
    keep = np.ones(len(rows), dtype=bool)
    if filters.min_area is not None:
        keep &= area >= filters.min_area
    if filters.max_area is not None:
        keep &= area <= filters.max_area
    return rows[keep]
