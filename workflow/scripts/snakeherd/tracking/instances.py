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

Detections read in parts too (the track job's) keep only what the whole-video linking reads
of every instance in memory, ``frame`` and ``xy`` (24 bytes an instance); the rest (box size,
angle, scores, the measured keypoint box: ~110 bytes) is stored likewise and read back a block
of frames at a time by the online pass, and for some rows by the linking.
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

Rows = np.ndarray | StoredRows
"""Rows of one value (or array) per instance, in memory or in a temporary file: either is read
by ``rows[index]`` (a slice, an index array or a mask) into an array."""


@dataclass
class Instances:
    """Every instance of one video, sorted by (frame, det_id)."""

    frame: np.ndarray  # (N,) int64
    det_id: Rows  # (N,) int64
    xy: np.ndarray  # (N, 2) centre, px
    size: Rows  # (N, 2) box long and short side, px (NaN when unknown)
    angle: Rows  # (N,) body axis, rad in [0, π) (NaN when unknown)
    score: Rows  # (N,)
    position_sd: Rows  # (N,) px, the detector's own centre uncertainty (NaN: unknown)
    nodes: list[str]  # keypoint names, in skeleton order (empty without poses)
    keypoints: Rows  # (N, K, 2) px, NaN where missing
    keypoint_score: Rows  # (N, K)
    # What was already measured of them (visible points, keypoint box, extent).
    measured: InitVar[tuple[Rows, Rows, Rows] | None] = None
    starts: np.ndarray = field(init=False)  # (F,) first row of each distinct frame
    stops: np.ndarray = field(init=False)  # (F,) one past the last row of each distinct frame
    visible_points: Rows = field(init=False)  # (N,) keypoints found
    keypoint_box: Rows = field(init=False)  # (N, 4) x0, y0, x1, y1 of those (NaN: none)
    keypoint_extent: Rows = field(init=False)  # (N, 3) long, short side, axis of the box

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


def _measured(keypoints: Rows, stored: bool = False) -> tuple[Rows, Rows, Rows]:
    """Visible keypoints, keypoint box and its extent of every instance, measured a block of
    rows at a time (the keypoints may be stored, not in memory); ``stored``: kept in temporary
    files too."""
    n = len(keypoints)
    if keypoints.shape[1] == 0:  # the same for every instance: no memory
        return (
            np.broadcast_to(np.int64(0), n),
            np.broadcast_to(np.float64(np.nan), (n, 4)),
            np.broadcast_to(np.float64(np.nan), (n, 3)),
        )

    def measures(shape: tuple[int, ...], dtype, unknown) -> Rows:
        if stored:
            return StoredRows(n, shape, dtype)
        return np.full((n, *shape), unknown, dtype=dtype)

    visible = measures((), np.int64, 0)
    box, extent = measures((4,), np.float64, np.nan), measures((3,), np.float64, np.nan)
    rows = block_rows(keypoints.shape[1])
    for start in range(0, n, rows):
        points = keypoints[start : start + rows]
        _, long_side, short_side, axis = keypoint_boxes(points)
        for target, values in (
            (visible, np.isfinite(points).all(axis=2).sum(axis=1)),
            (box, bounding_boxes(points)),
            (extent, np.column_stack([long_side, short_side, axis])),
        ):
            if stored:
                target.write(start, values)
            else:
                target[start : start + len(points)] = values
    return visible, box, extent


def _take(values: Rows, rows: np.ndarray) -> Rows:
    """The rows ``rows`` of ``values``, stored ones staying stored."""
    return values.subset(rows) if isinstance(values, StoredRows) else values[rows]


def select(instances: Instances, rows: np.ndarray) -> Instances:
    """The instances at ``rows`` (increasing), as their own :class:`Instances`."""
    return Instances(
        instances.frame[rows],
        _take(instances.det_id, rows),
        instances.xy[rows],
        *(
            _take(getattr(instances, name), rows)
            for name in ("size", "angle", "score", "position_sd")
        ),
        instances.nodes,
        _take(instances.keypoints, rows),
        _take(instances.keypoint_score, rows),
        tuple(
            _take(getattr(instances, name), rows)
            for name in ("visible_points", "keypoint_box", "keypoint_extent")
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
    detections: pd.DataFrame | Iterable[pd.DataFrame],
    poses: pd.DataFrame | Iterable[pd.DataFrame] | None = None,
    nodes: list[str] | None = None,
) -> Instances:
    """Join detections with their keypoints (when ``poses`` is given and not empty).

    ``poses`` may also be the poses table in parts, in frame order (e.g.
    :func:`snakeherd.io.iter_table`'s batches), each joined as it comes, so the long table is
    never held whole; ``nodes`` must then be given, and the keypoints are kept in temporary
    files (:class:`StoredRows`). ``detections`` in parts likewise (in any order, each part with
    the same columns): then all but ``frame`` and ``xy`` are kept in temporary files too."""
    if not isinstance(detections, pd.DataFrame):
        return _from_parts(detections, poses, nodes)
    ordered = detections
    if not _in_order(detections["frame"].to_numpy(), detections["det_id"].to_numpy()):
        ordered = detections.sort_values(["frame", "det_id"], kind="stable")
    columns = _instance_columns(ordered)
    n = len(ordered)
    frame, det_id = columns["frame"], columns["det_id"]
    nodes, keypoints, keypoint_score = _keypoints(poses, frame, det_id, nodes, stored=False)
    return Instances(
        frame,
        det_id,
        columns["xy"],
        *(_or_default(columns[name], name, n) for name in _STORED),
        nodes,
        keypoints,
        keypoint_score,
    )


# The columns of Instances stored when the detections come in parts: (row shape, dtype), and
# the value every row takes when the detections table lacks the column (None: it never does).
_STORED = {
    "size": ((2,), np.float64, None),
    "angle": ((), np.float64, None),
    "score": ((), np.float64, 1.0),
    "position_sd": ((), np.float64, np.nan),
}


def _or_default(values: Rows | None, name: str, n: int) -> Rows:
    """``values``, or for a column the table lacks its default for every row (no memory)."""
    return np.broadcast_to(np.float64(_STORED[name][2]), n) if values is None else values


def _instance_columns(table: pd.DataFrame) -> dict[str, np.ndarray | None]:
    """What :class:`Instances` holds of the detections ``table`` (None: a column with a default
    the table lacks). Copies: a view would keep the whole table alive with the arrays."""

    def column(name: str) -> np.ndarray | None:
        if name in table.columns:
            return table[name].to_numpy(dtype=np.float64, na_value=np.nan, copy=True)
        return None

    n = len(table)
    unknown = np.full(n, np.nan)
    size = np.column_stack([unknown if (side := column(name)) is None else side for name in "wh"])
    angle = column("angle")
    angle = unknown.copy() if angle is None else np.mod(angle, np.pi)
    # A box of no extent (an animal seen by one keypoint) has no axis.
    angle[(size[:, 0] == 0) & (size[:, 1] == 0)] = np.nan
    return {
        "frame": table["frame"].to_numpy(dtype=np.int64, copy=True),
        "det_id": table["det_id"].to_numpy(dtype=np.int64, copy=True),
        "xy": table[["x", "y"]].to_numpy(dtype=np.float64),
        "size": size,
        "angle": angle,
        "score": column("score"),
        "position_sd": column("position_sd"),
    }


def _keypoints(
    poses: pd.DataFrame | Iterable[pd.DataFrame] | None,
    frame: np.ndarray,
    det_id: Rows,
    nodes: list[str] | None,
    stored: bool,
) -> tuple[list[str], Rows, Rows]:
    """The nodes, keypoints and keypoint scores of the instances (``frame``, ``det_id``) from
    ``poses`` (see :func:`from_tables`): a whole poses table's in memory unless ``stored``,
    parts' in temporary files."""
    n = len(frame)
    if isinstance(poses, pd.DataFrame):
        if not len(poses):
            poses = None
        else:
            nodes = list(nodes) if nodes else node_order(poses)
            if not stored:
                return nodes, *_keypoints_in_memory(poses, frame, det_id, nodes)
            poses = [poses]
    if poses is None:
        return [], np.zeros((n, 0, 2)), np.zeros((n, 0))
    if not nodes:
        raise ValueError("poses in parts need their nodes")
    nodes = list(nodes)
    return nodes, *_stored_keypoints(poses, frame, det_id, nodes)


def _from_parts(
    parts: Iterable[pd.DataFrame],
    poses: pd.DataFrame | Iterable[pd.DataFrame] | None,
    nodes: list[str] | None,
) -> Instances:
    """:func:`from_tables` of detections in parts: ``frame`` and ``xy`` in memory, the other
    columns (and the keypoints, and what is measured of them) in temporary files."""
    # Frames and positions too are stored as they come, then read back whole once: joined
    # from a list of parts, they were held twice (~16 MB more at 660,000 instances).
    frames, xys = StoredRows(0, (), np.int64), StoredRows(0, (2,), np.float64)
    stored = {name: StoredRows(0, (), np.int64) for name in ["det_id"]}
    stored |= {name: StoredRows(0, shape, dtype) for name, (shape, dtype, _) in _STORED.items()}
    lacking: set[str] | None = None  # the optional columns the table does not have
    in_order, last = True, None
    for part in parts:
        if not len(part):
            continue
        columns = _instance_columns(part)
        absent = {name for name in stored if columns[name] is None}
        if lacking is not None and absent != lacking:
            raise ValueError("detections in parts must all have the same columns")
        lacking = absent
        frame, det_id = columns["frame"], columns["det_id"]
        in_order = (
            in_order
            and _in_order(frame, det_id)
            and (last is None or (frame[0], det_id[0]) >= last)
        )
        last = (frame[-1], det_id[-1])
        frames.append(frame)
        xys.append(columns.pop("xy"))
        for name, rows in stored.items():
            if name not in absent:
                rows.append(columns[name])
    frame, xy = frames[:], xys[:]
    del frames, xys  # their files
    n, lacking = len(frame), lacking or set()
    if not in_order:
        # Rare (our tables are written in order): each column read whole once to reorder it.
        order = np.lexsort((stored["det_id"][:], frame))
        frame, xy = frame[order], xy[order]
        for name, rows in stored.items():
            if name not in lacking:
                reordered = StoredRows(n, rows.row_shape, rows.dtype)
                reordered.write(0, rows[:][order])
                stored[name] = reordered
        del order
    det_id = stored["det_id"]
    nodes, keypoints, keypoint_score = _keypoints(poses, frame, det_id, nodes, stored=True)
    return Instances(
        frame,
        det_id,
        xy,
        *(_or_default(None if name in lacking else stored[name], name, n) for name in _STORED),
        nodes,
        keypoints,
        keypoint_score,
        _measured(keypoints, stored=True),
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
