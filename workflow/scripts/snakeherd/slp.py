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

import functools
import itertools
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

import numpy as np
import pandas as pd

from . import io
from .errors import InputFileError, SnakeherdError
from .keypoints import block_rows, from_columns, keypoint_boxes
from .stored import Table, column_of, rows_of

# Skeleton of tracks that have no keypoints (detection boxes only): the box centre.
CENTROID_NODE = "centroid"

T = TypeVar("T")

# The instance arrays of a .slp, as sleap-io's ``write_lfs`` lays them out (SLEAP's format).
FRAME_DTYPE = np.dtype(
    [
        ("frame_id", "u8"),
        ("video", "u4"),
        ("frame_idx", "u8"),
        ("instance_id_start", "u8"),
        ("instance_id_end", "u8"),
    ]
)
INSTANCE_DTYPE = np.dtype(
    [
        ("instance_id", "i8"),
        ("instance_type", "u1"),
        ("frame_id", "u8"),
        ("skeleton", "u4"),
        ("track", "i4"),
        ("from_predicted", "i8"),
        ("score", "f4"),
        ("point_id_start", "u8"),
        ("point_id_end", "u8"),
        ("tracking_score", "f4"),
    ]
)
PREDICTED_POINT_DTYPE = np.dtype(
    [("x", "f8"), ("y", "f8"), ("visible", "?"), ("complete", "?"), ("score", "f8")]
)
PREDICTED_INSTANCE = 1  # sleap-io's InstanceType.PREDICTED
# Rows of the poses table read into one part of it (~10 MB as pandas holds them).
POSE_ROWS = 2**17
# Rows of a dataset read through rather than apart when reading scattered rows.
READ_THROUGH_ROWS = 4096
# A .slp's labelled-frame records read at once (32 bytes each).
FRAME_RECORDS = 2**16
# Values of the analysis HDF5's largest array filled at once (4 MB).
ANALYSIS_BLOCK_VALUES = 2**19
# Point records of a .slp read at once while the analysis HDF5 is filled (~3.4 MB).
ANALYSIS_POINT_ROWS = 2**17


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


class FileRole(NamedTuple):
    """What a .slp is to the workflow, and the fixes for when it is missing or unreadable (for
    the errors of this module's readers)."""

    name: str
    missing_fix: str
    unreadable_fix: str


GROUND_TRUTH = FileRole(
    "ground truth file",
    "fix the `ground_truth` path of this video in the config or sample sheet.",
    "give a SLEAP .slp file with tracks, or a .parquet/.csv/.tsv table.",
)
PREDICTIONS = FileRole(
    "predictions file",
    "fix the `predictions` path of this video in the config or sample sheet.",
    "give a .slp file saved by SLEAP or sleap-nn (File > Save As in SLEAP).",
)


def _read_slp(path: str, read: Callable[[], T], role: FileRole = PREDICTIONS) -> T:
    """``read()`` of the .slp at ``path``: a missing or damaged file is an InputFileError."""
    if not Path(path).is_file():
        raise InputFileError(f"{role.name} not found: {path}", role.missing_fix)
    try:
        return read()
    except Exception as error:  # h5py and sleap-io raise many types for a damaged file
        raise _unreadable(path, error, role) from None


def _unreadable(path: str, error: Exception, role: FileRole = PREDICTIONS) -> InputFileError:
    return InputFileError(
        f"{role.name} {path} cannot be read as a SLEAP file: {error}", role.unreadable_fix
    )


def _load(path: str):
    sio = _sleap_io()
    return _read_slp(path, lambda: sio.load_slp(path, open_videos=False))


def _records(path: str, role: FileRole = PREDICTIONS) -> tuple[list, list]:
    """A .slp's videos and skeletons alone (its instances are read as arrays)."""
    _sleap_io()  # the error that names the package when it is missing
    from sleap_io.io.slp import read_skeletons, read_videos

    return _read_slp(
        path, lambda: (read_videos(path, open_backend=False), read_skeletons(path)), role
    )


def _pick_video(videos: list, path: str, video_path: str | None):
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


@functools.cache
def has_tracks(path: str) -> bool:
    """Whether a ``.slp`` assigns its instances to tracks (a ground truth without them scores
    poses only). Cached: the workflow asks once per video while it builds the DAG.

    Without sleap-io (a main environment that never tracks ``.slp`` files) it answers True and
    leaves the verdict to the evaluation job, which reports what it needs.
    """
    try:
        import sleap_io
    except ImportError:
        return True
    return any(
        instance.track is not None
        for frame in sleap_io.load_slp(path).labeled_frames
        for instance in frame.instances
    )


@dataclass
class PredictionsFile:
    """A predictions .slp's records for one of its videos (its instances are read apart, by
    :func:`iter_prediction_tables`)."""

    path: str
    video: Any  # sleap-io's Video (its backend not opened)
    video_index: int | None  # the video's number in the file; None: the file's only video
    nodes: list[str]
    edges: list[tuple[str, str]]

    @property
    def video_path(self) -> str:
        return resolve_video_path(str(self.video.filename), self.path)

    @property
    def n_frames(self) -> int | None:
        """The video's length as the file records it (None when it does not, or the video file
        it would be read from is absent)."""
        try:
            shape = self.video.shape
            return int(shape[0]) if shape is not None else None
        except Exception:  # the video file may be absent: its length is then unknown
            return None


