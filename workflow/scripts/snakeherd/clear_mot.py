"""CLEAR-MOT and identity (IDF1) counts of tracks against a reference, kept as running tallies.

py-motmetrics' accumulator keeps every event of every frame in memory until the end (~0.8 KB an
instance-frame: a long video's comparison held 1.6 GB for 220,000). :class:`ClearMot` makes the
same per-frame decisions as ``motmetrics.MOTAccumulator.update`` (version 1.4: earlier
correspondences kept first, then its own Hungarian solver on the rest, a switch where an animal's
previous partner differs) with motmetrics' own distance and assignment functions, and keeps only
what the metrics need: per-identity counts, each animal's last partner and fragment state, and
how often each (reference, track) pair lay within the match distance (for the global identity
matching behind IDF1). Its memory grows with the number of identities, not of frames.
:meth:`ClearMot.metrics` gives the figures ``motmetrics.metrics.create().compute`` gives for the
same updates (tested against it).
"""

from __future__ import annotations

import math
import warnings
from array import array
from collections import Counter
from collections.abc import Hashable, Sequence

import numpy as np
from scipy.optimize import linear_sum_assignment

SUMS_HELD = 4096
"""Frames' sums of matched distances held before they are summed into one (MOTP's numerator)."""

MOSTLY_TRACKED, MOSTLY_LOST = 0.8, 0.2
"""Share of an animal's frames it must be tracked in to count as mostly tracked, and below
which it counts as mostly lost (motmetrics' thresholds)."""


