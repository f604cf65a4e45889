"""Detections and keypoints as the tracker's instances."""

from __future__ import annotations

import numpy as np
import pandas as pd

from snakeherd import io, slp
from snakeherd.tracking import TrackerParams, track
from snakeherd.tracking.instances import from_tables, node_order


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
