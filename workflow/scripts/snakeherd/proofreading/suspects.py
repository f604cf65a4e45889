"""Suspect frames: the stretches of a video's tracks a person should check, ranked.

Every check flags frames (with the tracks involved and a severity, how far past its threshold the
frame is, 1 = at it); flags of one reason and the same tracks that follow each other within
``merge_gap`` frames become one stretch, shown at its most severe frame. The stretches are ranked
by severity and the ``max_per_video`` first are kept, so a long video gives a list a person can
work through. Reasons (:data:`REASONS`):

- ``count``: the frame holds another number of tracked animals than expected;
- ``low_score``: an instance's score, or its keypoints' mean score, is low for this video (more
  than ``score_robust_sd`` robust standard deviations below the video's median) or below the
  absolute floor;
- ``track_start`` / ``track_end``: a track starts after the first processed frame or ends before
  the last, away from the frame's border (the tracker lost an animal, or took a false one);
- ``interpolated``: a hole of ``min_interpolated_gap`` frames or more that the tracker filled in;
- ``gap``: a track resumes after a hole it did not fill in (the tracker stitched across it);
- ``close``: two animals closer than ``close_distance`` body lengths (where identities swap);
- ``jump``: a track moves faster than ``jump_factor`` times the video's 99th-percentile speed;
- ``heading_flip``: a track's heading turns by more than ``heading_flip`` rad in one frame;
- ``identity_motion`` (multi-class runs only, whose tracks are a model's identity classes): two
  classes trade places from one frame they are both in to the next (across at most
  ``merge_gap`` frames), their motion saying each animal is now the other class (giving each the
  other's class moves them ``identity_motion`` body lengths less).

Units: frames, px (body lengths where said: the median long side of the video's detections).
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np
import pandas as pd

from .. import ranks
from ..stored import StoredColumns, Table, rows_of

REASONS = (
    "count",
    "low_score",
    "track_start",
    "track_end",
    "interpolated",
    "gap",
    "close",
    "jump",
    "heading_flip",
    "identity_motion",
)
COLUMNS = [
    "video_id",
    "frame",
    "start_frame",
    "end_frame",
    "track_ids",
    "reason",
    "severity",
    "rank",
    "detail",
]
MAX_SEVERITY = 10.0
# What the checks read of the tracks, and the type they read it as.
CHECKED = {
    "frame": np.int64,
    "track_id": np.int64,
    "x": np.float64,
    "y": np.float64,
    "score": np.float64,
    "interpolated": bool,
    "heading": np.float64,
    "keypoint_score": np.float64,
}
ACROSS_TRACKS = ("count", "jump", "heading_flip")
"""Reasons whose flags of different tracks join into one stretch."""
CHECK_ROWS = 2**16
"""Rows of the tracks a check reads at once: a long video's are never held whole (the checks'
whole columns and their arrays were ~60 MB of the track job at 660,000 rows)."""

KeypointScores = np.ndarray | Callable[[slice], np.ndarray] | None
"""Each row's mean keypoint score: an array, or rows -> theirs (made a block at a time)."""


@dataclass(frozen=True)
class SuspectParams:
    """The config's ``proofreading`` section (units and reasons in config/README.md)."""

    enabled: bool = True
    max_per_video: int = 200  # stretches kept, most severe first
    merge_gap: int = 5  # frames: flags of one reason and tracks this close form one stretch
    score_robust_sd: float = 4.0  # robust SDs below the video's median score
    score_floor: float = 0.2  # scores below this are always suspect (the detector's unit)
    keypoint_score_floor: float = 0.2  # mean keypoint score below this is always suspect
    edge_margin: float = 1.0  # body lengths from the frame's border: a track may start there
    min_interpolated_gap: int = 3  # frames: shorter filled-in holes are not flagged
    close_distance: float = 0.5  # body lengths between two animals' centres
    jump_factor: float = 3.0  # times the video's 99th-percentile speed
    heading_flip: float = 2.0  # rad of heading change between consecutive frames
    identity_motion: float = 0.5  # body lengths less movement when two classes are swapped

    @classmethod
    def from_config(cls, section: dict | None) -> SuspectParams:
        names = {f.name for f in fields(cls)}
        return cls(**{key: value for key, value in (section or {}).items() if key in names})

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class VideoContext:
    """What the checks need to know about the video besides its tracks."""

    frames: np.ndarray  # the processed frame indices, sorted
    body_length: float  # px: an animal's typical length
    expected_count: int | None = None  # None: the count most processed frames hold
    frame_size: tuple[int, int] | None = None  # (width, height) px; None: border not known
    identity_classes: bool = False  # the tracks are a multi-class model's identity classes


