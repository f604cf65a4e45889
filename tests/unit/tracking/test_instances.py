"""Detections and keypoints as the tracker's instances."""

from __future__ import annotations

import numpy as np
import pandas as pd

from snakeherd.tracking.instances import from_tables


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
