"""The median (and other percentiles) of values read in parts (a long video's scores or
errors, many times what a job may hold), found exactly by passes over them, without holding
them."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

import numpy as np

ValueParts = Callable[[], Iterable[np.ndarray]]
"""Finite values read in parts, afresh at each call (e.g. a column of a long table a batch at a
time, or an array kept in a temporary file)."""

# Bins of each pass of the search for a rank's value, which holds the values themselves only
# once at most HELD_VALUES of them are left.
MEDIAN_BINS = 4096
HELD_VALUES = 2**18


def extent(parts: ValueParts) -> tuple[int, float, float]:
    """How many values ``parts()`` gives, the smallest and the largest (inf, -inf: none)."""
    count, smallest, largest = 0, np.inf, -np.inf
    for part in parts():
        if len(part):
            count += len(part)
            smallest, largest = min(smallest, part.min()), max(largest, part.max())
    return count, smallest, largest


def median(parts: ValueParts, known: tuple[int, float, float] | None = None) -> float:
    """np.median of the values ``parts()`` gives (NaN without any); ``known``: their
    :func:`extent` when known (saves a pass)."""
    count, smallest, largest = extent(parts) if known is None else known
    if not count:
        return float("nan")
    middle = [
        value_at_rank(parts, rank, smallest, largest) for rank in ((count - 1) // 2, count // 2)
    ]
    return float((middle[0] + middle[1]) / 2)


def percentile(parts: ValueParts, q: float, known: tuple[int, float, float] | None = None) -> float:
    """np.percentile of the values ``parts()`` gives at ``q`` (its default, linear
    interpolation between the two nearest ranks, computed as NumPy does); NaN without any."""
    count, smallest, largest = extent(parts) if known is None else known
    if not count:
        return float("nan")
    virtual = np.float64(count - 1) * np.true_divide(q, 100)
    previous = min(int(np.floor(virtual)), count - 1)
    below = value_at_rank(parts, previous, smallest, largest)
    if previous == count - 1:  # at the largest value (NumPy takes it alone there too)
        return float(below)
    above = value_at_rank(parts, previous + 1, smallest, largest)
    weight = virtual - previous
    difference = np.float64(above) - np.float64(below)
    # NumPy's interpolation: from the nearer rank, so that it is exact at both ends.
    if weight >= 0.5:
        return float(np.float64(above) - difference * (1 - weight))
    return float(np.float64(below) + difference * weight)


def value_at_rank(parts: ValueParts, rank: int, low: float, high: float) -> float:
    """The ``rank``-th smallest of the values ``parts()`` gives (NaN-free; all within
    ``low`` .. ``high``), found by narrowing that range to a bin of a histogram of what is left
    in it until few enough values are left to hold, or all of them are one value."""
    below = 0  # values smaller than low
    while True:
        count, smallest, largest = 0, np.inf, -np.inf
        for part in _within(parts, low, high):
            if len(part):
                count += len(part)
                smallest, largest = min(smallest, part.min()), max(largest, part.max())
        if smallest == largest:
            return float(smallest)
        if count <= HELD_VALUES:
            held = np.concatenate(list(_within(parts, low, high)))
            return float(np.partition(held, rank - below)[rank - below])
        edges = np.linspace(smallest, largest, MEDIAN_BINS + 1)
        counts = np.zeros(MEDIAN_BINS, dtype=np.int64)
        for part in _within(parts, low, high):
            counts += np.histogram(part, bins=edges)[0]
        # Bins hold edges[b] <= value < edges[b + 1]: those before the rank's bin are smaller.
        found = int(np.searchsorted(np.cumsum(counts), rank - below, side="right"))
        below += int(counts[:found].sum())
        low, high = edges[found], edges[found + 1]


def _within(parts: ValueParts, low: float, high: float) -> Iterator[np.ndarray]:
    for part in parts():
        yield part[(part >= low) & (part <= high)]
