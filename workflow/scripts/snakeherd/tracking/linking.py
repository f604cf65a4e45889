"""Whole-video linking: tracklets joined into at most ``max_tracks`` identities at once.

A recorded video need not be tracked frame by frame the way a live camera must. When the number
of animals is known (``max_tracks``, given or estimated), tracking runs in three steps:

1. **Tracklets.** The online pass (:mod:`.online`) runs *without* an animal limit: it ends a
   track wherever it is unsure, so its tracklets are short around touches and crossings but
   seldom mix two animals. Where a tracklet starts or ends beside another
   (:func:`split_at_meetings`), the other is cut there too.
2. **Paths.** A minimum-cost flow of ``max_tracks`` units through the tracklets chooses, over
   the whole video at once (forward and backward alike), which tracklets one animal went
   through. A link from one tracklet's end to a later one's start (a hole of at most
   ``link.max_gap`` frames, travel within ``link.max_speed``) costs about a negative
   log-likelihood (:func:`link_costs`): how far the two tracklets' motions disagree about where
   the animal was in the middle of the hole, the change of body length, and with keypoints the
   change of posture. Each detection a path takes earns ``link.detection_reward``; a path that
   starts after the first frame or ends before the last pays ``link.birth_cost``. Tracklets whose
   links cost more than they earn (misplaced predictions, a second prediction of an animal
   already followed) are left out. Where no link bridges an animal's absence (longer than
   ``link.max_gap``, or farther than it could travel), its path waits in a pool and is taken
   up again by a later tracklet for twice ``link.birth_cost`` (:class:`_ReacquisitionPool`).
   The flow is solved as a linear program (HiGHS, through
   :func:`scipy.optimize.milp`); flow problems have integral optimal vertices, so the solution
   is a set of whole paths, one per identity.
3. **Fill-in.** A tracklet no path took (typically a short one beside a longer one of the same
   animal, during a touch) joins the identity whose track runs through it: no frame in common,
   that identity seen within ``link.max_gap`` frames on both sides, its interpolated position
   within ``max_distance`` px (median over the tracklet), and at least ``link.fill_in_margin``
   times nearer than any other identity. Anything else stays untracked: an identity never takes
   two detections of one frame, so a duplicate prediction of an animal is dropped, not tracked.
"""

from __future__ import annotations

import itertools
from dataclasses import replace

import numpy as np
from scipy.optimize import LinearConstraint, linear_sum_assignment, milp
from scipy.sparse import coo_matrix

from .instances import Instances, select
from .online import link
from .params import TrackerParams
from .stitching import (
    VELOCITY_FRAMES,
    FragmentEnds,
    candidate_pairs,
    fragment_ends,
    motion_cost,
    posture_similarity,
    renumber,
    rows_by_fragment,
)

# Cost that keeps the Hungarian assignment of waits away from a pairing (a wait ending before
# it began); the flow guarantees a pairing without one exists.
IMPOSSIBLE = 1e12


def link_identities(instances: Instances, params: TrackerParams) -> np.ndarray:
    """Identity 0 .. ``max_tracks``-1 of every instance (by first frame), -1 when untracked."""
    assigned = np.full(len(instances), -1, dtype=np.int64)
    placed = np.isfinite(instances.xy).all(axis=1)
    kept = np.flatnonzero(placed)
    if not len(kept):
        return assigned
    subset = instances if len(kept) == len(instances) else select(instances, kept)
    tracklet = split_at_meetings(subset, link(subset, replace(params, max_tracks=None)), params)
    identity = fill_in(subset, tracklet, paths(subset, tracklet, params), params)
    assigned[kept] = identity
    return renumber(instances.frame, assigned)