def body_length(detections: pd.DataFrame | Callable[[], Iterable[pd.DataFrame]]) -> float:
    """px: the median long side of the video's detection boxes (1 when there are none);
    ``detections`` may come in parts, afresh at each call (a long video's, read a batch at a
    time: the median is found by passes over them)."""
    parts = detections if callable(detections) else (lambda: [detections])

    def long_sides() -> Iterator[np.ndarray]:
        for part in parts():
            if part.empty or "w" not in part:
                continue
            sides = np.maximum(part["w"].to_numpy(float), part["h"].to_numpy(float))
            yield sides[np.isfinite(sides) & (sides > 0)]

    median = ranks.median(long_sides)
    return median if np.isfinite(median) else 1.0


def expected_count(tracks_stage: dict, detection_stage: dict | None = None) -> int | None:
    """The number of animals the run was told or estimated (None when neither)."""
    max_tracks = (tracks_stage.get("params") or {}).get("max_tracks")
    if isinstance(max_tracks, int):
        return max_tracks
    estimate = (tracks_stage.get("animal_count") or {}).get("count")
    if estimate is not None:
        return int(estimate)
    n_animals = ((detection_stage or {}).get("params") or {}).get("n_animals")
    return int(n_animals) if n_animals else None


def context_for(
    detections: pd.DataFrame | Callable[[], Iterable[pd.DataFrame]],
    frames: np.ndarray,
    tracks_stage: dict,
    detection_stage: dict | None = None,
    video: str | None = None,
) -> VideoContext:
    """What the checks need to know of a video: from its detections (whole or in parts, see
    :func:`body_length`), the processed ``frames``, the tracks' and detections' stage records
    and its frame size: as the detection stage recorded it, else measured from the video file
    (``None`` or a missing file: the border is not known)."""
    frame_size = recorded_frame_size(detection_stage)
    if frame_size is None and video and Path(video).is_file():
        from ..video import probe  # OpenCV: only when a video is there to measure

        info = probe(video)
        frame_size = (info.width, info.height)
    return VideoContext(
        frames=np.asarray(frames, dtype=np.int64),
        body_length=body_length(detections),
        expected_count=expected_count(tracks_stage, detection_stage),
        frame_size=frame_size,
        identity_classes=bool(tracks_stage.get("identities")),
    )


def recorded_frame_size(detection_stage: dict | None) -> tuple[int, int] | None:
    """The video's (width, height) as its detection stage recorded it, or None. Opening a long
    video to measure it again reads the container's index of every frame (~70 bytes a frame
    for an MP4)."""
    stage = detection_stage or {}
    video = stage.get("video")
    if isinstance(video, dict) and video.get("width") and video.get("height"):
        return int(video["width"]), int(video["height"])
    size = stage.get("frame_size")
    return (int(size[0]), int(size[1])) if size else None


