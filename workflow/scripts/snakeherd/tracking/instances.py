"""The tracker's input as arrays: one row per detected instance, sorted by frame.

Detections (``frame, det_id, x, y`` and optionally ``w, h, angle, score``) and, when a pose stage
ran, their keypoints from the long ``poses`` table (``frame, det_id, node, x, y, score``) are
joined once into dense NumPy arrays, so the frame loop only slices.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass
class Instances:
    """Every instance of one video, sorted by (frame, det_id)."""

    frame: np.ndarray  # (N,) int64
    det_id: np.ndarray  # (N,) int64
    xy: np.ndarray  # (N, 2) centre, px
    size: np.ndarray  # (N, 2) box long and short side, px (NaN when unknown)
    angle: np.ndarray  # (N,) body axis, rad in [0, π) (NaN when unknown)
    score: np.ndarray  # (N,)
    position_sd: np.ndarray  # (N,) px, the detector's own centre uncertainty (NaN: unknown)
    nodes: list[str]  # keypoint names, in skeleton order (empty without poses)
    keypoints: np.ndarray  # (N, K, 2) px, NaN where missing
    keypoint_score: np.ndarray  # (N, K)
    starts: np.ndarray  # (F,) first row of each distinct frame
    stops: np.ndarray  # (F,) one past the last row of each distinct frame

    def __len__(self) -> int:
        return len(self.frame)

    @property
    def has_keypoints(self) -> bool:
        return bool(self.nodes)

    @property
    def visible_points(self) -> np.ndarray:
        """Visible keypoints per instance, (N,)."""
        if not self.nodes:
            return np.zeros(len(self), dtype=np.int64)
        return np.isfinite(self.keypoints).all(axis=2).sum(axis=1)


def _build(
    frame, det_id, xy, size, angle, score, position_sd, nodes, keypoints, keypoint_score
) -> Instances:
    if len(frame):
        boundaries = np.flatnonzero(np.diff(frame)) + 1
        starts = np.concatenate([[0], boundaries])
        stops = np.concatenate([boundaries, [len(frame)]])
    else:
        starts = stops = np.zeros(0, dtype=np.int64)
    return Instances(
        frame,
        det_id,
        xy,
        size,
        angle,
        score,
        position_sd,
        nodes,
        keypoints,
        keypoint_score,
        starts,
        stops,
    )


def select(instances: Instances, rows: np.ndarray) -> Instances:
    """The instances at ``rows`` (increasing), as their own :class:`Instances`."""
    return _build(
        instances.frame[rows],
        instances.det_id[rows],
        instances.xy[rows],
        instances.size[rows],
        instances.angle[rows],
        instances.score[rows],
        instances.position_sd[rows],
        instances.nodes,
        instances.keypoints[rows],
        instances.keypoint_score[rows],
    )


def node_order(poses: pd.DataFrame | Iterable[pd.DataFrame]) -> list[str]:
    """Node names in the order the pose stage wrote them (first appearance), from the poses
    table or its parts in order."""
    parts = [poses] if isinstance(poses, pd.DataFrame) else poses
    order: dict[str, None] = {}
    for part in parts:
        order.update(dict.fromkeys(part["node"].astype(str)))
    return list(order)


def from_tables(
    detections: pd.DataFrame,
    poses: pd.DataFrame | Iterable[pd.DataFrame] | None = None,
    nodes: list[str] | None = None,
) -> Instances:
    """Join detections with their keypoints (when ``poses`` is given and not empty).

    ``poses`` may also be the poses table in parts (e.g. :func:`snakeherd.io.iter_table`'s
    batches), each joined as it comes, so the long table is never held whole; ``nodes`` must
    then be given."""
    ordered = detections.sort_values(["frame", "det_id"], kind="stable").reset_index(drop=True)
    n = len(ordered)

    def column(name: str, default: float) -> np.ndarray:
        if name in ordered.columns:
            return ordered[name].to_numpy(dtype=np.float64, na_value=np.nan)
        return np.full(n, default)

    frame = ordered["frame"].to_numpy(dtype=np.int64)
    det_id = ordered["det_id"].to_numpy(dtype=np.int64)
    xy = ordered[["x", "y"]].to_numpy(dtype=np.float64)
    size = np.column_stack([column("w", np.nan), column("h", np.nan)])
    angle = np.mod(column("angle", np.nan), np.pi)
    # A box of no extent (an animal seen by one keypoint) has no axis.
    angle[(size[:, 0] == 0) & (size[:, 1] == 0)] = np.nan
    score = column("score", 1.0)
    position_sd = column("position_sd", np.nan)

    if isinstance(poses, pd.DataFrame):
        if len(poses):
            nodes = list(nodes) if nodes else node_order(poses)
        poses = [poses] if len(poses) else None
    elif poses is not None and not nodes:
        raise ValueError("poses in parts need their nodes")
    if poses is not None:
        nodes = list(nodes)
        keypoints = np.full((n, len(nodes), 2), np.nan)
        keypoint_score = np.full((n, len(nodes)), np.nan)
        node_index = {name: k for k, name in enumerate(nodes)}
        for part in poses:
            _place_keypoints(part, frame, det_id, node_index, keypoints, keypoint_score)
        # A keypoint is missing when either coordinate is.
        keypoints[~np.isfinite(keypoints).all(axis=2)] = np.nan
    else:
        nodes = []
        keypoints = np.zeros((n, 0, 2))
        keypoint_score = np.zeros((n, 0))
    return _build(
        frame, det_id, xy, size, angle, score, position_sd, nodes, keypoints, keypoint_score
    )


def _place_keypoints(
    poses: pd.DataFrame,
    frame: np.ndarray,
    det_id: np.ndarray,
    node_index: dict[str, int],
    keypoints: np.ndarray,
    keypoint_score: np.ndarray,
) -> None:
    """Writes the keypoints of ``poses`` (some rows of the poses table) into the rows of their
    instances in ``keypoints`` and ``keypoint_score`` (instances sorted by ``frame``)."""
    if not len(poses):
        return
    # Only the instances of the part's frames can match it (they are sorted by frame).
    pose_frames = poses["frame"].to_numpy()
    first = np.searchsorted(frame, pose_frames.min(), side="left")
    last = np.searchsorted(frame, pose_frames.max(), side="right")
    keys = pd.DataFrame(
        {"frame": frame[first:last], "det_id": det_id[first:last], "row": np.arange(first, last)}
    )
    # Row of each (frame, det_id) in the sorted detections, found by a merge on the keys.
    joined = poses.merge(keys, on=["frame", "det_id"], how="inner")
    rows = joined["row"].to_numpy()
    cols = joined["node"].astype(str).map(node_index).to_numpy()
    known = ~pd.isna(cols)
    rows, cols = rows[known], cols[known].astype(np.int64)
    keypoints[rows, cols, 0] = joined["x"].to_numpy(dtype=np.float64)[known]
    keypoints[rows, cols, 1] = joined["y"].to_numpy(dtype=np.float64)[known]
    if "score" in joined.columns:
        keypoint_score[rows, cols] = joined["score"].to_numpy(dtype=np.float64)[known]
