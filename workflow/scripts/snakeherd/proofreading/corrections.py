"""Corrections back in: a proofread SLEAP file (saved from the GUI after proofreading tracks.slp
or proofread.pkg.slp) or a folder of X-AnyLabeling JSONs (the export of the suspect frames,
corrected and saved in the tool) turned into the tracks of record.

Either source becomes one table of the person's instances (:class:`Corrections`), applied the
same way. A frame of it is *corrected* when it holds a user instance (the person moved points
or added an animal in SLEAP), an instance whose box or keypoints differ from the prediction it
matches (moved in X-AnyLabeling, which keeps no user flag), a different number of animals, or
instances whose tracks differ from the tracks of record (the person reassigned identities). On
a corrected frame the person's instances replace the predictions: their boxes, points and
identities. An identity fix carries forward along the track: the tracks of
record's ids are renamed as on the corrected frame until the next corrected frame or the track's
end. Frames the person did not touch keep the predictions.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment

from .. import slp
from ..errors import InputFileError
from ..keypoints import block_rows, from_columns, keypoint_boxes
from ..provenance import sha256_file
from ..slp import CENTROID_NODE
from ..stored import StoredColumns, StoredRows, Table, column_of
from ..tracking import heading as headings
from ..tracking.table import BLEND, TrackTable, keypoint_columns
from . import xanylabeling

FIX = "load the .slp SLEAP saved after proofreading this video's tracks.slp or proofread.pkg.slp"
# px: a box or keypoint of X-AnyLabeling's JSON further than this from its prediction was moved
# (the export writes coordinates to full float precision, so an untouched shape reads back
# within 1e-9 px; a person's drag is at least a screen pixel).
MOVED_PX = 0.01
MOVED_RAD = 1e-4  # rad: a box turned further than this was turned
BOX_COLUMNS = ("x", "y", "angle", "heading")
PROOFREAD = slp.FileRole("proofread file", FIX + ".", FIX + ".")


@dataclass(frozen=True)
class Corrections:
    """The person's instances: one row per instance (``frame``, ``track_id`` the person's,
    ``user`` whether a person placed it, the box ``x``, ``y``, ``angle``, ``heading`` when the
    source has boxes (NaN where an instance has none)), their keypoints ``(n, K, 2)`` (row i:
    the instance labelled i), the node names, the source and its SHA-256 (of the file; of a
    folder's JSONs). Read from a .slp, which holds a whole video's, the instances (sorted by
    frame) and their keypoints are kept in temporary files and read by :meth:`blocks`."""

    instances: pd.DataFrame | StoredColumns
    points: np.ndarray | StoredRows
    nodes: list[str]
    path: str
    checksum: str = ""

    def points_of(self, instances: pd.DataFrame) -> np.ndarray:
        """The keypoints of some of :attr:`instances` (rows of it, in their order)."""
        return self.points[instances.index.to_numpy()]

    def blocks(self) -> Iterator[pd.DataFrame]:
        """:attr:`instances` in parts of whole frames, each indexed by its rows' numbers (as
        :meth:`points_of` takes them): a table in memory whole, a stored one (sorted by frame)
        about a block of keypoint rows at a time."""
        table = self.instances
        if isinstance(table, pd.DataFrame):
            yield table
            return
        step, low = block_rows(len(self.nodes)), 0
        while low < len(table):
            high = min(low + step, len(table))
            part = table.take(slice(low, high))
            if high < len(table):  # the last frame's rows may go on: they start the next part
                frames = part["frame"].to_numpy()
                cut = int(np.searchsorted(frames, frames[-1]))
                if not cut:  # one frame fills the part: read further
                    step *= 2
                    continue
                part = part.iloc[:cut]
            part.index = pd.RangeIndex(low, low + len(part))
            yield part
            low += len(part)

    def placed_by_a_person(self) -> int:
        """How many of the instances a person placed (a user instance in SLEAP)."""
        return sum(int(part["user"].sum()) for part in self.blocks())


def read(
    path: str,
    nodes: list[str],
    n_frames: int,
    video: str | None = None,
    video_id: str | None = None,
) -> Corrections:
    """The video's proofread ``path``: a SLEAP file (:func:`read_slp`) or an X-AnyLabeling folder
    (:func:`read_xanylabeling`, its JSONs named after ``video_id``). ``nodes``: the tracks'
    skeleton (empty for boxes only)."""
    if Path(path).is_dir():
        return read_xanylabeling(path, nodes, n_frames, video_id or "")
    return read_slp(path, list(nodes) or [CENTROID_NODE], n_frames, video)


def read_xanylabeling(folder: str, nodes: list[str], n_frames: int, video_id: str) -> Corrections:
    """A folder of X-AnyLabeling JSONs of the video ``video_id``, checked against its skeleton
    ``nodes`` and its length ``n_frames`` (see :func:`.xanylabeling.read_folder`)."""
    table = xanylabeling.read_folder(folder, video_id, list(nodes), n_frames)
    if table.empty:
        raise InputFileError(
            f"the X-AnyLabeling files of {folder} hold no shapes.", xanylabeling.FOLDER_FIX + "."
        )
    instances = table[["frame", "track_id", *BOX_COLUMNS]].astype(
        {"frame": np.int64, "track_id": np.int64}
    )
    instances.insert(2, "user", False)
    points = np.full((len(table), len(nodes), 2), np.nan)
    for index, node in enumerate(nodes):
        for axis, part in enumerate(("x", "y")):
            points[:, index, axis] = table.get(f"{node}.{part}", np.nan)
    return Corrections(
        instances.reset_index(drop=True),
        points,
        list(nodes),
        str(folder),
        xanylabeling.json_checksum(folder),
    )


def read_slp(path: str, nodes: list[str], n_frames: int, video: str | None = None) -> Corrections:
    """The proofread SLEAP file ``path``, checked against the video's skeleton ``nodes``, its
    length ``n_frames`` and its file name (``video``; embedded packages name their source
    video). Its instances are read as arrays, a block at a time, and kept in temporary files: a
    whole video's file saved from SLEAP holds every frame."""
    videos, skeletons, tracks, labelled_frames = slp.read_records(path, PROOFREAD)
    if not labelled_frames:
        raise InputFileError(f"proofread file {path} holds no labelled frames.", FIX + ".")
    file_nodes = [str(n) for n in skeletons[0].node_names] if skeletons else []
    if file_nodes != list(nodes):
        raise InputFileError(
            f"proofread file {path} has the skeleton {file_nodes}, the video's tracks {nodes}.",
            FIX + " (same skeleton, same node order).",
        )
    if video is not None:
        names = {Path(_source_name(v)).name for v in videos}
        if Path(video).name not in names:
            raise InputFileError(
                f"proofread file {path} is of the video {sorted(names)}, not {Path(video).name}.",
                FIX + ", of this video.",
            )
    numbers = _track_numbers(tracks)
    track_number = np.array([numbers[id(track)] for track in tracks], dtype=np.int64)
    table, points = StoredColumns(0), StoredRows(0, (len(nodes), 2))
    for block in slp.iter_instances(path, len(nodes), PROOFREAD):
        outside = (block.frame_idx < 0) | (block.frame_idx >= n_frames)
        if outside.any():
            frame = int(block.frame_idx[outside][0])
            raise InputFileError(
                f"proofread file {path} labels frame {frame}; the video has frames "
                f"0-{n_frames - 1}.",
                FIX + ", of this video.",
            )
        tracked = block.track >= 0
        table.append(
            pd.DataFrame(
                {
                    "frame": block.frame_idx[tracked].astype(np.int64),
                    "track_id": track_number[block.track[tracked]],
                    "user": block.user[tracked].astype(bool),
                }
            )
        )
        points.append(block.points[tracked])
    if not len(table):
        raise InputFileError(f"proofread file {path} has no instances with a track.", FIX + ".")
    return Corrections(table, points, list(nodes), str(path), sha256_file(path))


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
    other frames are left out; None: all). ``attrs["corrected_frames"]``: the frames the
    person's instances replaced."""
    nodes = [node for node in corrections.nodes if f"{node}.x" in tracks.columns]
    fixed, corrected = apply_table(
        TrackTable.from_frame(tracks, nodes), corrections, max_distance, frames
    )
    result = fixed.whole()[list(tracks.columns)]
    result.attrs = {"corrected_frames": corrected}
    return result


