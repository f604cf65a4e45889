"""Reducing a track's candidate scores to one, ignoring missing candidates."""

from __future__ import annotations

import numpy as np
import pytest

from snakeherd.tracking.similarity import reduce_scores


def test_reductions_ignore_missing_candidates():
    scores = np.array([[0.2, 0.9, np.nan, 0.5], [np.nan] * 4])
    assert np.allclose(reduce_scores(scores, "mean", 0.5)[0], (0.2 + 0.9 + 0.5) / 3)
    assert reduce_scores(scores, "max", 0.5)[0] == pytest.approx(0.9)
    assert reduce_scores(scores, "robust_quantile", 0.5)[0] == pytest.approx(0.5)
    assert np.isnan(reduce_scores(scores, "mean", 0.5)[1])
