"""Which end of the body axis is the head: a directed heading per tracked instance.

Detection boxes give an undirected body axis θ in [0, π); the heading is θ or θ + π. With keypoints
named for the head and the tail (``head_node``/``tail_node``, or guessed from common names), the
heading points from tail to head. Without them, it is chosen per track by a two-state Viterbi pass
that follows the direction of travel where the animal moves and keeps the previous choice where it
does not (animals walk forwards far more often than they flip around).
"""

from __future__ import annotations

import numpy as np

HEAD_NAMES = ("head", "nose", "snout", "front", "neck", "thorax")
TAIL_NAMES = ("tail", "tailbase", "tail_base", "abdomen", "back", "rear")
# Cost of flipping the chosen end between consecutive frames, against the alignment with motion.
FLIP_COST = 3.0
# Speeds below this (px/frame) say nothing about which end is in front.
MIN_SPEED = 0.5
# Rows of a track whose headings are worked out at once (see from_motion).
MOTION_ROWS = 2**16


def guess_nodes(nodes: list[str], head: str | None, tail: str | None) -> tuple[int, int] | None:
    """Indices of the head and tail keypoints, from the settings or from common names."""
    lowered = [n.lower() for n in nodes]

    def find(given, names):
        if given is not None:
            return lowered.index(given.lower()) if given.lower() in lowered else None
        for name in names:
            if name in lowered:
                return lowered.index(name)
        return None

    head_index, tail_index = find(head, HEAD_NAMES), find(tail, TAIL_NAMES)
    if head_index is None or tail_index is None or head_index == tail_index:
        return None
    return head_index, tail_index


def from_keypoints(keypoints: np.ndarray, head: int, tail: int) -> np.ndarray:
    """Tail-to-head direction in (-π, π] (NaN where either keypoint is missing)."""
    vector = keypoints[:, head] - keypoints[:, tail]
    return np.arctan2(vector[:, 1], vector[:, 0])


def from_motion(frames: np.ndarray, xy: np.ndarray, axis: np.ndarray) -> np.ndarray:
    """Heading of one track's rows (sorted by frame): its axis, turned to face its travel.

    The Viterbi pass keeps two bits a row; everything else is worked out
    :data:`MOTION_ROWS` rows at a time (a long video's track has millions)."""
    heading = np.full(len(frames), np.nan)
    known = np.flatnonzero(np.isfinite(axis))
    if not len(known):
        return heading
    f, pos, theta = frames[known], xy[known], axis[known]
    n = len(known)
    back = bytearray(2 * n)  # predecessor state of state s at step i: back[2i + s]
    total0 = total1 = 0.0
    for low in range(0, n, MOTION_ROWS):
        high = min(low + MOTION_ROWS, n)
        emit0, emit1 = _emissions(f, pos, theta, low, high)
        if low == 0:
            total0, total1 = emit0[0], emit1[0]
        # Transition cost: how far the directed heading turns, from 0 (none) to FLIP_COST
        # (reversal); step i is from row i - 1 to row i.
        first = max(low, 1)
        cos_turn = np.cos(np.diff(theta[first - 1 : high]))
        keep_list = (FLIP_COST * (1 - cos_turn) / 2).tolist()
        switch_list = (FLIP_COST * (1 + cos_turn) / 2).tolist()
        # Two states only: plain Python floats beat NumPy calls on 2-element arrays by far here.
        for i in range(first, high):
            keep, switch = keep_list[i - first], switch_list[i - first]
            stay0, cross0 = total0 + keep, total1 + switch
            stay1, cross1 = total1 + keep, total0 + switch
            if cross0 < stay0:
                back[2 * i] = 1
                new0 = cross0
            else:
                new0 = stay0
            if cross1 < stay1:
                back[2 * i + 1] = 0
                new1 = cross1
            else:
                back[2 * i + 1] = 1
                new1 = stay1
            total0, total1 = new0 + emit0[i - low], new1 + emit1[i - low]
    state = np.empty(n, dtype=np.int8)
    current = 0 if total0 <= total1 else 1
    state[-1] = current
    for i in range(n - 1, 0, -1):
        current = back[2 * i + current]
        state[i - 1] = current
    for low in range(0, n, MOTION_ROWS):
        directed = theta[low : low + MOTION_ROWS] + np.pi * state[low : low + MOTION_ROWS]
        heading[known[low : low + MOTION_ROWS]] = np.angle(np.exp(1j * directed))
    return heading


def _emissions(f, pos, theta, low: int, high: int) -> tuple[list[float], list[float]]:
    """Cost of each choice (0: θ, 1: θ + π) at rows ``low:high``: misalignment with travel,
    where the animal moves."""
    if len(f) > 1:
        # The velocity at a row comes from its neighbours: the block's are read too.
        start, stop = max(low - 1, 0), min(high + 1, len(f))
        velocity = np.gradient(pos[start:stop], f[start:stop], axis=0)[low - start :][: high - low]
    else:
        velocity = np.zeros((1, 2))
    speed = np.hypot(velocity[:, 0], velocity[:, 1])
    travel = np.arctan2(velocity[:, 1], velocity[:, 0])
    weight = np.clip(speed - MIN_SPEED, 0, None)
    alignment = weight * np.cos(travel - theta[low:high])
    return (-alignment).tolist(), alignment.tolist()
