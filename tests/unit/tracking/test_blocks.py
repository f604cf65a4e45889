"""A long video's tracker works through its instances a block at a time (the online pass's
features, the animal count's duplicate checks, headings from motion) and builds the tracks
table a column at a time: the tracks must be the ones the whole video at once gives."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from snakeherd import slp, tracking
from snakeherd.stored import StoredColumns
from snakeherd.tracking import TrackerParams, animal_count, gaps, heading, online, track
from snakeherd.tracking.instances import from_tables
from snakeherd.tracking.stitching import renumber
from snakeherd.tracking.table import BLEND, LIGHT_COLUMNS


@pytest.fixture(scope="module")
def predictions(shared_data):
    # The messy two-fly clip: lost, doubled and misplaced predictions, 13 nodes.
    path = shared_data / "tracking" / "sleap_clip" / "clip.predictions.slp"
    return slp.read_predictions(str(path), "clip")


def tiny_blocks(monkeypatch) -> None:
    """Blocks far smaller than a frame's instances or a track, so every boundary is crossed."""
    monkeypatch.setattr(online, "MEASURED_ROWS", 5)
    monkeypatch.setattr(heading, "MOTION_ROWS", 7)
    monkeypatch.setattr(animal_count, "PAIRS_PER_BLOCK", 20)


@pytest.mark.parametrize(
    "settings",
    [
        {"max_tracks": "auto", "interpolate_max_gap": 5, "heading": "motion"},
        {"max_tracks": None, "interpolate_max_gap": 3, "min_length": 4},
        {"max_tracks": 2, "link": {"enabled": False}, "features": "keypoints"},
    ],
    ids=["auto", "stitched", "online"],
)
def test_tracks_in_blocks_equal_the_whole_video_at_once(predictions, monkeypatch, settings):
    rng = np.random.default_rng(3)
    detections = predictions.detections
    detections = detections[rng.uniform(size=len(detections)) > 0.05]  # holes to fill
    params = TrackerParams.from_config(settings)
    whole = track(detections, predictions.poses, params)
    tiny_blocks(monkeypatch)
    in_blocks = track(detections, predictions.poses, params)
    pd.testing.assert_frame_equal(in_blocks, whole, check_exact=True)
    assert whole["interpolated"].any() and whole["heading"].notna().mean() > 0.9


def test_animal_count_in_blocks_equals_the_whole_video(predictions, monkeypatch):
    instances = from_tables(predictions.detections, predictions.poses)
    params = TrackerParams()
    frames, counts = animal_count.per_frame_counts(instances, params)
    tiny_blocks(monkeypatch)
    frames_in_blocks, counts_in_blocks = animal_count.per_frame_counts(instances, params)
    assert np.array_equal(frames_in_blocks, frames) and np.array_equal(counts_in_blocks, counts)
    # The clip's doubled predictions are counted once: most frames hold its two flies.
    assert np.bincount(counts).argmax() == 2


def test_heading_from_motion_in_blocks_equals_one_pass(monkeypatch):
    rng = np.random.default_rng(0)
    frames = np.cumsum(rng.integers(1, 3, 200))
    xy = np.cumsum(rng.normal(0, 2, (200, 2)), axis=0)
    axis = np.mod(np.arctan2(*np.gradient(xy, axis=0).T[::-1]) + rng.normal(0, 0.2, 200), np.pi)
    axis[rng.uniform(size=200) < 0.1] = np.nan  # rows without an axis
    whole = heading.from_motion(frames, xy, axis)
    monkeypatch.setattr(heading, "MOTION_ROWS", 3)
    assert np.array_equal(heading.from_motion(frames, xy, axis), whole, equal_nan=True)
    assert np.isnan(whole).sum() == np.isnan(axis).sum()


