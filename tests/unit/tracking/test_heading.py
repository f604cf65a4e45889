"""An animal's heading, from its head and tail keypoints or from its motion."""

from __future__ import annotations

import numpy as np

from snakeherd.tracking import TrackerParams, track
from snakeherd.tracking import heading as heading_module
from tests.support.tracks import identities, pose_detections


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


def test_heading_from_motion_follows_travel_and_survives_axis_wrap():
    frames = np.arange(20)
    xy = np.column_stack([100.0 - 3 * frames, 50.0 + 0 * frames])  # walking left
    axis = np.where(frames % 2 == 0, 0.01, np.pi - 0.01)  # axis jitters across 0/π
    result = heading_module.from_motion(frames, xy, axis)
    assert np.allclose(np.abs(result), np.pi, atol=0.02)
