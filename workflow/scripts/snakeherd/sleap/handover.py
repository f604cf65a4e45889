"""The arrays the SLEAP environment and the main environment hand each other, as ``.npz`` files.

Numpy only, so it imports in both environments: the SLEAP stage writes its instances with
:func:`write_pose_arrays` (one row per instance, plus the stage record), the main environment
reads them with :func:`read_pose_arrays`; the other way, the main environment writes the boxes a
pose-on-crops run needs with :func:`write_crop_boxes` and the SLEAP stage reads them with
:func:`read_crop_boxes`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

CROP_BOX_FIELDS = ("frame", "det_id", "x", "y", "w", "score")


@dataclass
class PoseArrays:
    """Instances of many frames, flat: one row per instance."""

    node_names: list[str]
    frame: list[int] = field(default_factory=list)
    det_id: list[int] = field(default_factory=list)
    points: list[np.ndarray] = field(default_factory=list)
    point_scores: list[np.ndarray] = field(default_factory=list)
    instance_score: list[float] = field(default_factory=list)
    identity: list[str] = field(default_factory=list)

    def add(self, frame, det_id, points, point_scores, score, identity="") -> None:
        self.frame.append(int(frame))
        self.det_id.append(int(det_id))
        self.points.append(np.asarray(points, dtype=np.float64).reshape(-1, 2))
        self.point_scores.append(np.asarray(point_scores, dtype=np.float64).reshape(-1))
        self.instance_score.append(float(score))
        self.identity.append(identity or "")

    def arrays(self) -> dict[str, np.ndarray]:
        n_nodes = len(self.node_names)
        return {
            "frame": np.asarray(self.frame, dtype=np.int64),
            "det_id": np.asarray(self.det_id, dtype=np.int64),
            "points": (np.stack(self.points) if self.points else np.zeros((0, n_nodes, 2))).astype(
                np.float64
            ),
            "point_scores": (
                np.stack(self.point_scores) if self.point_scores else np.zeros((0, n_nodes))
            ).astype(np.float64),
            "instance_score": np.asarray(self.instance_score, dtype=np.float64),
            "identity": np.asarray(self.identity, dtype=str),
            "node_names": np.asarray(self.node_names, dtype=str),
        }


def write_pose_arrays(arrays: PoseArrays | dict[str, np.ndarray], stage: dict, path) -> None:
    """The stage's result for the main environment (atomic): a :class:`PoseArrays` or its
    :meth:`PoseArrays.arrays` (as :func:`read_pose_arrays` returns them)."""
    if isinstance(arrays, PoseArrays):
        arrays = arrays.arrays()
    path = Path(path)
    temporary = path.with_name(f".{path.name}.tmp.npz")
    np.savez(temporary, stage=np.asarray(json.dumps(stage, sort_keys=True)), **arrays)
    temporary.replace(path)


def read_pose_arrays(path: str | Path) -> tuple[dict[str, np.ndarray], dict]:
    """The arrays and the stage record a pose job wrote (:func:`write_pose_arrays`)."""
    with np.load(path, allow_pickle=False) as data:
        arrays = {key: data[key] for key in data.files if key != "stage"}
        stage = json.loads(str(data["stage"]))
    return arrays, stage


def write_crop_boxes(boxes: dict[str, np.ndarray], path: str | Path) -> None:
    """The detection boxes of a pose-on-crops run (:data:`CROP_BOX_FIELDS`)."""
    np.savez(path, **{key: boxes[key] for key in CROP_BOX_FIELDS})


def read_crop_boxes(path: str | Path) -> dict[str, np.ndarray]:
    """The detection boxes the crop mode needs (written by the main environment)."""
    with np.load(path, allow_pickle=False) as data:
        return {key: data[key] for key in CROP_BOX_FIELDS}