def _ratio(numerator: float, denominator: float) -> float:
    """``numerator / denominator`` with motmetrics' convention: NaN for 0/0, inf for x/0."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return float(np.true_divide(numerator, denominator))


class ClearMot:
    """Running CLEAR-MOT and identity counts; :meth:`update` once per frame, in frame order.

    ``record_frames``: also keep each frame's misses, false positives and switches
    (:meth:`frame_errors`: four integers a frame, with its number)."""

    def __init__(self, match_distance: float, record_frames: bool = False):
        self.max_squared = float(match_distance) ** 2
        self.frames = 0
        self.matches = self.switches = self.misses = self.false_positives = 0
        # Matched distances, summed exactly a frame at a time and folded every SUMS_HELD frames.
        self.distance_sums: list[float] = []
        self.partner: dict[Hashable, Hashable] = {}  # reference id -> its last matched track
        self.appearances: Counter = Counter()  # reference id -> rows
        self.tracked: Counter = Counter()  # reference id -> rows matched (or switched)
        self.predictions: Counter = Counter()  # track id -> rows
        self.reference_frames: Counter = Counter()  # id -> frames it appears in
        self.track_frames: Counter = Counter()
        self.near: Counter = Counter()  # (reference id, track id) -> frames within the distance
        # Fragments: an animal tracked, then missed, then tracked again counts one.
        self.was_tracked: set = set()
        self.missed_since_tracked: set = set()
        self.fragmentations = 0
        # Each frame's number, misses, false positives and switches, one after another.
        self.per_frame: array | None = array("q") if record_frames else None

    def update(
        self,
        frame: int,
        reference_ids: Sequence[Hashable],
        reference_xy: np.ndarray,
        track_ids: Sequence[Hashable],
        track_xy: np.ndarray,
    ) -> None:
        """One frame: the reference's and the tracks' ids and positions ``(n, 2)``."""
        from motmetrics.distances import norm2squared_matrix
        from motmetrics.lap import linear_sum_assignment as motmetrics_assignment

        reference_ids, track_ids = list(reference_ids), list(track_ids)
        n_reference, n_tracks = len(reference_ids), len(track_ids)
        squared = norm2squared_matrix(reference_xy, track_xy, max_d2=self.max_squared)
        distances = np.sqrt(np.atleast_2d(squared).astype(float)).reshape(n_reference, n_tracks)
        self.frames += 1
        for reference in set(reference_ids):
            self.reference_frames[reference] += 1
        for track in set(track_ids):
            self.track_frames[track] += 1
        near_i, near_j = np.nonzero(np.isfinite(distances))
        for i, j in zip(near_i.tolist(), near_j.tolist(), strict=True):
            self.near[reference_ids[i], track_ids[j]] += 1

        reference_done = np.zeros(n_reference, dtype=bool)
        track_done = np.zeros(n_tracks, dtype=bool)
        matched_distances: list[float] = []
        switches = 0

        def matched(i: int, j: int) -> None:
            reference, track = reference_ids[i], track_ids[j]
            reference_done[i] = track_done[j] = True
            matched_distances.append(float(distances[i, j]))
            self.partner[reference] = track
            self.tracked[reference] += 1
            if reference in self.missed_since_tracked:
                self.fragmentations += 1
                self.missed_since_tracked.discard(reference)
            self.was_tracked.add(reference)

        if n_reference and n_tracks:
            track_array = np.asarray(track_ids)
            # 1. Correspondences of earlier frames kept where still within the distance.
            for i, reference in enumerate(reference_ids):
                if reference not in self.partner:
                    continue
                (free,) = np.nonzero(~track_done & (track_array == self.partner[reference]))
                if len(free) and np.isfinite(distances[i, free[0]]):
                    matched(i, int(free[0]))
            # 2. The rest by motmetrics' minimum-cost assignment.
            remaining = distances.copy()
            remaining[reference_done, :] = np.nan
            remaining[:, track_done] = np.nan
            rows, columns = motmetrics_assignment(remaining)
            for i, j in zip(rows.tolist(), columns.tolist(), strict=True):
                if not np.isfinite(remaining[i, j]):
                    continue
                earlier = self.partner.get(reference_ids[i], track_ids[j])
                switch = earlier != track_ids[j]
                switches += switch
                matched(i, j)
        misses = 0
        for i in np.flatnonzero(~reference_done).tolist():
            misses += 1
            if reference_ids[i] in self.was_tracked:
                self.missed_since_tracked.add(reference_ids[i])
        false_positives = int((~track_done).sum())
        self.appearances.update(reference_ids)
        self.predictions.update(track_ids)
        self.matches += len(matched_distances) - switches
        self.switches += switches
        self.misses += misses
        self.false_positives += false_positives
        if matched_distances:
            self.distance_sums.append(math.fsum(matched_distances))
            if len(self.distance_sums) >= SUMS_HELD:
                self.distance_sums = [math.fsum(self.distance_sums)]
        if self.per_frame is not None:
            self.per_frame.extend((int(frame), misses, false_positives, switches))

    def frame_errors(self) -> np.ndarray:
        """Each frame's (frame, misses, false positives, ID switches), one row a frame; needs
        ``record_frames``."""
        if self.per_frame is None:
            raise ValueError("ClearMot(record_frames=True) keeps the frames' errors")
        return np.frombuffer(self.per_frame, dtype=np.int64).reshape(-1, 4)

    def _identity_true_positives(self) -> int:
        """Frames within the distance of the best one-to-one pairing of reference ids with
        track ids (motmetrics' global identity assignment: its minimum cost is reached by the
        pairing that keeps the most such frames)."""
        if not self.near:
            return 0
        references = {reference: k for k, reference in enumerate({r for r, _ in self.near})}
        tracks = {track: k for k, track in enumerate({t for _, t in self.near})}
        together = np.zeros((len(references), len(tracks)))
        for (reference, track), count in self.near.items():
            together[references[reference], tracks[track]] = count
        rows, columns = linear_sum_assignment(together, maximize=True)
        return int(together[rows, columns].sum())

    def metrics(self) -> dict[str, float | int]:
        """motmetrics' figures under their names (``mota``, ``idf1``, ``num_switches``, ...)."""
        detected = self.matches + self.switches
        objects = sum(self.appearances.values())
        predictions = sum(self.predictions.values())
        kept = self._identity_true_positives()
        identity_misses = sum(self.reference_frames.values()) - kept
        identity_false_positives = sum(self.track_frames.values()) - kept
        identity_true_positives = objects - identity_misses
        ratios = [self.tracked[reference] / count for reference, count in self.appearances.items()]
        return {
            "mota": 1.0 - _ratio(self.misses + self.switches + self.false_positives, objects),
            "motp": _ratio(math.fsum(self.distance_sums), detected),
            "idf1": _ratio(2 * identity_true_positives, objects + predictions),
            "idp": _ratio(
                identity_true_positives, identity_true_positives + identity_false_positives
            ),
            "idr": _ratio(identity_true_positives, identity_true_positives + identity_misses),
            "precision": _ratio(detected, self.false_positives + detected),
            "recall": _ratio(detected, objects),
            "num_switches": self.switches,
            "num_fragmentations": self.fragmentations,
            "num_false_positives": self.false_positives,
            "num_misses": self.misses,
            "num_objects": objects,
            "num_predictions": predictions,
            "num_unique_objects": len(self.appearances),
            "mostly_tracked": sum(ratio >= MOSTLY_TRACKED for ratio in ratios),
            "mostly_lost": sum(ratio < MOSTLY_LOST for ratio in ratios),
            "num_frames": self.frames,
            "idtp": identity_true_positives,
            "idfp": identity_false_positives,
            "idfn": identity_misses,
        }
