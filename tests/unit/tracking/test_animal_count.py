"""The number of animals, estimated from real, messy predictions when the config does not give
it (``tracking.max_tracks: auto``), and the identities tracked with it: a two-fly courtship clip
with missing and misplaced instances, scored against its proofread tracks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from snakeherd import slp
from snakeherd.evaluation import evaluate_tracks, load_ground_truth
from snakeherd.tracking import TrackerParams, track
from snakeherd.tracking.animal_count import estimate
from snakeherd.tracking.instances import from_tables
from tests.support.tracks import detections_from

FRAMES = np.arange(1500)


@pytest.fixture(scope="module")
def clip(shared_data):
    folder = shared_data / "tracking" / "sleap_clip"
    predictions = slp.read_predictions(str(folder / "clip.predictions.slp"), "clip")
    return predictions, load_ground_truth(str(folder / "clip.slp"))


def scored(tracks, truth):
    # py-motmetrics, centres matched within 40 px (the clip's flies are ~100 px long).
    row = evaluate_tracks(tracks, truth, FRAMES, match_distance=40.0).iloc[0]
    return float(row["IDF1"]), int(row["id_switches"]), int(tracks["track_id"].nunique())


def test_two_flies_are_counted_from_their_predictions(clip):
    predictions, _ = clip
    count = estimate(from_tables(predictions.detections, predictions.poses), TrackerParams())
    assert count.count == 2 and not count.changes
    assert count.share > 0.9 and count.frames == 1500
    assert count.stretch_counts == [2] * 10
    assert "2 animals" in count.describe()


def test_auto_tracks_as_well_as_the_given_count_and_better_than_none(clip):
    predictions, truth = clip
    results = {}
    for max_tracks in (None, "auto", 2):
        params = TrackerParams(max_tracks=max_tracks)
        tracks = track(predictions.detections, predictions.poses, params, FRAMES, predictions.nodes)
        results[max_tracks] = scored(tracks, truth)
        if max_tracks == "auto":
            assert tracks.attrs["animal_count"].count == 2
    # Measured: None 72 tracks, IDF1 0.633, 56 switches; auto and 2 (whole-video linking):
    # 2 tracks, IDF1 0.940, 0 switches. Issue 16's goal: IDF1 >= 0.90, <= 6 switches, 2 tracks.
    print(results)
    idf1, switches, n_tracks = results["auto"]
    assert n_tracks == 2 and idf1 >= 0.90 and switches <= 6
    given_idf1, given_switches, given_tracks = results[2]
    assert given_tracks == 2 and given_idf1 >= idf1 and given_switches <= switches
    assert results[None][2] > 10 and results[None][0] < idf1 - 0.2


def test_a_fly_that_leaves_keeps_the_count_and_its_identity_ends(clip):
    predictions, _ = clip
    detections = predictions.detections
    # A fly leaves after two thirds: from frame 1000 on, only the best instance of each frame
    # is kept.
    late = detections[detections["frame"] >= 1000]
    best = late.sort_values("score", ascending=False).drop_duplicates("frame")
    kept = pd.concat([detections[detections["frame"] < 1000], best])
    poses = predictions.poses.merge(kept[["frame", "det_id"]], on=["frame", "det_id"])
    count = estimate(from_tables(kept, poses), TrackerParams())
    assert count.count == 2 and not count.changes
    assert count.stretch_counts[:6] == [2] * 6 and count.stretch_counts[-3:] == [1] * 3
    tracks = track(kept, poses, TrackerParams(max_tracks="auto"), FRAMES, predictions.nodes)
    assert tracks.attrs["animal_count"].count == 2
    assert tracks["track_id"].nunique() == 2
    # The kept instances stay tracked (the late ones by whichever fly they are nearest).
    detected = tracks[~tracks["interpolated"]]
    assert len(detected) >= 0.95 * len(kept)
    assert detected[detected["frame"] >= 1000].groupby("frame").size().max() == 1


def test_animals_that_come_into_view_are_reported_not_forced(clip):
    predictions, _ = clip
    detections = predictions.detections
    # One fly arrives halfway: until frame 750 only the best instance of each frame is kept.
    early = detections[detections["frame"] < 750]
    best = early.sort_values("score", ascending=False).drop_duplicates("frame")
    kept = pd.concat([best, detections[detections["frame"] >= 750]])
    poses = predictions.poses.merge(kept[["frame", "det_id"]], on=["frame", "det_id"])
    count = estimate(from_tables(kept, poses), TrackerParams())
    assert count.changes and count.count is None and count.most_frames == 1
    assert "come into view" in count.describe()
    tracks = track(kept, poses, TrackerParams(max_tracks="auto"), FRAMES, predictions.nodes)
    assert tracks.attrs["animal_count"].count is None


def test_an_animal_predicted_twice_is_counted_once():
    # Two frames, each with animal A predicted twice (1 px apart) and animal B once.
    detections = pd.DataFrame(
        {
            "frame": [0, 0, 0, 1, 1, 1],
            "det_id": [0, 1, 2, 0, 1, 2],
            "x": [10.0, 11.0, 80.0, 10.0, 11.0, 80.0],
            "y": [10.0, 10.0, 80.0, 10.0, 10.0, 80.0],
            "w": [20.0] * 6,
            "h": [8.0] * 6,
            "angle": [0.0] * 6,
            "score": [0.9, 0.5, 0.8, 0.9, 0.5, 0.8],
        }
    )
    assert estimate(from_tables(detections), TrackerParams()).count == 2


def test_auto_is_the_only_word_max_tracks_takes():
    with pytest.raises(ValueError, match="not a number or 'auto'"):
        TrackerParams(max_tracks="two")


def test_an_animal_seen_in_a_third_of_a_short_video_is_not_cut():
    # Frames 0-29 hold one animal and frames 10-19 a second: most frames hold one, but a third
    # hold two, so no count is forced (the second animal would go untracked).
    paths = {
        0: [(f, 20.0 + f, 20.0) for f in range(30)],
        1: [(f, 100.0, 20.0 + f) for f in range(10, 20)],
    }
    count = estimate(from_tables(detections_from(paths)), TrackerParams())
    assert count.most_frames == 1 and count.changes and count.count is None
