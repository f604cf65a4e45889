"""Pose results as the common tables: ``poses.parquet`` and, for pose stages that find the
animals themselves, ``detections.parquet``.

The SLEAP stage runs in its own environment and hands over flat numpy arrays (one row per
instance; see :mod:`.handover`); here, in the main environment, they become:

* ``poses``: one row per keypoint — ``video_id, frame, det_id, node, x, y, score`` (NaN x/y for a
  keypoint the model did not find), plus ``instance_score`` and ``identity``;
* ``detections`` (whole-frame pipelines only): one row per instance — ``x, y`` the mean of its
  found keypoints; ``w, h, angle`` the extent of its keypoints along their principal axis and
  across it (``w`` the long side, ``angle`` in [0, π); :mod:`snakeherd.keypoints`); ``score``
  the instance score; plus
  ``identity`` / ``identity_id`` for multi-class models, whose identity classes are the animals'
  identities.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..keypoints import keypoint_boxes


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


def detections_table(arrays: dict[str, np.ndarray], video_id: str) -> pd.DataFrame:
    """One detection per instance with at least one found keypoint."""
    points = np.asarray(arrays["points"], dtype=np.float64)
    centre, long_side, short_side, angle = keypoint_boxes(points)
    found = np.isfinite(centre).all(axis=1)
    identities = np.asarray([str(i) for i in arrays["identity"]], dtype=object)
    names = sorted({i for i in identities if i})
    identity_ids = np.asarray([names.index(i) if i else -1 for i in identities], dtype=np.int64)
    table = pd.DataFrame(
        {
            "video_id": video_id,
            "frame": np.asarray(arrays["frame"], dtype=np.int64),
            "det_id": np.asarray(arrays["det_id"], dtype=np.int64),
            "x": centre[:, 0],
            "y": centre[:, 1],
            "w": long_side,
            "h": short_side,
            "angle": angle,
            "score": np.asarray(arrays["instance_score"], dtype=np.float64),
            "class_id": np.zeros(len(points), dtype=np.int64),
            "identity": identities,
            "identity_id": identity_ids,
            "keypoints_found": np.isfinite(points).all(axis=2).sum(axis=1).astype(np.int64),
        }
    )
    return table[found].reset_index(drop=True)


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
