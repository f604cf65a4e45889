"""Detections and keypoints as the tracker's instances."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from snakeherd import io, slp
from snakeherd.stored import StoredRows
from snakeherd.tracking import TrackerParams, track
from snakeherd.tracking.instances import INSTANCE_COLUMNS, from_tables, node_order


def test_a_box_of_no_extent_has_no_axis():
    # Two animals, one seen by two keypoints (a box with an axis), one by a single keypoint (a
    # box of no extent at that point, angle 0 in the detections table): only the first has an
    # axis for the tracker.
    detections = pd.DataFrame(
        {
            "frame": [0, 0],
            "det_id": [0, 1],
            "x": [10.0, 50.0],
            "y": [10.0, 50.0],
            "w": [8.0, 0.0],
            "h": [2.0, 0.0],
            "angle": [0.5, 0.0],
            "score": [1.0, 1.0],
        }
    )
    poses = pd.DataFrame(
        {
            "frame": [0, 0, 0, 0],
            "det_id": [0, 0, 1, 1],
            "node": ["head", "tail", "head", "tail"],
            "x": [14.0, 6.0, 50.0, np.nan],
            "y": [10.0, 10.0, 50.0, np.nan],
            "score": [1.0, 1.0, 1.0, np.nan],
        }
    )
    instances = from_tables(detections, poses, ["head", "tail"])
    assert instances.angle[0] == 0.5
    assert np.isnan(instances.angle[1])
    np.testing.assert_array_equal(instances.visible_points, [2, 1])


def test_poses_read_in_parts_give_the_same_tracks(shared_data, tmp_path):
    # A real clip's predictions (its first 400 frames, 2 flies), its poses table read back in
    # parts of 99 rows (parts end inside frames and inside instances).
    folder = shared_data / "tracking" / "sleap_clip"
    predictions = slp.read_predictions(str(folder / "clip.predictions.slp"), "clip")
    detections = predictions.detections.query("frame < 400")
    poses = predictions.poses.query("frame < 400").reset_index(drop=True)
    path = tmp_path / "poses.parquet"
    io.write_table(poses, path, "poses", {})
    nodes = node_order(poses)
    columns = ["frame", "det_id", "node", "x", "y", "score"]
    parts = list(io.iter_table(path, "poses", columns, batch_rows=99))
    assert len(parts) == -(-len(poses) // 99) > 10 and node_order(parts) == nodes
    whole = from_tables(detections, poses, nodes)
    in_parts = from_tables(detections, iter(parts), nodes)
    assert np.isfinite(whole.keypoints).any()
    np.testing.assert_array_equal(in_parts.keypoints, whole.keypoints)
    np.testing.assert_array_equal(in_parts.keypoint_score, whole.keypoint_score)
    params = TrackerParams()
    pd.testing.assert_frame_equal(
        track(detections, io.iter_table(path, "poses", columns, 99), params, nodes=nodes),
        track(detections, poses, params, nodes=nodes),
    )


def _in_parts(table: pd.DataFrame, rows: int) -> list[pd.DataFrame]:
    return [table.iloc[start : start + rows] for start in range(0, len(table), rows)]


# Everything an Instances holds per instance or per frame.
INSTANCE_ARRAYS = [
    "frame",
    "det_id",
    "xy",
    "size",
    "angle",
    "score",
    "position_sd",
    "keypoints",
    "keypoint_score",
    "visible_points",
    "keypoint_box",
    "keypoint_extent",
    "starts",
    "stops",
]


def assert_same_instances(found, expected) -> None:
    assert found.nodes == expected.nodes and len(found) == len(expected)
    for name in INSTANCE_ARRAYS:
        np.testing.assert_array_equal(np.asarray(getattr(found, name)), getattr(expected, name))


def test_detections_read_in_parts_are_the_ones_in_memory(shared_data, tmp_path):
    # The messy clip's first 400 frames, its detections and poses tables read back in parts
    # (parts end inside frames), some positions unknown (left out of the whole-video linking).
    folder = shared_data / "tracking" / "sleap_clip"
    predictions = slp.read_predictions(str(folder / "clip.predictions.slp"), "clip")
    detections = predictions.detections.query("frame < 400").reset_index(drop=True)
    detections.loc[detections.index % 97 == 5, "x"] = np.nan
    poses = predictions.poses.query("frame < 400").reset_index(drop=True)
    nodes = node_order(poses)
    io.write_table(detections, tmp_path / "detections.parquet", "detections", {})
    io.write_table(poses, tmp_path / "poses.parquet", "poses", {})
    pose_columns = ["frame", "det_id", "node", "x", "y", "score"]

    def detection_parts():
        return io.iter_columns(tmp_path / "detections.parquet", "detections", INSTANCE_COLUMNS)

    def pose_parts():
        return io.iter_table(tmp_path / "poses.parquet", "poses", pose_columns, 99)

    whole = from_tables(detections, poses, nodes)
    in_parts = from_tables(detection_parts(), pose_parts(), nodes)
    # Only what the linking reads of every instance is held in memory.
    assert isinstance(in_parts.xy, np.ndarray) and isinstance(in_parts.size, StoredRows)
    assert isinstance(in_parts.keypoint_box, StoredRows)
    assert_same_instances(in_parts, whole)
    # Parts in any order, a whole poses table.
    shuffled = detections.sample(frac=1.0, random_state=0)
    assert_same_instances(from_tables(iter(_in_parts(shuffled, 41)), poses, nodes), whole)
    for settings in (
        {"max_tracks": "auto", "interpolate_max_gap": 5, "heading": "motion"},
        {"max_tracks": None, "interpolate_max_gap": 3, "min_length": 4},
    ):
        params = TrackerParams.from_config(settings)
        expected = track(detections, poses, params, nodes=nodes)
        found = track(detection_parts(), pose_parts(), params, nodes=nodes)
        pd.testing.assert_frame_equal(found, expected, check_exact=True)
        assert found.attrs == expected.attrs and len(found) > 700


def test_detections_in_parts_lacking_columns_and_refused():
    detections = pd.DataFrame(
        {"frame": [1, 0, 1, 0], "det_id": [1, 0, 0, 1], "x": [1.0, 2.0, 3.0, 4.0], "y": 0.0}
    )
    instances = from_tables(iter(_in_parts(detections, 3)))
    assert_same_instances(instances, from_tables(detections))
    # One value for every row of a column the table lacks, as in memory.
    assert instances.score.strides == (0,) and instances.position_sd.strides == (0,)
    assert len(from_tables(iter([])).frame) == 0
    with pytest.raises(ValueError, match="same columns"):
        from_tables(iter([detections.iloc[:2], detections.iloc[2:].assign(score=0.5)]))
    # In parts, identity classes are not looked for: the tracks are linked by motion.
    # Classes that contradict the motion: 2 -> 3 and 4 -> 1 px, where 2 -> 1 and 4 -> 3 is
    # nearer.
    named = detections.assign(identity_id=[1, 0, 0, 1], identity=["b", "a", "a", "b"])
    by_motion = track(named, None, TrackerParams(identity_classes=False))
    pd.testing.assert_frame_equal(track(iter([named]), None, TrackerParams()), by_motion)
    assert not track(named, None, TrackerParams()).equals(by_motion)
