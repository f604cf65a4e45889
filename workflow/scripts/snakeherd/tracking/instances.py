"""The tracker's input as arrays: one row per detected instance, sorted by frame.

Detections (``frame, det_id, x, y`` and optionally ``w, h, angle, score``) and, when a pose stage
ran, their keypoints from the long ``poses`` table (``frame, det_id, node, x, y, score``) are
joined once into dense NumPy arrays, so the frame loop only slices.

Keypoints read from the poses table in parts (a track job) are kept in a temporary file
(:class:`StoredRows`), not in memory: with a 24-node skeleton they are ~600 bytes an instance,
and a long video has millions. What the whole-video steps need of them is measured as they are
stored (:attr:`Instances.visible_points`, :attr:`Instances.keypoint_box`,
:attr:`Instances.keypoint_extent`); the keypoints themselves are read back a few frames at a
time by the online pass and row by row where tracklets end.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import InitVar, dataclass, field

import numpy as np
import pandas as pd

from ..keypoints import block_rows, keypoint_boxes
from ..stored import StoredRows
from .similarity import bounding_boxes, box_scale

INSTANCE_COLUMNS = ["frame", "det_id", "x", "y", "w", "h", "angle", "score", "position_sd"]
"""The columns of a detections table :func:`from_tables` reads (the last five when present)."""


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
    keypoints: np.ndarray | StoredRows  # (N, K, 2) px, NaN where missing
    keypoint_score: np.ndarray | StoredRows  # (N, K)
    # What :func:`select` already measured of them (visible points, keypoint box, extent).
    measured: InitVar[tuple[np.ndarray, np.ndarray, np.ndarray] | None] = None
    starts: np.ndarray = field(init=False)  # (F,) first row of each distinct frame
    stops: np.ndarray = field(init=False)  # (F,) one past the last row of each distinct frame
    visible_points: np.ndarray = field(init=False)  # (N,) keypoints found
    keypoint_box: np.ndarray = field(init=False)  # (N, 4) x0, y0, x1, y1 of those (NaN: none)
    keypoint_extent: np.ndarray = field(init=False)  # (N, 3) long, short side, axis of the box

    def __post_init__(self, measured) -> None:
        if len(self.frame):
            boundaries = np.flatnonzero(np.diff(self.frame)) + 1
            self.starts = np.concatenate([[0], boundaries])
            self.stops = np.concatenate([boundaries, [len(self.frame)]])
        else:
            self.starts = self.stops = np.zeros(0, dtype=np.int64)
        if measured is None:
            measured = _measured(self.keypoints)
        self.visible_points, self.keypoint_box, self.keypoint_extent = measured

    def __len__(self) -> int:
        return len(self.frame)

    @property
    def has_keypoints(self) -> bool:
        return bool(self.nodes)

    @property
    def scale(self) -> np.ndarray:
        """Animal size (px) per instance (see :func:`.similarity.instance_scale`)."""
        return self.scale_of(slice(None))

    def scale_of(self, rows) -> np.ndarray:
        """:attr:`scale` of the instances ``rows`` (an index array or a slice)."""
        return box_scale(self.keypoint_box[rows] if len(self.nodes) >= 2 else None, self.size[rows])


def _measured(keypoints) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Visible keypoints, keypoint box and its extent of every instance, measured a block of
    rows at a time (the keypoints may be stored, not in memory)."""
    n = len(keypoints)
    if keypoints.shape[1] == 0:  # the same for every instance: no memory
        return (
            np.broadcast_to(np.int64(0), n),
            np.broadcast_to(np.float64(np.nan), (n, 4)),
            np.broadcast_to(np.float64(np.nan), (n, 3)),
        )
    visible = np.zeros(n, dtype=np.int64)
    box = np.full((n, 4), np.nan)
    extent = np.full((n, 3), np.nan)
    rows = block_rows(keypoints.shape[1])
    for start in range(0, n, rows):
        points = keypoints[start : start + rows]
        stop = start + len(points)
        visible[start:stop] = np.isfinite(points).all(axis=2).sum(axis=1)
        box[start:stop] = bounding_boxes(points)
        _, long_side, short_side, axis = keypoint_boxes(points)
        extent[start:stop] = np.column_stack([long_side, short_side, axis])
    return visible, box, extent


