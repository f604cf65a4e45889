"""The SLEAP stage's pose arrays as poses and detections tables."""

from __future__ import annotations

import numpy as np

from snakeherd.sleap import tables as pose_tables


def test_tables_from_pose_arrays():
    arrays = {
        "frame": np.array([3, 3, 4]),
        "det_id": np.array([0, 1, 0]),
        "points": np.array(
            [[[0, 0], [4, 0]], [[10, 10], [np.nan, np.nan]], [[np.nan, np.nan]] * 2], float
        ),
        "point_scores": np.array([[0.9, 0.8], [0.7, np.nan], [np.nan, np.nan]]),
        "instance_score": np.array([1.7, 0.7, 0.0]),
        "identity": np.array(["female", "", ""]),
        "node_names": np.array(["head", "tail"]),
    }
    poses = pose_tables.poses_table(arrays, "v")
    assert len(poses) == 6
    assert poses["node"].tolist() == ["head", "tail"] * 3
    assert poses.loc[3, ["x", "y"]].isna().all()
    detections = pose_tables.detections_table(arrays, "v")
    assert detections[["frame", "det_id"]].values.tolist() == [[3, 0], [3, 1]]
    assert detections.loc[0, "x"] == 2 and detections.loc[0, "w"] == 4
    assert detections["identity_id"].tolist() == [0, -1]