def find(
    tracks: Table,
    context: VideoContext,
    params: SuspectParams,
    video_id: str = "",
    keypoint_score: KeypointScores = None,
) -> pd.DataFrame:
    """The suspect stretches of one video's tracks (:data:`COLUMNS`), sorted by frame; ``rank``
    1 is the most severe. ``keypoint_score``: each row's mean keypoint score, when the tracks'
    keypoint columns are not in ``tracks`` (a long video's track job makes them a block at a
    time, and keeps the other columns in temporary files: ``tracks`` may be those). Tracks
    sorted by frame, then track (a track table's order) are read :data:`CHECK_ROWS` rows at a
    time; others are sorted in memory first."""
    checked = _checked(tracks, keypoint_score)
    del keypoint_score  # stored with the tracks
    frames = np.asarray(context.frames, dtype=np.int64)
    flags = [
        _count(checked, frames, context.expected_count),
        _low_scores(checked, params),
        _starts_and_ends(checked, frames, context, params),
        _interpolated(checked, params),
        _gaps(checked, frames),
        _close(checked, context.body_length * params.close_distance),
        *_motion(checked, frames, context.body_length, params),
    ]
    if context.identity_classes:
        limit = context.body_length * params.identity_motion
        flags.append(_identity_motion(checked.by_track, frames, limit, params.merge_gap))
    flags = [flag for flag in flags if len(flag)]
    if not flags:
        return pd.DataFrame({name: pd.Series(dtype=_dtype(name)) for name in COLUMNS})
    stretches = _stretches(pd.concat(flags, ignore_index=True), frames, params.merge_gap)
    stretches = stretches.sort_values(
        ["severity", "length", "frame"], ascending=[False, False, True], kind="stable"
    ).head(params.max_per_video)
    stretches["rank"] = np.arange(1, len(stretches) + 1)
    stretches.insert(0, "video_id", video_id)
    return stretches.sort_values(["frame", "rank"], kind="stable")[COLUMNS].reset_index(drop=True)


@dataclass(frozen=True)
class _CheckedTracks:
    """What the checks read of a video's tracks (:data:`CHECKED`), in two orders: ``by_frame``
    sorted by frame, then track (the tracks as given, when they are); ``by_track`` sorted by
    track, then frame, in temporary files, the keypoint columns summed up in
    ``keypoint_score``. ``track_bounds``: where each track's rows begin in ``by_track``, then
    its length; ``widest``: the most rows a frame holds."""

    by_frame: Table
    by_track: StoredColumns
    track_bounds: np.ndarray
    widest: int

    def __len__(self) -> int:
        return len(self.by_track)


def _blocks(table: Table, columns: list[str]) -> Iterator[dict[str, np.ndarray]]:
    """``columns`` of ``table`` (as :data:`CHECKED` types them), :data:`CHECK_ROWS` rows at a
    time, in order."""
    for start in range(0, len(table), CHECK_ROWS):
        part = rows_of(table, slice(start, start + CHECK_ROWS), columns)
        yield {name: part[name].to_numpy(dtype=CHECKED[name]) for name in columns}


def _in_frame_order(tracks: Table, keypoint_score: KeypointScores) -> tuple[Table, KeypointScores]:
    """``tracks`` (and ``keypoint_score``) sorted by frame, then track: as they are when they
    are (checked a block at a time), else sorted in memory (rows of one track and frame keep
    their order)."""
    before = None  # the last (frame, track) of the blocks before
    ordered = True
    for part in _blocks(tracks, ["frame", "track_id"]):
        frame, track_id = part["frame"], part["track_id"]
        if before is not None:
            frame, track_id = np.r_[before[0], frame], np.r_[before[1], track_id]
        step = np.diff(frame)
        if ((step < 0) | ((step == 0) & (np.diff(track_id) < 0))).any():
            ordered = False
            break
        before = frame[-1], track_id[-1]
    if ordered:
        return tracks, keypoint_score
    whole = rows_of(tracks, slice(None))
    order = np.lexsort((whole["track_id"].to_numpy(), whole["frame"].to_numpy()))
    if callable(keypoint_score):
        keypoint_score = keypoint_score(slice(None))
    if keypoint_score is not None:
        keypoint_score = np.asarray(keypoint_score)[order]
    return whole.iloc[order].reset_index(drop=True), keypoint_score


