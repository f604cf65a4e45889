"""The online tracker on constructed paths: crossings, births, deaths, the gate, velocity
prediction, re-identification with max_tracks, orientation, and sleap-nn's options."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from snakeherd.tracking import TRACK_COLUMNS, TrackerParams, track, track_detections
from snakeherd.tracking.kalman import wrap_axis
from snakeherd.tracking.params import CANDIDATES, FEATURES, MATCHING, REDUCTIONS, SCORING
from tests.support.tracks import (
    NO_STITCH,
    detections_from,
    identities,
    pose_detections,
    tracks_per_animal,
)


def test_two_animals_crossing_keep_their_identities():
    frames = range(40)
    paths = {
        0: [(f, 10.0 + 3 * f, 50.0 + 1.0 * f) for f in frames],
        1: [(f, 10.0 + 3 * f, 90.0 - 1.0 * f) for f in frames],
    }
    detections = detections_from(paths)
    tracks = track_detections(detections, TrackerParams(max_distance=15))
    assert list(tracks.columns) == TRACK_COLUMNS
    assert tracks_per_animal(detections, tracks) == [1, 1]
    assert tracks["track_id"].nunique() == 2


def test_head_on_crossing_follows_momentum_not_proximity():
    """Two animals pass through each other; at the crossing both detections are equally close to
    both tracks, and only the predicted motion tells them apart."""
    frames = range(30)
    paths = {
        0: [(f, 20.0 + 4 * f, 50.0, 0.0) for f in frames],
        1: [(f, 136.0 - 4 * f, 52.0, 0.0) for f in frames],
    }
    detections = detections_from(paths)
    tracks = track_detections(detections, TrackerParams(max_distance=20))
    assert tracks_per_animal(detections, tracks) == [1, 1]


def test_birth_and_death():
    paths = {
        0: [(f, 20.0 + f, 20.0) for f in range(30)],
        1: [(f, 100.0, 20.0 + f) for f in range(10, 20)],
    }
    detections = detections_from(paths)
    tracks = track_detections(
        detections, TrackerParams(max_tracks=None, max_distance=10, max_gap=3)
    )
    joined = identities(detections, tracks)
    spans = joined.groupby("track_id")["frame"].agg(["min", "max"])
    assert spans.to_dict("index") == {0: {"min": 0, "max": 29}, 1: {"min": 10, "max": 19}}


def test_jump_beyond_the_gate_starts_a_new_track():
    paths = {0: [(f, 10.0 if f < 5 else 200.0, 10.0) for f in range(10)]}
    params = TrackerParams(max_tracks=None, max_distance=20)
    tracks = track_detections(detections_from(paths), params)
    assert tracks["track_id"].nunique() == 2


def test_velocity_prediction_follows_an_animal_faster_than_the_gate():
    """Steps of 16 px exceed a 12 px gate around the last position, not around the prediction."""
    xs = np.cumsum([0.0] + [6.0] * 5 + [10.0] * 5 + [16.0] * 15)
    paths = {0: [(f, float(x), 5.0) for f, x in enumerate(xs)]}
    params = TrackerParams(max_tracks=None, max_distance=12, gate=6, stitch=NO_STITCH)
    assert track_detections(detections_from(paths), params)["track_id"].nunique() == 1
    teleporting = detections_from({0: [(f, 16.0 * (f % 2) + 40 * f, 5.0) for f in range(10)]})
    assert track_detections(teleporting, params)["track_id"].nunique() > 1


def test_max_tracks_never_exceeds_the_number_of_animals_and_reidentifies():
    """With max_tracks, an animal lost for longer than max_gap gets its own track back."""
    paths = {
        0: [(f, 20.0 + f, 20.0) for f in range(50)],
        1: [(f, 150.0, 150.0 - f) for f in range(50) if not 15 <= f < 35],
        2: [(f, 30.0 + 0.5 * f, 150.0) for f in range(50)],
    }
    detections = detections_from(paths)
    params = TrackerParams(max_distance=10, max_gap=2, max_tracks=3, stitch=NO_STITCH)
    tracks = track_detections(detections, params)
    assert tracks["track_id"].nunique() == 3
    assert tracks_per_animal(detections, tracks) == [1, 1, 1]
    capped = track_detections(detections, TrackerParams(max_tracks=2))
    assert capped["track_id"].nunique() == 2


def test_min_new_track_score_and_points_gate_births():
    detections = detections_from({0: [(f, 5.0 * f, 5.0) for f in range(10)]})
    detections["score"] = 0.2
    assert track_detections(detections, TrackerParams(min_new_track_score=0.5)).empty
    assert len(track_detections(detections, TrackerParams(min_new_track_score=0.1))) == 10


def test_orientation_wraps_around_and_separates_crossing_axes():
    assert np.allclose(wrap_axis(np.array([np.pi - 0.02, -np.pi + 0.02, 0.1])), [-0.02, 0.02, 0.1])
    # Two animals cross at a point with perpendicular bodies; one body axis straddles 0/π.
    frames = range(30)
    paths = {
        0: [(f, 10.0 + 3 * f, 60.0, np.mod((-1) ** f * 0.03, np.pi)) for f in frames],
        1: [(f, 55.0, 15.0 + 3 * f, np.pi / 2) for f in frames],
    }
    detections = detections_from(paths)
    tracks = track_detections(detections, TrackerParams(max_distance=25))
    assert tracks_per_animal(detections, tracks) == [1, 1]


@pytest.mark.parametrize(
    "candidates, features, scoring, reduction, matching",
    [
        combo
        for combo in itertools.product(CANDIDATES, FEATURES, SCORING, REDUCTIONS, MATCHING)
        if combo[3] == "mean" or (combo[1] == "keypoints" and combo[2] == "oks")
    ],
)
def test_every_sleap_option_combination_tracks(candidates, features, scoring, reduction, matching):
    detections, poses = pose_detections()
    params = TrackerParams(
        candidates=candidates,
        features=features,
        scoring=scoring,
        scoring_reduction=reduction,
        matching=matching,
        max_distance=20,
    )
    tracks = track(detections, poses, params)
    assert tracks_per_animal(detections, tracks) == [1, 1]


def test_min_match_points_leaves_sparse_instances_untracked():
    detections, poses = pose_detections(crossing=False)
    poses.loc[(poses["frame"] == 5) & (poses["node"] != "thorax"), ["x", "y"]] = np.nan
    tracks = track(detections, poses, TrackerParams(min_match_points=2, interpolate_max_gap=0))
    assert len(tracks) == len(detections) - 2
    assert 5 not in set(tracks["frame"])
