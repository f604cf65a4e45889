"""Filling short holes in tracks by interpolation, and dropping tracks that are too short.

A hole of at most ``interpolate_max_gap`` frames between two rows of the same track is filled
with one row per missing frame (only frames that were processed: a gap in the frame selection is
never filled): positions linearly (and keypoints, through the rows they are made from: see
:func:`interpolate`'s ``blend``), the undirected body axis the shorter way round (179° to 1°
passes through 0°, not 90°). Filled rows have ``det_id`` -1, ``score`` NaN and
``interpolated`` True. Coordinates stay sub-pixel.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .kalman import wrap_axis


def _lerp_axis(a: np.ndarray, b: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Undirected axes turned from ``a`` towards ``b`` the shorter way, by fraction ``w``."""
    return np.mod(a + w * wrap_axis(b - a), np.pi)


def interpolate(
    tracks: pd.DataFrame,
    max_gap: int,
    frames: np.ndarray | None,
    axis_columns: tuple[str, ...] = ("angle",),
    blend: tuple[str, str, str] | None = None,
) -> pd.DataFrame:
    """``tracks`` (sorted by track, frame) with holes of up to ``max_gap`` frames filled.

    ``blend``: names of three columns (from, to, weight) that say how to make a row's values
    of columns the table does not hold (a long video's keypoints): a filled row takes the row
    before the hole as *from*, the row after it as *to*, and its fraction of the way."""
    tracks = tracks.assign(interpolated=False)
    if max_gap < 1 or len(tracks) < 2:
        return tracks
    ordered = tracks.sort_values(["track_id", "frame"], kind="stable").reset_index(drop=True)
    track = ordered["track_id"].to_numpy()
    frame = ordered["frame"].to_numpy()
    same = track[1:] == track[:-1]
    hole = np.diff(frame) - 1
    before = np.flatnonzero(same & (hole >= 1) & (hole <= max_gap))
    if not len(before):
        return tracks
    counts = hole[before]
    left = np.repeat(before, counts)
    offset = np.concatenate([np.arange(1, c + 1) for c in counts])
    new_frame = frame[left] + offset
    weight = offset / (counts.repeat(counts) + 1)
    if frames is not None:
        keep = np.isin(new_frame, frames)
        left, new_frame, weight = left[keep], new_frame[keep], weight[keep]
        if not len(left):
            return tracks
    right = left + 1
    filled = {
        "frame": new_frame,
        "track_id": track[left],
        "det_id": np.full(len(left), -1, dtype=np.int64),
        "score": np.full(len(left), np.nan),
        "interpolated": np.ones(len(left), dtype=bool),
    }
    if blend is not None:
        from_column, to_column, weight_column = blend
        filled[from_column] = ordered[from_column].to_numpy()[left]
        filled[to_column] = ordered[from_column].to_numpy()[right]
        filled[weight_column] = weight
    for column in ordered.columns:
        if column in filled:
            continue
        values = ordered[column].to_numpy()
        if column in axis_columns:
            filled[column] = _lerp_axis(values[left], values[right], weight)
        elif column in ("x", "y"):
            a, b = values[left].astype(np.float64), values[right].astype(np.float64)
            filled[column] = a + (b - a) * weight
        elif np.issubdtype(values.dtype, np.floating):
            filled[column] = np.full(len(left), np.nan)
        else:
            filled[column] = values[left]
    result = pd.concat([ordered, pd.DataFrame(filled)[ordered.columns]], ignore_index=True)
    return result.sort_values(["frame", "track_id"], kind="stable").reset_index(drop=True)


def drop_short(tracks: pd.DataFrame, min_length: int) -> pd.DataFrame:
    """Tracks with fewer than ``min_length`` rows removed."""
    if min_length <= 1 or tracks.empty:
        return tracks
    lengths = tracks.groupby("track_id")["frame"].transform("size")
    return tracks[lengths >= min_length]