def apply_table(
    tracks: TrackTable,
    corrections: Corrections,
    max_distance: float,
    frames: np.ndarray | None = None,
) -> tuple[TrackTable, list[int]]:
    """:func:`apply` on a :class:`~snakeherd.tracking.TrackTable` (a long video's tracks, whose
    keypoint columns are made only for the rows at hand), and the corrected frames: the
    predictions' keypoints are read only on the frames the person saved, and the person's
    instances keep theirs beside the table's source."""
    ours = _by_frame_and_track(tracks)  # its rows are renamed, replaced, sorted
    frame_of = ours.column("frame")
    person, person_centre = _touched(ours, frame_of, corrections, max_distance, frames)
    corrected, renames = [], {}
    for frame, mine in person.groupby("frame", sort=True):
        low, high = np.searchsorted(frame_of, [frame, frame + 1])
        predicted = ours.part(low, high)
        pairs = _match(
            predicted[["x", "y"]].to_numpy(float),
            person_centre[person.index.get_indexer(mine.index)],
            max_distance,
        )
        mapping = {
            int(predicted["track_id"].iat[i]): int(mine["track_id"].iloc[j]) for i, j in pairs
        }
        differs = any(a != b for a, b in mapping.items()) or len(pairs) != len(mine)
        mine_points = corrections.points_of(mine)
        moved = any(
            _moved(predicted.iloc[i], mine.iloc[j], mine_points[j], corrections.nodes)
            for i, j in pairs
        )
        if mine["user"].any() or differs or moved or high - low != len(mine):
            corrected.append(frame)
            renames[frame] = mapping
    if not corrected:
        return ours, corrected
    track_of = ours.column("track_id")
    new_ids = track_of.copy()
    for start, end in zip(corrected, [*corrected[1:], np.inf], strict=True):
        permutation = _complete(renames[start])
        # The rows after this corrected frame, up to the next: the table is sorted by frame.
        low = int(np.searchsorted(frame_of, start, side="right"))
        high = int(np.searchsorted(frame_of, end, side="left"))
        span_ids, span_new = track_of[low:high], new_ids[low:high]
        for old, new in permutation.items():
            span_new[span_ids == old] = new
    del track_of
    # Corrected frames: the person's instances, as they are. Their keypoints are kept apart:
    # a row's keypoint source row is -1 - its place among them.
    light_columns = [column for column in ours.light.columns if column not in BLEND]
    people = _as_tracks(
        person[person["frame"].isin(corrected)],
        corrections,
        [*light_columns, *keypoint_columns(ours.nodes)],
    )
    people_light = people[light_columns].assign(
        from_row=-1 - np.arange(len(people)), to_row=-1 - np.arange(len(people)), weight=0.0
    )
    kept = ~np.isin(frame_of, corrected)
    light = _kept_and_people(ours.light, kept, new_ids, people_light)
    points_of = None
    if ours.nodes:
        points_of = _with_people(ours.points_of, *from_columns(people, ours.nodes))
    return TrackTable(light, ours.nodes, points_of, ours.animal_count), corrected


