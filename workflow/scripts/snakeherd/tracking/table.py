"""A video's tracks as a table whose keypoint columns are made a block of rows at a time.

With keypoints, a tracks table is mostly keypoint columns (three per node: 72 of 81 columns
with a 24-node skeleton), and a long video's table, copied by gap filling and sorting, was most
of the track job's memory. Here gap filling, dropping, renumbering, heading and sorting work on
the light columns; each row keeps where its keypoints come from (an instance, or the two
instances an interpolated row lies between, and how far along), and the keypoint columns are
made only for the rows being written.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from ..keypoints import block_rows, from_columns
from ..stored import Table, column_of, rows_of
from .animal_count import AnimalCount

TRACK_COLUMNS = ["frame", "track_id", "det_id", "x", "y", "angle", "score"]
"""Core columns of a tracks table (``video_id`` is added by the rule)."""

LIGHT_COLUMNS = [*TRACK_COLUMNS, "heading", "interpolated"]
"""The columns of a tracks table before its keypoint columns, in order."""

# Where a row's keypoints come from: rows of the keypoint source and the fraction of the way
# from the first to the second (0 for a detected instance).
BLEND = ("from_row", "to_row", "weight")

PointsOf = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]
"""Keypoints ``(n, K, 2)`` and their scores ``(n, K)`` of rows of a keypoint source."""


def keypoint_columns(nodes: list[str]) -> list[str]:
    """Wide keypoint columns of a tracks table: ``<node>.x``, ``<node>.y``, ``<node>.score``."""
    return [f"{node}.{part}" for node in nodes for part in ("x", "y", "score")]


@dataclass
class TrackTable:
    """Tracks: ``light`` holds :data:`LIGHT_COLUMNS` (and :data:`BLEND`) in the table's order,
    in memory or, for the tracker's own tracks, in temporary files (read a column or a block of
    rows at a time: :meth:`column`, :meth:`select`); ``points_of`` gives the keypoints of the
    source's rows (None without keypoints); ``animal_count``: with ``max_tracks: auto``, the
    count the tracks were made with."""

    light: Table
    nodes: list[str]
    points_of: PointsOf | None = None
    animal_count: AnimalCount | None = None

    def __len__(self) -> int:
        return len(self.light)

    def column(self, name: str) -> np.ndarray:
        """One whole column of ``light``."""
        return column_of(self.light, name)

    def select(self, columns: list[str], rows: slice | np.ndarray = slice(None)) -> pd.DataFrame:
        """Some columns of ``light`` (those it has), at ``rows`` (positions), in memory."""
        present = [name for name in columns if name in self.light]
        return rows_of(self.light, rows, present).reset_index(drop=True)

    def in_memory(self) -> TrackTable:
        """This table with ``light`` in memory (for work that changes it as a whole)."""
        if isinstance(self.light, pd.DataFrame):
            return self
        return replace(self, light=self.light.frame())

    @property
    def columns(self) -> list[str]:
        return [*LIGHT_COLUMNS, *keypoint_columns(self.nodes)]

    @classmethod
    def from_frame(cls, tracks: pd.DataFrame, nodes: list[str]) -> TrackTable:
        """A whole tracks table (e.g. one corrected by a person) as a :class:`TrackTable`."""
        tracks = tracks.reset_index(drop=True)
        light = tracks[[c for c in tracks.columns if c not in keypoint_columns(nodes)]].copy()
        light["from_row"] = light["to_row"] = np.arange(len(tracks))
        light["weight"] = 0.0

        def points_of(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            return from_columns(tracks.iloc[rows], nodes)

        return cls(light, list(nodes), points_of if nodes else None)

    def points(self, rows: slice | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Keypoints ``(n, K, 2)`` and scores ``(n, K)`` of ``rows`` (positions in the table);
        an interpolated row's lie on the straight line between its neighbours' (as its
        position does)."""
        return self._points_of_rows(rows_of(self.light, rows, ["interpolated", *BLEND]))

    def _points_of_rows(self, part: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        if self.points_of is None:
            return np.zeros((len(part), 0, 2)), np.zeros((len(part), 0))
        points, scores = self.points_of(part["from_row"].to_numpy())
        filled = part["interpolated"].to_numpy(bool)
        if filled.any():
            after, after_scores = self.points_of(part["to_row"].to_numpy()[filled])
            weight = part["weight"].to_numpy()[filled]
            before, before_scores = points[filled], scores[filled]
            points[filled] = before + (after - before) * weight[:, None, None]
            scores[filled] = before_scores + (after_scores - before_scores) * weight[:, None]
        return points, scores

    def part(self, start: int, stop: int) -> pd.DataFrame:
        """Rows ``start:stop`` with every column."""
        light = rows_of(self.light, slice(start, stop))
        table = light[[c for c in self.light.columns if c not in BLEND]].reset_index(drop=True)
        if not self.nodes:
            return table
        points, scores = self._points_of_rows(light)
        values = np.empty((len(light), 3 * len(self.nodes)))
        values[:, 0::3] = points[..., 0]
        values[:, 1::3] = points[..., 1]
        values[:, 2::3] = scores
        wide = pd.DataFrame(values, columns=keypoint_columns(self.nodes), copy=False)
        return pd.concat([table, wide], axis=1)

    def parts(self, rows: int | None = None) -> Iterator[pd.DataFrame]:
        """The whole table, ``rows`` rows at a time (default: :func:`~snakeherd.keypoints.
        block_rows`; one part when empty, for its columns)."""
        rows = rows or block_rows(len(self.nodes))
        for start in range(0, max(len(self), 1), rows):
            yield self.part(start, start + rows)

    def whole(self) -> pd.DataFrame:
        table = pd.concat(list(self.parts()), ignore_index=True)
        table.attrs["animal_count"] = self.animal_count
        return table

    def keypoint_score_mean(self, rows: slice = slice(None)) -> np.ndarray:
        """Each row's mean keypoint score (NaN without any), of the rows ``rows``."""
        first, stop, _ = rows.indices(len(self))
        mean = np.full(max(stop - first, 0), np.nan)
        if not self.nodes:
            return mean
        with warnings.catch_warnings():  # rows without any keypoint score: NaN
            warnings.simplefilter("ignore", RuntimeWarning)
            block = block_rows(len(self.nodes))
            for start in range(first, stop, block):
                _, scores = self.points(slice(start, min(start + block, stop)))
                mean[start - first : start - first + len(scores)] = np.nanmean(scores, axis=1)
        return mean
