"""Linking detections (and their keypoints) into identity-preserving tracks.

The pipeline, one module per step:

1. :mod:`.instances` — detections and the long ``poses`` table joined into arrays, and with
   ``max_tracks: auto`` :mod:`.animal_count` — how many animals the video holds;
2. :mod:`.online` — a Kalman-predicted, gated Hungarian (or greedy) assignment frame by frame,
   with costs from motion (:mod:`.kalman`), orientation, box size and sleap-nn-style similarity
   (:mod:`.similarity`), matched by :mod:`.matching`;
3. with the animal count known, :mod:`.linking` — the online pass's tracklets (run without a
   count) joined into that many identities over the whole video at once (a minimum-cost flow);
   without it, :mod:`.stitching` — fragments relinked across short holes by motion and posture;
4. :mod:`.gaps` — short holes interpolated, short tracks dropped;
5. :mod:`.heading` — which end of each body is the head.

:func:`track` runs them all; :class:`TrackerParams` holds the settings (the config's ``tracking``
section). :func:`track_table` gives the same tracks as a :class:`.table.TrackTable`, whose
keypoint columns are made a block of rows at a time (a long video's track job).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

import numpy as np
import pandas as pd

from ..keypoints import block_rows
from ..stored import StoredColumns
from . import animal_count, gaps, heading
from .instances import Instances, from_tables
from .linking import link_identities
from .online import link
from .params import AUTO, LinkParams, StitchParams, TrackerParams
from .stitching import renumber, stitch
from .table import BLEND, LIGHT_COLUMNS, TRACK_COLUMNS, TrackTable, keypoint_columns

__all__ = [
    "TRACK_COLUMNS",
    "Instances",
    "LinkParams",
    "StitchParams",
    "TrackTable",
    "TrackerParams",
    "keypoint_columns",
    "track",
    "track_detections",
    "track_table",
]


def track(
    detections: pd.DataFrame,
    poses: pd.DataFrame | Iterable[pd.DataFrame] | None,
    params: TrackerParams,
    frames: np.ndarray | None = None,
    nodes: list[str] | None = None,
) -> pd.DataFrame:
    """Tracks of one video: :data:`TRACK_COLUMNS`, then ``heading``, ``interpolated`` and one
    ``<node>.x/.y/.score`` triple per keypoint, sorted by frame and track (with
    ``max_tracks: auto``, ``attrs["animal_count"]``: the count they were made with).

    ``frames`` are the processed frame indices (interpolation never fills other frames);
    ``nodes`` the skeleton order of the pose stage (default: order of appearance in ``poses``;
    needed when ``poses`` comes in parts, as :func:`.instances.from_tables` reads them).
    """
    return track_table(detections, poses, params, frames, nodes).whole()


def track_table(
    detections: pd.DataFrame | Iterable[pd.DataFrame],
    poses: pd.DataFrame | Iterable[pd.DataFrame] | None,
    params: TrackerParams,
    frames: np.ndarray | None = None,
    nodes: list[str] | None = None,
) -> TrackTable:
    """:func:`track`'s table as a :class:`.table.TrackTable`: its keypoint columns are made a
    block of rows at a time, so a long video's tracks are never held with them.

    ``detections`` may come in parts (see :func:`.instances.from_tables`): a multi-class
    model's identity classes (``identity_classes``) are then not looked for, so a table that
    has them is given whole."""
    by_class = params.identity_classes and isinstance(detections, pd.DataFrame)
    instances = from_tables(detections, poses, nodes)
    assigned = identity_tracks(detections, instances) if by_class else None
    del detections  # a table the caller does not keep is freed here, before the linking
    by_identity = assigned is not None
    count = None
    if not by_identity:
        if params.max_tracks == AUTO:
            count = animal_count.estimate(instances, params)
            params = replace(params, max_tracks=count.count)
        if params.max_tracks is not None and params.link.enabled:
            assigned = link_identities(instances, params)
        else:
            assigned = link(instances, params)
            assigned = stitch(instances, assigned, params)
    light = _light_columns(instances, assigned)
    keypoints, keypoint_score = instances.keypoints, instances.keypoint_score

    def points_of(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return keypoints[rows], keypoint_score[rows]

    nodes = instances.nodes
    del instances, assigned  # only the keypoints are read again
    table = TrackTable(
        _finished(light, params, frames, renumbered=not by_identity),
        nodes,
        points_of if nodes else None,
        count,
    )
    table.light["heading"] = _headings(table, params)
    return table


def _light_columns(instances: Instances, assigned: np.ndarray) -> StoredColumns:
    """The tracked instances as :data:`TRACK_COLUMNS`, each its own keypoints' source, kept in
    temporary files (:func:`_finished` reads them back a column at a time)."""
    rows = np.flatnonzero(assigned >= 0)
    light = StoredColumns(len(rows))
    light["frame"] = instances.frame[rows]
    light["track_id"] = assigned[rows]
    light["det_id"] = instances.det_id[rows]
    light["x"] = instances.xy[rows, 0]
    light["y"] = instances.xy[rows, 1]
    light["angle"] = instances.angle[rows]
    light["score"] = instances.score[rows]
    light["from_row"] = light["to_row"] = rows
    light["weight"] = np.zeros(len(rows))
    return light


def _finished(
    light: StoredColumns, params: TrackerParams, frames: np.ndarray | None, renumbered: bool
) -> StoredColumns:
    """The tracks' light columns in the table's order (by frame, then track) with their holes
    filled (:func:`.gaps.interpolate`), short tracks dropped and, when ``renumbered``, tracks
    numbered by first frame; ``heading`` still unknown. Made a column at a time: with every
    instance of a long video, the whole table at once would be most of the job's memory."""
    track_id, frame = light["track_id"], light["frame"]
    found = gaps.holes(track_id, frame, params.interpolate_max_gap, frames)
    track_id = np.concatenate([track_id, track_id[found.before]])
    frame = np.concatenate([frame, found.frame])
    kept = gaps.long_enough(track_id, params.min_length)
    if kept is not None:
        track_id, frame = track_id[kept], frame[kept]
    if renumbered:  # a class keeps its number: its rank among the video's class names
        track_id = renumber(frame, track_id)
    order = np.lexsort((track_id, frame))
    table = StoredColumns(len(order))
    table["frame"], table["track_id"] = frame[order], track_id[order]
    del frame, track_id
    for column in [*LIGHT_COLUMNS, *BLEND]:
        if column in table:
            continue
        if column == "heading":
            table[column] = np.full(len(order), np.nan)
            continue
        known = light[column] if column in light else np.zeros(len(light), dtype=bool)
        values = np.concatenate([known, gaps.filled(column, light.__getitem__, found, blend=BLEND)])
        del known
        table[column] = (values if kept is None else values[kept])[order]
    return table


