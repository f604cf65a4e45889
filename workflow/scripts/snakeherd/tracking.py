"""Linking detections into identity-preserving tracks.

This first tracker matches each frame's detections to the live tracks by Hungarian assignment
(scipy's ``linear_sum_assignment``) on the distance between each detection and the track's
predicted position (last position plus its smoothed velocity times the frames elapsed). A match
farther than ``max_distance`` pixels is refused; unmatched detections start new tracks; a track
unmatched for more than ``max_gap`` frames ends, so a gap in the frame selection ends every track.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment

TRACK_COLUMNS = ["frame", "track_id", "det_id", "x", "y", "angle", "score"]


@dataclass(frozen=True)
class TrackerParams:
    """The config's ``tracking`` section. Distances in video pixels, times in frames."""

    max_distance: float = 40.0  # px: farthest a detection may be from a track's prediction
    max_gap: int = 5  # frames a track may go unmatched before it ends
    velocity_smoothing: float = 0.5  # weight of the newest step in the velocity estimate (0-1]
    min_length: int = 1  # frames; shorter tracks are dropped from the output

    @classmethod
    def from_config(cls, section: dict | None) -> TrackerParams:
        section = section or {}
        return cls(**{key: section[key] for key in asdict(cls()) if key in section})


@dataclass
class _Track:
    track_id: int
    last_frame: int
    position: np.ndarray
    velocity: np.ndarray

    def predict(self, frame: int) -> np.ndarray:
        return self.position + self.velocity * (frame - self.last_frame)


def track_detections(detections: pd.DataFrame, params: TrackerParams) -> pd.DataFrame:
    """Assign a ``track_id`` to detections (columns frame, det_id, x, y, angle, score).

    Returns one row per tracked detection with :data:`TRACK_COLUMNS`, sorted by frame and track.
    Track ids are 0, 1, 2, ... in order of birth.
    """
    ordered = detections.sort_values(["frame", "det_id"], kind="stable")
    frames = ordered["frame"].to_numpy()
    xy = ordered[["x", "y"]].to_numpy(dtype=np.float64)
    boundaries = np.flatnonzero(np.diff(frames)) + 1
    starts = np.concatenate([[0], boundaries]) if len(frames) else np.array([], dtype=int)
    stops = np.concatenate([boundaries, [len(frames)]]) if len(frames) else starts

    live: list[_Track] = []
    next_id = 0
    assigned = np.full(len(ordered), -1, dtype=np.int64)
    alpha = params.velocity_smoothing
    for start, stop in zip(starts, stops, strict=True):
        frame = int(frames[start])
        live = [t for t in live if frame - t.last_frame <= params.max_gap + 1]
        points = xy[start:stop]
        matched_points: set[int] = set()
        if live and len(points):
            predicted = np.array([t.predict(frame) for t in live])
            cost = np.linalg.norm(predicted[:, None, :] - points[None, :, :], axis=2)
            # Refused pairs cost more than any allowed set of matches, so the solver prefers
            # leaving them unmatched.
            refused = cost > params.max_distance
            cost[refused] = params.max_distance * (len(live) + len(points) + 1)
            rows, cols = linear_sum_assignment(cost)
            for row, col in zip(rows, cols, strict=True):
                if refused[row, col]:
                    continue
                track = live[row]
                step = (points[col] - track.position) / (frame - track.last_frame)
                track.velocity = alpha * step + (1.0 - alpha) * track.velocity
                track.position = points[col].copy()
                track.last_frame = frame
                assigned[start + col] = track.track_id
                matched_points.add(col)
        for col in range(len(points)):
            if col in matched_points:
                continue
            live.append(_Track(next_id, frame, points[col].copy(), np.zeros(2)))
            assigned[start + col] = next_id
            next_id += 1

    result = ordered.assign(track_id=assigned)
    if params.min_length > 1:
        lengths = result.groupby("track_id")["frame"].transform("size")
        result = result[lengths >= params.min_length]
    return (
        result[TRACK_COLUMNS]
        .sort_values(["frame", "track_id"], kind="stable")
        .reset_index(drop=True)
    )