def split_at_meetings(
    instances: Instances, tracklet: np.ndarray, params: TrackerParams
) -> np.ndarray:
    """Tracklets cut where another tracklet starts or ends beside them.

    Where one animal's tracklet ends or begins within ``link.meeting_distance`` px of another,
    the online pass may have handed a detection from one animal to the other (two animals
    predicted as one while they touch, then apart again). The other tracklet is cut there, so
    which piece continues which is decided by the whole-video paths, not by the online pass.
    """
    valid = np.flatnonzero(tracklet >= 0)
    if not len(valid):
        return tracklet
    n = int(tracklet.max()) + 1
    ends = fragment_ends(instances, tracklet, n)
    present = np.bincount(tracklet[valid], minlength=n) > 0
    # Rows by tracklet, then frame; and each row's successor in its tracklet.
    order, _ = rows_by_fragment(tracklet, n)
    successor = np.full(len(tracklet), -1, dtype=np.int64)
    same = tracklet[order[1:]] == tracklet[order[:-1]]
    successor[order[:-1][same]] = order[1:][same]
    distinct_frames = instances.frame[instances.starts]
    cut_before = np.zeros(len(tracklet), dtype=bool)
    for events, positions, cut_after in (
        (ends.first, ends.start_row, False),
        (ends.last, ends.end_row, True),
    ):
        for owner in np.flatnonzero(present):
            at = np.searchsorted(distinct_frames, events[owner])
            rows = np.arange(instances.starts[at], instances.stops[at])
            others = rows[(tracklet[rows] >= 0) & (tracklet[rows] != owner)]
            if not len(others):
                continue
            near = np.hypot(*(instances.xy[others] - instances.xy[positions[owner]]).T)
            met = others[near <= params.link.meeting_distance]
            if cut_after:
                met = successor[met]
                met = met[met >= 0]
            cut_before[met] = True
    # A new tracklet number wherever a tracklet is cut.
    piece = np.cumsum(cut_before[order] | np.concatenate([[True], ~same]))
    pieces = np.full(len(tracklet), -1, dtype=np.int64)
    pieces[order] = piece - 1
    return pieces


def link_costs(
    instances: Instances, ends: FragmentEnds, pair_end, pair_start, params: TrackerParams
) -> tuple[np.ndarray, np.ndarray]:
    """Cost of continuing tracklet ``pair_end`` with tracklet ``pair_start``, and whether the
    travel between them is possible at all."""
    cost, travelled, gap = motion_cost(ends, pair_end, pair_start, params)
    # Where both extrapolations meet in the hole's middle (an X crossing), only the velocities
    # tell the straight continuation from the swap: they agree within what the acceleration
    # noise allows over the hole, plus the error of estimating each from a few positions.
    velocity_change = ends.end_velocity[pair_end] - ends.start_velocity[pair_start]
    velocity_spread2 = 2 * (params.position_noise / VELOCITY_FRAMES) ** 2 + (
        params.acceleration_noise**2 * gap
    )
    cost += 0.5 * (velocity_change**2).sum(axis=1) / velocity_spread2
    # A tracklet's first or last detection may be a misplaced prediction (parts of two animals,
    # a wing taken for a head): motion then says nothing, and the link costs at most about
    # link.motion_outlier_cost (a mixture of the motion model and such an outlier).
    cost = -np.logaddexp(-cost, -params.link.motion_outlier_cost)
    length_change = ends.log_length[pair_end] - ends.log_length[pair_start]
    cost += np.where(
        np.isfinite(length_change), 0.5 * (length_change / params.size_noise) ** 2, 0.5
    )
    if instances.has_keypoints:
        similarity = posture_similarity(
            instances, ends.end_row[pair_end], ends.start_row[pair_start], params.oks_sigma
        )
        cost += params.similarity_weight * (1 - np.where(np.isfinite(similarity), similarity, 0.5))
    possible = travelled <= params.link.max_speed * gap + params.max_distance
    return cost, possible