def _touched(
    ours: TrackTable,
    frame_of: np.ndarray,
    corrections: Corrections,
    max_distance: float,
    frames: np.ndarray | None,
) -> tuple[pd.DataFrame, np.ndarray]:
    """The person's instances on the processed ``frames`` (None: all) but the frames
    :func:`_untouched_frames` finds untouched, and their centres: a part of whole frames at a
    time, so a whole video's proofread file is never held (mostly untouched: only the frames
    the person changed are kept)."""
    touched, centres = [], []
    for person in corrections.blocks():
        if frames is not None:
            person = person[person["frame"].isin(frames)]
        centre = _centres(person, corrections)
        untouched = _untouched_frames(ours, frame_of, person, centre, corrections, max_distance)
        changed = ~person["frame"].isin(untouched).to_numpy()
        touched.append(person[changed])
        centres.append(centre[changed])
    return pd.concat(touched), np.concatenate(centres)


def _kept_and_people(
    light: Table, kept: np.ndarray, track_ids: np.ndarray, people: pd.DataFrame
) -> Table:
    """The rows ``kept`` of ``light`` (with ``track_ids``) and the person's rows after them,
    sorted by frame, then track (stably), made a column at a time: in temporary files like
    ``light`` when it is there (a long video's tracks), else in memory."""
    frames = np.concatenate([column_of(light, "frame")[kept], people["frame"].to_numpy()])
    ids = np.concatenate([track_ids[kept], people["track_id"].to_numpy()])
    order = np.lexsort((ids, frames))
    del frames, ids
    merged = StoredColumns(len(order)) if isinstance(light, StoredColumns) else {}
    for name in light.columns:
        values = track_ids if name == "track_id" else column_of(light, name)
        merged[name] = np.concatenate([values[kept], people[name].to_numpy()])[order]
    return merged if isinstance(merged, StoredColumns) else pd.DataFrame(merged)


