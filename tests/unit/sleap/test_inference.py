"""What the SLEAP stage's inference reports about its instance slots."""

from __future__ import annotations

import numpy as np


def test_frames_at_limit_counts_frames_that_fill_every_slot():
    from snakeherd.sleap.handover import PoseArrays
    from snakeherd.sleap.inference import frames_at_limit

    arrays = PoseArrays(node_names=["A", "B"])
    for frame, count in ((0, 2), (1, 4), (2, 3), (5, 4)):
        for det_id in range(count):
            arrays.add(frame, det_id, np.zeros((2, 2)), np.ones(2), 1.0)
    assert frames_at_limit(arrays, 4) == 2
    assert frames_at_limit(arrays, 3) == 3
    assert frames_at_limit(PoseArrays(node_names=["A"]), 4) == 0
