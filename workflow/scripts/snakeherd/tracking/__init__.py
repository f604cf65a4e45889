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
section).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

import numpy as np
import pandas as pd

from . import animal_count, gaps, heading
from .instances import Instances, from_tables
from .linking import link_identities
from .online import link
from .params import AUTO, LinkParams, StitchParams, TrackerParams
from .stitching import renumber, stitch

TRACK_COLUMNS = ["frame", "track_id", "det_id", "x", "y", "angle", "score"]
"""Core columns of the tracks this module returns (``video_id`` is added by the rule)."""

__all__ = [
    "TRACK_COLUMNS",
    "Instances",
    "LinkParams",
    "StitchParams",
    "TrackerParams",
    "keypoint_columns",
    "track",
    "track_detections",
]


def keypoint_columns(nodes: list[str]) -> list[str]:
    """Wide keypoint columns of a tracks table: ``<node>.x``, ``<node>.y``, ``<node>.score``."""
    return [f"{node}.{part}" for node in nodes for part in ("x", "y", "score")]


def track(
    detections: pd.DataFrame,
    poses: pd.DataFrame | Iterable[pd.DataFrame] | None,
    params: TrackerParams,
    frames: np.ndarray | None = None,
    nodes: list[str] | None = None,
) -> pd.DataFrame:
    """Tracks of one video: :data:`TRACK_COLUMNS`, then ``heading``, ``interpolated`` and one
    ``<node>.x/.y/.score`` triple per keypoint, sorted by frame and track.

    ``frames`` are the processed frame indices (interpolation never fills other frames);
    ``nodes`` the skeleton order of the pose stage (default: order of appearance in ``poses``;
    needed when ``poses`` comes in parts, as :func:`.instances.from_tables` reads them).
    """
    instances = from_tables(detections, poses, nodes)
    assigned = identity_tracks(detections, instances) if params.identity_classes else None
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
    nodes = instances.nodes
    point_columns = keypoint_columns(nodes)
    table = _table(instances, assigned, point_columns)
    # The table holds what the rest needs: the instances (with their keypoints as large as the
    # table) go before gap filling and sorting copy it.
    del instances, assigned
    table = gaps.interpolate(table, params.interpolate_max_gap, frames, point_columns)
    table = gaps.drop_short(table, params.min_length)
    if not by_identity:  # a class keeps its number: its rank among the video's class names
        table["track_id"] = renumber(table["frame"].to_numpy(), table["track_id"].to_numpy())
    table["heading"] = _headings(table, nodes, params)
    ordered = [*TRACK_COLUMNS, "heading", "interpolated", *point_columns]
    table = table[ordered].sort_values(["frame", "track_id"], kind="stable").reset_index(drop=True)
    # With max_tracks "auto": the count the tracks were made with, and its evidence.
    table.attrs["animal_count"] = count
    return table


def _table(instances: Instances, assigned: np.ndarray, point_columns: list[str]) -> pd.DataFrame:
    """The tracked instances as rows: :data:`TRACK_COLUMNS` and the keypoint columns, the
    floating-point ones filled into one array (a long video's table with keypoints is copied
    once less than when joined from parts)."""
    rows = np.flatnonzero(assigned >= 0)
    floats = ["x", "y", "angle", "score", *point_columns]
    values = np.empty((len(rows), len(floats)))
    values[:, 0:2] = instances.xy[rows]
    values[:, 2] = instances.angle[rows]
    values[:, 3] = instances.score[rows]
    for k in range(len(instances.nodes)):
        values[:, 4 + 3 * k : 6 + 3 * k] = instances.keypoints[rows, k]
        values[:, 6 + 3 * k] = instances.keypoint_score[rows, k]
    table = pd.DataFrame(values, columns=floats, copy=False)
    table.insert(0, "frame", instances.frame[rows])
    table.insert(1, "track_id", assigned[rows])
    table.insert(2, "det_id", instances.det_id[rows])
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
        pd.DataFrame({"frame": instances.frame, "identity": identity, "score": instances.score})
        .sort_values("score", ascending=False, kind="stable")
        .drop_duplicates(["frame", "identity"])
        .index.to_numpy()
    )
    assigned[best] = identity[best]
    return assigned


def _headings(table: pd.DataFrame, nodes: list[str], params: TrackerParams) -> np.ndarray:
    result = np.full(len(table), np.nan)
    if params.heading == "none" or table.empty:
        return result
    if params.heading in ("auto", "keypoints") and nodes:
        found = heading.guess_nodes(nodes, params.head_node, params.tail_node)
        if found is not None:
            head, tail = (nodes[i] for i in found)
            points = np.stack(
                [
                    table[[f"{head}.x", f"{head}.y"]].to_numpy(),
                    table[[f"{tail}.x", f"{tail}.y"]].to_numpy(),
                ],
                axis=1,
            )
            return heading.from_keypoints(points, 0, 1)
    if params.heading == "keypoints":
        return result
    order = np.lexsort((table["frame"].to_numpy(), table["track_id"].to_numpy()))
    track_ids = table["track_id"].to_numpy()[order]
    frames = table["frame"].to_numpy()[order]
    xy = table[["x", "y"]].to_numpy()[order]
    axis = table["angle"].to_numpy()[order]
    bounds = np.flatnonzero(np.diff(track_ids)) + 1
    for start, stop in zip(
        np.concatenate([[0], bounds]), np.concatenate([bounds, [len(order)]]), strict=True
    ):
        result[order[start:stop]] = heading.from_motion(
            frames[start:stop], xy[start:stop], axis[start:stop]
        )
    return result


def track_detections(detections: pd.DataFrame, params: TrackerParams) -> pd.DataFrame:
    """Tracks from detections alone, :data:`TRACK_COLUMNS` only (the first tracker's API)."""
    return track(detections, None, params)[TRACK_COLUMNS]
