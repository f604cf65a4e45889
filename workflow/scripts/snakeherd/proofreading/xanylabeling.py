"""Suspect frames for X-AnyLabeling: a folder of images, each with the labelling tool's JSON
beside it, and those JSONs read back as boxes and keypoints.

One image ``<video>-<frame>.png`` and one ``<video>-<frame>.json`` per suspect frame, in the
tool's own format (``version``, ``flags``, ``shapes``, ``imagePath``, ``imageData`` null,
``imageHeight``, ``imageWidth``). Each track on the frame is a ``rotation`` shape (its oriented
box: four corners, the first edge along the body axis towards the head, so ``direction`` — the
angle of that edge, radians in [0, 2π), image y down, as X-AnyLabeling computes it — is the axis
pointing where the animal heads; without a heading, the axis as the detector gave it) and
one ``point`` shape per visible keypoint (label = the node's name); all of a track's shapes have
``group_id`` = its track id and keep their ``score``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputFileError

FORMAT_VERSION = "2.4.4"  # the X-AnyLabeling release whose JSON layout this follows
BOX_LABEL = "animal"


def corners(x: float, y: float, length: float, width: float, direction: float) -> list:
    """The four corners of a box centred at (x, y), ``length`` along ``direction`` (rad), the
    first edge running along it."""
    along = np.array([math.cos(direction), math.sin(direction)])
    across = np.array([-along[1], along[0]])
    centre = np.array([x, y])
    signs = ((-1, -1), (1, -1), (1, 1), (-1, 1))
    return [(centre + a * along * length / 2 + b * across * width / 2).tolist() for a, b in signs]


def frame_json(
    rows: pd.DataFrame, nodes: list[str], image_name: str, size: tuple[int, int]
) -> dict:
    """The X-AnyLabeling document of one frame's track rows (with ``w``, ``h`` box sides)."""
    shapes = []
    for row in rows.to_dict("records"):
        # The box's own axis, pointing to the head end when the heading is known.
        direction = row["angle"]
        if np.isfinite(row.get("heading", np.nan)) and math.cos(row["heading"] - direction) < 0:
            direction += math.pi
        direction = float(np.mod(direction, 2 * math.pi))
        score = None if not np.isfinite(row["score"]) else float(row["score"])
        shapes.append(
            _shape(BOX_LABEL, "rotation", corners(row["x"], row["y"], row["w"], row["h"],
                   direction), int(row["track_id"]), score, direction=direction)
        )  # fmt: skip
        for node in nodes:
            x, y = row[f"{node}.x"], row[f"{node}.y"]
            if not (np.isfinite(x) and np.isfinite(y)):
                continue
            point_score = row[f"{node}.score"]
            shapes.append(
                _shape(node, "point", [[float(x), float(y)]], int(row["track_id"]),
                       float(point_score) if np.isfinite(point_score) else None)
            )  # fmt: skip
    return {
        "version": FORMAT_VERSION,
        "flags": {},
        "shapes": shapes,
        "imagePath": image_name,
        "imageData": None,
        "imageHeight": int(size[1]),
        "imageWidth": int(size[0]),
    }


def _shape(label, kind, points, group_id, score, **extra) -> dict:
    return {
        "label": label,
        "score": score,
        "points": points,
        "group_id": group_id,
        "description": "",
        "difficult": False,
        "shape_type": kind,
        "flags": {},
        "attributes": {},
        **extra,
    }


def box_sides(tracks: pd.DataFrame, detections: pd.DataFrame) -> pd.DataFrame:
    """``tracks`` with the box sides ``w``, ``h`` of the detection each row took; a filled-in
    row gets its track's median sides."""
    sides = detections[["frame", "det_id", "w", "h"]]
    joined = tracks.merge(sides, on=["frame", "det_id"], how="left")
    for side in ("w", "h"):
        typical = joined.groupby("track_id")[side].transform("median")
        joined[side] = joined[side].fillna(typical).fillna(1.0)
    return joined


