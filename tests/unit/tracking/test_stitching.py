"""Stitching track fragments across gaps longer than the online tracker bridges."""

from __future__ import annotations

from snakeherd.tracking import TrackerParams, track
from tests.support.tracks import NO_STITCH, detections_from, tracks_per_animal


def test_long_occlusion_ends_the_track_unless_stitched():
    visible = [f for f in range(60) if not 10 <= f < 30]  # hidden for 20 frames
    detections = detections_from({0: [(f, 2.0 * f, 30.0) for f in visible]})
    unlimited = {"max_tracks": None, "max_distance": 10, "max_gap": 3}
    ended = track(detections, None, TrackerParams(**unlimited, stitch=NO_STITCH))
    assert ended["track_id"].nunique() == 2
    assert ended.groupby("track_id")["frame"].min().tolist() == [0, 30]
    stitched = track(detections, None, TrackerParams(**unlimited))
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
    params = TrackerParams(max_tracks=None, max_distance=10, max_gap=2)
    tracks = track(detections, None, params)
    assert tracks_per_animal(detections, tracks) == [1, 1]