def paths(instances: Instances, tracklet: np.ndarray, params: TrackerParams) -> np.ndarray:
    """Identity of every instance from the minimum-cost flow over tracklets (-1: left out)."""
    settings = params.link
    valid = tracklet >= 0
    identity = np.full(len(tracklet), -1, dtype=np.int64)
    if not valid.any():
        return identity
    n = int(tracklet.max()) + 1
    ends = fragment_ends(instances, tracklet, n)
    detections = np.bincount(tracklet[valid], minlength=n).astype(np.float64)
    exists = np.flatnonzero(detections > 0)
    # Holes are counted in frames that hold detections, so a hole in the frame selection (or a
    # stretch without any detection) does not part an animal from its identity.
    pair_end, pair_start = candidate_pairs(
        frame_rank(instances, ends.first),
        frame_rank(instances, ends.last),
        detections > 0,
        settings.max_gap,
    )
    cost, possible = link_costs(instances, ends, pair_end, pair_start, params)
    pair_end, pair_start, cost = pair_end[possible], pair_start[possible], cost[possible]

    first_frame, last_frame = instances.frame[valid].min(), instances.frame[valid].max()
    births = np.where(ends.first[exists] == first_frame, 0.0, settings.birth_cost)
    deaths = np.where(ends.last[exists] == last_frame, 0.0, settings.birth_cost)
    pool = _ReacquisitionPool(ends, exists)
    # Nodes: source 0, sink 1; tracklet i is entered at 2 + 2i and left at 3 + 2i; then the
    # pool's nodes. Edges, in order: source -> sink (paths not used), births, tracklets, deaths,
    # links, then the pool's entries, exits and waits.
    source, sink = 0, 1
    enter, leave = 2 + 2 * np.arange(n), 3 + 2 * np.arange(n)
    pool_node = 2 + 2 * n + np.arange(pool.n_nodes)
    m = len(exists)
    tails = np.concatenate(
        [
            [source],
            np.full(m, source),
            enter[exists],
            leave[exists],
            leave[pair_end],
            leave[pool.entering],
            pool_node[pool.exit_node],
            pool_node[:-1],
        ]
    )
    heads = np.concatenate(
        [
            [sink],
            enter[exists],
            leave[exists],
            np.full(m, sink),
            enter[pair_start],
            pool_node[pool.entry_node],
            enter[exists],
            pool_node[1:],
        ]
    )
    # A path left unused costs what a path that starts late and ends early does: births and
    # deaths decide where paths start and end, never whether animals are tracked at all. An
    # identity taken up again after a loss no link bridges costs the same.
    unused = 2 * settings.birth_cost
    n_entries, n_waits = len(pool.entering), pool.n_nodes - 1
    costs = np.concatenate(
        [
            [unused],
            births,
            -settings.detection_reward * detections[exists],
            deaths,
            cost,
            np.full(n_entries, unused),
            np.zeros(m + n_waits),
        ]
    )
    n_edges = len(tails)
    capacity = np.ones(n_edges)
    capacity[0] = params.max_tracks
    capacity[n_edges - n_waits :] = params.max_tracks
    edge = np.arange(n_edges)
    incidence = coo_matrix(
        (
            np.concatenate([np.ones(n_edges), -np.ones(n_edges)]),
            (np.concatenate([tails, heads]), np.concatenate([edge, edge])),
        ),
        shape=(2 + 2 * n + pool.n_nodes, n_edges),
    ).tocsr()
    supply = np.zeros(2 + 2 * n + pool.n_nodes)
    supply[source], supply[sink] = params.max_tracks, -params.max_tracks
    result = milp(
        costs,
        constraints=LinearConstraint(incidence, supply, supply),
        integrality=np.ones(n_edges),
        bounds=(np.zeros(n_edges), capacity),
    )
    if result.x is None:
        raise RuntimeError(f"whole-video linking found no solution: {result.message}")
    used = result.x > 0.5
    taken = np.zeros(n, dtype=bool)
    taken[exists[used[1 + m : 1 + 2 * m]]] = True
    link_to = np.full(n, -1, dtype=np.int64)
    links_end = 1 + 3 * m + len(pair_end)
    chosen = used[1 + 3 * m : links_end]
    link_to[pair_end[chosen]] = pair_start[chosen]
    entries = used[links_end : links_end + n_entries]
    exits = used[links_end + n_entries : links_end + n_entries + m]
    waiting = np.round(result.x[n_edges - n_waits :]).astype(np.int64)
    left, resumed = pool.pairs(entries, exits, waiting, ends)
    link_to[left] = resumed
    has_predecessor = np.zeros(n, dtype=bool)
    has_predecessor[link_to[link_to >= 0]] = True
    path_of = np.full(n, -1, dtype=np.int64)
    for number, start in enumerate(np.flatnonzero(taken & ~has_predecessor)):
        node = start
        while node >= 0:
            path_of[node] = number
            node = link_to[node]
    identity[valid] = path_of[tracklet[valid]]
    return identity