def write_folder(
    tracks: pd.DataFrame,
    detections: pd.DataFrame,
    frames: list[int],
    video: str,
    folder: str,
    video_id: str,
    nodes: list[str],
) -> int:
    """Write ``folder`` with one image and one JSON per frame of ``frames``; returns how many."""
    import cv2

    from ..video import VideoReader, probe

    target = Path(folder)
    target.mkdir(parents=True, exist_ok=True)
    info = probe(video)
    rows = box_sides(tracks, detections)
    wanted = sorted({int(f) for f in frames})
    with VideoReader(video, grayscale=False) as reader:
        for frame in wanted:
            stem = f"{video_id}-{frame}"
            image = reader.read(frame)
            if not cv2.imwrite(str(target / f"{stem}.png"), image):
                raise OSError(f"could not write {target / f'{stem}.png'}")
            document = frame_json(
                rows[rows["frame"] == frame], nodes, f"{stem}.png", (info.width, info.height)
            )
            (target / f"{stem}.json").write_text(json.dumps(document, indent=1))
    return len(wanted)


def read_folder(folder: str, video_id: str) -> pd.DataFrame:
    """The boxes and keypoints of a folder of X-AnyLabeling JSONs (as written by
    :func:`write_folder`, corrected or not): one row per group (track) and frame, with ``frame``,
    ``track_id``, ``x``, ``y``, ``w``, ``h``, ``angle`` (body axis in [0, π)), ``heading`` (the
    box's direction, in (−π, π]), ``score`` and ``<node>.x/.y/.score`` per point label."""
    rows = {}
    paths = sorted(Path(folder).glob(f"{video_id}-*.json"))
    if not paths:
        raise InputFileError(
            f"{folder} holds no X-AnyLabeling files of video {video_id} ({video_id}-<frame>.json).",
            "point the video's proofread entry at the folder the export wrote, with its JSONs.",
        )
    for path in paths:
        frame_text = path.stem[len(video_id) + 1 :]
        if not frame_text.isdigit():
            raise InputFileError(
                f"{path}: the name does not end in a frame number.",
                f"keep the exported names, {video_id}-<frame>.json.",
            )
        frame = int(frame_text)
        try:
            document = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as error:
            raise InputFileError(
                f"{path} cannot be read: {error}", "save it again from X-AnyLabeling."
            ) from None
        for shape in document.get("shapes", []):
            group = shape.get("group_id")
            if group is None:
                raise InputFileError(
                    f"{path}: a '{shape.get('label')}' shape has no group id (track).",
                    "give every shape the group id of its animal's track.",
                )
            row = rows.setdefault((frame, int(group)), {"frame": frame, "track_id": int(group)})
            points = np.asarray(shape["points"], dtype=float)
            if shape.get("shape_type") == "rotation":
                row.update(_box_of(points, shape.get("score")))
            elif shape.get("shape_type") == "point":
                label = shape["label"]
                row[f"{label}.x"], row[f"{label}.y"] = points[0]
                row[f"{label}.score"] = (
                    np.nan if shape.get("score") is None else float(shape["score"])
                )
    table = pd.DataFrame(list(rows.values()))
    return table.sort_values(["frame", "track_id"], kind="stable").reset_index(drop=True)


def _box_of(points: np.ndarray, score) -> dict:
    along = points[1] - points[0]
    direction = math.atan2(along[1], along[0])
    return {
        "x": float(points.mean(axis=0)[0]),
        "y": float(points.mean(axis=0)[1]),
        "w": float(np.hypot(*along)),
        "h": float(np.hypot(*(points[3] - points[0]))),
        "angle": float(np.mod(direction, math.pi)),
        "heading": float(math.atan2(math.sin(direction), math.cos(direction))),
        "score": np.nan if score is None else float(score),
    }