def _checked(tracks: Table, keypoint_score: KeypointScores) -> _CheckedTracks:
    """:class:`_CheckedTracks` of ``tracks``: ``by_track`` made by a counting sort, a block of
    rows at a time (each track's rows written at the next of the rows its count leaves it)."""
    tracks, keypoint_score = _in_frame_order(tracks, keypoint_score)
    point_scores = [name for name in tracks.columns if str(name).endswith(".score")]
    # A pass over the frames and tracks: the rows of each track, and of the widest frame.
    track_ids, counts = np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    widest, last_frame, last_run = 0, None, 0
    for part in _blocks(tracks, ["frame", "track_id"]):
        found, found_counts = np.unique(part["track_id"], return_counts=True)
        merged, at = np.unique(np.r_[track_ids, found], return_inverse=True)
        counts = np.bincount(at, weights=np.r_[counts, found_counts], minlength=len(merged))
        track_ids, counts = merged, counts.astype(np.int64)
        frame = part["frame"]
        begins = np.flatnonzero(np.r_[True, frame[1:] != frame[:-1]])
        runs = np.diff(np.r_[begins, len(frame)])
        if frame[0] == last_frame:  # a frame's rows over two blocks
            runs[0] += last_run
        widest, last_frame, last_run = max(widest, int(runs.max())), frame[-1], int(runs[-1])
    bounds = np.r_[0, np.cumsum(counts)].astype(np.int64)
    by_track = StoredColumns(len(tracks))
    read = [name for name in CHECKED if name in tracks.columns]
    if keypoint_score is not None or point_scores:
        read = [name for name in read if name != "keypoint_score"]
    stored = {name: by_track.new_column(name, CHECKED[name]) for name in read}
    if keypoint_score is not None or point_scores:
        stored["keypoint_score"] = by_track.new_column("keypoint_score", np.float64)
    following = bounds[:-1].copy()  # each track's next row in by_track
    for start in range(0, len(tracks), CHECK_ROWS):
        rows = slice(start, start + CHECK_ROWS)
        part = rows_of(tracks, rows, read + point_scores)
        values = {name: part[name].to_numpy(dtype=CHECKED[name]) for name in read}
        if callable(keypoint_score):
            values["keypoint_score"] = keypoint_score(rows)
        elif keypoint_score is not None:
            values["keypoint_score"] = np.asarray(keypoint_score[rows], dtype=np.float64)
        elif point_scores:
            with warnings.catch_warnings():  # rows without any keypoint score: NaN
                warnings.simplefilter("ignore", RuntimeWarning)
                values["keypoint_score"] = np.nanmean(part[point_scores].to_numpy(float), axis=1)
        del part
        order = np.argsort(values["track_id"], kind="stable")
        owner = values["track_id"][order]
        begins = np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]])
        ends = np.r_[begins[1:], len(owner)]
        which = np.searchsorted(track_ids, owner[begins])
        for name, column in stored.items():
            ordered = values[name][order]
            for track, first, stop in zip(which, begins, ends, strict=True):
                column.write(int(following[track]), ordered[first:stop])
        following[which] += ends - begins
    return _CheckedTracks(tracks, by_track, bounds, widest)


def flagged_frames(suspects: pd.DataFrame) -> np.ndarray:
    """Every frame inside a suspect stretch, sorted, once each."""
    if suspects.empty:
        return np.zeros(0, dtype=np.int64)
    spans = [
        np.arange(start, end + 1)
        for start, end in zip(suspects["start_frame"], suspects["end_frame"], strict=True)
    ]
    return np.unique(np.concatenate(spans)).astype(np.int64)


def _dtype(name: str) -> str:
    if name in ("frame", "start_frame", "end_frame", "rank"):
        return "int64"
    return "float64" if name == "severity" else "object"


def _flags(frame, track_ids, reason, severity, detail) -> pd.DataFrame:
    frame = np.asarray(frame, dtype=np.int64)
    return pd.DataFrame(
        {
            "frame": frame,
            "track_ids": np.broadcast_to(np.asarray(track_ids, dtype=object), frame.shape),
            "reason": reason,
            "severity": np.clip(np.asarray(severity, dtype=float), 1.0, MAX_SEVERITY),
            "detail": np.broadcast_to(np.asarray(detail, dtype=object), frame.shape),
        }
    )


def _count(tracks: _CheckedTracks, frames: np.ndarray, expected: int | None) -> pd.DataFrame:
    counts = np.zeros(len(frames), dtype=np.int64)
    for part in _blocks(tracks.by_track, ["frame", "interpolated"]):
        detected = part["frame"][~part["interpolated"]]
        # Detected rows per processed frame (a row of another frame is not counted).
        at = np.searchsorted(frames, detected)
        counted = at < len(frames)
        counted[counted] = frames[at[counted]] == detected[counted]
        counts += np.bincount(at[counted], minlength=len(frames))
    if expected is None:
        if not len(counts):
            return _flags([], "", "count", [], "")
        expected = int(np.bincount(counts).argmax())
    wrong = counts != expected
    found = counts[wrong]
    return _flags(
        frames[wrong],
        "",
        "count",
        1.0 + np.abs(found - expected),
        [f"{n} animals detected, {expected} expected" for n in found],
    )