def open_predictions(path: str, video_path: str | None = None) -> PredictionsFile:
    """The records of a predictions .slp; ``video_path`` picks the video in a multi-video file."""
    videos, skeletons = _records(path)
    video = _pick_video(videos, path, video_path)
    if not skeletons:
        raise InputFileError(
            f"predictions file {path} has no skeleton.", "re-export it from SLEAP."
        )
    skeleton = skeletons[0]
    # A single video's frames are all its own (a package may number its one embedded video
    # otherwise); several videos are numbered by their order, as sleap-io reads them.
    video_index = None if len(videos) == 1 else next(i for i, v in enumerate(videos) if v is video)
    return PredictionsFile(
        path=path,
        video=video,
        video_index=video_index,
        nodes=[str(name) for name in skeleton.node_names],
        edges=[(str(a), str(b)) for a, b in skeleton.edge_names],
    )


def read_predictions(
    path: str, video_id: str, video_path: str | None = None, frames: np.ndarray | None = None
) -> Predictions:
    """The instances of a predictions .slp as detections and poses tables (tracks ignored).

    ``frames`` (sorted frame indices) restricts which frames are read; ``video_path`` picks the
    video in a multi-video file.
    """
    source = open_predictions(path, video_path)
    parts = list(iter_prediction_tables(source, video_id, frames))
    if not parts:
        raise _no_instances(source, "in the selected frames " if frames is not None else "")
    detections, poses = _joined(parts)
    return Predictions(
        detections=detections,
        poses=poses,
        nodes=source.nodes,
        edges=source.edges,
        video_path=source.video_path,
        n_frames=source.n_frames,
    )


