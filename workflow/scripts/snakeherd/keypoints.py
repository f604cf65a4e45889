"""An animal's box from its keypoints: one definition for every stage that has keypoints.

The SLEAP stage's detections, track-only runs (``.slp`` predictions) and the tracker's body axis
all take an instance's box from here, so the same keypoints give the same box on every path.
"""

from __future__ import annotations

import numpy as np

# Instances whose keypoints are measured at once (see keypoint_boxes).
BLOCK_ROWS = 65536
# Keypoints (instances × nodes) a long video's work goes through at once: block_rows(nodes).
BLOCK_POINTS = 2**18


def from_columns(table, nodes: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Keypoints ``(rows, K, 2)`` and their scores ``(rows, K)`` from a tracks table's
    ``<node>.x``, ``<node>.y`` and ``<node>.score`` columns."""
    x, y = [f"{n}.x" for n in nodes], [f"{n}.y" for n in nodes]
    points = np.stack([table[x].to_numpy(np.float64), table[y].to_numpy(np.float64)], axis=2)
    return points, table[[f"{n}.score" for n in nodes]].to_numpy(np.float64)


def block_rows(n_nodes: int) -> int:
    """Instances of ``n_nodes`` keypoints in a block of :data:`BLOCK_POINTS` keypoints (at most
    :data:`BLOCK_ROWS`): a long video's instances worked through a block at a time take about
    the same memory whatever the skeleton."""
    return max(1, min(BLOCK_ROWS, BLOCK_POINTS // max(n_nodes, 1)))


def keypoint_boxes(points: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Centre, long side, short side and axis angle in [0, π) of keypoint sets ``(n, K, 2)``.

    Keypoints that are not found (NaN) are ignored. The centre is the mean of the found
    keypoints; the box is aligned with their principal direction, its sides their extents along
    it and across it, the longer one first, and the angle is the long side's direction. One
    found keypoint is a box of no extent at that point (sides 0, angle 0, as the detections
    contract keeps angles in [0, π)); an instance with none has NaN everywhere.
    """
    points = np.asarray(points, dtype=np.float64)
    if len(points) <= BLOCK_ROWS:
        return _keypoint_boxes(points)
    # In blocks of rows: the work arrays are several times the points, and a long video's
    # instances number millions.
    parts = [_keypoint_boxes(points[i : i + BLOCK_ROWS]) for i in range(0, len(points), BLOCK_ROWS)]
    return tuple(np.concatenate(columns) for columns in zip(*parts, strict=True))


def _keypoint_boxes(points: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    visible = np.isfinite(points).all(axis=2)
    count = visible.sum(axis=1)
    filled = np.where(visible[..., None], points, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        centre = filled.sum(axis=1) / count[:, None]
    offsets = np.where(visible[..., None], points - centre[:, None, :], 0.0)
    sxx = (offsets[..., 0] ** 2).sum(axis=1)
    syy = (offsets[..., 1] ** 2).sum(axis=1)
    sxy = (offsets[..., 0] * offsets[..., 1]).sum(axis=1)
    angle = np.mod(0.5 * np.arctan2(2 * sxy, sxx - syy), np.pi)
    along = offsets[..., 0] * np.cos(angle)[:, None] + offsets[..., 1] * np.sin(angle)[:, None]
    across = -offsets[..., 0] * np.sin(angle)[:, None] + offsets[..., 1] * np.cos(angle)[:, None]

    def extent(values):
        high = np.where(visible, values, -np.inf).max(axis=1, initial=-np.inf)
        low = np.where(visible, values, np.inf).min(axis=1, initial=np.inf)
        return high - low

    long_side, short_side = extent(along), extent(across)
    # The box's long side defines the angle (the detections contract), even when spread limbs
    # make the keypoints wider across the body than along it.
    wider = short_side > long_side
    long_side, short_side = (
        np.where(wider, short_side, long_side),
        np.where(wider, long_side, short_side),
    )
    angle = np.where(wider, np.mod(angle + np.pi / 2, np.pi), angle)
    # mod can return π itself for an angle a rounding error below zero.
    angle = np.where(angle >= np.pi, 0.0, angle)
    single = count == 1
    long_side[single] = short_side[single] = angle[single] = 0.0
    none = count == 0
    long_side[none] = short_side[none] = angle[none] = np.nan
    return centre, long_side, short_side, angle
