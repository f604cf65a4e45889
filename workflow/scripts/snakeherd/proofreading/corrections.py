"""Corrections back in: a proofread SLEAP file (saved from the GUI after proofreading tracks.slp
or proofread.pkg.slp) turned into the tracks of record.

A frame of the file is *corrected* when it holds a user instance (the person moved points or
added an animal) or when its instances' tracks differ from the tracks of record (the person
reassigned identities). On a corrected frame the person's instances replace the predictions:
their points, their identities. An identity fix carries forward along the track: the tracks of
record's ids are renamed as on the corrected frame until the next corrected frame or the track's
end. Frames the person did not touch keep the predictions.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment

from ..errors import InputFileError
from ..keypoints import keypoint_boxes
from ..tracking import heading as headings

FIX = "load the .slp SLEAP saved after proofreading this video's tracks.slp or proofread.pkg.slp"


@dataclass(frozen=True)
class Corrections:
    """The instances of a proofread file: one row per instance (``frame``, ``track_id`` the
    person's, ``user`` whether a person placed it, ``<node>.x/.y``) and its node names."""

    instances: pd.DataFrame
    nodes: list[str]
    path: str


def read(path: str, nodes: list[str], n_frames: int, video: str | None = None) -> Corrections:
    """The proofread file ``path``, checked against the video's skeleton ``nodes``, its length
    ``n_frames`` and its file name (``video``; embedded packages name their source video)."""
    import sleap_io

    if not Path(path).is_file():
        raise InputFileError(f"proofread file not found: {path}", FIX + ".")
    try:
        labels = sleap_io.load_slp(str(path), open_videos=False)
    except Exception as error:  # sleap-io raises many kinds for a broken file
        raise InputFileError(f"proofread file {path} cannot be read: {error}", FIX + ".") from None
    if not labels.labeled_frames:
        raise InputFileError(f"proofread file {path} holds no labelled frames.", FIX + ".")
    file_nodes = [str(n) for n in labels.skeletons[0].node_names] if labels.skeletons else []
    if file_nodes != list(nodes):
        raise InputFileError(
            f"proofread file {path} has the skeleton {file_nodes}, the video's tracks {nodes}.",
            FIX + " (same skeleton, same node order).",
        )
    if video is not None:
        names = {Path(_source_name(v)).name for v in labels.videos}
        if Path(video).name not in names:
            raise InputFileError(
                f"proofread file {path} is of the video {sorted(names)}, not {Path(video).name}.",
                FIX + ", of this video.",
            )
    track_ids = _track_numbers(labels.tracks)
    rows = []
    for labeled in labels.labeled_frames:
        frame = int(labeled.frame_idx)
        if not 0 <= frame < n_frames:
            raise InputFileError(
                f"proofread file {path} labels frame {frame}; the video has frames "
                f"0-{n_frames - 1}.",
                FIX + ", of this video.",
            )
        for instance in labeled.instances:
            if instance.track is None:
                continue
            points = instance.numpy()[:, :2].astype(float)
            if not np.isfinite(points).all(axis=1).any():
                continue
            rows.append(
                (frame, track_ids[id(instance.track)],
                 not isinstance(instance, sleap_io.PredictedInstance), points)
            )  # fmt: skip
    if not rows:
        raise InputFileError(f"proofread file {path} has no instances with a track.", FIX + ".")
    table = pd.DataFrame(
        {
            "frame": [r[0] for r in rows],
            "track_id": [r[1] for r in rows],
            "user": [r[2] for r in rows],
        }
    )
    points = np.stack([r[3] for r in rows])
    for index, node in enumerate(nodes):
        table[f"{node}.x"], table[f"{node}.y"] = points[:, index, 0], points[:, index, 1]
    return Corrections(table, list(nodes), str(path))


def _source_name(video) -> str:
    source = getattr(video, "source_video", None)
    return str(source.filename) if source is not None else str(video.filename)


def _track_numbers(tracks) -> dict[int, int]:
    """Track object -> number: ``track_<n>`` keeps n (the names tracks.slp writes); other names
    get the next free numbers in the file's order."""
    numbers, others = {}, []
    for track in tracks:
        name = str(track.name)
        if name.startswith("track_") and name[6:].isdigit():
            numbers[id(track)] = int(name[6:])
        else:
            others.append(track)
    free = (n for n in range(10**9) if n not in set(numbers.values()))
    for track in others:
        numbers[id(track)] = next(free)
    return numbers


def apply(
    tracks: pd.DataFrame,
    corrections: Corrections,
    max_distance: float,
    frames: np.ndarray | None = None,
) -> pd.DataFrame:
    """The tracks of record: ``tracks`` with the corrections applied (see the module).
    ``max_distance`` px: how far a corrected instance may be from a prediction to be the same
    animal (for carrying its identity forward); ``frames``: the processed frames (corrections of
    other frames are left out; None: all)."""
    nodes = corrections.nodes
    person = corrections.instances
    if frames is not None:
        person = person[person["frame"].isin(frames)]
    ours = tracks.sort_values(["frame", "track_id"], kind="stable").reset_index(drop=True)
    person_centre = _centres(person, nodes)
    corrected, renames = [], {}
    for frame, mine in person.groupby("frame", sort=True):
        rows = ours.index[ours["frame"] == frame]
        pairs = _match(
            ours.loc[rows, ["x", "y"]].to_numpy(float),
            person_centre[mine.index],
            max_distance,
        )
        mapping = {
            int(ours.at[rows[i], "track_id"]): int(mine["track_id"].iloc[j]) for i, j in pairs
        }
        differs = any(a != b for a, b in mapping.items()) or len(pairs) != len(mine)
        if mine["user"].any() or differs or len(rows) != len(mine):
            corrected.append(frame)
            renames[frame] = mapping
    result = ours.copy()
    result.attrs["corrected_frames"] = corrected
    if not corrected:
        return result
    frame_of = ours["frame"].to_numpy()
    track_of = ours["track_id"].to_numpy()
    new_ids = track_of.copy()
    for start, end in zip(corrected, [*corrected[1:], np.inf], strict=True):
        permutation = _complete(renames[start])
        span = (frame_of > start) & (frame_of < end)
        for old, new in permutation.items():
            new_ids[span & (track_of == old)] = new
    result["track_id"] = new_ids
    # Corrected frames: the person's instances, as they are.
    replaced = result[~result["frame"].isin(corrected)]
    people = _as_tracks(person[person["frame"].isin(corrected)], nodes, result.columns)
    result = pd.concat([replaced, people], ignore_index=True)
    result = result.sort_values(["frame", "track_id"], kind="stable").reset_index(drop=True)
    result.attrs["corrected_frames"] = corrected
    return result


def _centres(instances: pd.DataFrame, nodes: list[str]) -> np.ndarray:
    points = np.stack([instances[[f"{n}.x", f"{n}.y"]].to_numpy(float) for n in nodes], axis=1)
    return keypoint_boxes(points)[0]


def _match(a: np.ndarray, b: np.ndarray, max_distance: float) -> list[tuple[int, int]]:
    if not len(a) or not len(b):
        return []
    cost = np.hypot(a[:, None, 0] - b[None, :, 0], a[:, None, 1] - b[None, :, 1])
    rows, cols = linear_sum_assignment(np.where(cost <= max_distance, cost, 1e9))
    return [(int(i), int(j)) for i, j in zip(rows, cols, strict=True) if cost[i, j] <= max_distance]


def _complete(mapping: dict[int, int]) -> dict[int, int]:
    """``mapping`` made a permutation: an id taken by a rename and not renamed itself takes an
    id given up (the other half of a swap)."""
    taken = set(mapping.values()) - set(mapping)
    given_up = sorted(set(mapping) - set(mapping.values()))
    completed = dict(mapping)
    for old, new in zip(sorted(taken), given_up, strict=False):
        completed[old] = new
    return completed


def _as_tracks(person: pd.DataFrame, nodes: list[str], columns) -> pd.DataFrame:
    """The person's instances as rows of a tracks table (det_id -1, score 1)."""
    points = np.stack([person[[f"{n}.x", f"{n}.y"]].to_numpy(float) for n in nodes], axis=1)
    centre, _, _, angle = keypoint_boxes(points)
    rows = pd.DataFrame(
        {
            "frame": person["frame"].to_numpy(np.int64),
            "track_id": person["track_id"].to_numpy(np.int64),
            "det_id": -1,
            "x": centre[:, 0],
            "y": centre[:, 1],
            "angle": angle,
            "score": 1.0,
            "interpolated": False,
        }
    )
    found = headings.guess_nodes(nodes, None, None)
    rows["heading"] = headings.from_keypoints(points, *found) if found else np.nan
    for index, node in enumerate(nodes):
        rows[f"{node}.x"], rows[f"{node}.y"] = points[:, index, 0], points[:, index, 1]
        rows[f"{node}.score"] = np.where(np.isfinite(points[:, index, 0]), 1.0, np.nan)
    for column in columns:
        if column not in rows:
            rows[column] = person[column].to_numpy() if column in person else None
    return rows[list(columns)]