def _untouched_frames(
    ours: TrackTable,
    frame_of: np.ndarray,
    person: pd.DataFrame,
    person_centre: np.ndarray,
    corrections: Corrections,
    max_distance: float,
) -> np.ndarray:
    """Frames of ``person`` (rows of ``corrections.instances``) that :func:`apply_table`'s
    frame-by-frame check would leave as they are, found with array operations over many frames
    at once: a proofread .slp holds the whole video, mostly as the tracks wrote it, and a long
    video's frames checked one at a time took many minutes (460 CPU-s at 110,000 frames of 2
    flies). A frame is found untouched when it has as many rows as the tracks, with the same
    track ids, no user instance, each instance within ``max_distance`` of its track's row and
    the pairing by track the only one the matching could choose ((n + 1) times the largest
    such distance below the nearest two of the tracks' rows: any other pairing costs more), and
    nothing moved (as :func:`_moved` says). The other frames get the frame-by-frame check. The
    frames are taken a block of rows at a time (a whole video's rows and keypoints at once
    would be many times the tracks' light columns); ``frame_of``: the tracks' frame column."""
    order = np.lexsort((person["track_id"].to_numpy(), person["frame"].to_numpy()))
    sorted_frames = person["frame"].to_numpy()[order]
    step = block_rows(len(ours.nodes))
    found = []
    low = 0
    while low < len(order):
        # A block ends where a frame does: with the frame of its step-th row.
        high = int(
            np.searchsorted(sorted_frames, sorted_frames[min(low + step, len(order)) - 1], "right")
        )
        rows = order[low:high]
        found.append(
            _untouched_in(
                ours, frame_of, person.iloc[rows], person_centre[rows], corrections, max_distance
            )
        )
        low = high
    return np.concatenate(found) if found else np.zeros(0, dtype=np.int64)


