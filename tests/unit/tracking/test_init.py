"""The package's ``track`` and ``track_detections``: deterministic, empty input, and the classes of
a multi-class model as the tracks."""

from __future__ import annotations

import pandas as pd

from snakeherd.tracking import TRACK_COLUMNS, TrackerParams, identity_names, track, track_detections
from tests.support.tracks import detections_from, identities, pose_detections


def test_same_input_same_tracks():
    detections, poses = pose_detections()
    first = track(detections, poses, TrackerParams())
    second = track(detections.sample(frac=1.0, random_state=3), poses, TrackerParams())
    pd.testing.assert_frame_equal(first, second)


def test_empty_input():
    empty = pd.DataFrame(columns=["frame", "det_id", "x", "y", "angle", "score"])
    tracks = track_detections(empty, TrackerParams())
    assert tracks.empty and list(tracks.columns) == TRACK_COLUMNS


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
