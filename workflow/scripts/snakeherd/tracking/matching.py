"""Assigning detections to tracks from a cost matrix: Hungarian (optimal) or greedy.

Both take a (tracks × detections) cost matrix whose forbidden pairs (outside the gate) are
``inf``, and return matched (track, detection) index pairs. Every allowed pair is preferred to
leaving both unmatched, so the Hungarian solution has the most matches possible and, among those,
the least total cost.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment


def hungarian(cost: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Optimal assignment of allowed pairs (scipy's ``linear_sum_assignment``)."""
    allowed = np.isfinite(cost)
    if not allowed.any():
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    # Shifting allowed costs below zero and setting forbidden ones to zero makes a forbidden pair
    # equivalent to no match, while each allowed match lowers the total: the solver maximises the
    # number of matches first, then minimises their cost.
    shifted = np.where(allowed, cost - (cost[allowed].max() + 1.0) * (1 + allowed.sum()), 0.0)
    rows, cols = linear_sum_assignment(shifted)
    keep = allowed[rows, cols]
    return rows[keep], cols[keep]


def greedy(cost: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Repeatedly take the cheapest allowed pair whose track and detection are both free."""
    flat = np.flatnonzero(np.isfinite(cost))
    if not len(flat):
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    order = flat[np.argsort(cost.flat[flat], kind="stable")]
    n_cols = cost.shape[1]
    used_rows: set[int] = set()
    used_cols: set[int] = set()
    rows, cols = [], []
    for index in order:
        row, col = divmod(int(index), n_cols)
        if row in used_rows or col in used_cols:
            continue
        used_rows.add(row)
        used_cols.add(col)
        rows.append(row)
        cols.append(col)
    return np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64)


MATCHERS = {"hungarian": hungarian, "greedy": greedy}
