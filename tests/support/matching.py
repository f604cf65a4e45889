"""Two runs of the same frames compared: boxes matched by detection, instances matched by their
keypoints (per frame, Hungarian on the mean keypoint distance)."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment


def box_differences(reference: pd.DataFrame, other: pd.DataFrame) -> dict:
    """Largest differences between two runs' detections of the same frames: centre (px), angle
    (rad, modulo pi) and score, over the boxes both have (matched on frame and det_id)."""
    merged = reference.merge(other, on=["frame", "det_id"], suffixes=("", "_other"))
    centre = np.hypot(merged["x"] - merged["x_other"], merged["y"] - merged["y_other"])
    angle = np.abs(
        np.remainder(merged["angle"] - merged["angle_other"] + np.pi / 2, np.pi) - np.pi / 2
    )
    score = np.abs(merged["score"] - merged["score_other"])
    return {
        "matched": len(merged),
        "centre_px": float(centre.max()),
        "angle_rad": float(angle.max()),
        "score": float(score.max()),
    }


def slp_instances(path: str | Path) -> dict[int, np.ndarray]:
    """Per frame: the (instances, nodes, 2) keypoints of a .slp (read with sleap-io)."""
    import sleap_io

    labels = sleap_io.load_slp(str(path))
    return {
        lf.frame_idx: np.stack([i.numpy() for i in lf.instances])
        if lf.instances
        else np.zeros((0, len(labels.skeletons[0].nodes), 2))
        for lf in labels.labeled_frames
    }


def matched_instances(
    first: dict[int, np.ndarray], second: dict[int, np.ndarray]
) -> tuple[list[tuple[int, np.ndarray, np.ndarray]], int]:
    """Instances of two runs paired per frame (frame -> (instances, nodes, 2) keypoints each):
    ``(frame, first's keypoints, second's keypoints)`` per pair, and how many instances found no
    partner (a frame one run lacks counts as one without instances)."""
    pairs, unmatched = [], 0
    for frame in sorted(set(first) | set(second)):
        a = first.get(frame, np.empty((0, 0, 2)))
        b = second.get(frame, np.empty((0, 0, 2)))
        unmatched += abs(len(a) - len(b))
        if not len(a) or not len(b):
            continue
        distance = np.linalg.norm(a[:, None] - b[None], axis=-1)  # (len(a), len(b), nodes)
        with warnings.catch_warnings():  # an instance with no visible keypoint has no mean
            warnings.simplefilter("ignore", RuntimeWarning)
            cost = np.nan_to_num(np.nanmean(distance, axis=-1), nan=1e6)
        for i, j in zip(*linear_sum_assignment(cost), strict=True):
            pairs.append((frame, a[i], b[j]))
    return pairs, unmatched


def keypoint_differences(
    first: dict[int, np.ndarray], second: dict[int, np.ndarray]
) -> tuple[np.ndarray, int]:
    """Absolute x and y differences of the keypoints of matched instances, and the unmatched
    count. Both runs must cover the same frames and matched instances see the same keypoints."""
    assert set(first) == set(second)
    pairs, unmatched = matched_instances(first, second)
    differences = []
    for frame, a, b in pairs:
        assert (np.isnan(a) == np.isnan(b)).all(), f"visibility differs in {frame}"
        differences.append(np.abs(a - b)[~np.isnan(a)])
    return np.concatenate(differences), unmatched


def assert_same_rows(whole: pd.DataFrame, chunked: pd.DataFrame, keys: list[str]) -> None:
    """Same rows, integer columns equal, coordinates within 1e-4 px."""
    assert list(chunked.columns) == list(whole.columns)
    assert len(chunked) == len(whole) > 0
    assert chunked[keys].equals(whole[keys])  # the same rows in the same (frame) order
    for name in whole.columns:
        if pd.api.types.is_float_dtype(whole[name]):
            np.testing.assert_allclose(chunked[name], whole[name], atol=1e-4, err_msg=name)
        else:
            assert chunked[name].equals(whole[name]), name
