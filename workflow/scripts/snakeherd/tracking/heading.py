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
    """Heading of one track's rows (sorted by frame): its axis, turned to face its travel."""
    n = len(frames)
    heading = np.full(n, np.nan)
    known = np.flatnonzero(np.isfinite(axis))
    if not len(known):
        return heading
    f, pos, theta = frames[known], xy[known], axis[known]
    velocity = np.gradient(pos, f, axis=0) if len(known) > 1 else np.zeros((1, 2))
    speed = np.hypot(velocity[:, 0], velocity[:, 1])
    travel = np.arctan2(velocity[:, 1], velocity[:, 0])
    # Emission cost of each choice (0: θ, 1: θ + π): misalignment with travel, where moving.
    weight = np.clip(speed - MIN_SPEED, 0, None)
    emission = np.stack(
        [-weight * np.cos(travel - theta), weight * np.cos(travel - theta)], axis=1
    )
    # Transition cost: how far the directed heading turns, from 0 (none) to FLIP_COST (reversal).
    cos_turn = np.cos(np.diff(theta))
    keep_cost = FLIP_COST * (1 - cos_turn) / 2
    switch_cost = FLIP_COST * (1 + cos_turn) / 2
    total = emission[0].copy()
    back = np.zeros((len(theta), 2), dtype=np.int64)
    for i in range(1, len(theta)):
        stay = total + keep_cost[i - 1]  # previous state s -> same s
        cross = total[::-1] + switch_cost[i - 1]  # previous state 1-s -> s
        from_other = cross < stay
        back[i] = np.where(from_other, [1, 0], [0, 1])
        total = np.where(from_other, cross, stay) + emission[i]
    state = np.empty(len(theta), dtype=np.int64)
    state[-1] = int(np.argmin(total))
    for i in range(len(theta) - 1, 0, -1):
        state[i - 1] = back[i, state[i]]
    directed = theta + np.pi * state
    heading[known] = np.angle(np.exp(1j * directed))
    return heading
