"""Constructed animal paths as detection (and keypoint) tables, for the tracker's tests, and
which true animal each track followed."""

from __future__ import annotations

import numpy as np
import pandas as pd

from snakeherd.tracking import StitchParams

NO_STITCH = StitchParams(enabled=False)


def detections_from(paths: dict[int, list[tuple]], size=(30.0, 10.0)) -> pd.DataFrame:
    """Detections from true paths {animal: [(frame, x, y[, angle]), ...]}, shuffled per frame."""
    rows = []
    for animal, points in paths.items():
        for point in points:
            frame, x, y = point[:3]
            angle = point[3] if len(point) > 3 else np.nan
            rows.append((frame, x, y, angle, animal))
    table = pd.DataFrame(rows, columns=["frame", "x", "y", "angle", "truth"])
    rng = np.random.default_rng(0)
    table = table.sample(frac=1.0, random_state=rng).sort_values("frame", kind="stable")
    table["det_id"] = table.groupby("frame").cumcount()
    table["w"], table["h"] = size
    table["score"] = 1.0
    return table.reset_index(drop=True)


def identities(detections: pd.DataFrame, tracks: pd.DataFrame) -> pd.DataFrame:
    """The tracks' rows with the true animal (``truth``) of the detection each one took."""
    return tracks.merge(detections[["frame", "det_id", "truth"]], on=["frame", "det_id"])


def tracks_per_animal(detections, tracks) -> list[int]:
    """How many tracks each true animal was given (1 each when no identity was lost)."""
    joined = identities(detections, tracks)
    return joined.groupby("truth")["track_id"].nunique().tolist()


def pose_detections(n_frames=40, crossing=True):
    """Two animals with 3 keypoints each (head, thorax, abdomen) walking towards each other."""
    detections, poses = [], []
    for f in range(n_frames):
        for animal in range(2):
            x = 20.0 + 3 * f if animal == 0 else 140.0 - 3 * f
            y = 50.0 + (4.0 if animal else 0.0) * (1 if crossing else 10)
            direction = 1 if animal == 0 else -1
            points = {
                "head": (x + 8 * direction, y),
                "thorax": (x, y),
                "abdomen": (x - 8 * direction, y),
            }
            detections.append((f, animal, x, y, 20.0, 6.0, 0.0, 0.9, animal))
            for node, (px, py) in points.items():
                poses.append((f, animal, node, px, py, 0.8))
    detections = pd.DataFrame(
        detections, columns=["frame", "det_id", "x", "y", "w", "h", "angle", "score", "truth"]
    )
    poses = pd.DataFrame(poses, columns=["frame", "det_id", "node", "x", "y", "score"])
    return detections, poses