def _low_scores(tracks: _CheckedTracks, params: SuspectParams) -> pd.DataFrame:
    measures = [("score", "score", params.score_floor)]
    if "keypoint_score" in tracks.by_track:
        measures.append(("keypoint score", "keypoint_score", params.keypoint_score_floor))
    found = []
    for name, column, floor in measures:
        threshold = _low_threshold(tracks, column, floor, params.score_robust_sd)
        if threshold is None:
            continue
        parts = []
        for part in _detected(tracks, ["frame", "track_id", column]):
            low = np.isfinite(part[column]) & (part[column] < threshold)
            parts.append({key: values[low] for key, values in part.items()})
        frame, track_ids, values = _joined(parts, ("frame", "track_id", column))
        if not len(values):
            continue
        severity = threshold / np.maximum(values, threshold / MAX_SEVERITY)
        found.append(
            _flags(
                frame,
                _names(track_ids),
                "low_score",
                severity,
                [f"{name} {v:.3g} < {threshold:.3g}" for v in values],
            )
        )
    return pd.concat(found, ignore_index=True) if found else _flags([], "", "low_score", [], "")


def _detected(tracks: _CheckedTracks, columns: list[str]) -> Iterator[dict[str, np.ndarray]]:
    """``columns`` of the rows that are not filled in, a block at a time (by track)."""
    for part in _blocks(tracks.by_track, [*columns, "interpolated"]):
        kept = ~part.pop("interpolated")
        yield {key: values[kept] for key, values in part.items()}


def _low_threshold(
    tracks: _CheckedTracks, column: str, floor: float, robust_sd: float
) -> float | None:
    """Below what a detected row's ``column`` is low: ``robust_sd`` robust standard deviations
    (from the median absolute deviation) below the median, or ``floor``; None with fewer than
    two values."""

    def finite() -> Iterator[np.ndarray]:
        for part in _detected(tracks, [column]):
            yield part[column][np.isfinite(part[column])]

    known = ranks.extent(finite)
    if known[0] < 2:
        return None
    median = ranks.median(finite, known)
    spread = 1.4826 * ranks.median(lambda: (np.abs(values - median) for values in finite()))
    return max(floor, median - robust_sd * spread)


def _starts_and_ends(
    tracks: _CheckedTracks, frames: np.ndarray, context: VideoContext, params: SuspectParams
) -> pd.DataFrame:
    if not len(tracks) or not len(frames):
        return _flags([], "", "track_start", [], "")
    # Each track's rows are one run of by_track (sorted by track, then frame).
    bounds = tracks.track_bounds
    found = []
    for reason, rows, video_end in (
        ("track_start", bounds[:-1], frames[0]),
        ("track_end", bounds[1:] - 1, frames[-1]),
    ):
        pick = tracks.by_track.take(rows, ["frame", "track_id", "x", "y"])
        inside = pick["frame"].to_numpy() != video_end
        if context.frame_size is not None:
            margin = params.edge_margin * context.body_length
            width, height = context.frame_size
            x, y = pick["x"].to_numpy(), pick["y"].to_numpy()
            inside &= (x > margin) & (x < width - margin) & (y > margin) & (y < height - margin)
        what = "starts" if reason == "track_start" else "ends"
        found.append(
            _flags(
                pick["frame"].to_numpy()[inside],
                _names(pick["track_id"].to_numpy()[inside]),
                reason,
                2.0,
                f"a track {what} inside the video",
            )
        )
    return pd.concat(found, ignore_index=True)


