"""Assignment of detections to tracks: Hungarian and greedy."""

from __future__ import annotations

import numpy as np

from snakeherd.tracking.matching import greedy, hungarian


def test_hungarian_and_greedy_matching():
    cost = np.array([[1.0, 2.0], [1.5, np.inf]])
    rows, cols = hungarian(cost)
    assert sorted(zip(rows.tolist(), cols.tolist(), strict=True)) == [(0, 1), (1, 0)]
    rows, cols = greedy(cost)
    assert list(zip(rows.tolist(), cols.tolist(), strict=True)) == [(0, 0)]
    assert len(hungarian(np.full((2, 2), np.inf))[0]) == 0
