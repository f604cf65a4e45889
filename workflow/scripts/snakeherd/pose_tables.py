"""Pose results as the common tables: ``poses.parquet`` and, for pose stages that find the
animals themselves, ``detections.parquet``.

The SLEAP stage runs in its own environment and hands over flat numpy arrays (one row per
instance; see :mod:`snakeherd.sleap_inference`); here, in the main environment, they become:

* ``poses``: one row per keypoint — ``video_id, frame, det_id, node, x, y, score`` (NaN x/y for a
  keypoint the model did not find), plus ``instance_score`` and ``identity``;
* ``detections`` (whole-frame pipelines only): one row per instance — ``x, y`` the mean of its
  found keypoints; ``w, h, angle`` the extent of its keypoints along their principal axis and
  across it (``w`` the long side, ``angle`` in [0, π)); ``score`` the instance score; plus
  ``identity`` / ``identity_id`` for multi-class models, whose identity classes are the animals'
  identities.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

from . import io


def read_pose_arrays(path: str | Path) -> tuple[dict[str, np.ndarray], dict]:
    """The arrays and the stage record a pose job wrote (``sleap_inference.write_npz``)."""
    with np.load(path, allow_pickle=False) as data:
        arrays = {key: data[key] for key in data.files if key != "stage"}
        stage = json.loads(str(data["stage"]))
    return arrays, stage


def poses_table(arrays: dict[str, np.ndarray], video_id: str) -> pd.DataFrame:
    """Long-format keypoints: one row per (instance, node)."""
    points = np.asarray(arrays["points"], dtype=np.float64)
    n_instances, n_nodes = points.shape[:2] if points.ndim == 3 else (0, len(arrays["node_names"]))
    nodes = [str(n) for n in arrays["node_names"]]
    return pd.DataFrame(
        {
            "video_id": video_id,
            "frame": np.repeat(np.asarray(arrays["frame"], dtype=np.int64), n_nodes),
            "det_id": np.repeat(np.asarray(arrays["det_id"], dtype=np.int64), n_nodes),
            "node": np.tile(np.asarray(nodes, dtype=object), n_instances),
            "x": points[..., 0].reshape(-1),
            "y": points[..., 1].reshape(-1),
            "score": np.asarray(arrays["point_scores"], dtype=np.float64).reshape(-1),
            "instance_score": np.repeat(np.asarray(arrays["instance_score"], np.float64), n_nodes),
            "identity": np.repeat(np.asarray(arrays["identity"], dtype=object), n_nodes),
        }
    )


def keypoint_box(points: np.ndarray) -> tuple[float, float, float, float, float]:
    """``x, y, w, h, angle`` of one instance's found keypoints (NaN rows ignored).

    ``x, y`` is their mean; the box is aligned with their principal axis, ``w`` its extent along
    that axis (the long side), ``h`` across it, ``angle`` the axis direction in [0, π). With one
    keypoint the box has no extent; with none every value is NaN.
    """
    found = points[~np.isnan(points).any(axis=1)]
    if len(found) == 0:
        return (math.nan,) * 5
    centre = found.mean(axis=0)
    if len(found) == 1:
        return float(centre[0]), float(centre[1]), 0.0, 0.0, 0.0
    centred = found - centre
    _, _, axes = np.linalg.svd(centred, full_matrices=False)
    major = axes[0]
    along = centred @ major
    across = centred @ np.array([-major[1], major[0]])
    angle = math.atan2(major[1], major[0]) % math.pi
    if math.isclose(angle, math.pi):
        angle = 0.0
    return (
        float(centre[0]),
        float(centre[1]),
        float(np.ptp(along)),
        float(np.ptp(across)),
        float(angle),
    )


def detections_table(arrays: dict[str, np.ndarray], video_id: str) -> pd.DataFrame:
    """One detection per instance with at least one found keypoint."""
    points = np.asarray(arrays["points"], dtype=np.float64)
    identities = [str(i) for i in arrays["identity"]]
    names = sorted({i for i in identities if i})
    rows = []
    for index in range(len(points)):
        x, y, w, h, angle = keypoint_box(points[index])
        if math.isnan(x):
            continue
        identity = identities[index]
        rows.append(
            {
                "video_id": video_id,
                "frame": int(arrays["frame"][index]),
                "det_id": int(arrays["det_id"][index]),
                "x": x,
                "y": y,
                "w": w,
                "h": h,
                "angle": angle,
                "score": float(arrays["instance_score"][index]),
                "class_id": 0,
                "identity": identity,
                "identity_id": names.index(identity) if identity else -1,
                "keypoints_found": int((~np.isnan(points[index]).any(axis=1)).sum()),
            }
        )
    columns = [*io.CORE_COLUMNS["detections"], "identity", "identity_id", "keypoints_found"]
    return pd.DataFrame(rows, columns=columns)


def crop_boxes(detections: pd.DataFrame) -> dict[str, np.ndarray]:
    """The detection boxes a pose-on-crops stage needs, as plain arrays (no pyarrow there)."""
    return {
        "frame": detections["frame"].to_numpy(np.int64),
        "det_id": detections["det_id"].to_numpy(np.int64),
        "x": detections["x"].to_numpy(np.float64),
        "y": detections["y"].to_numpy(np.float64),
        "w": detections["w"].to_numpy(np.float64),
        "score": detections["score"].to_numpy(np.float64),
    }