def _untouched_in(
    ours: TrackTable,
    frame_of: np.ndarray,
    person: pd.DataFrame,
    person_centre: np.ndarray,
    corrections: Corrections,
    max_distance: float,
) -> np.ndarray:
    """:func:`_untouched_frames` of some of the person's frames (``person``: their rows, sorted
    by frame, then track; ``person_centre``: theirs). Only the tracks' rows of those frames
    are read, of the columns compared."""
    frames, first, count = np.unique(
        person["frame"].to_numpy(), return_index=True, return_counts=True
    )
    ours_first = np.searchsorted(frame_of, frames)
    ours_count = np.searchsorted(frame_of, frames, side="right") - ours_first
    frame_index = np.repeat(np.arange(len(frames)), count)  # each sorted person row's frame
    ok = ours_count == count
    ok &= ~np.bincount(frame_index, person["user"].to_numpy(bool), len(frames)).astype(bool)
    # Row k of a frame's person rows (by track) pairs with row k of its tracks' rows (by track).
    paired = np.flatnonzero(ok[frame_index])
    rows = paired - first[frame_index[paired]] + ours_first[frame_index[paired]]
    checked = ok.copy()  # the frames of the paired rows, each frame's in a run of them
    light = ours.select(["track_id", "x", "y", "angle", "heading"], rows)
    theirs = person.iloc[paired]
    at = frame_index[paired]
    bad = light["track_id"].to_numpy() != theirs["track_id"].to_numpy()
    xy = light[["x", "y"]].to_numpy(float)
    distance = np.hypot(*(xy - person_centre[paired]).T)
    bad |= ~(distance <= max_distance)
    if "x" in theirs:  # a box the person moved, turned or flipped (X-AnyLabeling)
        boxed = np.isfinite(theirs["x"].to_numpy(float))
        box_moved = np.hypot(*(theirs[["x", "y"]].to_numpy(float) - xy).T) > MOVED_PX
        turn = theirs["angle"].to_numpy(float) - light["angle"].to_numpy(float)
        box_moved |= np.abs(np.angle(np.exp(2j * turn))) > MOVED_RAD
        ahead = theirs["heading"].to_numpy(float)
        before = light["heading"].to_numpy(float) if "heading" in light else np.nan
        with np.errstate(invalid="ignore"):
            box_moved |= np.isfinite(ahead) & np.isfinite(before) & (np.cos(ahead - before) < 0)
        bad |= boxed & box_moved
    nodes = corrections.nodes
    compared = [index for index, node in enumerate(ours.nodes) if node in nodes]
    if compared:
        mine = corrections.points_of(theirs)[:, [nodes.index(ours.nodes[k]) for k in compared]]
        predicted = ours.points(rows)[0][:, compared]
        found, expected = np.isfinite(mine).all(axis=2), np.isfinite(predicted).all(axis=2)
        with np.errstate(invalid="ignore"):
            moved = np.hypot(*np.moveaxis(mine - predicted, 2, 0)) > MOVED_PX
        bad |= ((found != expected) | (found & moved)).any(axis=1)
    ok[np.unique(at[bad])] = False
    # The pairing by track is the matching's only choice: its distances are far below how far
    # apart the tracks' rows of the frame are.
    largest = np.zeros(len(frames))
    np.maximum.at(largest, at, distance)
    nearest = np.full(len(frames), np.inf)
    runs = count[checked]
    nearest[checked] = _nearest_pair(xy, np.cumsum(runs) - runs, runs)
    ok &= (ours_count + 1) * largest < nearest
    return frames[ok]


def _nearest_pair(xy: np.ndarray, first: np.ndarray, count: np.ndarray) -> np.ndarray:
    """Per frame (its rows ``first`` .. ``first + count`` of positions ``xy``), the distance
    between its two nearest rows (inf with fewer than two)."""
    nearest = np.full(len(first), np.inf)
    x, y = xy[:, 0], xy[:, 1]
    widest = int(count.max()) if len(count) else 0
    for offset in range(widest):  # a frame's row `offset` against each later row of it
        for k in range(1, widest - offset):
            frames = np.flatnonzero(count > offset + k)
            a = first[frames] + offset
            apart = np.hypot(x[a] - x[a + k], y[a] - y[a + k])
            np.minimum.at(nearest, frames, apart)
    return nearest


def _by_frame_and_track(tracks: TrackTable) -> TrackTable:
    """``tracks`` with its rows sorted by frame, then track (stably; as they are when sorted:
    the tracker's are, and stay where they are kept)."""
    frame, track = tracks.column("frame"), tracks.column("track_id")
    if _sorted_pairs(frame, track):
        return tracks
    light = tracks.in_memory().light
    order = np.lexsort((track, frame))
    return replace(tracks, light=light.iloc[order].reset_index(drop=True))


def _sorted_pairs(frame: np.ndarray, track: np.ndarray) -> bool:
    """Are the rows sorted by ``frame``, then ``track``?"""
    frame_step, track_step = np.diff(frame), np.diff(track)
    return bool(((frame_step > 0) | ((frame_step == 0) & (track_step >= 0))).all())


