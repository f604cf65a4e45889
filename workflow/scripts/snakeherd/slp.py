"""SLEAP files (.slp) in and out, through sleap-io.

In: an existing predictions file becomes the two tables every tracker input has —
``detections`` (one row per instance: ``x, y`` the mean of its visible keypoints, ``w, h, angle``
the extent and direction of the keypoints' principal axis, ``score`` the instance score) and the
long ``poses`` table — so a track-only run tracks exactly what a detection and pose stage would
have produced. Track assignments already in the file are ignored.

Out: tracks as a SLEAP labels file (one ``Track`` per track id, predicted instances with the
pose stage's skeleton), which SLEAP opens over the video for proofreading.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import InputFileError

# Skeleton of tracks that have no keypoints (detection boxes only): the box centre.
CENTROID_NODE = "centroid"


@dataclass
class Predictions:
    """What a predictions file holds for one video, as snakeherd tables."""

    detections: pd.DataFrame
    poses: pd.DataFrame
    nodes: list[str]
    edges: list[tuple[str, str]]
    video_path: str | None
    n_frames: int | None
    provenance: dict = field(default_factory=dict)


def _sleap_io():
    try:
        import sleap_io
    except ImportError as error:
        raise InputFileError(
            "reading and writing SLEAP files needs sleap-io, which is not installed.",
            "`pip install sleap-io` in the workflow's environment (requirements/demo.txt).",
        ) from error
    return sleap_io


def _load(path: str):
    sio = _sleap_io()
    if not Path(path).is_file():
        raise InputFileError(
            f"predictions file not found: {path}",
            "fix the `predictions` path of this video in the config or sample sheet.",
        )
    try:
        return sio.load_slp(path, open_videos=False)
    except Exception as error:  # h5py and sleap-io raise many types for a damaged file
        raise InputFileError(
            f"predictions file {path} cannot be read as a SLEAP file: {error}",
            "give a .slp file saved by SLEAP or sleap-nn (File > Save As in SLEAP).",
        ) from None


def _pick_video(labels, path: str, video_path: str | None):
    videos = list(labels.videos)
    if not videos:
        raise InputFileError(f"predictions file {path} names no video.", "re-export it from SLEAP.")
    if len(videos) == 1:
        return videos[0]
    if video_path is not None:
        wanted = Path(video_path).name
        named = [v for v in videos if Path(str(v.filename)).name == wanted]
        if len(named) == 1:
            return named[0]
    names = ", ".join(Path(str(v.filename)).name for v in videos)
    raise InputFileError(
        f"predictions file {path} holds several videos ({names}) and none is singled out by the "
        "video entry's `path`.",
        "set the video entry's `path` to the video (its file name picks it), or split the file "
        "per video in SLEAP.",
    )


def keypoint_geometry(points: np.ndarray) -> tuple[np.ndarray, ...]:
    """Centre, long side, short side and axis angle in [0, π) of keypoint sets (n, K, 2).

    The axis is the keypoints' principal direction; the sides are their extents along it and
    across it. Instances with fewer than two visible keypoints get NaN sides and angle.
    """
    visible = np.isfinite(points).all(axis=2)
    count = visible.sum(axis=1)
    filled = np.where(visible[..., None], points, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        centre = filled.sum(axis=1) / count[:, None]
    offsets = np.where(visible[..., None], points - centre[:, None, :], 0.0)
    sxx = (offsets[..., 0] ** 2).sum(axis=1)
    syy = (offsets[..., 1] ** 2).sum(axis=1)
    sxy = (offsets[..., 0] * offsets[..., 1]).sum(axis=1)
    angle = np.mod(0.5 * np.arctan2(2 * sxy, sxx - syy), np.pi)
    along = offsets[..., 0] * np.cos(angle)[:, None] + offsets[..., 1] * np.sin(angle)[:, None]
    across = -offsets[..., 0] * np.sin(angle)[:, None] + offsets[..., 1] * np.cos(angle)[:, None]

    def extent(values):
        high = np.where(visible, values, -np.inf).max(axis=1)
        low = np.where(visible, values, np.inf).min(axis=1)
        return high - low

    long_side, short_side = extent(along), extent(across)
    few = count < 2
    long_side[few] = short_side[few] = angle[few] = np.nan
    return centre, long_side, short_side, angle


def read_predictions(
    path: str, video_id: str, video_path: str | None = None, frames: np.ndarray | None = None
) -> Predictions:
    """The instances of a predictions .slp as detections and poses tables (tracks ignored).

    ``frames`` (sorted frame indices) restricts which frames are read; ``video_path`` picks the
    video in a multi-video file.
    """
    labels = _load(path)
    video = _pick_video(labels, path, video_path)
    skeletons = list(labels.skeletons)
    if not skeletons:
        raise InputFileError(f"predictions file {path} has no skeleton.", "re-export it from SLEAP.")
    skeleton = skeletons[0]
    nodes = [str(name) for name in skeleton.node_names]
    edges = [(str(a), str(b)) for a, b in skeleton.edge_names]
    wanted = None if frames is None else set(int(f) for f in frames)

    frame_list, det_list, score_list, point_list, point_score_list = [], [], [], [], []
    for labeled in labels.labeled_frames:
        if labeled.video is not video:
            continue
        frame_idx = int(labeled.frame_idx)
        if wanted is not None and frame_idx not in wanted:
            continue
        det_id = 0
        for instance in labeled.instances:
            if instance.skeleton is not skeleton:
                continue
            points = instance.numpy()[:, :2].astype(np.float64)
            if not np.isfinite(points).all(axis=1).any():
                continue
            score = getattr(instance, "score", None)
            names = instance.points.dtype.names or ()
            frame_list.append(frame_idx)
            det_list.append(det_id)
            score_list.append(float(score) if score is not None else 1.0)
            point_list.append(points)
            point_score_list.append(
                np.asarray(instance.points["score"], dtype=np.float64)
                if "score" in names
                else np.ones(len(nodes))
            )
            det_id += 1
    if not point_list:
        raise InputFileError(
            f"predictions file {path} has no instances"
            + (" in the selected frames" if frames is not None else "")
            + f" of video {Path(str(video.filename)).name}.",
            "check the file in SLEAP (it should hold predicted instances) and the video's "
            "`frames` selection.",
        )
    points = np.stack(point_list)
    point_scores = np.stack(point_score_list)
    centre, long_side, short_side, angle = keypoint_geometry(points)
    detections = pd.DataFrame(
        {
            "video_id": video_id,
            "frame": np.asarray(frame_list, dtype=np.int64),
            "det_id": np.asarray(det_list, dtype=np.int64),
            "x": centre[:, 0],
            "y": centre[:, 1],
            "w": long_side,
            "h": short_side,
            "angle": angle,
            "score": np.asarray(score_list, dtype=np.float64),
            "class_id": np.zeros(len(frame_list), dtype=np.int64),
            "visible_points": np.isfinite(points).all(axis=2).sum(axis=1).astype(np.int64),
        }
    ).sort_values(["frame", "det_id"], kind="stable")
    n, k = points.shape[:2]
    poses = pd.DataFrame(
        {
            "video_id": video_id,
            "frame": np.repeat(np.asarray(frame_list, dtype=np.int64), k),
            "det_id": np.repeat(np.asarray(det_list, dtype=np.int64), k),
            "node": np.tile(np.asarray(nodes, dtype=object), n),
            "x": points[:, :, 0].ravel(),
            "y": points[:, :, 1].ravel(),
            "score": point_scores.ravel(),
        }
    ).sort_values(["frame", "det_id"], kind="stable")
    n_frames = None
    try:
        shape = video.shape
        n_frames = int(shape[0]) if shape is not None else None
    except Exception:  # the video file may be absent: its length is then unknown
        n_frames = None
    return Predictions(
        detections=detections.reset_index(drop=True),
        poses=poses.reset_index(drop=True),
        nodes=nodes,
        edges=edges,
        video_path=str(video.filename),
        n_frames=n_frames,
    )

