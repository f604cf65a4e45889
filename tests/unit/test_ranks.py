"""Percentiles of values read in parts: NumPy's, found by passes over the parts, not held."""

from __future__ import annotations

import numpy as np
import pytest

from snakeherd import ranks


@pytest.mark.parametrize(
    "values",
    [
        np.random.default_rng(0).exponential(3, 10_001),
        np.round(np.random.default_rng(1).exponential(3, 10_000)),  # many ties
        np.r_[np.full(5000, 2.5), np.full(4999, 1.25), [1e6]],  # one far outlier
        np.random.default_rng(2).normal(0, 1, 101),
        np.array([4.0, 1.0]),
        np.array([7.0]),
        np.zeros(0),
    ],
    ids=lambda values: f"{len(values)} values",
)
@pytest.mark.parametrize("q", [0, 1, 37.5, 50, 99, 99.9, 100])
def test_a_percentile_read_in_parts_is_numpys(values, q, monkeypatch):
    """The jump check's 99th percentile of a long video's speeds, and any other: the search
    made to narrow its range several times before it holds any values."""
    monkeypatch.setattr(ranks, "HELD_VALUES", 50)
    monkeypatch.setattr(ranks, "MEDIAN_BINS", 4)
    parts = [values[start : start + 333] for start in range(0, len(values), 333)]
    found = ranks.percentile(lambda: iter(parts), q)
    if not len(values):
        assert np.isnan(found)
        return
    assert found == np.percentile(values, q)
    assert ranks.percentile(lambda: iter(parts), q, ranks.extent(lambda: iter(parts))) == found


def test_the_extent_of_no_values():
    assert ranks.extent(lambda: iter([np.zeros(0)])) == (0, np.inf, -np.inf)
