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

import hashlib
import json
import math
from pathlib import Path, PureWindowsPath

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


def box_sides(
    tracks: pd.DataFrame, detections: pd.DataFrame, every_row: pd.DataFrame | None = None
) -> pd.DataFrame:
    """``tracks`` with the box sides ``w``, ``h`` of the detection each row took; a filled-in
    row gets its track's median sides, over ``every_row`` (``frame, track_id, det_id`` of the
    whole tracks table; default ``tracks``: when these are some rows of it)."""
    sides = detections[["frame", "det_id", "w", "h"]]
    joined = tracks.merge(sides, on=["frame", "det_id"], how="left")
    whole = joined if every_row is None else every_row.merge(sides, on=["frame", "det_id"])
    for side in ("w", "h"):
        typical = joined["track_id"].map(whole.groupby("track_id")[side].median())
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
    every_row: pd.DataFrame | None = None,
) -> int:
    """Write ``folder`` with one image and one JSON per frame of ``frames``; returns how many.
    ``tracks`` may be the rows of those frames alone, with ``every_row`` (see
    :func:`box_sides`)."""
    import cv2

    from ..video import VideoReader, probe

    target = Path(folder)
    target.mkdir(parents=True, exist_ok=True)
    info = probe(video)
    rows = box_sides(tracks, detections, every_row)
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


FOLDER_FIX = (
    "point the video's proofread entry at the folder xanylabeling_export wrote for this video, "
    "with the JSONs saved in X-AnyLabeling (names <video>-<frame>.json, as exported)"
)


def documents(folder: str, video_id: str) -> list[tuple[Path, int]]:
    """The JSONs of ``folder`` with their frames, checked by name only (cheap enough for
    config time): there are some, and each is ``<video_id>-<frame>.json``."""
    paths = sorted(Path(folder).glob("*.json"))
    if not paths:
        raise InputFileError(f"{folder} holds no X-AnyLabeling JSON files.", FOLDER_FIX + ".")
    found = []
    for path in paths:
        frame_text = path.stem[len(video_id) + 1 :]
        if not path.stem.startswith(f"{video_id}-") or not frame_text.isdigit():
            raise InputFileError(
                f"{path} is not a frame of video {video_id} (its JSONs are named "
                f"{video_id}-<frame>.json).",
                FOLDER_FIX + "; move other videos' or renamed files out of it.",
            )
        found.append((path, int(frame_text)))
    return found


def read_folder(
    folder: str, video_id: str, nodes: list[str] | None = None, n_frames: int | None = None
) -> pd.DataFrame:
    """The boxes and keypoints of a folder of X-AnyLabeling JSONs (as written by
    :func:`write_folder`, corrected or not): one row per group (track) and frame, with ``frame``,
    ``track_id``, ``x``, ``y``, ``w``, ``h``, ``angle`` (body axis in [0, π)), ``heading`` (the
    box's direction, in (−π, π]), ``score`` and ``<node>.x/.y/.score`` per point label (NaN
    where a group has no box or lacks the point).

    Checked, each with the file named: names and ``imagePath`` of this video, frames within
    ``n_frames``, point labels among ``nodes`` (when given), readable JSON, a group id on every
    shape and only the shapes the export writes (``rotation`` boxes, ``point`` keypoints)."""
    rows = {}
    for path, frame in documents(folder, video_id):
        if n_frames is not None and not 0 <= frame < n_frames:
            raise InputFileError(
                f"{path} is frame {frame}; video {video_id} has frames 0-{n_frames - 1}.",
                FOLDER_FIX + ", of this video's frames.",
            )
        try:
            document = json.loads(path.read_text())
            shapes = document["shapes"]
            if not isinstance(shapes, list) or not all(isinstance(s, dict) for s in shapes):
                raise TypeError("'shapes' is not a list of shapes")
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as error:
            raise InputFileError(
                f"{path} cannot be read as an X-AnyLabeling file: {error!r}",
                "save the frame again from X-AnyLabeling, or delete the JSON to keep its "
                "predictions.",
            ) from None
        # A Windows save writes backslashes; the name is what tells the frame.
        image = PureWindowsPath(str(document.get("imagePath") or "")).name
        if Path(image).stem != path.stem:
            raise InputFileError(
                f"{path} labels the image {image!r}, not {path.stem}.<ext>: the JSON was "
                "renamed or is of another frame or video.",
                FOLDER_FIX + "; keep each JSON with the name of its image.",
            )
        for shape in shapes:
            _read_shape(shape, path, frame, nodes, rows)
    table = pd.DataFrame(list(rows.values()))
    if table.empty:
        table = pd.DataFrame(columns=["frame", "track_id"])
    for column in ("x", "y", "w", "h", "angle", "heading", "score"):
        if column not in table:
            table[column] = np.nan
    return table.sort_values(["frame", "track_id"], kind="stable").reset_index(drop=True)


def _read_shape(shape, path: Path, frame: int, nodes: list[str] | None, rows: dict) -> None:
    label, kind, group = shape.get("label"), shape.get("shape_type"), shape.get("group_id")
    if group is None:
        raise InputFileError(
            f"{path}: a '{label}' shape has no group id (track).",
            "give every shape the group id of its animal's track.",
        )
    if kind not in ("rotation", "point"):
        raise InputFileError(
            f"{path}: the '{label}' shape is a {kind}; boxes are read as rotation shapes and "
            "keypoints as point shapes.",
            "draw the animal's box as a rotated box (X-AnyLabeling's rotation tool), or delete "
            "the shape.",
        )
    if kind == "point" and nodes is not None and label not in nodes:
        raise InputFileError(
            f"{path}: the point '{label}' is not a keypoint of the video's skeleton "
            f"{list(nodes) or '(none: the tracks are boxes only)'}.",
            "label points with the skeleton's node names, as exported, or delete the point.",
        )
    try:
        points = np.asarray(shape["points"], dtype=float).reshape(-1, 2)
        key = (frame, int(group))
    except (KeyError, TypeError, ValueError) as error:
        raise InputFileError(
            f"{path}: the '{label}' shape cannot be read: {error!r}",
            "save the frame again from X-AnyLabeling.",
        ) from None
    if len(points) != (4 if kind == "rotation" else 1):
        raise InputFileError(
            f"{path}: the '{label}' {kind} shape has {len(points)} points, not "
            f"{4 if kind == 'rotation' else 1}.",
            "save the frame again from X-AnyLabeling.",
        )
    row = rows.setdefault(key, {"frame": frame, "track_id": key[1]})
    if ("x" if kind == "rotation" else f"{label}.x") in row:
        raise InputFileError(
            f"{path}: group {key[1]} has two {'boxes' if kind == 'rotation' else repr(label)}"
            " (a group is one animal).",
            "give each animal its own group id, or delete the extra shape.",
        )
    if kind == "rotation":
        row.update(_box_of(points, shape.get("score")))
    else:
        row[f"{label}.x"], row[f"{label}.y"] = points[0]
        row[f"{label}.score"] = np.nan if shape.get("score") is None else float(shape["score"])


def json_checksum(folder: str) -> str:
    """SHA-256 over the folder's JSON files (names and contents, in name order): what the
    corrections were read from (the images do not change them)."""
    digest = hashlib.sha256()
    for path in sorted(Path(folder).glob("*.json")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


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
