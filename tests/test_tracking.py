"""The first tracker: crossings, births, deaths, occlusions and gaps on constructed paths."""

from __future__ import annotations

import numpy as np
import pandas as pd

from snakeherd.tracking import TRACK_COLUMNS, TrackerParams, track_detections


def detections_from(paths: dict[int, list[tuple[int, float, float]]]) -> pd.DataFrame:
    """Detections from true paths {animal: [(frame, x, y), ...]}, shuffled within each frame."""
    rows = [(frame, x, y, animal) for animal, points in paths.items() for frame, x, y in points]
    table = pd.DataFrame(rows, columns=["frame", "x", "y", "truth"])
    rng = np.random.default_rng(0)
    table = table.sample(frac=1.0, random_state=rng).sort_values("frame", kind="stable")
    table["det_id"] = table.groupby("frame").cumcount()
    table["angle"] = 0.0
    table["score"] = 1.0
    return table.reset_index(drop=True)


def identity_map(detections: pd.DataFrame, tracks: pd.DataFrame) -> pd.DataFrame:
    return tracks.merge(detections[["frame", "det_id", "truth"]], on=["frame", "det_id"])


def test_two_animals_crossing_keep_their_identities():
    frames = range(40)
    paths = {
        0: [(f, 10.0 + 3 * f, 50.0 + 1.0 * f) for f in frames],
        1: [(f, 10.0 + 3 * f, 90.0 - 1.0 * f) for f in frames],
    }
    detections = detections_from(paths)
    tracks = track_detections(detections, TrackerParams(max_distance=15))
    joined = identity_map(detections, tracks)
    assert list(tracks.columns) == TRACK_COLUMNS
    assert joined.groupby("truth")["track_id"].nunique().tolist() == [1, 1]
    assert joined["track_id"].nunique() == 2


def test_birth_and_death():
    paths = {
        0: [(f, 20.0 + f, 20.0) for f in range(30)],
        1: [(f, 100.0, 20.0 + f) for f in range(10, 20)],
    }
    detections = detections_from(paths)
    tracks = track_detections(detections, TrackerParams(max_distance=10, max_gap=3))
    joined = identity_map(detections, tracks)
    spans = joined.groupby("track_id")["frame"].agg(["min", "max"])
    assert spans.to_dict("index") == {0: {"min": 0, "max": 29}, 1: {"min": 10, "max": 19}}


def test_short_occlusion_keeps_identity_and_long_one_ends_the_track():
    visible = [f for f in range(40) if not 10 <= f < 14]  # hidden for 4 frames
    paths = {0: [(f, 2.0 * f, 30.0) for f in visible]}
    kept = track_detections(detections_from(paths), TrackerParams(max_distance=10, max_gap=5))
    assert kept["track_id"].nunique() == 1
    ended = track_detections(detections_from(paths), TrackerParams(max_distance=10, max_gap=3))
    assert ended["track_id"].nunique() == 2
    assert ended.groupby("track_id")["frame"].min().tolist() == [0, 14]


def test_jump_beyond_the_gate_starts_a_new_track():
    paths = {0: [(f, 10.0 if f < 5 else 200.0, 10.0) for f in range(10)]}
    tracks = track_detections(detections_from(paths), TrackerParams(max_distance=20))
    assert tracks["track_id"].nunique() == 2


def test_velocity_prediction_follows_an_animal_faster_than_the_gate():
    """Steps of 16 px exceed a 10 px gate around the last position, not around the prediction."""
    xs = np.cumsum([0.0] + [8.0] * 5 + [16.0] * 15)
    paths = {0: [(f, float(x), 5.0) for f, x in enumerate(xs)]}
    tracks = track_detections(
        detections_from(paths), TrackerParams(max_distance=10, velocity_smoothing=1.0)
    )
    assert tracks["track_id"].nunique() == 1
    without_prediction = track_detections(
        detections_from({0: [(f, 16.0 * f, 5.0) for f in range(10)]}),
        TrackerParams(max_distance=10),
    )
    assert without_prediction["track_id"].nunique() == 10


def test_min_length_drops_blips_and_output_is_sorted():
    paths = {
        0: [(f, 5.0 * f, 5.0) for f in range(20)],
        1: [(3, 300.0, 300.0)],
    }
    tracks = track_detections(detections_from(paths), TrackerParams(min_length=2))
    assert tracks["track_id"].nunique() == 1
    assert tracks["frame"].is_monotonic_increasing


def test_empty_input():
    empty = pd.DataFrame(columns=["frame", "det_id", "x", "y", "angle", "score"])
    tracks = track_detections(empty, TrackerParams())
    assert tracks.empty and list(tracks.columns) == TRACK_COLUMNS