def select(instances: Instances, rows: np.ndarray) -> Instances:
    """The instances at ``rows`` (increasing), as their own :class:`Instances`."""
    keypoints, keypoint_score = instances.keypoints, instances.keypoint_score
    if isinstance(keypoints, StoredRows):
        keypoints, keypoint_score = keypoints.subset(rows), keypoint_score.subset(rows)
    else:
        keypoints, keypoint_score = keypoints[rows], keypoint_score[rows]
    return Instances(
        instances.frame[rows],
        instances.det_id[rows],
        instances.xy[rows],
        instances.size[rows],
        instances.angle[rows],
        instances.score[rows],
        instances.position_sd[rows],
        instances.nodes,
        keypoints,
        keypoint_score,
        (
            instances.visible_points[rows],
            instances.keypoint_box[rows],
            instances.keypoint_extent[rows],
        ),
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

    ``poses`` may also be the poses table in parts, in frame order (e.g.
    :func:`snakeherd.io.iter_table`'s batches), each joined as it comes, so the long table is
    never held whole; ``nodes`` must then be given, and the keypoints are kept in temporary
    files (:class:`StoredRows`)."""
    ordered = detections
    if not _in_order(detections["frame"].to_numpy(), detections["det_id"].to_numpy()):
        ordered = detections.sort_values(["frame", "det_id"], kind="stable")
    n = len(ordered)

    # Copies: a view would keep the whole table alive with the arrays.
    def column(name: str, default: float) -> np.ndarray:
        if name in ordered.columns:
            return ordered[name].to_numpy(dtype=np.float64, na_value=np.nan, copy=True)
        return np.broadcast_to(np.float64(default), n)  # one value for every row, no memory

    frame = ordered["frame"].to_numpy(dtype=np.int64, copy=True)
    det_id = ordered["det_id"].to_numpy(dtype=np.int64, copy=True)
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
            keypoints, keypoint_score = _keypoints_in_memory(poses, frame, det_id, nodes)
        else:
            nodes, keypoints, keypoint_score = [], np.zeros((n, 0, 2)), np.zeros((n, 0))
    elif poses is not None:
        if not nodes:
            raise ValueError("poses in parts need their nodes")
        nodes = list(nodes)
        keypoints, keypoint_score = _stored_keypoints(poses, frame, det_id, nodes)
    else:
        nodes, keypoints, keypoint_score = [], np.zeros((n, 0, 2)), np.zeros((n, 0))
    return Instances(
        frame, det_id, xy, size, angle, score, position_sd, nodes, keypoints, keypoint_score
    )


def _in_order(frame: np.ndarray, det_id: np.ndarray) -> bool:
    """Are these rows sorted by frame, then det_id (as a joined detections table is)?"""
    step = np.diff(frame)
    return bool(((step > 0) | ((step == 0) & (np.diff(det_id) >= 0))).all())


def _keypoints_in_memory(poses, frame, det_id, nodes) -> tuple[np.ndarray, np.ndarray]:
    keypoints = np.full((len(frame), len(nodes), 2), np.nan)
    keypoint_score = np.full((len(frame), len(nodes)), np.nan)
    node_index = {name: k for k, name in enumerate(nodes)}
    _place_keypoints(poses, frame, det_id, node_index, keypoints, keypoint_score)
    # A keypoint is missing when either coordinate is.
    keypoints[~np.isfinite(keypoints).all(axis=2)] = np.nan
    return keypoints, keypoint_score


def _stored_keypoints(
    parts: Iterable[pd.DataFrame], frame: np.ndarray, det_id: np.ndarray, nodes: list[str]
) -> tuple[StoredRows, StoredRows]:
    """The keypoints of the poses table's parts (in frame order) in temporary files: the rows
    of a frame are written once no later part can hold more of that frame's keypoints."""
    n, k = len(frame), len(nodes)
    keypoints, keypoint_score = StoredRows(n, (k, 2)), StoredRows(n, (k,))
    node_index = {name: i for i, name in enumerate(nodes)}
    written = 0  # rows before this are stored; the pending arrays hold the rows after it
    pending_points, pending_scores = np.zeros((0, k, 2)), np.zeros((0, k))

    def extend(last: int):
        grow = last - written - len(pending_points)
        if grow <= 0:
            return pending_points, pending_scores
        return (
            np.concatenate([pending_points, np.full((grow, k, 2), np.nan)]),
            np.concatenate([pending_scores, np.full((grow, k), np.nan)]),
        )

    def store(count: int) -> None:
        points = pending_points[:count]
        points[~np.isfinite(points).all(axis=2)] = np.nan  # missing when either coordinate is
        keypoints.write(written, points)
        keypoint_score.write(written, pending_scores[:count])

    for part in parts:
        if not len(part):
            continue
        part_frames = part["frame"].to_numpy()
        first = int(np.searchsorted(frame, part_frames.min(), side="left"))
        last = int(np.searchsorted(frame, part_frames.max(), side="right"))
        if first < written:
            raise ValueError("poses in parts must come in frame order")
        pending_points, pending_scores = extend(last)
        _place_keypoints(
            part, frame, det_id, node_index, pending_points, pending_scores, first_row=written
        )
        # The rows of the part's last frame may go on in the next part.
        complete = int(np.searchsorted(frame, part_frames.max(), side="left")) - written
        store(complete)
        pending_points, pending_scores = pending_points[complete:], pending_scores[complete:]
        written += complete
    pending_points, pending_scores = extend(n)
    store(len(pending_points))
    return keypoints, keypoint_score


def _place_keypoints(
    poses: pd.DataFrame,
    frame: np.ndarray,
    det_id: np.ndarray,
    node_index: dict[str, int],
    keypoints: np.ndarray,
    keypoint_score: np.ndarray,
    first_row: int = 0,
) -> None:
    """Writes the keypoints of ``poses`` (some rows of the poses table) into the rows of their
    instances in ``keypoints`` and ``keypoint_score`` (instances sorted by ``frame``; the
    arrays' row 0 is instance ``first_row``)."""
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
    rows, cols = rows[known] - first_row, cols[known].astype(np.int64)
    keypoints[rows, cols, 0] = joined["x"].to_numpy(dtype=np.float64)[known]
    keypoints[rows, cols, 1] = joined["y"].to_numpy(dtype=np.float64)[known]
    if "score" in joined.columns:
        keypoint_score[rows, cols] = joined["score"].to_numpy(dtype=np.float64)[known]
