"""Filling short holes in tracks by interpolation, and dropping tracks that are too short.

A hole of at most ``interpolate_max_gap`` frames between two rows of the same track is filled
with one row per missing frame (only frames that were processed: a gap in the frame selection is
never filled): positions linearly (and keypoints, through the rows they are made from: see
:func:`interpolate`'s ``blend``), the undirected body axis the shorter way round (179° to 1°
passes through 0°, not 90°). Filled rows have ``det_id`` -1, ``score`` NaN and
``interpolated`` True. Coordinates stay sub-pixel.

Both work on a tracks table held as one array per column (``Columns``) and change it in place:
a long video's table is large, and a column at a time is all either needs beside it.
"""

from __future__ import annotations

import numpy as np

from .kalman import wrap_axis

Columns = dict[str, np.ndarray]
"""A table as one array per column, all of one length (``frame`` and ``track_id`` among them)."""


def _lerp_axis(a: np.ndarray, b: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Undirected axes turned from ``a`` towards ``b`` the shorter way, by fraction ``w``."""
    return np.mod(a + w * wrap_axis(b - a), np.pi)


def interpolate(
    columns: Columns,
    max_gap: int,
    frames: np.ndarray | None,
    axis_columns: tuple[str, ...] = ("angle",),
    blend: tuple[str, str, str] | None = None,
) -> None:
    """Adds to ``columns`` (rows in any order; a track holds a frame once) an ``interpolated``
    column and, after its rows, a row for every frame of a hole of up to ``max_gap`` frames.

    ``blend``: names of three columns (from, to, weight) that say how to make a row's values
    of columns the table does not hold (a long video's keypoints): a filled row takes the row
    before the hole as *from*, the row after it as *to*, and its fraction of the way."""
    n = len(columns["frame"])
    columns["interpolated"] = np.zeros(n, dtype=bool)
    if max_gap < 1 or n < 2:
        return
    order = np.lexsort((columns["frame"], columns["track_id"]))
    track = columns["track_id"][order]
    frame = columns["frame"][order]
    same = track[1:] == track[:-1]
    hole = np.diff(frame) - 1
    del track
    before = np.flatnonzero(same & (hole >= 1) & (hole <= max_gap))
    if not len(before):
        return
    counts = hole[before]
    left = np.repeat(before, counts)
    offset = np.concatenate([np.arange(1, c + 1) for c in counts])
    new_frame = frame[left] + offset
    weight = offset / (counts.repeat(counts) + 1)
    if frames is not None:
        keep = np.isin(new_frame, frames)
        left, new_frame, weight = left[keep], new_frame[keep], weight[keep]
        if not len(left):
            return
    # Rows of the table before and after each filled row's hole.
    left, right = order[left], order[left + 1]
    del order, frame
    filled = {
        "frame": new_frame,
        "track_id": columns["track_id"][left],
        "det_id": np.full(len(left), -1, dtype=np.int64),
        "score": np.full(len(left), np.nan),
        "interpolated": np.ones(len(left), dtype=bool),
    }
    if blend is not None:
        from_column, to_column, weight_column = blend
        filled[from_column] = columns[from_column][left]
        filled[to_column] = columns[from_column][right]
        filled[weight_column] = weight
    for column, values in columns.items():
        if column in filled:
            continue
        if column in axis_columns:
            filled[column] = _lerp_axis(values[left], values[right], weight)
        elif column in ("x", "y"):
            a, b = values[left].astype(np.float64), values[right].astype(np.float64)
            filled[column] = a + (b - a) * weight
        elif np.issubdtype(values.dtype, np.floating):
            filled[column] = np.full(len(left), np.nan)
        else:
            filled[column] = values[left]
    for column in list(columns):
        columns[column] = np.concatenate([columns[column], filled.pop(column)])


def drop_short(columns: Columns, min_length: int) -> None:
    """Removes from ``columns`` the rows of tracks with fewer than ``min_length`` rows."""
    track = columns["track_id"]
    if min_length <= 1 or not len(track):
        return
    keep = np.bincount(track)[track] >= min_length
    if keep.all():
        return
    for column in list(columns):
        columns[column] = columns[column][keep]
