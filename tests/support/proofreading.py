"""The real two-fly tracks as a tracks table, and known errors injected into them, for the
proofreading checks (suspect frames must find the injected errors)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import sleap_io

from snakeherd.keypoints import keypoint_boxes
from snakeherd.tracking import heading, keypoint_columns

FLY_TRACKS = "tracking/centered_pair_predictions.clean.slp"


def fly_tracks(path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The proofread fly tracks of ``path`` as a tracks table as the track rule writes it, and
    the matching detections (boxes around the keypoints, as a track-only run makes them)."""
    labels = sleap_io.load_slp(str(path))
    nodes = [str(name) for name in labels.skeletons[0].node_names]
    rows, points, point_scores = [], [], []
    for labeled in labels.labeled_frames:
        for det_id, instance in enumerate(labeled.instances):
            rows.append(
                (int(labeled.frame_idx), labels.tracks.index(instance.track), det_id,
                 float(instance.score))
            )  # fmt: skip
            points.append(instance.numpy()[:, :2])
            point_scores.append(np.asarray(instance.points["score"], dtype=float))
    table = pd.DataFrame(rows, columns=["frame", "track_id", "det_id", "score"])
    points, point_scores = np.stack(points), np.stack(point_scores)
    centre, long_side, short_side, angle = keypoint_boxes(points)
    table["x"], table["y"], table["angle"] = centre[:, 0], centre[:, 1], angle
    head, tail = nodes.index("head"), nodes.index("abdomen")
    table["heading"] = heading.from_keypoints(points, head, tail)
    table["interpolated"] = False
    wide = np.concatenate([points, point_scores[..., None]], axis=2).reshape(len(table), -1)
    table = pd.concat([table, pd.DataFrame(wide, columns=keypoint_columns(nodes))], axis=1)
    detections = table[["frame", "det_id", "x", "y", "angle", "score"]].assign(
        w=long_side, h=short_side
    )
    table = table.sort_values(["frame", "track_id"], kind="stable").reset_index(drop=True)
    return table, detections


@dataclass(frozen=True)
class InjectedError:
    kind: str  # "swap", "dropped" or "low_score"
    frame: int  # where the error is (the first frame of a swap, drop or burst)


def inject_errors(
    tracks: pd.DataFrame,
    swaps: list[int],
    drops: list[tuple[int, int]],
    low_scores: list[tuple[int, int]],
    seed: int = 0,
) -> tuple[pd.DataFrame, list[InjectedError]]:
    """``tracks`` (two tracks) with known errors: the two identities exchanged from each frame
    of ``swaps`` on; one animal's rows removed for (first frame, length) of ``drops``; one
    animal's scores (instance and keypoints) cut to a fifth for (first frame, length) of
    ``low_scores``. The animal of each drop and burst is drawn with ``seed``."""
    rng = np.random.default_rng(seed)
    tracks = tracks.copy()
    errors = []
    for frame in swaps:
        later = tracks["frame"] >= frame
        tracks.loc[later, "track_id"] = 1 - tracks.loc[later, "track_id"]
        errors.append(InjectedError("swap", frame))
    score_columns = ["score", *[c for c in tracks.columns if c.endswith(".score")]]
    for kind, spans in (("dropped", drops), ("low_score", low_scores)):
        for first, length in spans:
            chosen = (tracks["track_id"] == rng.integers(2)) & tracks["frame"].between(
                first, first + length - 1
            )
            if kind == "dropped":
                tracks = tracks[~chosen]
            else:
                tracks.loc[chosen, score_columns] *= 0.2
            errors.append(InjectedError(kind, first))
    tracks = tracks.sort_values(["frame", "track_id"], kind="stable").reset_index(drop=True)
    return tracks, errors


def inject_random_errors(
    tracks: pd.DataFrame, seed: int
) -> tuple[pd.DataFrame, list[InjectedError]]:
    """The issue's check on the 1,100-frame fly tracks: 10 swaps, 6 drops of 1-5 frames and 6
    bursts of 3-11 low-scoring frames at frames drawn with ``seed`` (away from the ends)."""
    rng = np.random.default_rng(seed)
    anywhere = np.arange(20, 1080)
    swaps = sorted(rng.choice(anywhere, 10, replace=False).tolist())
    drops = list(zip(rng.choice(anywhere, 6).tolist(), rng.integers(1, 6, 6).tolist(), strict=True))
    bursts = list(
        zip(rng.choice(anywhere, 6).tolist(), rng.integers(3, 12, 6).tolist(), strict=True)
    )
    return inject_errors(tracks, swaps, drops, bursts, seed=seed)


def covered(errors: list[InjectedError], suspects: pd.DataFrame, tolerance: int) -> list[bool]:
    """Whether a suspect stretch lies within ``tolerance`` frames of each error."""
    starts = suspects["start_frame"].to_numpy() - tolerance
    ends = suspects["end_frame"].to_numpy() + tolerance
    return [bool(((starts <= e.frame) & (e.frame <= ends)).any()) for e in errors]
