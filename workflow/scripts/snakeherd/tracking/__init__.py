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
from .gaps import Columns
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
    # The table is built a column at a time: with every instance of a long video, a copy of
    # the whole of it would be most of the job's memory.
    gaps.interpolate(light, params.interpolate_max_gap, frames, blend=BLEND)
    gaps.drop_short(light, params.min_length)
    if not by_identity:  # a class keeps its number: its rank among the video's class names
        light["track_id"] = renumber(light["frame"], light["track_id"])
    order = np.lexsort((light["track_id"], light["frame"]))
    # Kept in temporary files, each column as it is put in order: the outputs read a column
    # or a block of rows at a time.
    ordered = StoredColumns(len(order))
    for column in [*LIGHT_COLUMNS, *BLEND]:
        ordered[column] = (
            np.full(len(order), np.nan) if column == "heading" else light.pop(column)[order]
        )
    del light, order
    table = TrackTable(ordered, nodes, points_of if nodes else None, count)
    table.light["heading"] = _headings(table, params)
    return table


def _light_columns(instances: Instances, assigned: np.ndarray) -> Columns:
    """The tracked instances as :data:`TRACK_COLUMNS`, each its own keypoints' source."""
    rows = np.flatnonzero(assigned >= 0)
    return {
        "frame": instances.frame[rows],
        "track_id": assigned[rows],
        "det_id": instances.det_id[rows],
        "x": instances.xy[rows, 0],
        "y": instances.xy[rows, 1],
        "angle": instances.angle[rows],
        "score": instances.score[rows],
        "from_row": rows,
        "to_row": rows,
        "weight": np.zeros(len(rows)),
    }


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
