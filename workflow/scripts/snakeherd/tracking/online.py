"""Online tracking: one pass over the frames, assigning each frame's instances to tracks.

For every frame, each live track predicts where its animal is (:mod:`.kalman`); a detection can
continue a track only inside its gate (within ``gate`` standard deviations of the prediction and
``max_distance`` px). The cost of a pair adds up, in units of negative log-likelihood:

- position: half the squared Mahalanobis distance plus the log of the prediction's spread (so a
  long-lost track with a wide prediction does not steal detections from a well-predicted one);
- body orientation, when both have one (undirected, ``angle_noise``, ``turn_noise``);
- box area change (``size_noise``), when boxes are known;
- ``similarity_weight`` × (1 - similarity) of the detection to the track's recent instances
  (:mod:`.similarity`: keypoints, centroids or boxes; OKS, IoU, distance or cosine).

Pairs are assigned by Hungarian or greedy matching (:mod:`.matching`). An unmatched detection
starts a track (if its score and visible keypoints allow, and fewer than ``max_tracks`` exist); an
unmatched track coasts on its prediction and ends after ``max_gap`` unmatched frames. With
``max_tracks`` set, tracks never end: once that many exist, a detection no live track claims is
given to the best of the unmatched tracks (re-identification after an occlusion), as sleap-nn does
with ``max_tracks``.
"""

from __future__ import annotations

import numpy as np

from . import kalman
from .instances import Instances
from .matching import MATCHERS
from .params import TrackerParams
from .similarity import (
    box_corners,
    pair_scores,
    reduce_scores,
)

# Body axes of nearly round detections are noise; below this long/short side ratio they are ignored.
MIN_ELONGATION = 1.15
# Smoothing of a track's remembered box area (weight of the newest detection).
AREA_SMOOTHING = 0.2
# Neutral cost of a term that cannot be computed for a pair (its expected value for a true match).
NEUTRAL_TERM = 0.5


NO_FRAME = np.iinfo(np.int64).min
# Instances whose features the frame loop measures at once (see OnlineTracker._measure).
MEASURED_ROWS = 2**14


class _TrackStore:
    """All tracks' state as arrays indexed by track number (birth order)."""

    def __init__(self, window: int, n_points: int, capacity: int = 16):
        self.n = 0
        self.window = window
        self.n_points = n_points
        self.capacity = 0
        self._allocate(capacity)

    def _allocate(self, capacity: int) -> None:
        def grow(name, shape, fill, dtype=np.float64):
            array = np.full((capacity, *shape), fill, dtype=dtype)
            if self.capacity:
                array[: self.capacity] = getattr(self, name)
            setattr(self, name, array)

        grow("value", (3,), np.nan)  # x, y (px), body axis θ (rad, NaN until seen)
        grow("rate", (3,), 0.0)  # their rates of change, per frame
        grow("cov", (2, 3), 0.0)  # per channel (position, orientation): pp, pv, vv
        grow("log_area", (), np.nan)
        grow("last_frame", (), NO_FRAME, np.int64)
        grow("cand_frame", (self.window,), NO_FRAME, np.int64)
        grow("cand_anchor", (self.window, 2), np.nan)
        grow("cand_points", (self.window, self.n_points, 2), np.nan)
        grow("cand_boxes", (self.window, 4), np.nan)
        grow("cand_next", (), 0, np.int64)
        self.capacity = capacity

    def add(self, count: int) -> np.ndarray:
        if self.n + count > self.capacity:
            self._allocate(max(2 * self.capacity, self.n + count))
        new = np.arange(self.n, self.n + count)
        self.n += count
        return new