def _interpolated(tracks: _CheckedTracks, params: SuspectParams) -> pd.DataFrame:
    # Runs of filled rows of one track (rows are sorted by track, then frame): the row each
    # begins at in by_track, and its length; a run may go on over blocks.
    first_rows, lengths = [], np.zeros(0, dtype=np.int64)
    before_filled, before_track, start = False, -1, 0  # the last row read
    for part in _blocks(tracks.by_track, ["track_id", "interpolated"]):
        filled, track_ids = part["interpolated"], part["track_id"]
        goes_on = (
            filled
            & np.r_[before_filled, filled[:-1]]
            & (track_ids == np.r_[before_track, track_ids[:-1]])
        )
        begins = filled & ~goes_on
        first_rows.append(start + np.flatnonzero(begins))
        run = np.cumsum(begins) + len(lengths) - 1  # each filled row's run
        lengths = np.r_[lengths, np.zeros(int(begins.sum()), dtype=np.int64)]
        lengths += np.bincount(run[filled], minlength=len(lengths))
        before_filled, before_track, start = filled[-1], track_ids[-1], start + len(filled)
    first_rows = np.concatenate(first_rows) if first_rows else np.zeros(0, dtype=np.int64)
    long = lengths >= params.min_interpolated_gap
    first_rows, lengths = first_rows[long], lengths[long]
    rows = np.repeat(first_rows - np.r_[0, np.cumsum(lengths)[:-1]], lengths)
    found = tracks.by_track.take(rows + np.arange(len(rows)), ["frame", "track_id"])
    return _flags(
        found["frame"].to_numpy(),
        _names(found["track_id"].to_numpy()),
        "interpolated",
        np.repeat(lengths / max(params.min_interpolated_gap, 1), lengths),
        np.repeat(np.array([f"{n} frames filled in" for n in lengths], dtype=object), lengths),
    )


def _gaps(tracks: _CheckedTracks, frames: np.ndarray) -> pd.DataFrame:
    """Where a track resumes after processed frames it has no row in."""
    found_frames, found_tracks, holes = [], [], []
    before = None  # the last row read: its frame's place among the processed frames, its track
    for part in _blocks(tracks.by_track, ["frame", "track_id"]):
        frame, track_ids = part["frame"], part["track_id"]
        position = np.searchsorted(frames, frame)
        if before is not None:
            position, track_ids = np.r_[before[0], position], np.r_[before[1], track_ids]
            frame = np.r_[-1, frame]
        same = track_ids[1:] == track_ids[:-1]
        missing = np.diff(position) - 1
        after = np.flatnonzero(same & (missing > 0)) + 1
        found_frames.append(frame[after])
        found_tracks.append(track_ids[after])
        holes.append(missing[after - 1])
        before = position[-1], track_ids[-1]
    holes = np.concatenate(holes) if holes else np.zeros(0, dtype=np.int64)
    return _flags(
        np.concatenate(found_frames) if found_frames else [],
        _names(np.concatenate(found_tracks) if found_tracks else np.zeros(0, dtype=np.int64)),
        "gap",
        1.0 + np.log2(1.0 + holes),
        [f"resumes after {h} missing frames" for h in holes],
    )


def _close(tracks: _CheckedTracks, distance: float) -> pd.DataFrame:
    """Pairs of tracks closer than ``distance`` px in a frame, found :data:`CHECK_ROWS` rows
    at a time (every pair of a long video at once would be many times its tracks: 45 a frame
    with 10 animals)."""
    # Rows by frame, and within a frame by track: a frame's pairs are rows k apart, k below the
    # most rows a frame holds.
    widest, by_frame = tracks.widest, tracks.by_frame
    columns = ["frame", "track_id", "x", "y"]
    found = []
    for low in range(0, len(by_frame), CHECK_ROWS):
        part = rows_of(by_frame, slice(low, low + CHECK_ROWS + widest - 1), columns)
        f, t, px, py = (part[name].to_numpy(dtype=CHECKED[name]) for name in columns)
        for k in range(1, widest):
            a = np.arange(min(CHECK_ROWS, len(f) - k))  # pairs whose first row is this block's
            a = a[(f[a] == f[a + k]) & (t[a] < t[a + k])]
            apart = np.hypot(px[a] - px[a + k], py[a] - py[a + k])
            near = apart < distance
            found.append((f[a][near], t[a][near], t[a + k][near], apart[near]))
    frames, first, second, apart = (
        (np.concatenate(parts) for parts in zip(*found, strict=True))
        if found
        else ([], [], [], np.zeros(0))
    )
    return _flags(
        frames,
        np.array([f"{a},{b}" for a, b in zip(first, second, strict=True)], dtype=object),
        "close",
        distance / np.maximum(apart, distance / MAX_SEVERITY),
        [f"{d:.0f} px apart" for d in apart],
    )


