"""Relinking track fragments: one animal's track broken by a jump, a long occlusion or a crossing.

After online tracking, each track's end is compared with every track's start that follows within
``stitch.max_gap`` frames. The link cost is about a negative log-likelihood: how far the later
fragment starts from where the earlier one's motion (position and velocity over its last frames)
says the animal should be, with a spread that grows with the hole; plus the change of box area;
plus, with keypoints, ``similarity_weight`` × (1 - OKS) between the posture the earlier fragment
ended with and the one the later fragment starts with, centred on each other. Links are chosen
by Hungarian assignment (each end continues at most one start; solved separately for each group
of fragments that compete for the same links, so long videos with many fragments stay cheap), and
only below ``stitch.max_cost``. Chains of links become one track.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from .instances import Instances
from .params import TrackerParams

# Frames at a fragment's end (or start) used to estimate its velocity there.
VELOCITY_FRAMES = 5


@dataclass
class FragmentEnds:
    """Per fragment (track number): its first and last frame, row, position and velocity at
    both ends, and its median box area and body length (logs; NaN when unknown)."""

    first: np.ndarray
    last: np.ndarray
    start_row: np.ndarray
    end_row: np.ndarray
    start_xy: np.ndarray
    end_xy: np.ndarray
    start_velocity: np.ndarray
    end_velocity: np.ndarray
    log_area: np.ndarray
    log_length: np.ndarray


def rows_by_fragment(track: np.ndarray, n_tracks: int) -> tuple[np.ndarray, np.ndarray]:
    """The rows of every fragment 0 .. n_tracks-1 in ``track`` (-1: none), each in frame order
    (instances' rows are): fragment f's rows are ``order[bounds[f]:bounds[f + 1]]``."""
    valid = np.flatnonzero(track >= 0)
    order = valid[np.argsort(track[valid], kind="stable")]
    counts = np.bincount(track[order], minlength=n_tracks)
    return order, np.concatenate([[0], np.cumsum(counts)])


def fragment_ends(instances: Instances, track: np.ndarray, n_tracks: int) -> FragmentEnds:
    """The ends of every fragment numbered 0 .. n_tracks-1 in ``track`` (-1: no fragment)."""
    order, bounds = rows_by_fragment(track, n_tracks)
    counts = np.diff(bounds)
    ends = FragmentEnds(
        first=np.zeros(n_tracks, dtype=np.int64),
        last=np.zeros(n_tracks, dtype=np.int64),
        start_row=np.zeros(n_tracks, dtype=np.int64),
        end_row=np.zeros(n_tracks, dtype=np.int64),
        start_xy=np.zeros((n_tracks, 2)),
        end_xy=np.zeros((n_tracks, 2)),
        start_velocity=np.zeros((n_tracks, 2)),
        end_velocity=np.zeros((n_tracks, 2)),
        log_area=np.full(n_tracks, np.nan),
        log_length=np.full(n_tracks, np.nan),
    )
    size = instances.size[:]  # one read of all of them (they may be stored)
    with np.errstate(invalid="ignore", divide="ignore"):
        areas = np.log(np.where(size[:, 0] * size[:, 1] > 0, size[:, 0] * size[:, 1], np.nan))
        lengths = np.log(np.where(size[:, 0] > 0, size[:, 0], np.nan))
    for tid in np.flatnonzero(counts):
        rows = order[bounds[tid] : bounds[tid + 1]]
        frames = instances.frame[rows]
        ends.first[tid], ends.last[tid] = frames[0], frames[-1]
        ends.start_row[tid], ends.end_row[tid] = rows[0], rows[-1]
        ends.start_xy[tid] = instances.xy[rows[0]]
        ends.end_xy[tid] = instances.xy[rows[-1]]
        head, tail = rows[:VELOCITY_FRAMES], rows[-VELOCITY_FRAMES:]
        if len(rows) > 1:
            ends.start_velocity[tid] = _velocity(instances.frame[head], instances.xy[head])
            ends.end_velocity[tid] = _velocity(instances.frame[tail], instances.xy[tail])
        for logs, median in ((areas, ends.log_area), (lengths, ends.log_length)):
            finite = logs[rows][np.isfinite(logs[rows])]
            if len(finite):
                median[tid] = np.median(finite)
    return ends


def _velocity(frames: np.ndarray, xy: np.ndarray) -> np.ndarray:
    if len(frames) < 2 or frames[-1] == frames[0]:
        return np.zeros(2)
    t = frames - frames.mean()
    return (t[:, None] * (xy - xy.mean(axis=0))).sum(axis=0) / (t * t).sum()


def posture_similarity(instances: Instances, rows_a, rows_b, sigma: float) -> np.ndarray:
    """OKS between centred postures of instance pairs (NaN when not comparable)."""
    a = instances.keypoints[rows_a]
    b = instances.keypoints[rows_b]
    with warnings.catch_warnings():  # an instance without keypoints has no centre: NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        a = a - np.nanmean(a, axis=1, keepdims=True)
        b = b - np.nanmean(b, axis=1, keepdims=True)
    both = np.isfinite(a[..., 0]) & np.isfinite(b[..., 0])
    d2 = ((a - b) ** 2).sum(axis=-1)
    size_b = instances.size[rows_b]
    scale = np.sqrt(np.abs(size_b[:, 0] * size_b[:, 1]))
    spread = (sigma * np.where(np.isfinite(scale) & (scale > 0), scale, 1.0)) ** 2
    terms = np.where(both, np.exp(-d2 / (2 * spread[:, None])), 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return terms.sum(axis=1) / both.sum(axis=1)


def stitch(instances: Instances, track: np.ndarray, params: TrackerParams) -> np.ndarray:
    """Track numbers after relinking fragments (renumbered 0, 1, ... by first frame)."""
    settings = params.stitch
    valid = track >= 0
    if not valid.any():
        return track
    n_tracks = int(track.max()) + 1
    present = np.zeros(n_tracks, dtype=bool)
    present[track[valid]] = True
    if settings.enabled and settings.max_gap > 0 and present.sum() > 1:
        link_to = _links(instances, track, n_tracks, params)
        # Follow chains: every fragment takes the id of the first fragment of its chain.
        has_predecessor = np.zeros(n_tracks, dtype=bool)
        has_predecessor[link_to[link_to >= 0]] = True
        root = np.arange(n_tracks)
        for start in np.flatnonzero(~has_predecessor):
            nxt = link_to[start]
            while nxt >= 0:
                root[nxt] = start
                nxt = link_to[nxt]
        track = np.where(valid, root[np.maximum(track, 0)], -1)
    return renumber(instances.frame, track)


def motion_cost(ends: FragmentEnds, pair_end, pair_start, params: TrackerParams):
    """Motion part of the cost of continuing fragment ``pair_end`` with ``pair_start`` (about a
    negative log-likelihood), the distance between them and the hole's length in frames.

    Where the end's motion says the animal is at the middle of the hole, and where the start's
    motion says it was: for one animal the two extrapolations agree, within a spread that grows
    with the hole.
    """
    gap = (ends.first[pair_start] - ends.last[pair_end]).astype(np.float64)
    half = gap / 2
    forward = ends.end_xy[pair_end] + ends.end_velocity[pair_end] * half[:, None]
    backward = ends.start_xy[pair_start] - ends.start_velocity[pair_start] * half[:, None]
    miss = np.sqrt(((forward - backward) ** 2).sum(axis=1))
    travelled = np.sqrt(((ends.start_xy[pair_start] - ends.end_xy[pair_end]) ** 2).sum(axis=1))
    spread = np.sqrt(2) * params.position_noise + params.acceleration_noise * half**2
    cost = 0.5 * (miss / spread) ** 2 + np.log(spread / params.position_noise)
    return cost, travelled, gap


def candidate_pairs(first, last, exists, max_gap):
    """(end, start) fragment pairs whose hole is 1..max_gap frames, without an n² matrix."""
    starts_sorted = np.flatnonzero(exists)
    starts_sorted = starts_sorted[np.argsort(first[starts_sorted], kind="stable")]
    first_sorted = first[starts_sorted]
    ends = np.flatnonzero(exists)
    low = np.searchsorted(first_sorted, last[ends] + 1, side="left")
    high = np.searchsorted(first_sorted, last[ends] + max_gap, side="right")
    counts = high - low
    pair_end = np.repeat(ends, counts)
    offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    pair_start = starts_sorted[np.repeat(low, counts) + offsets]
    return pair_end, pair_start


def _links(instances, track, n_tracks, params) -> np.ndarray:
    settings = params.stitch
    ends_of = fragment_ends(instances, track, n_tracks)
    exists = np.zeros(n_tracks, dtype=bool)
    exists[track[track >= 0]] = True
    link_to = np.full(n_tracks, -1, dtype=np.int64)
    ends, starts = candidate_pairs(ends_of.first, ends_of.last, exists, settings.max_gap)
    if not len(ends):
        return link_to
    cost, travelled, gap = motion_cost(ends_of, ends, starts, params)
    area_delta = ends_of.log_area[ends] - ends_of.log_area[starts]
    cost += np.where(np.isfinite(area_delta), 0.5 * (area_delta / params.size_noise) ** 2, 0.5)
    if instances.has_keypoints:
        similarity = posture_similarity(
            instances, ends_of.end_row[ends], ends_of.start_row[starts], params.oks_sigma
        )
        cost += params.similarity_weight * (1 - np.where(np.isfinite(similarity), similarity, 0.5))
    keep = (travelled <= settings.max_speed * gap + params.max_distance) & (
        cost <= settings.max_cost
    )
    ends, starts, cost = ends[keep], starts[keep], cost[keep]
    if not len(ends):
        return link_to
    # Links only compete within connected groups of ends and starts: one small Hungarian
    # assignment per group instead of one over every fragment of the video.
    graph = coo_matrix(
        (np.ones(len(ends)), (ends, n_tracks + starts)), shape=(2 * n_tracks, 2 * n_tracks)
    )
    _, component = connected_components(graph, directed=False)
    pair_component = component[ends]
    order = np.argsort(pair_component, kind="stable")
    bounds = np.flatnonzero(np.diff(pair_component[order])) + 1
    for group in np.split(order, bounds):
        group_ends, end_index = np.unique(ends[group], return_inverse=True)
        group_starts, start_index = np.unique(starts[group], return_inverse=True)
        matrix = np.full((len(group_ends), len(group_starts)), settings.max_cost + 1.0)
        matrix[end_index, start_index] = cost[group]
        allowed = np.zeros(matrix.shape, dtype=bool)
        allowed[end_index, start_index] = True
        rows, cols = linear_sum_assignment(matrix)
        chosen = allowed[rows, cols]
        link_to[group_ends[rows[chosen]]] = group_starts[cols[chosen]]
    return link_to


def renumber(frames: np.ndarray, track: np.ndarray) -> np.ndarray:
    """Track ids 0, 1, 2, ... in order of first appearance (ties: by old id); -1 stays -1."""
    valid = track >= 0
    if not valid.any():
        return track
    ids = np.unique(track[valid])
    first_frame = np.full(int(ids.max()) + 1, np.iinfo(np.int64).max)
    np.minimum.at(first_frame, track[valid], frames[valid])
    order = np.lexsort((ids, first_frame[ids]))
    new_id = np.full(int(ids.max()) + 1, -1, dtype=np.int64)
    new_id[ids[order]] = np.arange(len(ids))
    return np.where(valid, new_id[np.maximum(track, 0)], -1)
