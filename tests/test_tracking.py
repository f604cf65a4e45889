"""The tracker on constructed paths: crossings, births, deaths, occlusions, re-identification,
orientation wrap-around, sleap-nn's options, stitching, interpolation and heading."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from snakeherd.tracking import (
    TRACK_COLUMNS,
    StitchParams,
    TrackerParams,
    identity_names,
    track,
    track_detections,
)
from snakeherd.tracking import heading as heading_module
from snakeherd.tracking.kalman import wrap_axis
from snakeherd.tracking.matching import greedy, hungarian
from snakeherd.tracking.params import CANDIDATES, FEATURES, MATCHING, REDUCTIONS, SCORING
from snakeherd.tracking.similarity import reduce_scores

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
    return tracks.merge(detections[["frame", "det_id", "truth"]], on=["frame", "det_id"])


def tracks_per_animal(detections, tracks) -> list[int]:
    joined = identities(detections, tracks)
    return joined.groupby("truth")["track_id"].nunique().tolist()


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
    tracks = track_detections(detections, TrackerParams(max_distance=10, max_gap=3))
    joined = identities(detections, tracks)
    spans = joined.groupby("track_id")["frame"].agg(["min", "max"])
    assert spans.to_dict("index") == {0: {"min": 0, "max": 29}, 1: {"min": 10, "max": 19}}


def test_short_occlusion_keeps_identity_and_is_interpolated():
    visible = [f for f in range(40) if not 10 <= f < 14]  # hidden for 4 frames
    detections = detections_from({0: [(f, 2.0 * f, 30.0) for f in visible]})
    tracks = track(detections, None, TrackerParams(max_distance=10, max_gap=5))
    assert tracks["track_id"].nunique() == 1
    filled = tracks[tracks["interpolated"]]
    assert filled["frame"].tolist() == [10, 11, 12, 13]
    assert np.allclose(filled["x"], [20.0, 22.0, 24.0, 26.0])
    assert (filled["det_id"] == -1).all() and filled["score"].isna().all()


def test_long_occlusion_ends_the_track_unless_stitched():
    visible = [f for f in range(60) if not 10 <= f < 30]  # hidden for 20 frames
    detections = detections_from({0: [(f, 2.0 * f, 30.0) for f in visible]})
    ended = track(detections, None, TrackerParams(max_distance=10, max_gap=3, stitch=NO_STITCH))
    assert ended["track_id"].nunique() == 2
    assert ended.groupby("track_id")["frame"].min().tolist() == [0, 30]
    stitched = track(detections, None, TrackerParams(max_distance=10, max_gap=3))
    assert stitched["track_id"].nunique() == 1
    assert not stitched["interpolated"].any()  # 20 frames is longer than interpolate_max_gap


def test_stitching_prefers_the_fragment_that_continues_the_motion():
    """Two animals vanish together for 15 frames and reappear; the fragments are relinked by
    where each animal's motion carries it, not by order of appearance."""
    hidden = range(20, 35)
    paths = {
        0: [(f, 20.0 + 2 * f, 40.0) for f in range(60) if f not in hidden],
        1: [(f, 20.0 + 2 * f, 120.0 - 2 * f) for f in range(60) if f not in hidden],
    }
    detections = detections_from(paths)
    tracks = track(detections, None, TrackerParams(max_distance=10, max_gap=2))
    assert tracks_per_animal(detections, tracks) == [1, 1]


def test_jump_beyond_the_gate_starts_a_new_track():
    paths = {0: [(f, 10.0 if f < 5 else 200.0, 10.0) for f in range(10)]}
    tracks = track_detections(detections_from(paths), TrackerParams(max_distance=20))
    assert tracks["track_id"].nunique() == 2


def test_velocity_prediction_follows_an_animal_faster_than_the_gate():
    """Steps of 16 px exceed a 12 px gate around the last position, not around the prediction."""
    xs = np.cumsum([0.0] + [6.0] * 5 + [10.0] * 5 + [16.0] * 15)
    paths = {0: [(f, float(x), 5.0) for f, x in enumerate(xs)]}
    params = TrackerParams(max_distance=12, gate=6, stitch=NO_STITCH)
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


def test_hungarian_and_greedy_matching():
    cost = np.array([[1.0, 2.0], [1.5, np.inf]])
    rows, cols = hungarian(cost)
    assert sorted(zip(rows.tolist(), cols.tolist(), strict=True)) == [(0, 1), (1, 0)]
    rows, cols = greedy(cost)
    assert list(zip(rows.tolist(), cols.tolist(), strict=True)) == [(0, 0)]
    assert len(hungarian(np.full((2, 2), np.inf))[0]) == 0


def test_reductions_ignore_missing_candidates():
    scores = np.array([[0.2, 0.9, np.nan, 0.5], [np.nan] * 4])
    assert np.allclose(reduce_scores(scores, "mean", 0.5)[0], (0.2 + 0.9 + 0.5) / 3)
    assert reduce_scores(scores, "max", 0.5)[0] == pytest.approx(0.9)
    assert reduce_scores(scores, "robust_quantile", 0.5)[0] == pytest.approx(0.5)
    assert np.isnan(reduce_scores(scores, "mean", 0.5)[1])


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


def test_keypoints_flow_into_the_tracks_and_give_the_heading():
    detections, poses = pose_detections(crossing=False)
    tracks = track(detections, poses, TrackerParams(max_distance=20))
    assert {"head.x", "head.y", "head.score", "abdomen.x"} <= set(tracks.columns)
    joined = identities(detections, tracks)
    first = joined[joined["truth"] == 0]
    second = joined[joined["truth"] == 1]
    assert np.allclose(first["heading"], 0.0)  # walking right, head in front
    assert np.allclose(np.abs(second["heading"]), np.pi)  # walking left
    assert (tracks["x"] % 1 == 0).all()  # inputs were whole pixels: nothing was rounded