def _names(track_ids: np.ndarray) -> np.ndarray:
    """Track ids as the text a flag names them by."""
    return np.array([str(track) for track in track_ids.tolist()], dtype=object)


def _motion(
    tracks: _CheckedTracks, frames: np.ndarray, body: float, params: SuspectParams
) -> list[pd.DataFrame]:
    """Jumps and heading flips between a track's consecutive detected rows (a hole in the frame
    selection is no step: the animal moved unseen)."""
    headed = "heading" in tracks.by_track
    found = []

    def finite_speeds() -> Iterator[np.ndarray]:
        for part in _steps(tracks, frames, headed):
            yield part["speed"][part["step"]]

    known = ranks.extent(finite_speeds)
    if known[0]:
        # Never below a tenth of a body length a frame: resting animals jitter by a pixel.
        limit = max(params.jump_factor * ranks.percentile(finite_speeds, 99, known), 0.1 * body)
        jumps = [
            {key: part[key][part["step"] & (part["speed"] > limit)] for key in part}
            for part in _steps(tracks, frames, headed)
        ]
        frame, track_ids, speed = _joined(jumps, ("frame", "track_id", "speed"))
        found.append(
            _flags(
                frame,
                _names(track_ids),
                "jump",
                speed / limit,
                [f"moves {s:.0f} px/frame (plausible: up to {limit:.0f})" for s in speed],
            )
        )
    if headed:
        flips = [
            {key: part[key][part["next_frame"] & (part["turn"] > params.heading_flip)]
             for key in ("frame", "track_id", "turn")}
            for part in _steps(tracks, frames, headed)
        ]  # fmt: skip
        frame, track_ids, turn = _joined(flips, ("frame", "track_id", "turn"))
        found.append(
            _flags(
                frame,
                _names(track_ids),
                "heading_flip",
                turn / params.heading_flip,
                [f"heading turns {np.degrees(t):.0f}° in one frame" for t in turn],
            )
        )
    return found


def _joined(parts: list[dict[str, np.ndarray]], keys: tuple[str, ...]) -> list[np.ndarray]:
    """Each of ``keys``' arrays of ``parts`` joined (empty ones without parts)."""
    return [np.concatenate([part[key] for part in parts]) if parts else np.zeros(0) for key in keys]


def _steps(tracks: _CheckedTracks, frames: np.ndarray, headed: bool) -> Iterator[dict]:
    """Each detected row after the one before it in its track, a block of rows at a time: its
    ``frame`` and ``track_id``, the ``speed`` since (px/frame), whether that is a ``step`` (the
    frames between were processed; a finite speed), whether it is the ``next_frame``, and with
    ``headed`` the ``turn`` of the heading since (rad)."""
    columns = ["frame", "track_id", "x", "y", "interpolated", *(["heading"] if headed else [])]
    before = None  # the last detected row read
    for part in _blocks(tracks.by_track, columns):
        detected = ~part.pop("interpolated")
        rows = {key: values[detected] for key, values in part.items()}
        rows["position"] = np.searchsorted(frames, rows["frame"])
        if before is not None:
            rows = {key: np.r_[before[key], values] for key, values in rows.items()}
        if not len(rows["frame"]):
            continue
        before = {key: values[-1:] for key, values in rows.items()}
        same = rows["track_id"][1:] == rows["track_id"][:-1]
        elapsed = np.diff(rows["frame"])
        speed = np.hypot(np.diff(rows["x"]), np.diff(rows["y"])) / np.maximum(elapsed, 1)
        step = same & (np.diff(rows["position"]) == elapsed) & (elapsed > 0)
        result = {
            "frame": rows["frame"][1:],
            "track_id": rows["track_id"][1:],
            "speed": speed,
            "step": step & np.isfinite(speed),
            "next_frame": same & (elapsed == 1),
        }
        if headed:
            result["turn"] = np.abs(np.angle(np.exp(1j * np.diff(rows["heading"]))))
        yield result


