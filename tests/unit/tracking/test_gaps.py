"""Gaps in a track: interpolation (circular for body axes, only in the frame selection) and short
tracks dropped."""

from __future__ import annotations

import numpy as np

from snakeherd.tracking import TrackerParams, track, track_detections
from snakeherd.tracking.kalman import wrap_axis
from tests.support.tracks import detections_from


def test_short_occlusion_keeps_identity_and_is_interpolated():
    visible = [f for f in range(40) if not 10 <= f < 14]  # hidden for 4 frames
    detections = detections_from({0: [(f, 2.0 * f, 30.0) for f in visible]})
    tracks = track(detections, None, TrackerParams(max_distance=10, max_gap=5))
    assert tracks["track_id"].nunique() == 1
    filled = tracks[tracks["interpolated"]]
    assert filled["frame"].tolist() == [10, 11, 12, 13]
    assert np.allclose(filled["x"], [20.0, 22.0, 24.0, 26.0])
    assert (filled["det_id"] == -1).all() and filled["score"].isna().all()


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