def test_min_match_points_leaves_sparse_instances_untracked():
    detections, poses = pose_detections(crossing=False)
    poses.loc[(poses["frame"] == 5) & (poses["node"] != "thorax"), ["x", "y"]] = np.nan
    tracks = track(detections, poses, TrackerParams(min_match_points=2, interpolate_max_gap=0))
    assert len(tracks) == len(detections) - 2
    assert 5 not in set(tracks["frame"])


def test_heading_from_motion_follows_travel_and_survives_axis_wrap():
    frames = np.arange(20)
    xy = np.column_stack([100.0 - 3 * frames, 50.0 + 0 * frames])  # walking left
    axis = np.where(frames % 2 == 0, 0.01, np.pi - 0.01)  # axis jitters across 0/π
    result = heading_module.from_motion(frames, xy, axis)
    assert np.allclose(np.abs(result), np.pi, atol=0.02)


def test_interpolation_is_circular_for_axes_and_stays_in_the_selection():
    detections = detections_from(
        {0: [(0, 0.0, 0.0, np.pi - 0.1), (3, 3.0, 0.0, 0.2), (4, 4.0, 0.0, 0.2)]}
    )
    tracks = track(detections, None, TrackerParams(max_distance=50, heading="none"))
    filled = tracks[tracks["interpolated"]].set_index("frame")
    assert np.allclose(wrap_axis(filled.loc[[1, 2], "angle"].to_numpy() - [0.0, 0.1]), 0.0)
    assert filled["angle"].between(0, np.pi).all()
    only_selected = track(
        detections, None, TrackerParams(max_distance=50), frames=np.array([0, 2, 3, 4])
    )
    assert only_selected[only_selected["interpolated"]]["frame"].tolist() == [2]


def test_min_length_drops_blips_and_output_is_sorted():
    paths = {
        0: [(f, 5.0 * f, 5.0) for f in range(20)],
        1: [(3, 300.0, 300.0)],
    }
    tracks = track_detections(detections_from(paths), TrackerParams(min_length=2))
    assert tracks["track_id"].nunique() == 1
    assert tracks["frame"].is_monotonic_increasing


def test_same_input_same_tracks():
    detections, poses = pose_detections()
    first = track(detections, poses, TrackerParams())
    second = track(detections.sample(frac=1.0, random_state=3), poses, TrackerParams())
    pd.testing.assert_frame_equal(first, second)


def test_empty_input():
    empty = pd.DataFrame(columns=["frame", "det_id", "x", "y", "angle", "score"])
    tracks = track_detections(empty, TrackerParams())
    assert tracks.empty and list(tracks.columns) == TRACK_COLUMNS


def test_params_from_config_and_bad_values():
    params = TrackerParams.from_config(
        {"enabled": True, "max_tracks": 3, "stitch": {"max_gap": 7}, "scoring": "iou"}
    )
    assert params.max_tracks == 3 and params.stitch.max_gap == 7 and params.scoring == "iou"
    with pytest.raises(ValueError, match="scoring"):
        TrackerParams(scoring="bogus")


def identity_detections() -> pd.DataFrame:
    """Two animals whose classes a multi-class model names; at frame 10 they trade places in one
    frame (a jump no motion model would credit), so only the classes can say who is who."""
    paths = {
        0: [(f, 20.0 + 2 * f, 40.0) if f < 10 else (f, 20.0 + 2 * f, 140.0) for f in range(20)],
        1: [(f, 20.0 + 2 * f, 140.0) if f < 10 else (f, 20.0 + 2 * f, 40.0) for f in range(20)],
    }
    detections = detections_from(paths)
    detections["identity_id"] = detections["truth"]
    detections["identity"] = detections["truth"].map({0: "female", 1: "male"})
    return detections


def test_identity_classes_are_the_tracks():
    detections = identity_detections()
    tracks = track(detections, None, TrackerParams(max_distance=15))
    joined = identities(detections, tracks)
    assert len(joined) == len(detections)
    assert (joined["track_id"] == joined["truth"]).all()
    assert identity_names(detections) == {0: "female", 1: "male"}
    # Motion alone follows the positions through the swap instead.
    by_motion = identities(
        detections, track(detections, None, TrackerParams(max_distance=15, identity_classes=False))
    )
    assert (by_motion.groupby("truth")["track_id"].nunique() > 1).any()


def test_a_class_twice_in_a_frame_goes_to_the_higher_score():
    detections = identity_detections()
    duplicate = detections.index[(detections["frame"] == 5) & (detections["truth"] == 1)][0]
    detections.loc[duplicate, ["identity_id", "identity", "score"]] = [0, "female", 0.5]
    tracks = track(detections, None, TrackerParams())
    frame_five = identities(detections, tracks).query("frame == 5")
    assert frame_five["truth"].tolist() == [0] and frame_five["track_id"].tolist() == [0]


def test_unnamed_instances_fall_back_to_motion_linking():
    detections = identity_detections()
    detections.loc[detections["frame"] == 3, "identity_id"] = -1
    assert identity_names(detections) is None
    tracks = track(detections, None, TrackerParams(max_distance=15))
    joined = identities(detections, tracks)
    assert len(joined) == len(detections)  # every instance tracked, by motion
    assert tracks["track_id"].min() == 0