def identity_names(detections: pd.DataFrame) -> dict[int, str] | None:
    """Class number -> name when a multi-class model named every detection, else None."""
    if "identity_id" not in detections or detections.empty:
        return None
    if (detections["identity_id"] < 0).any():
        return None
    pairs = detections[["identity_id", "identity"]].drop_duplicates()
    return dict(zip(pairs["identity_id"].astype(int), pairs["identity"].astype(str), strict=True))


def identity_tracks(detections: pd.DataFrame, instances: Instances) -> np.ndarray | None:
    """Track of each instance from a multi-class model's identity classes, or None.

    A multi-class SLEAP model names each animal it finds (see :func:`identity_names`); its
    classes are the tracks, so no motion linking is done. Where one frame has two instances of a
    class, the higher-scoring one keeps it and the other stays untracked.
    """
    if identity_names(detections) is None:
        return None
    ordered = detections.sort_values(["frame", "det_id"], kind="stable")
    identity = ordered["identity_id"].to_numpy(dtype=np.int64)
    assigned = np.full(len(identity), -1, dtype=np.int64)
    best = (
        pd.DataFrame({"frame": instances.frame, "identity": identity, "score": instances.score[:]})
        .sort_values("score", ascending=False, kind="stable")
        .drop_duplicates(["frame", "identity"])
        .index.to_numpy()
    )
    assigned[best] = identity[best]
    return assigned


def _headings(table: TrackTable, params: TrackerParams) -> np.ndarray:
    result = np.full(len(table), np.nan)
    if params.heading == "none" or not len(table):
        return result
    if params.heading in ("auto", "keypoints") and table.nodes:
        found = heading.guess_nodes(table.nodes, params.head_node, params.tail_node)
        if found is not None:
            ends = list(found)
            rows = block_rows(len(table.nodes))
            for start in range(0, len(table), rows):
                points, _ = table.points(slice(start, start + rows))
                result[start : start + len(points)] = heading.from_keypoints(points[:, ends], 0, 1)
            return result
    if params.heading == "keypoints":
        return result
    # Rows by track, each track's in frame order (the table is sorted by frame, then track).
    track_ids = table.column("track_id")
    order = np.argsort(track_ids, kind="stable")
    bounds = np.flatnonzero(np.diff(track_ids[order])) + 1
    frames, x, y, axis = (table.column(name) for name in ("frame", "x", "y", "angle"))
    for start, stop in zip(
        np.concatenate([[0], bounds]), np.concatenate([bounds, [len(order)]]), strict=True
    ):
        rows = order[start:stop]
        result[rows] = heading.from_motion(
            frames[rows], np.column_stack([x[rows], y[rows]]), axis[rows]
        )
    return result


def track_detections(detections: pd.DataFrame, params: TrackerParams) -> pd.DataFrame:
    """Tracks from detections alone, :data:`TRACK_COLUMNS` only (the first tracker's API)."""
    return track(detections, None, params)[TRACK_COLUMNS]