def _identity_motion(
    tracks: StoredColumns, frames: np.ndarray, limit: float, bridge: int
) -> pd.DataFrame:
    """Where two classes trade places between frames both are detected in (consecutive, or
    across at most ``bridge`` processed frames one of them is missing from): giving each animal
    the other's class at the later frame moves the pair ``limit`` px less in total than keeping
    the classes, so motion says the classes swapped. The saving is at most twice the animals'
    distance, so animals closer than ``limit / 2`` (overlapping: flagged ``close``) never are.

    Each pair of classes is compared on its own: every pair's rows at once would be
    ``classes - 1`` times the tracks (45 rows a frame with 10 classes)."""
    detected = ~tracks["interpolated"]
    real = pd.DataFrame({name: tracks[name][detected] for name in ("frame", "track_id", "x", "y")})
    del detected
    real = real.assign(step=np.searchsorted(frames, real["frame"].to_numpy()))
    by_class = dict(tuple(real.groupby("track_id", sort=True)))
    found = [
        _classes_swapped(by_class[mine], by_class[theirs], limit, bridge)
        for mine, theirs in itertools.combinations(sorted(by_class), 2)
    ]
    return (
        pd.concat(found, ignore_index=True) if found else _flags([], "", "identity_motion", [], "")
    )


def _classes_swapped(
    mine: pd.DataFrame, theirs: pd.DataFrame, limit: float, bridge: int
) -> pd.DataFrame:
    """:func:`_identity_motion`'s flags of one pair of classes (``mine``: the lower track id;
    each its detected rows with ``step``, the frame's position among the processed frames)."""
    pairs = mine.merge(theirs.drop(columns="frame"), on="step", suffixes=("", "_other"))
    pairs = pairs.sort_values("step", kind="stable").reset_index(drop=True)
    later = pairs.shift(-1)
    near = (later["step"] - pairs["step"] <= bridge + 1).to_numpy()

    def apart(first: str, second: str) -> np.ndarray:
        x = pairs["x" + first] - later["x" + second]
        return np.hypot(x, pairs["y" + first] - later["y" + second]).to_numpy()

    kept = apart("", "") + apart("_other", "_other")
    crossed = apart("", "_other") + apart("_other", "")
    saved = np.where(near, kept - crossed, 0.0)
    swapped = saved > limit
    names = f"{pairs['track_id'].iloc[0]},{pairs['track_id_other'].iloc[0]}" if len(pairs) else ""
    return _flags(
        later["frame"].to_numpy()[swapped],
        names,
        "identity_motion",
        saved[swapped] / limit,
        [f"classes swapped: {d:.0f} px less movement" for d in saved[swapped]],
    )


def _stretches(flags: pd.DataFrame, frames: np.ndarray, merge_gap: int) -> pd.DataFrame:
    """Flags of one reason (and tracks) within ``merge_gap`` processed frames joined; each
    stretch shown at its most severe frame (the first of equals)."""
    flags = flags.assign(position=np.searchsorted(frames, flags["frame"].to_numpy()))
    # A swap makes both tracks jump at once: one cause, one stretch.
    across = flags["reason"].isin(ACROSS_TRACKS)
    flags["key"] = flags["reason"] + "|" + flags["track_ids"].where(~across, "")
    flags = flags.sort_values(["key", "position"], kind="stable")
    new = (flags["key"] != flags["key"].shift()) | (flags["position"].diff() > merge_gap + 1)
    flags["stretch"] = new.cumsum()
    best = flags.sort_values(["stretch", "severity"], ascending=[True, False], kind="stable")
    best = best.drop_duplicates("stretch").set_index("stretch")
    grouped = flags.groupby("stretch")
    spans = grouped["frame"].agg(["min", "max", "size"])
    track_ids = grouped["track_ids"].agg(_union)
    return pd.DataFrame(
        {
            "frame": best["frame"],
            "start_frame": spans["min"],
            "end_frame": spans["max"],
            "track_ids": track_ids,
            "reason": best["reason"],
            "severity": best["severity"].round(3),
            "length": spans["size"],
            "detail": best["detail"],
        }
    ).reset_index(drop=True)


def _union(track_ids: pd.Series) -> str:
    """Track ids of a stretch's flags (each "3" or "1,4"), once each, ascending."""
    ids = {int(t) for value in track_ids for t in str(value).split(",") if t}
    return ",".join(str(t) for t in sorted(ids))