def _with_people(points_of, people_points: np.ndarray, people_scores: np.ndarray):
    """A keypoint source of the table's source rows (>= 0) and the person's instances (row
    -1 - i: instance i)."""

    def both(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        rows = np.asarray(rows, dtype=np.int64)
        points = np.empty((len(rows), *people_points.shape[1:]))
        scores = np.empty((len(rows), *people_scores.shape[1:]))
        source = rows >= 0
        if source.any():
            points[source], scores[source] = points_of(rows[source])
        theirs = -1 - rows[~source]
        points[~source], scores[~source] = people_points[theirs], people_scores[theirs]
        return points, scores

    return both


def _centres(instances: pd.DataFrame, corrections: Corrections) -> np.ndarray:
    """:func:`_geometry`'s centres of some of the person's instances, a block of rows at a time
    (a whole video's keypoints are not read at once)."""
    step = block_rows(len(corrections.nodes))
    centres = [
        _geometry(instances.iloc[start : start + step], corrections)[0]
        for start in range(0, len(instances), step)
    ]
    return np.concatenate(centres) if centres else np.zeros((0, 2))


def _geometry(instances: pd.DataFrame, corrections: Corrections):
    """Centre ``(n, 2)``, axis angle and keypoints of some of the person's instances: the box
    where the source drew one, else the box around the keypoints."""
    nodes = corrections.nodes
    points = corrections.points_of(instances)
    if nodes:
        centre, _, _, angle = keypoint_boxes(points)
    else:
        centre, angle = np.full((len(instances), 2), np.nan), np.full(len(instances), np.nan)
    if "x" in instances:
        boxed = np.isfinite(instances["x"].to_numpy(float))
        centre[boxed] = instances.loc[boxed, ["x", "y"]].to_numpy(float)
        angle[boxed] = instances.loc[boxed, "angle"].to_numpy(float)
    return centre, angle, points


def _moved(
    prediction: pd.Series, instance: pd.Series, points: np.ndarray, nodes: list[str]
) -> bool:
    """Whether the person's ``instance`` (keypoints ``points``, of ``nodes``) differs from the
    ``prediction`` it matched: the box (centre, axis, which end heads) where the source has
    boxes, any keypoint of the tracks."""
    if np.isfinite(instance.get("x", np.nan)):
        if np.hypot(instance["x"] - prediction["x"], instance["y"] - prediction["y"]) > MOVED_PX:
            return True
        if abs(np.angle(np.exp(2j * (instance["angle"] - prediction["angle"])))) > MOVED_RAD:
            return True
        ahead, before = instance["heading"], prediction.get("heading", np.nan)
        if np.isfinite(ahead) and np.isfinite(before) and np.cos(ahead - before) < 0:
            return True
    for node, mine in zip(nodes, points, strict=True):
        if f"{node}.x" not in prediction:
            continue
        theirs = np.array([prediction[f"{node}.x"], prediction[f"{node}.y"]], float)
        if np.isfinite(mine).all() != np.isfinite(theirs).all():
            return True
        if np.isfinite(mine).all() and np.hypot(*(mine - theirs)) > MOVED_PX:
            return True
    return False


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


def _as_tracks(person: pd.DataFrame, corrections: Corrections, columns) -> pd.DataFrame:
    """Some of the person's instances as rows of a tracks table (det_id -1, score 1); the
    heading from the keypoints where they tell it, else the box's direction."""
    nodes = corrections.nodes
    centre, angle, points = _geometry(person, corrections)
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
    found = headings.guess_nodes(nodes, None, None) if nodes else None
    heading = headings.from_keypoints(points, *found) if found else np.full(len(rows), np.nan)
    if "heading" in person:
        heading = np.where(np.isfinite(heading), heading, person["heading"].to_numpy(float))
    rows["heading"] = heading
    for index, node in enumerate(nodes):
        rows[f"{node}.x"], rows[f"{node}.y"] = points[:, index, 0], points[:, index, 1]
        rows[f"{node}.score"] = np.where(np.isfinite(points[:, index, 0]), 1.0, np.nan)
    for column in columns:
        if column not in rows:
            rows[column] = person[column].to_numpy() if column in person else None
    return rows[list(columns)]