def _joined(parts: list[tuple[pd.DataFrame, pd.DataFrame]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The parts of :func:`iter_prediction_tables` as two whole tables."""
    if len(parts) == 1:
        return parts[0]
    detections, poses = zip(*parts, strict=True)
    return pd.concat(detections, ignore_index=True), pd.concat(poses, ignore_index=True)


def _no_instances(source: PredictionsFile, where: str) -> InputFileError:
    return InputFileError(
        f"predictions file {source.path} has no instances {where}of video "
        f"{Path(str(source.video.filename)).name}.",
        "check the file in SLEAP (it should hold predicted instances) and the video's "
        "`frames` selection.",
    )


def iter_prediction_tables(
    source: PredictionsFile, video_id: str, frames: np.ndarray | None = None
) -> Iterator[tuple[pd.DataFrame, pd.DataFrame]]:
    """The detections and poses tables of a predictions file's video, in parts of about
    :data:`POSE_ROWS` rows of the poses table (whole frames, in frame order): a long video's
    poses table, a row per keypoint, is never held whole."""
    wanted = None if frames is None else np.asarray(frames, dtype=np.int64)
    nodes = source.nodes
    for block in iter_instances(
        source.path, len(nodes), video_index=source.video_index, wanted=wanted
    ):
        frame_idx, det_ids, points = block.frame_idx, block.det_ids, block.points
        centre, long_side, short_side, angle = keypoint_boxes(points)
        detections = pd.DataFrame(
            {
                "video_id": video_id,
                "frame": frame_idx,
                "det_id": det_ids,
                "x": centre[:, 0],
                "y": centre[:, 1],
                "w": long_side,
                "h": short_side,
                "angle": angle,
                "score": block.scores,
                "class_id": np.zeros(len(frame_idx), dtype=np.int64),
                "visible_points": np.isfinite(points).all(axis=2).sum(axis=1).astype(np.int64),
            }
        )
        n, k = points.shape[:2]
        poses = pd.DataFrame(
            {
                "video_id": video_id,
                "frame": np.repeat(frame_idx, k),
                "det_id": np.repeat(det_ids, k),
                "node": np.tile(np.asarray(nodes, dtype=object), n),
                "x": points[:, :, 0].ravel(),
                "y": points[:, :, 1].ravel(),
                "score": block.point_scores.ravel(),
            }
        )
        yield detections, poses


class InstanceBlock(NamedTuple):
    """Instances of a .slp as arrays (see :func:`_instance_blocks`)."""

    frame_idx: np.ndarray  # (n,) the video frame
    det_ids: np.ndarray  # (n,) order in its labelled frame
    scores: np.ndarray  # (n,) the instance score (1 for a person's instance)
    points: np.ndarray  # (n, nodes, 2) NaN where not visible
    point_scores: np.ndarray  # (n, nodes)
    track: np.ndarray  # (n,) the file's track number (-1: no track)
    user: np.ndarray  # (n,) placed by a person (not a predicted instance)


def _instance_blocks(
    handle, video_index: int | None, n_nodes: int, wanted: np.ndarray | None, block: int
) -> Iterator[InstanceBlock]:
    """The instances of the first skeleton on video ``video_index`` of an open .slp (None: the
    file's only video, or every video of the file; in ``wanted`` frames), as
    :class:`InstanceBlock` arrays, in blocks of whole labelled frames, in frame order (a file's
    labelled frames need not be), each of about ``block`` instances; instances without a
    visible point are left out.

    What sleap-io's objects give (``Instance.numpy()``, scores of 1 for a person's instances,
    the pre-1.1 pixel-corner coordinates moved to pixel centres), without an object per
    instance (~6 KB per instance-frame for a long video's predictions) and without the whole
    file's points at once.
    """
    format_id = float(handle["metadata"].attrs["format_id"])
    # Labelled frames grouped into blocks by where their instances start in the block order;
    # the last block of a window of them may go on in the next.
    empty = np.zeros(0, dtype=np.int64)
    pending, before = (empty, empty, empty), 0  # instances of the frames before pending's
    for window in itertools.chain(_chosen_frames(handle, video_index, wanted), [None]):
        if window is None:
            frame_idx, first_instance, counts = pending
        else:
            frame_idx, first_instance, counts = (
                np.concatenate(pair) for pair in zip(pending, window, strict=True)
            )
        block_of = (before + np.cumsum(counts) - counts) // block
        done = len(block_of)
        if window is not None and len(block_of):
            done = int(np.searchsorted(block_of, block_of[-1]))
        before += int(counts[:done].sum())
        pending = (frame_idx[done:], first_instance[done:], counts[done:])
        yield from _blocks_of(
            handle, format_id, n_nodes, frame_idx[:done], first_instance[:done], counts[:done],
            block_of[:done],
        )  # fmt: skip


def _chosen_frames(
    handle, video_index: int | None, wanted: np.ndarray | None
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Frame index, first instance and instance count of the labelled frames
    :func:`_instance_blocks` reads, in frame order: a window of the file's records at a time
    where they are so ordered (as SLEAP saves them: a long video's labelled frames are never
    held whole), else all at once, sorted."""
    dataset = handle["frames"]
    spans = [
        (start, min(start + FRAME_RECORDS, len(dataset)))
        for start in range(0, len(dataset), FRAME_RECORDS)
    ]

    def window(start: int, stop: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        records = dataset[start:stop]
        frame_idx = records["frame_idx"].astype(np.int64)
        keep = np.ones(len(records), dtype=bool)
        if video_index is not None:
            keep &= records["video"] == video_index
        if wanted is not None:
            keep &= np.isin(frame_idx, wanted)
        first = records["instance_id_start"].astype(np.int64)[keep]
        return frame_idx[keep], first, records["instance_id_end"].astype(np.int64)[keep] - first

    latest = -1
    for start, stop in spans:  # a first pass: are they in frame order?
        frame_idx = window(start, stop)[0]
        if len(frame_idx) and (frame_idx[0] < latest or (np.diff(frame_idx) < 0).any()):
            parts = [window(start, stop) for start, stop in spans]
            frame_idx, first, counts = (np.concatenate(part) for part in zip(*parts, strict=True))
            order = np.argsort(frame_idx, kind="stable")
            yield frame_idx[order], first[order], counts[order]
            return
        latest = frame_idx[-1] if len(frame_idx) else latest
    for start, stop in spans:
        yield window(start, stop)


def _blocks_of(
    handle, format_id: float, n_nodes: int, frame_idx, first_instance, counts, block_of
) -> Iterator[InstanceBlock]:
    """:func:`_instance_blocks`' blocks of some labelled frames (``frame_idx``, their
    ``first_instance`` and instance ``counts``; ``block_of``: each one's block)."""
    bounds = np.flatnonzero(np.r_[True, np.diff(block_of) != 0, True]) if len(block_of) else []
    for low, high in itertools.pairwise(bounds):
        record_of = np.repeat(np.arange(low, high), counts[low:high])
        instances = _take(handle["instances"], _ranges(first_instance[low:high], counts[low:high]))
        chosen = instances["skeleton"] == 0
        record_of, instances = record_of[chosen], instances[chosen]
        predicted = instances["instance_type"] == PREDICTED_INSTANCE
        points = np.full((len(instances), n_nodes, 2), np.nan)
        point_scores = np.ones((len(instances), n_nodes))
        for name, where in (("pred_points", predicted), ("points", ~predicted)):
            if not where.any():
                continue
            taken = _points_of(handle[name], instances[where], n_nodes)
            xy = np.stack([taken["x"], taken["y"]], axis=-1).astype(np.float64)
            if format_id < 1.1:  # pixel corners, as sleap-io reads them
                xy -= 0.5
            points[where] = np.where(taken["visible"][..., None], xy, np.nan)
            if "score" in taken.dtype.names:
                point_scores[where] = taken["score"]
        scores = np.where(predicted, instances["score"].astype(np.float64), 1.0)
        placed = np.isfinite(points).all(axis=2).any(axis=1)
        record_of, points, point_scores, scores = (
            record_of[placed],
            points[placed],
            point_scores[placed],
            scores[placed],
        )
        if not len(record_of):
            continue
        first = np.r_[True, record_of[1:] != record_of[:-1]]
        run_start = np.flatnonzero(first)
        det_ids = np.arange(len(record_of)) - np.repeat(
            run_start, np.diff(np.r_[run_start, len(first)])
        )
        yield InstanceBlock(
            frame_idx=frame_idx[record_of],
            det_ids=det_ids.astype(np.int64),
            scores=scores,
            points=points,
            point_scores=point_scores,
            track=instances["track"].astype(np.int64)[placed],
            user=~predicted[placed],
        )


def iter_instances(
    path: str,
    n_nodes: int,
    role: FileRole = PREDICTIONS,
    video_index: int | None = None,
    wanted: np.ndarray | None = None,
) -> Iterator[InstanceBlock]:
    """The instances of a .slp's first skeleton (on video ``video_index``, None: all its videos;
    in ``wanted`` frames, None: all), with each one's track and whether a person placed it, a
    block of whole labelled frames (~:data:`POSE_ROWS` keypoints) at a time in frame order, as
    arrays (without sleap-io's objects: ~3 KB an instance for a whole video's file). The file's
    records (videos, skeletons, tracks): :func:`read_records`."""
    import h5py

    handle = _read_slp(path, lambda: h5py.File(path, "r"), role)
    with handle:
        block = max(1, POSE_ROWS // max(1, n_nodes))
        blocks = _instance_blocks(handle, video_index, n_nodes, wanted, block)
        while True:
            try:
                found = next(blocks, None)
            except Exception as error:  # a damaged file's datasets (h5py raises many types)
                raise _unreadable(path, error, role) from None
            if found is None:
                return
            yield found


def read_records(path: str, role: FileRole = PREDICTIONS) -> tuple[list, list, list, int]:
    """A .slp's videos, skeletons and tracks (sleap-io's objects; their order is the file's
    numbering) and its number of labelled frames."""
    import h5py

    videos, skeletons = _records(path, role)
    from sleap_io.io.slp import read_tracks

    def tracks_and_frames():
        with h5py.File(path, "r") as handle:
            return read_tracks(path), len(handle["frames"])

    return videos, skeletons, *_read_slp(path, tracks_and_frames, role)


def _ranges(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """The rows ``starts[i] .. starts[i] + counts[i] - 1`` of every range, one after another."""
    offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    return np.repeat(starts, counts) + offsets


def _points_of(dataset, instances: np.ndarray, n_nodes: int) -> np.ndarray:
    """The point records (instances, nodes) of instance records, from ``dataset`` (a .slp's
    ``points`` or ``pred_points``)."""
    starts = instances["point_id_start"].astype(np.int64)
    return _take(dataset, _ranges(starts, np.full(len(starts), n_nodes))).reshape(-1, n_nodes)


def _take(dataset, rows: np.ndarray) -> np.ndarray:
    """``dataset[rows]`` for any rows (h5py takes only increasing ones, one at a time): read
    in runs of nearby rows, each as one slice."""
    if not len(rows):
        return np.zeros(0, dtype=dataset.dtype)
    if rows[-1] - rows[0] == len(rows) - 1 and (np.diff(rows) == 1).all():  # one run, in order
        return dataset[rows[0] : rows[-1] + 1]
    order = np.argsort(rows, kind="stable")
    ordered = rows[order]
    breaks = np.flatnonzero(np.diff(ordered) > READ_THROUGH_ROWS) + 1
    parts = [dataset[run[0] : run[-1] + 1][run - run[0]] for run in np.split(ordered, breaks)]
    taken = np.empty(len(rows), dtype=dataset.dtype)
    taken[order] = np.concatenate(parts)
    return taken


def resolve_video_path(recorded: str, slp_path: str) -> str:
    """The video a .slp names: as recorded if it exists, else a file of that name beside the .slp
    (as SLEAP looks for it), else the recorded path unchanged."""
    if Path(recorded).exists():
        return str(Path(recorded).resolve())
    beside = Path(slp_path).resolve().parent / Path(recorded.replace("\\", "/")).name
    return str(beside) if beside.exists() else recorded


def write_tracks(
    tracks: Table,
    path: str,
    video_path: str,
    nodes: list[str],
    edges: list[tuple[str, str]] | None = None,
    n_frames: int | None = None,
    track_names: dict[int, str] | None = None,
    suggestions: list[int] | None = None,
    points_of: Callable[[slice], tuple[np.ndarray, np.ndarray]] | None = None,
    track_ids: Iterable[int] | None = None,
) -> None:
    """Write tracks as a SLEAP labels file (predicted instances, one ``Track`` per track id).

    ``tracks`` is sorted by frame (in memory, or a long video's in temporary files: a
    :class:`~snakeherd.stored.StoredColumns`). ``nodes`` are the pose stage's keypoint names,
    read from the ``<node>.x/.y/.score`` columns; without nodes each instance is a single
    ``centroid`` point at the track position. The video is referenced by path (it need not
    exist; SLEAP asks for it when it does not). Tracks are named ``track_<id>``, or by
    ``track_names`` (a multi-class model's identity classes). ``suggestions`` (frame indices,
    e.g. the suspect frames) become SLEAP's labelling suggestions, which its GUI walks through.
    ``points_of`` (rows -> their keypoints ``(n, K, 2)`` and scores ``(n, K)``) gives the
    keypoints instead of the table's columns (a long video's table without them:
    :class:`snakeherd.tracking.TrackTable`). ``track_ids``: the file's tracks (default: those in
    ``tracks``; more when ``tracks`` are some rows of a table whose other tracks the file must
    list too).

    sleap-io writes everything but the instances (skeleton, video, tracks, suggestions: the
    file's JSON records); the instances are written as the structured arrays sleap-io itself
    writes, built from the table's columns. Built through sleap-io's objects instead, a long
    video's tracks took ~1.5 kB per instance (an object per instance, then a Python list per
    point while saving): most of the track job's memory.
    """
    sio = _sleap_io()
    centroid = not nodes
    if centroid:
        nodes, edges = [CENTROID_NODE], []

    def points_of_columns(rows: slice) -> tuple[np.ndarray, np.ndarray]:
        part = rows_of(tracks, rows, ["x", "y"] if centroid else None)
        if centroid:  # the track position, seen wherever the track is
            points = part[["x", "y"]].to_numpy(np.float64)[:, None, :]
            return points, np.ones(points.shape[:2])
        return from_columns(part, nodes)

    skeleton = sio.Skeleton(nodes=list(nodes), edges=[list(e) for e in (edges or [])])
    backend_metadata = {"shape": (n_frames, 1, 1, 1)} if n_frames else {}
    video = sio.Video(
        filename=str(video_path), open_backend=False, backend_metadata=backend_metadata
    )
    if track_ids is None:
        track_ids = np.unique(column_of(tracks, "track_id"))
    track_ids = sorted(int(t) for t in track_ids)
    labels = sio.Labels(
        videos=[video],
        skeletons=[skeleton],
        tracks=[sio.Track(name=(track_names or {}).get(t, f"track_{t}")) for t in track_ids],
        suggestions=[
            sio.SuggestionFrame(video=video, frame_idx=int(frame))
            for frame in sorted(set(suggestions or []))
        ],
    )
    file_tracks = np.asarray(track_ids, dtype=np.int64)

    def instances_of(rows: slice) -> tuple[np.ndarray, np.ndarray]:
        part = rows_of(tracks, rows, ["track_id", "score"])
        return (
            np.searchsorted(file_tracks, part["track_id"].to_numpy(dtype=np.int64)),
            np.nan_to_num(part["score"].to_numpy(dtype=np.float64), nan=0.0),
        )

    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.tmp")
    try:
        sio.save_slp(labels, str(temporary), verbose=False)
        _write_predicted_instances(
            temporary,
            len(tracks),
            lambda rows: rows_of(tracks, rows, ["frame"])["frame"].to_numpy(np.int64),
            instances_of,
            len(nodes),
            points_of or points_of_columns,
        )
        temporary.replace(target)
    finally:
        temporary.unlink(missing_ok=True)


def _write_predicted_instances(
    path: Path,
    rows: int,
    frames_of: Callable[[slice], np.ndarray],
    instances_of: Callable[[slice], tuple[np.ndarray, np.ndarray]],
    n_nodes: int,
    points_of: Callable[[slice], tuple[np.ndarray, np.ndarray]],
) -> None:
    """Replace a .slp's (empty) ``frames``, ``instances`` and ``pred_points`` with predicted
    instances of video 0 and skeleton 0: one per row of ``rows`` in frame order, asked for
    :func:`~snakeherd.keypoints.block_rows` rows at a time: ``frames_of(rows)`` their frames,
    ``instances_of(rows)`` their index in the file's tracks and their scores, ``points_of(rows)``
    their points (rows, nodes, 2) and point scores (rows, nodes). The dtypes and values are
    those sleap-io's ``write_lfs`` gives the same instances (a point is visible when its x is
    not NaN; tracking score 1). The labelled frames are written a block at a time too: a long
    video's frame column and frame records (~70 bytes a row with their transients) are never
    held whole."""
    import h5py

    block = block_rows(n_nodes)
    spans = [(start, min(start + block, rows)) for start in range(0, rows, block)]

    def begins(frame: np.ndarray, previous: int) -> np.ndarray:
        """Whether each row begins a frame (the rows come after one of frame ``previous``)."""
        return np.diff(frame, prepend=previous) != 0

    previous, n_frames = -1, 0  # a first pass: how many labelled frames
    for start, stop in spans:
        frame = frames_of(slice(start, stop))
        n_frames += int(begins(frame, previous).sum())
        previous = int(frame[-1])
    with h5py.File(path, "a") as handle:
        for name, dtype in (
            ("frames", FRAME_DTYPE),
            ("instances", INSTANCE_DTYPE),
            ("pred_points", PREDICTED_POINT_DTYPE),
        ):
            if handle[name].dtype != dtype:  # a sleap-io other than the pinned one
                raise SnakeherdError(
                    f"sleap-io {_sleap_io().__version__} writes the {name} of a .slp as "
                    f"{handle[name].dtype}, and snakeherd as {np.dtype(dtype)}.",
                    "install the sleap-io that requirements/demo.txt pins.",
                )
            del handle[name]
        frames = handle.create_dataset("frames", shape=(n_frames,), dtype=FRAME_DTYPE)
        instances = handle.create_dataset("instances", shape=(rows,), dtype=INSTANCE_DTYPE)
        predicted = handle.create_dataset(
            "pred_points", shape=(rows * n_nodes,), dtype=PREDICTED_POINT_DTYPE
        )
        previous, written = -1, 0  # frame records written or begun
        open_frame = None  # the last frame begun: its record is written once its rows end
        for start, stop in spans:
            frame = frames_of(slice(start, stop))
            is_new = begins(frame, previous)
            new = np.flatnonzero(is_new)
            previous = int(frame[-1])
            row_frame_id = written - 1 + np.cumsum(is_new)
            if len(new):
                if open_frame is not None:
                    open_frame["instance_id_end"] = start + new[0]
                    frames[written - 1 : written] = open_frame
                records = np.zeros(len(new), dtype=FRAME_DTYPE)
                records["frame_id"] = written + np.arange(len(new))
                records["frame_idx"] = frame[new]
                records["instance_id_start"] = start + new
                records["instance_id_end"] = np.r_[start + new[1:], stop]
                if len(new) > 1:
                    frames[written : written + len(new) - 1] = records[:-1]
                open_frame, written = records[-1:], written + len(new)
            ids = np.arange(start, stop)
            track_index, scores = instances_of(slice(start, stop))
            row_records = np.zeros(stop - start, dtype=INSTANCE_DTYPE)
            row_records["instance_id"] = ids
            row_records["instance_type"] = PREDICTED_INSTANCE
            row_records["frame_id"] = row_frame_id
            row_records["track"] = track_index
            row_records["from_predicted"] = -1
            row_records["score"] = scores
            row_records["point_id_start"] = ids * n_nodes
            row_records["point_id_end"] = (ids + 1) * n_nodes
            row_records["tracking_score"] = 1.0
            instances[start:stop] = row_records
            points, point_scores = points_of(slice(start, stop))
            point_records = np.zeros(points.shape[0] * n_nodes, dtype=PREDICTED_POINT_DTYPE)
            point_records["x"] = points[:, :, 0].ravel()
            point_records["y"] = points[:, :, 1].ravel()
            point_records["visible"] = ~np.isnan(points[:, :, 0]).ravel()
            point_records["score"] = np.nan_to_num(point_scores, nan=0.0).ravel()
            predicted[start * n_nodes : start * n_nodes + len(point_records)] = point_records
        if open_frame is not None:
            open_frame["instance_id_end"] = rows
            frames[written - 1 : written] = open_frame


def import_predictions(
    path: str, video_id: str, video_path: str | None, frames: str | None
) -> tuple[PredictionsFile, dict, np.ndarray]:
    """A track-only run's input: the predictions file, the stage record of the tables made from
    it, and the selected frames (to read with :func:`iter_prediction_tables`).

    The frame selection is resolved against the video's length: from the video file when it is
    on disk (``video_path``, else the one the .slp names), else from the length the .slp records,
    else from its last frame with an instance (a pass over its instances).
    """
    from .errors import VideoError
    from .video import FrameRangeError, FrameSelection, probe

    selection = FrameSelection.parse(frames)
    source = open_predictions(path, video_path)
    reference = video_path or source.video_path
    n_frames = frame_size = None
    if reference and Path(reference).is_file():
        try:
            info = probe(reference)
            n_frames, frame_size = info.n_frames, [info.width, info.height]
        except VideoError:
            pass
    if n_frames is None:
        n_frames = source.n_frames
    if n_frames is None:
        last = max(
            (int(d["frame"].max()) for d, _ in iter_prediction_tables(source, video_id)),
            default=None,
        )
        if last is None:
            raise _no_instances(source, "")
        n_frames = last + 1
    try:
        resolved = selection.resolve(n_frames)
    except FrameRangeError as error:
        raise InputFileError(
            f"frames of video {video_id}: {error}", f"keep frames within 0-{n_frames - 1}."
        ) from None
    stage = {
        "method": "predictions",
        "source": str(path),
        "video": reference,
        "n_frames": n_frames,
        # Measured here, where the video is opened anyway: the suspect checks need it.
        "frame_size": frame_size,
        "frame_selection": str(resolved),
        "skeleton": {"nodes": source.nodes, "edges": [list(e) for e in source.edges]},
        "existing_tracks": "ignored",
    }
    return source, stage, resolved.frames()


def no_selected_instances(source: PredictionsFile, video_id: str, stage: dict) -> InputFileError:
    """The error of a track-only input without instances in its selected frames."""
    return InputFileError(
        f"predictions file {source.path} has no instances in the selected frames "
        f"({stage['frame_selection']}) of video {video_id}.",
        "check the video's `frames` selection against the frames SLEAP predicted.",
    )


def prediction_tables(
    path: str, video_id: str, video_path: str | None, frames: str | None
) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Detections, poses and the stage record of a track-only run's input, as whole tables
    (the import job writes them part by part: see :func:`import_predictions`)."""
    source, stage, wanted = import_predictions(path, video_id, video_path, frames)
    parts = list(iter_prediction_tables(source, video_id, wanted))
    if not parts:
        raise no_selected_instances(source, video_id, stage)
    detections, poses = _joined(parts)
    return detections, poses, stage


def write_analysis_h5(tracks_slp: str, path: str) -> None:
    """SLEAP's analysis HDF5 of a tracks file: the arrays SLEAP's "Export Analysis HDF5" gives,
    one row per video frame from frame 0 (NaN where a track is absent), which MATLAB scripts
    and movement's ``load_poses.from_sleap_file`` read.

    sleap-io writes the file from the tracks file's records (names, skeleton, video,
    provenance) and a placeholder frame holding each track once; the five per-frame arrays are
    then replaced by the arrays of the file's instances, filled a block of frames at a time
    (:func:`_analysis_arrays`): the same file as sleap-io writes from the whole tracks (a test
    compares them), whose objects took ~3 KB per instance-frame."""
    import h5py

    sio = _sleap_io()
    from sleap_io.io.slp import read_metadata, read_provenance, read_tracks

    def records():
        videos, skeletons = _records(tracks_slp)
        provenance = read_provenance(tracks_slp, read_metadata(tracks_slp))
        return videos, skeletons, read_tracks(tracks_slp), {**provenance, "filename": tracks_slp}

    videos, skeletons, tracks, provenance = _read_slp(tracks_slp, records)
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.tmp")
    try:
        with _InstanceRecords(tracks_slp) as instances:
            if not instances.n_instances:  # sleap-io refuses a video without instances
                labels = sio.Labels(videos=videos, skeletons=skeletons, provenance=provenance)
                _write_empty_analysis_h5(labels, temporary, tracks_slp)
            else:
                skeleton = skeletons[0]
                nothing = np.full((len(skeleton.nodes), 2), np.nan)
                # A video of unknown length: sleap-io would size its arrays by the video's.
                video = sio.Video(filename=videos[0].filename, open_backend=False)
                placeholder = sio.LabeledFrame(
                    video=video,
                    frame_idx=0,
                    instances=[
                        sio.PredictedInstance.from_numpy(nothing, skeleton=skeleton, track=track)
                        for track in tracks
                    ],
                )
                labels = sio.Labels(
                    labeled_frames=[placeholder],
                    videos=[video],
                    skeletons=skeletons,
                    tracks=tracks,
                    provenance=provenance,
                )
                sio.save_analysis_h5(labels, str(temporary), labels_path=str(tracks_slp))
                n_frames = max(instances.last_frame, len(videos[0]) - 1) + 1
                _analysis_arrays(temporary, instances, len(tracks), n_frames)
                with h5py.File(temporary, "a") as handle:  # the video's own record
                    handle.attrs["video_backend_metadata"] = json.dumps(videos[0].backend_metadata)
        temporary.replace(target)
    finally:
        temporary.unlink(missing_ok=True)


class _InstanceRecords:
    """A tracks .slp's frame and instance records (not its points), open for
    :func:`_analysis_arrays`: written by :func:`write_tracks`, so its instances are predicted
    ones, each with a track, at most one per track and frame. Its labelled-frame records are
    read a window at a time (:func:`_chosen_frames`), as :meth:`instances_of` asks for later
    frames: a long video's are never held whole (~70 bytes a frame with its sorting)."""

    def __init__(self, path: str):
        import h5py

        self.handle = h5py.File(path, "r")
        self.n_instances, self.last_frame = 0, -1
        for frame_idx, _, counts in _chosen_frames(self.handle, None, None):
            self.n_instances += int(counts.sum())
            self.last_frame = int(frame_idx[-1]) if len(frame_idx) else self.last_frame
        self._windows = _chosen_frames(self.handle, None, None)
        self._pending = _NO_FRAMES

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.handle.close()

    def instances_of(self, first: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
        """The instance records of video frames ``first`` .. ``stop`` - 1 and their frames;
        asked for in frame order (the frames before ``first`` not asked for are passed over)."""
        parts = []
        while True:
            frame_idx = self._pending[0]
            low, high = np.searchsorted(frame_idx, [first, stop])
            parts.append([values[low:high] for values in self._pending])
            if high < len(frame_idx):
                self._pending = tuple(values[high:] for values in self._pending)
                break
            self._pending = next(self._windows, None)
            if self._pending is None:
                self._pending = _NO_FRAMES
                break
        frame_idx, starts, counts = (np.concatenate(part) for part in zip(*parts, strict=True))
        rows = _ranges(starts, counts)
        return _take(self.handle["instances"], rows), np.repeat(frame_idx, counts)


_NO_FRAMES = (np.zeros(0, dtype=np.int64),) * 3


def _analysis_arrays(path: Path, records: _InstanceRecords, n_tracks: int, n_frames: int) -> None:
    """Replace the per-frame arrays of the analysis HDF5 at ``path`` by ``n_frames`` frames of
    the tracks' instances, in sleap-io's ("matlab") axis order, compressed as sleap-io does.
    A track takes the slot of its index in the file's tracks (sleap-io drops tracks without
    instances; :func:`write_tracks` writes none)."""
    with io.hdf5_written_in_chunks(path, "a") as handle:
        n_nodes = handle["tracks"].shape[2]
        layouts = {}
        for name, shape, dtype in (
            ("tracks", (n_tracks, 2, n_nodes, n_frames), np.float64),
            ("track_occupancy", (n_frames, n_tracks), np.uint8),
            ("point_scores", (n_tracks, n_nodes, n_frames), np.float64),
            ("instance_scores", (n_tracks, n_frames), np.float64),
            ("tracking_scores", (n_tracks, n_frames), np.float64),
        ):
            attrs = dict(handle[name].attrs)
            del handle[name]
            created = handle.create_dataset(
                name, shape=shape, dtype=dtype, compression="gzip", compression_opts=9
            )
            created.attrs.update(attrs)
            layouts[name] = created
        # Blocks of whole chunks along the frames (no chunk of the largest array compressed
        # twice), of about ANALYSIS_BLOCK_VALUES values of it.
        chunk = layouts["tracks"].chunks[-1]
        per_frame = max(1, n_tracks * 2 * n_nodes)
        step = chunk * max(1, ANALYSIS_BLOCK_VALUES // per_frame // chunk)
        points = records.handle["pred_points"]
        for first in range(0, n_frames, step):
            stop = min(first + step, n_frames)
            instances, frames = records.instances_of(first, stop)
            slot = instances["track"].astype(np.int64)
            if instances.size and (
                (instances["instance_type"] != PREDICTED_INSTANCE).any() or (slot < 0).any()
            ):
                raise SnakeherdError(
                    f"{records.handle.filename} holds instances the tracker does not write.",
                    "re-run the track job, or export the analysis HDF5 from SLEAP.",
                )
            at = frames - first
            block = stop - first
            locations = np.full((n_tracks, 2, n_nodes, block), np.nan)
            point_scores = np.full((n_tracks, n_nodes, block), np.nan)
            instance_scores = np.full((n_tracks, block), np.nan)
            tracking_scores = np.full((n_tracks, block), np.nan)
            occupancy = np.zeros((block, n_tracks), dtype=np.uint8)
            instance_scores[slot, at] = instances["score"]
            tracking_scores[slot, at] = instances["tracking_score"]
            occupancy[at, slot] = 1
            # The block's points a window of instances at a time: read whole, with the arrays
            # made of them, they were ~2.5 KB an instance of a 24-node skeleton.
            window = max(1, ANALYSIS_POINT_ROWS // max(n_nodes, 1))
            for start in range(0, len(instances), window):
                part = slice(start, start + window)
                taken = _points_of(points, instances[part], n_nodes)
                visible = taken["visible"]
                locations[slot[part], 0, :, at[part]] = np.where(visible, taken["x"], np.nan)
                locations[slot[part], 1, :, at[part]] = np.where(visible, taken["y"], np.nan)
                point_scores[slot[part], :, at[part]] = taken["score"]
            layouts["tracks"][..., first:stop] = locations
            layouts["point_scores"][..., first:stop] = point_scores
            layouts["instance_scores"][:, first:stop] = instance_scores
            layouts["tracking_scores"][:, first:stop] = tracking_scores
            layouts["track_occupancy"][first:stop] = occupancy


def _write_empty_analysis_h5(labels, path: Path, tracks_slp: str) -> None:
    """An analysis HDF5 of no tracks, in SLEAP's ("matlab") axis order."""
    import h5py

    nodes = list(labels.skeletons[0].node_names) if labels.skeletons else []
    video = labels.videos[0] if labels.videos else None
    shape = (video.backend_metadata or {}).get("shape") if video is not None else None
    n_frames = int(shape[0]) if shape else 0
    with h5py.File(path, "w") as handle:
        handle.attrs["preset"] = "matlab"
        handle["tracks"] = np.zeros((0, 2, len(nodes), n_frames))
        handle["track_occupancy"] = np.zeros((n_frames, 0), dtype=np.uint8)
        handle["point_scores"] = np.zeros((0, len(nodes), n_frames))
        handle["instance_scores"] = np.zeros((0, n_frames))
        handle["tracking_scores"] = np.zeros((0, n_frames))
        handle["track_names"] = np.array([], dtype="S")
        handle["node_names"] = np.array([n.encode() for n in nodes], dtype="S")
        handle["edge_names"] = np.zeros((0, 2), dtype="S")
        handle["edge_inds"] = np.zeros((0, 2), dtype=np.int64)
        handle["video_path"] = str(video.filename) if video is not None else ""
        handle["video_ind"] = 0
        handle["labels_path"] = str(tracks_slp)
        handle["provenance"] = "{}"