def test_holes_are_filled_and_short_tracks_found():
    columns = {
        "frame": np.array([0, 0, 4, 9, 5]),
        "track_id": np.array([0, 1, 0, 2, 1]),
        "det_id": np.array([0, 1, 0, 0, 1]),
        "x": np.array([0.0, 10.0, 8.0, 50.0, 20.0]),
        "y": np.zeros(5),
        "angle": np.array([3.0, 0.0, 0.2, 0.0, 0.0]),
        "score": np.ones(5),
        "from_row": np.arange(5),
        "to_row": np.arange(5),
        "weight": np.zeros(5),
    }
    gaps.interpolate(columns, 3, None, blend=("from_row", "to_row", "weight"))
    # Track 0's hole (frames 1-3) is filled after the rows; track 1's (1-4) is too long.
    assert columns["frame"].tolist() == [0, 0, 4, 9, 5, 1, 2, 3]
    assert columns["interpolated"].tolist() == [False] * 5 + [True] * 3
    assert np.allclose(columns["x"][5:], [2.0, 4.0, 6.0])
    assert columns["det_id"][5:].tolist() == [-1] * 3 and np.isnan(columns["score"][5:]).all()
    assert columns["from_row"][5:].tolist() == [0] * 3 and columns["to_row"][5:].tolist() == [2] * 3
    assert np.allclose(columns["weight"][5:], [0.25, 0.5, 0.75])
    # The undirected axis from 3.0 to 0.2 turns the short way, through π (= 0).
    turned = 3.0 + (0.2 + np.pi - 3.0) * np.array([0.25, 0.5, 0.75])
    assert np.allclose(columns["angle"][5:], np.mod(turned, np.pi))
    # Track 2 has one row: below two, it goes.
    kept = gaps.long_enough(columns["track_id"], 2)
    assert kept.tolist() == [True] * 3 + [False] + [True] * 4
    assert gaps.long_enough(columns["track_id"], 1) is None
    assert gaps.long_enough(columns["track_id"][kept], 2) is None


def test_instances_from_an_unsorted_table_and_columns_it_lacks():
    detections = pd.DataFrame(
        {"frame": [1, 0, 1, 0], "det_id": [1, 0, 0, 1], "x": [1.0, 2.0, 3.0, 4.0], "y": 0.0}
    )
    instances = from_tables(detections)
    assert instances.frame.tolist() == [0, 0, 1, 1] and instances.det_id.tolist() == [0, 1, 0, 1]
    assert instances.xy[:, 0].tolist() == [2.0, 4.0, 3.0, 1.0]
    # One value stands for every row of a column the table lacks (score 1, no box, no keypoints).
    assert instances.score.tolist() == [1.0] * 4 and instances.score.strides == (0,)
    assert instances.keypoint_box.strides == (0, 0) and np.isnan(instances.keypoint_box).all()
    # The arrays are the tracker's own: the table can go.
    detections.loc[:, "x"] = 0.0
    assert instances.xy[:, 0].tolist() == [2.0, 4.0, 3.0, 1.0]


def test_light_columns_finished_a_column_at_a_time_equal_the_table_at_once():
    """The track job's tracks are finished a stored column at a time: holes filled (only in
    processed frames), short tracks dropped, tracks renumbered and sorted as the whole table
    at once gives them."""
    rng = np.random.default_rng(5)
    rows = 400
    columns = {
        "frame": rng.integers(0, 150, rows),
        "track_id": np.minimum(rng.geometric(0.25, rows) - 1, 11),  # some tracks short
        "det_id": rng.integers(0, 5, rows),
        "x": rng.normal(100, 30, rows),
        "y": rng.normal(100, 30, rows),
        "angle": rng.uniform(0, np.pi, rows),
        "score": rng.uniform(size=rows),
        "from_row": np.arange(rows),
        "to_row": np.arange(rows),
        "weight": np.zeros(rows),
    }
    keep = pd.DataFrame(columns).drop_duplicates(["frame", "track_id"]).index.to_numpy()
    columns = {name: values[keep] for name, values in columns.items()}
    processed = np.setdiff1d(np.arange(150), np.arange(40, 47))  # a hole in the selection
    params = TrackerParams(interpolate_max_gap=4, min_length=9)
    light = StoredColumns(len(keep))
    for name, values in columns.items():
        light[name] = values
    finished = tracking._finished(light, params, processed, renumbered=True)

    gaps.interpolate(columns, 4, processed, blend=BLEND)
    assert columns["interpolated"].sum() > 50
    kept = gaps.long_enough(columns["track_id"], 9)
    assert kept is not None and not kept.all()
    columns = {name: values[kept] for name, values in columns.items()}
    columns["track_id"] = renumber(columns["frame"], columns["track_id"])
    order = np.lexsort((columns["track_id"], columns["frame"]))
    assert finished.columns == [*LIGHT_COLUMNS, *BLEND]
    for name in finished.columns:
        expected = np.full(len(order), np.nan) if name == "heading" else columns[name][order]
        np.testing.assert_array_equal(finished[name], expected)
        assert finished[name].dtype == expected.dtype
