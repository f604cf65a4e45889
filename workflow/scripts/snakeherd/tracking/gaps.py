"""Filling short holes in tracks by interpolation, and dropping tracks that are too short.

A hole of at most ``interpolate_max_gap`` frames between two rows of the same track is filled
with one row per missing frame (only frames that were processed: a gap in the frame selection is
never filled): positions linearly (and keypoints, through the rows they are made from: see
:func:`interpolate`'s ``blend``), the undirected body axis the shorter way round (179° to 1°
passes through 0°, not 90°). Filled rows have ``det_id`` -1, ``score`` NaN and
``interpolated`` True. Coordinates stay sub-pixel.

A long video's table is large: :func:`holes` finds the rows to add from two of its columns,
:func:`filled` makes one column of them at a time, and :func:`long_enough` says which rows
stay from one column; :func:`interpolate` puts them together for a table held as one array per
column (``Columns``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .kalman import wrap_axis

Columns = dict[str, np.ndarray]
"""A table as one array per column, all of one length (``frame`` and ``track_id`` among them)."""


def _lerp_axis(a: np.ndarray, b: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Undirected axes turned from ``a`` towards ``b`` the shorter way, by fraction ``w``."""
    return np.mod(a + w * wrap_axis(b - a), np.pi)


@dataclass
class Holes:
    """The rows :func:`interpolate` adds to a table: for each, the table's rows before and after
    its hole, its frame and its fraction of the way from the one to the other."""

    before: np.ndarray
    after: np.ndarray
    frame: np.ndarray
    weight: np.ndarray

    def __len__(self) -> int:
        return len(self.frame)


def holes(
    track_id: np.ndarray, frame: np.ndarray, max_gap: int, frames: np.ndarray | None
) -> Holes:
    """The holes of up to ``max_gap`` frames in a table's tracks (rows in any order; a track
    holds a frame once): a row for each of their processed frames (``frames``; None: all)."""
    none = np.zeros(0, dtype=np.int64)
    found = Holes(none, none, none, np.zeros(0))
    if max_gap < 1 or len(frame) < 2:
        return found
    order = np.lexsort((frame, track_id))
    same = track_id[order[1:]] == track_id[order[:-1]]
    ordered_frame = frame[order]
    hole = np.diff(ordered_frame) - 1
    before = np.flatnonzero(same & (hole >= 1) & (hole <= max_gap))
    del same
    if not len(before):
        return found
    counts = hole[before]
    left = np.repeat(before, counts)
    offset = np.concatenate([np.arange(1, c + 1) for c in counts])
    new_frame = ordered_frame[left] + offset
    weight = offset / (counts.repeat(counts) + 1)
    if frames is not None:
        keep = np.isin(new_frame, frames)
        left, new_frame, weight = left[keep], new_frame[keep], weight[keep]
    return Holes(order[left], order[left + 1], new_frame, weight)


def filled(
    column: str,
    read: Callable[[str], np.ndarray],
    found: Holes,
    axis_columns: tuple[str, ...] = ("angle",),
    blend: tuple[str, str, str] | None = None,
) -> np.ndarray:
    """Column ``column`` of the rows that fill the holes ``found`` (``read``: a column of the
    table, by name): see :func:`interpolate`."""
    n = len(found)
    if column == "frame":
        return found.frame
    if column == "det_id":
        return np.full(n, -1, dtype=np.int64)
    if column == "score":
        return np.full(n, np.nan)
    if column == "interpolated":
        return np.ones(n, dtype=bool)
    if blend is not None and column in blend:
        from_column, to_column, _ = blend
        if column == from_column:
            return read(from_column)[found.before]
        if column == to_column:
            return read(from_column)[found.after]
        return found.weight
    values = read(column)
    if column in axis_columns:
        return _lerp_axis(values[found.before], values[found.after], found.weight)
    if column in ("x", "y"):
        a = values[found.before].astype(np.float64)
        b = values[found.after].astype(np.float64)
        return a + (b - a) * found.weight
    if np.issubdtype(values.dtype, np.floating):
        return np.full(n, np.nan)
    return values[found.before]


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
    found = holes(columns["track_id"], columns["frame"], max_gap, frames)
    columns["interpolated"] = np.zeros(len(columns["frame"]), dtype=bool)
    if not len(found):
        return
    added = {
        column: filled(column, columns.__getitem__, found, axis_columns, blend)
        for column in columns
    }
    for column in list(columns):
        columns[column] = np.concatenate([columns[column], added.pop(column)])


def long_enough(track_id: np.ndarray, min_length: int) -> np.ndarray | None:
    """bool per row: is its track at least ``min_length`` rows long? (None: all are.)"""
    if min_length <= 1 or not len(track_id):
        return None
    keep = np.bincount(track_id)[track_id] >= min_length
    return None if keep.all() else keep