class OnlineTracker:
    """Assigns a track number to every instance; see the module docstring."""

    def __init__(self, params: TrackerParams, instances: Instances):
        self.p = params
        self.inst = instances
        self.features = params.features
        if self.features == "auto":
            self.features = "keypoints" if instances.has_keypoints else "none"
        if self.features == "keypoints" and not instances.has_keypoints:
            self.features = "centroids"
        self.use_similarity = self.features != "none"
        n_points = len(instances.nodes) if self.features == "keypoints" else 1
        self.tracks = _TrackStore(params.window, n_points)
        self.noise = np.array([params.acceleration_noise**2, params.turn_noise**2])
        self.measurement_variance = np.array([params.position_noise**2, params.angle_noise**2])
        self.log_measurement_variance = np.log(self.measurement_variance)
        # A new track's velocity is unknown: its spread makes the first gate about max_distance.
        self.initial_rate_variance = np.array(
            [(params.max_distance / params.gate) ** 2, (2 * params.angle_noise) ** 2]
        )
        self.match = MATCHERS[params.matching]
        self.max_unmatched = params.max_gap + 1

    def _measure(self, rows: slice) -> None:
        """What the frame loop compares of the instances ``rows``: a block of them at a time,
        as the loop reaches it (those of a whole long video would be most of its memory). The
        rows the loop passes on are counted from the block's first."""
        inst, params = self.inst, self.p
        # What each instance is compared by: its keypoints, or its centre as a single point.
        xy = inst.xy[rows]
        self.points = inst.keypoints[rows] if self.features == "keypoints" else xy[:, None, :]
        self.boxes = box_corners(xy, inst.size[rows], inst.angle[rows])
        if inst.has_keypoints:
            from_points = inst.keypoint_box[rows]
            usable = np.isfinite(from_points).all(axis=1)
            self.boxes = np.where(usable[:, None], from_points, self.boxes)
        self.scale = inst.scale_of(rows)
        visible = inst.visible_points[rows]
        size = inst.size[rows]
        angle = inst.angle[rows]
        with np.errstate(invalid="ignore", divide="ignore"):
            area = size[:, 0] * size[:, 1]
            self.log_area = np.log(np.where(area > 0, area, np.nan))
            elongated = np.isfinite(angle) & (
                ~np.isfinite(size[:, 1]) | (size[:, 0] >= MIN_ELONGATION * size[:, 1])
            )
        axis = np.where(elongated, angle, np.nan)
        if inst.has_keypoints:
            # Keypoints give the body axis directly; boxes of some detectors (pose models on
            # whole frames) are axis-aligned and only say 0 or π/2.
            long_side, short_side, keypoint_axis = inst.keypoint_extent[rows].T
            # One keypoint is a box of no extent: it gives no axis.
            from_points = (
                np.isfinite(keypoint_axis)
                & (long_side > 0)
                & (long_side >= MIN_ELONGATION * short_side)
            )
            axis = np.where(from_points, keypoint_axis, axis)
        # What a detection measures: x, y and (for elongated bodies) the body axis.
        self.measured = np.column_stack([xy, axis])
        self.matchable = visible >= params.min_match_points
        self.can_start = (inst.score[rows] >= params.min_new_track_score) & (
            visible >= params.min_new_track_points
        )
        # Each detection's own position variance (a detector may know it is less precise).
        position_sd = inst.position_sd[rows]
        self.det_variance = (
            np.where(np.isfinite(position_sd), position_sd, params.position_noise) ** 2
        )

    # --- per frame -------------------------------------------------------------------------

    def run(self) -> np.ndarray:
        """Track number of every instance row (-1: left untracked)."""
        assigned = np.full(len(self.inst), -1, dtype=np.int64)
        starts, stops, frame = self.inst.starts, self.inst.stops, self.inst.frame
        first = 0
        while first < len(starts):
            # A block of whole frames, of at least MEASURED_ROWS rows.
            last = max(first + 1, int(np.searchsorted(starts, starts[first] + MEASURED_ROWS)))
            low, high = int(starts[first]), int(stops[last - 1])
            self._measure(slice(low, high))
            in_block = assigned[low:high]  # a view: the steps write into assigned
            matchable = self.matchable
            every_row = bool(matchable.all())
            for start, stop in zip(
                (starts[first:last] - low).tolist(), (stops[first:last] - low).tolist(), strict=True
            ):
                rows = np.arange(start, stop)
                if not every_row:
                    rows = rows[matchable[start:stop]]
                    if not len(rows):
                        continue
                self._step(int(frame[low + start]), rows, in_block)
            first = last
        return assigned

    def _step(self, frame: int, rows: np.ndarray, assigned: np.ndarray) -> None:
        p, tracks = self.p, self.tracks
        live = np.flatnonzero(tracks.last_frame[: tracks.n] >= frame - self.max_unmatched)
        free = np.ones(len(rows), dtype=bool)
        matched_tracks = live[:0]
        if len(live):
            cost, predicted, predicted_cov = self._costs(frame, live, rows, gated=True)
            t_idx, d_idx = self.match(cost)
            if len(t_idx):
                matched_tracks = live[t_idx]
                self._update(
                    frame, matched_tracks, rows[d_idx], predicted[t_idx], predicted_cov[t_idx]
                )
                assigned[rows[d_idx]] = matched_tracks
                free[d_idx] = False
        if not free.any():
            return
        free_rows = rows[free]
        free_rows = free_rows[self.can_start[free_rows]]
        if not len(free_rows):
            return
        if p.max_tracks is not None and tracks.n >= p.max_tracks:
            # Every animal has a track: a detection no live track claims belongs to one of the
            # tracks not matched in this frame (lost, or coasting outside its gate).
            waiting = np.ones(tracks.n, dtype=bool)
            waiting[matched_tracks] = False
            waiting = np.flatnonzero(waiting)
            if len(waiting):
                cost, _, _ = self._costs(frame, waiting, free_rows, gated=False)
                t_idx, d_idx = self.match(cost)
                self._restart(frame, waiting[t_idx], free_rows[d_idx])
                assigned[free_rows[d_idx]] = waiting[t_idx]
            return
        if p.max_tracks is not None:
            free_rows = free_rows[: p.max_tracks - tracks.n]
        new = tracks.add(len(free_rows))
        self._restart(frame, new, free_rows)
        assigned[free_rows] = new

    def _costs(self, frame: int, tracks_idx: np.ndarray, rows: np.ndarray, gated: bool):
        """(tracks × rows) assignment cost, ``inf`` outside the gate; and the predictions."""
        p, t = self.p, self.tracks
        dt = (frame - t.last_frame[tracks_idx]).astype(np.float64)
        cov = kalman.predict_covariance(t.cov[tracks_idx], dt, self.noise)
        predicted = kalman.predict_value(t.value[tracks_idx], t.rate[tracks_idx], dt)
        track_variance = cov[..., 0].copy()  # (T, 2)
        if not gated:
            # Re-identification after a loss: extrapolating the velocity is meaningless, so the
            # animal is searched around where it was last seen, farther the longer it was lost.
            predicted[:, :2] = t.value[tracks_idx, :2]
            track_variance[:, 0] = t.cov[tracks_idx, 0, 0] + self.initial_rate_variance[0] * dt**2
        position_spread = track_variance[:, None, 0] + self.det_variance[rows][None, :]  # (T, D)
        angle_spread = track_variance[:, 1] + self.measurement_variance[1]  # (T,)
        diff = self.measured[rows][None, :, :] - predicted[:, None, :]  # (T, D, 3)
        dist2 = diff[..., 0] ** 2 + diff[..., 1] ** 2
        mahalanobis2 = dist2 / position_spread
        angle_term = 0.5 * kalman.wrap_axis(diff[..., 2]) ** 2 / angle_spread[:, None] + (
            0.5 * (np.log(angle_spread) - self.log_measurement_variance[1])[:, None]
        )
        area_delta = self.log_area[rows][None, :] - t.log_area[tracks_idx][:, None]
        area_term = 0.5 * (area_delta / p.size_noise) ** 2
        cost = (
            0.5 * mahalanobis2
            + np.log(position_spread)
            - self.log_measurement_variance[0]
            + np.where(np.isnan(angle_term), NEUTRAL_TERM, angle_term)
            + np.where(np.isnan(area_term), NEUTRAL_TERM, area_term)
        )
        if gated:
            allowed = (mahalanobis2 <= p.gate**2) & (dist2 <= p.max_distance**2)
        else:
            allowed = np.ones(cost.shape, dtype=bool)

        # Similarity to the track's recent instances, for the pairs inside the gate only.
        if self.use_similarity:
            ti, di = np.nonzero(allowed)
            similarity = np.full(cost.shape, 0.5)
            if len(ti):
                similarity[ti, di] = self._similarity(
                    frame, tracks_idx[ti], rows[di], predicted[ti, :2]
                )
            similarity = np.where(np.isnan(similarity), 0.5, similarity)
            cost += p.similarity_weight * (1.0 - similarity)
        return np.where(allowed, cost, np.inf), predicted, cov

    def _similarity(self, frame, track_of_pair, row_of_pair, predicted_of_pair) -> np.ndarray:
        p, t = self.p, self.tracks
        cand_frame = t.cand_frame[track_of_pair]  # (pairs, W)
        valid = cand_frame != NO_FRAME
        if p.candidates == "fixed_window":
            recent = valid & (frame - cand_frame <= p.window)
            # A coasting track has no instance in the window: its latest one stands in for it.
            stale = np.flatnonzero(~recent.any(axis=1))
            if len(stale):
                latest = np.argmax(cand_frame[stale], axis=1)
                recent[stale, latest] = valid[stale, latest]
            valid = recent
        shift = predicted_of_pair[:, None, :] - t.cand_anchor[track_of_pair]  # (pairs, W, 2)
        cand_points = t.cand_points[track_of_pair] + shift[:, :, None, :]
        cand_points[~valid] = np.nan
        cand_boxes = t.cand_boxes[track_of_pair] + np.concatenate([shift, shift], axis=2)
        scores = pair_scores(
            p.scoring,
            self.points[row_of_pair],
            self.boxes[row_of_pair],
            self.scale[row_of_pair],
            cand_points,
            cand_boxes,
            p.oks_sigma,
        )
        scores[~valid] = np.nan
        return reduce_scores(scores, p.scoring_reduction, p.robust_quantile)

    # --- state changes ---------------------------------------------------------------------

    def _remember(self, frame: int, tracks_idx: np.ndarray, rows: np.ndarray) -> None:
        t = self.tracks
        if self.use_similarity:
            # Only the similarity term reads the candidates: skip their bookkeeping otherwise.
            slot = t.cand_next[tracks_idx] % t.window
            t.cand_frame[tracks_idx, slot] = frame
            t.cand_anchor[tracks_idx, slot] = t.value[tracks_idx, :2]
            t.cand_points[tracks_idx, slot] = self.points[rows]
            t.cand_boxes[tracks_idx, slot] = self.boxes[rows]
            t.cand_next[tracks_idx] += 1
        area = self.log_area[rows]
        old = t.log_area[tracks_idx]
        smoothed = old + AREA_SMOOTHING * (area - old)
        # NaN on either side: keep whichever is known.
        smoothed = np.where(np.isnan(smoothed), np.fmax(area, old), smoothed)
        t.log_area[tracks_idx] = smoothed
        t.last_frame[tracks_idx] = frame

    def _update(self, frame, tracks_idx, rows, predicted, predicted_cov) -> None:
        t = self.tracks
        measured = self.measured[rows]
        innovation = measured - predicted
        innovation[:, 2] = kalman.wrap_axis(innovation[:, 2])
        variance = np.empty((len(rows), 2))
        variance[:, 0] = self.det_variance[rows]
        variance[:, 1] = np.where(np.isnan(innovation[:, 2]), np.inf, self.measurement_variance[1])
        value, rate, cov = kalman.update(
            predicted, t.rate[tracks_idx], predicted_cov, innovation, variance
        )
        value[:, 2] = np.mod(value[:, 2], np.pi)
        # A track that had no orientation takes its first one from this detection.
        first = np.isnan(value[:, 2]) & ~np.isnan(measured[:, 2])
        if first.any():
            value[first, 2] = measured[first, 2]
            rate[first, 2] = 0.0
            cov[first, 1] = (self.measurement_variance[1], 0.0, self.initial_rate_variance[1])
        t.value[tracks_idx], t.rate[tracks_idx], t.cov[tracks_idx] = value, rate, cov
        self._remember(frame, tracks_idx, rows)

    def _restart(self, frame: int, tracks_idx: np.ndarray, rows: np.ndarray) -> None:
        """Start (or restart, after a loss) tracks at these detections, velocity unknown."""
        t = self.tracks
        t.value[tracks_idx] = self.measured[rows]
        t.rate[tracks_idx] = 0.0
        t.cov[tracks_idx] = kalman.initial_covariance(
            len(tracks_idx), self.measurement_variance, self.initial_rate_variance
        )
        t.cov[tracks_idx, 0, 0] = self.det_variance[rows]
        self._remember(frame, tracks_idx, rows)


def link(instances: Instances, params: TrackerParams) -> np.ndarray:
    """Track number of every instance (birth order), -1 for instances left untracked."""
    if not len(instances):
        return np.zeros(0, dtype=np.int64)
    return OnlineTracker(params, instances).run()