class _ReacquisitionPool:
    """Where an identity waits when no link bridges its loss (an animal hidden for longer than
    ``link.max_gap`` frames, or found again farther than it could have travelled).

    Without it each identity is one chain of linkable tracklets from the first frame to the
    last, so an animal that hides under a shelter for a minute would lose either everything
    before or everything after. A path may leave a tracklet into the pool and come out at any
    tracklet that starts later: the pool is a chain of nodes, one per distinct first frame of a
    tracklet, entered after a tracklet's last frame and left into the tracklets starting at its
    frame. The flow decides how many identities wait when; which wait ends where (the flow
    does not say: the pool's paths merge) is decided after, by :meth:`pairs`.
    """

    def __init__(self, ends: FragmentEnds, exists: np.ndarray):
        self.start_frames = np.unique(ends.first[exists])
        self.n_nodes = len(self.start_frames)
        # A tracklet enters at the first start after its last frame (if any tracklet starts
        # later); every tracklet can be resumed from its own start's node.
        later = ends.last[exists] < self.start_frames[-1]
        self.entering = exists[later]
        self.entry_node = np.searchsorted(self.start_frames, ends.last[self.entering], "right")
        self.exit_node = np.searchsorted(self.start_frames, ends.first[exists])
        self.exists = exists

    def pairs(self, entries, exits, waiting, ends: FragmentEnds) -> tuple[np.ndarray, np.ndarray]:
        """(tracklet left, tracklet resumed) for every wait the flow chose (``entries`` and
        ``exits``: the pool edges used; ``waiting``: identities in the pool between nodes).

        Motion says nothing across such a loss; where several identities wait at once, the
        waits are paired so the resumed tracklets start nearest where the left ones ended (an
        animal comes out of hiding where it went in), by Hungarian assignment within each
        stretch of time the pool is not empty."""
        left, left_node = self.entering[entries], self.entry_node[entries]
        resumed, resumed_node = self.exists[exits], self.exit_node[exits]
        # The pool empties between node k and k + 1 where nobody waits: the stretches apart.
        stretch = np.concatenate([[0], np.cumsum(waiting == 0)])
        pairs_left, pairs_resumed = [], []
        for group in np.unique(stretch[left_node]):
            going = np.flatnonzero(stretch[left_node] == group)
            coming = np.flatnonzero(stretch[resumed_node] == group)
            distance = np.hypot(
                *(ends.end_xy[left[going]][:, None, :] - ends.start_xy[resumed[coming]][None]).T
            ).T
            # A wait cannot end before it began.
            feasible = left_node[going][:, None] <= resumed_node[coming][None, :]
            rows, cols = linear_sum_assignment(np.where(feasible, distance, IMPOSSIBLE))
            pairs_left.append(left[going[rows]])
            pairs_resumed.append(resumed[coming[cols]])
        if not pairs_left:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        return np.concatenate(pairs_left), np.concatenate(pairs_resumed)


def fill_in(
    instances: Instances, tracklet: np.ndarray, identity: np.ndarray, params: TrackerParams
) -> np.ndarray:
    """``identity`` with the tracklets no path took given to the identity running through them."""
    settings = params.link
    identity = identity.copy()
    if not (identity >= 0).any():
        return identity
    order, bounds = rows_by_fragment(tracklet, int(tracklet.max()) + 1)
    groups = [order[start:stop] for start, stop in itertools.pairwise(bounds) if stop > start]
    left = [rows for rows in groups if identity[rows[0]] < 0]
    left.sort(key=len, reverse=True)  # long tracklets first: they are the surest
    n_identities = int(identity.max()) + 1
    rank = frame_rank(instances, instances.frame)
    tracked = []  # per identity: its rows, by frame
    for number in range(n_identities):
        rows = np.flatnonzero(identity == number)
        tracked.append(rows[np.argsort(instances.frame[rows], kind="stable")])
    for rows in left:
        frames = instances.frame[rows]
        distances = np.full(n_identities, np.inf)
        for number, own in enumerate(tracked):
            distances[number] = _distance_to(instances, rank, own, rows, settings.max_gap)
        order = np.argsort(distances)
        best = order[0]
        runner_up = distances[order[1]] if n_identities > 1 else np.inf
        if distances[best] <= params.max_distance and (
            runner_up > settings.fill_in_margin * distances[best]
        ):
            identity[rows] = best
            own = tracked[best]
            at = np.searchsorted(instances.frame[own], frames)
            tracked[best] = np.insert(own, at, rows)
    return identity


def frame_rank(instances: Instances, frames: np.ndarray) -> np.ndarray:
    """Position of each frame among the frames that hold detections."""
    return np.searchsorted(instances.frame[instances.starts], frames)


def _distance_to(instances, rank, own: np.ndarray, rows: np.ndarray, max_gap: int) -> float:
    """Median distance from ``rows`` to the track ``own`` interpolated at their frames; inf when
    the track has a detection in one of their frames or is not seen within ``max_gap`` frames
    (``rank``: counted in frames with detections) on both sides of every one."""
    if not len(own):
        return np.inf
    own_frames = instances.frame[own]
    frames = instances.frame[rows]
    at = np.searchsorted(own_frames, frames)
    if (own_frames[np.minimum(at, len(own) - 1)] == frames).any():
        return np.inf
    before = rank[own][np.maximum(at - 1, 0)]
    after = rank[own][np.minimum(at, len(own) - 1)]
    frames_rank = rank[rows]
    # Before the track's first detection or after its last, "before" and "after" are that
    # detection, and the interpolation holds its position.
    if (np.abs(frames_rank - before) > max_gap).any() or (
        np.abs(after - frames_rank) > max_gap
    ).any():
        return np.inf
    x = np.interp(frames, own_frames, instances.xy[own, 0])
    y = np.interp(frames, own_frames, instances.xy[own, 1])
    return float(np.median(np.hypot(instances.xy[rows, 0] - x, instances.xy[rows, 1] - y)))
