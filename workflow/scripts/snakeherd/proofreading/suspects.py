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
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np
import pandas as pd

from ..keypoints import BLOCK_ROWS
from ..stored import StoredColumns, Table, column_of

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


def body_length(detections: pd.DataFrame) -> float:
    """px: the median long side of the video's detection boxes (1 when there are none)."""
    if detections.empty or "w" not in detections:
        return 1.0
    sides = np.maximum(detections["w"].to_numpy(float), detections["h"].to_numpy(float))
    sides = sides[np.isfinite(sides) & (sides > 0)]
    return float(np.median(sides)) if len(sides) else 1.0


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
    detections: pd.DataFrame,
    frames: np.ndarray,
    tracks_stage: dict,
    detection_stage: dict | None = None,
    video: str | None = None,
) -> VideoContext:
    """What the checks need to know of a video: from its detections, the processed ``frames``,
    the tracks' and detections' stage records and the video file (its frame size; ``None`` or a
    missing file: the border is not known)."""
    frame_size = None
    if video and Path(video).is_file():
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


def find(
    tracks: Table,
    context: VideoContext,
    params: SuspectParams,
    video_id: str = "",
    keypoint_score: np.ndarray | None = None,
) -> pd.DataFrame:
    """The suspect stretches of one video's tracks (:data:`COLUMNS`), sorted by frame; ``rank``
    1 is the most severe. ``keypoint_score``: each row's mean keypoint score, when the tracks'
    keypoint columns are not in ``tracks`` (a long video's track job makes them a block at a
    time, and keeps the other columns in temporary files: ``tracks`` may be those)."""
    tracks = _by_track(tracks, keypoint_score)
    del keypoint_score  # stored with the tracks
    frames = np.asarray(context.frames, dtype=np.int64)
    flags = [
        _count(tracks, frames, context.expected_count),
        _low_scores(tracks, params),
        _starts_and_ends(tracks, frames, context, params),
        _interpolated(tracks, params),
        _gaps(tracks, frames),
        _close(tracks, context.body_length * params.close_distance),
        *_motion(tracks, frames, context.body_length, params),
    ]
    if context.identity_classes:
        limit = context.body_length * params.identity_motion
        flags.append(_identity_motion(tracks, frames, limit, params.merge_gap))
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


def _by_track(tracks: Table, keypoint_score: np.ndarray | None) -> StoredColumns:
    """What the checks read of the tracks, sorted by track, then frame: the keypoints' columns
    are summed up in ``keypoint_score`` (mean of a row's keypoint scores; or given as that
    column or argument). Kept in temporary files, a column at a time: each check reads the
    columns it needs, so a long video's tracks are held only a few columns at a time."""
    point_scores = [name for name in tracks.columns if name.endswith(".score")]
    if keypoint_score is None and point_scores:
        keypoint_score = np.empty(len(tracks))
        with warnings.catch_warnings():  # rows without any keypoint score: NaN
            warnings.simplefilter("ignore", RuntimeWarning)
            for start in range(0, len(tracks), BLOCK_ROWS):
                part = tracks.iloc[start : start + BLOCK_ROWS][point_scores]
                keypoint_score[start : start + BLOCK_ROWS] = np.nanmean(
                    part.to_numpy(float), axis=1
                )
    order = np.lexsort((column_of(tracks, "frame"), column_of(tracks, "track_id")))
    by_track = StoredColumns(len(order))
    for name, dtype in CHECKED.items():
        if name == "keypoint_score" and keypoint_score is not None:
            by_track[name] = np.asarray(keypoint_score, dtype=dtype)[order]
        elif name in tracks.columns:
            by_track[name] = column_of(tracks, name).astype(dtype, copy=False)[order]
    return by_track


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


def _count(tracks: StoredColumns, frames: np.ndarray, expected: int | None) -> pd.DataFrame:
    detected = tracks["frame"][~tracks["interpolated"]]
    # Detected rows per processed frame (a row of another frame is not counted).
    at = np.searchsorted(frames, detected)
    counted = at < len(frames)
    counted[counted] = frames[at[counted]] == detected[counted]
    counts = np.bincount(at[counted], minlength=len(frames))
    del detected, at, counted
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


def _low_scores(tracks: StoredColumns, params: SuspectParams) -> pd.DataFrame:
    detected = ~tracks["interpolated"]
    measures = [("score", "score", params.score_floor)]
    if "keypoint_score" in tracks:
        measures.append(("keypoint score", "keypoint_score", params.keypoint_score_floor))
    found = []
    for name, column, floor in measures:
        values = tracks[column][detected]
        finite = values[np.isfinite(values)]
        if len(finite) < 2:
            continue
        median = float(np.median(finite))
        spread = 1.4826 * float(np.median(np.abs(finite - median)))
        threshold = max(floor, median - params.score_robust_sd * spread)
        low = np.isfinite(values) & (values < threshold)
        if not low.any():
            continue
        severity = threshold / np.maximum(values[low], threshold / MAX_SEVERITY)
        found.append(
            _flags(
                tracks["frame"][detected][low],
                _names(tracks["track_id"][detected][low]),
                "low_score",
                severity,
                [f"{name} {v:.3g} < {threshold:.3g}" for v in values[low]],
            )
        )
    return pd.concat(found, ignore_index=True) if found else _flags([], "", "low_score", [], "")


def _starts_and_ends(
    tracks: StoredColumns, frames: np.ndarray, context: VideoContext, params: SuspectParams
) -> pd.DataFrame:
    if not len(tracks) or not len(frames):
        return _flags([], "", "track_start", [], "")
    # Each track's rows are one run (sorted by track, then frame): its first and last row.
    track_ids = tracks["track_id"]
    bounds = np.flatnonzero(track_ids[1:] != track_ids[:-1]) + 1
    del track_ids
    found = []
    for reason, rows, video_end in (
        ("track_start", np.concatenate([[0], bounds]), frames[0]),
        ("track_end", np.concatenate([bounds - 1, [len(tracks) - 1]]), frames[-1]),
    ):
        pick = tracks.take(rows, ["frame", "track_id", "x", "y"])
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


def _runs(values: np.ndarray) -> list[np.ndarray]:
    """Index runs of consecutive True in ``values``."""
    where = np.flatnonzero(values)
    if not len(where):
        return []
    return np.split(where, np.flatnonzero(np.diff(where) != 1) + 1)


def _interpolated(tracks: StoredColumns, params: SuspectParams) -> pd.DataFrame:
    filled = tracks["interpolated"]
    track_ids = tracks["track_id"]
    frame = tracks["frame"]
    found_frames, found_tracks, severity, detail = [], [], [], []
    for run in _runs(filled):
        # A run of filled rows of one track (rows are sorted by track, then frame).
        for piece in np.split(run, np.flatnonzero(np.diff(track_ids[run]) != 0) + 1):
            if len(piece) < params.min_interpolated_gap:
                continue
            found_frames += list(frame[piece])
            found_tracks += [str(track_ids[piece[0]])] * len(piece)
            severity += [len(piece) / max(params.min_interpolated_gap, 1)] * len(piece)
            detail += [f"{len(piece)} frames filled in"] * len(piece)
    return _flags(found_frames, found_tracks, "interpolated", severity, detail)


def _gaps(tracks: StoredColumns, frames: np.ndarray) -> pd.DataFrame:
    """Where a track resumes after processed frames it has no row in."""
    frame, track_ids = tracks["frame"], tracks["track_id"]
    position = np.searchsorted(frames, frame)
    same = track_ids[1:] == track_ids[:-1]
    missing = np.diff(position) - 1
    del position
    after = np.flatnonzero(same & (missing > 0)) + 1
    holes = missing[after - 1]
    return _flags(
        frame[after],
        _names(track_ids[after]),
        "gap",
        1.0 + np.log2(1.0 + holes),
        [f"resumes after {h} missing frames" for h in holes],
    )


def _close(tracks: StoredColumns, distance: float) -> pd.DataFrame:
    """Pairs of tracks closer than ``distance`` px in a frame, found :data:`BLOCK_ROWS` rows
    at a time (every pair of a long video at once would be many times its tracks: 45 a frame
    with 10 animals)."""
    frame = tracks["frame"]
    track_id, x, y = (tracks[name] for name in ("track_id", "x", "y"))
    # Rows by frame, and within a frame by track (the tracks come sorted by track, then frame):
    # a frame's pairs are rows k apart, k below the most rows a frame holds.
    order = np.argsort(frame, kind="stable")
    widest = int(np.unique(frame, return_counts=True)[1].max()) if len(frame) else 0
    found = []
    for low in range(0, len(order), BLOCK_ROWS):
        rows = order[low : low + BLOCK_ROWS + widest - 1]
        f, t, px, py = frame[rows], track_id[rows], x[rows], y[rows]
        for k in range(1, widest):
            a = np.arange(min(BLOCK_ROWS, len(rows) - k))  # pairs whose first row is this block's
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
    tracks: StoredColumns, frames: np.ndarray, body: float, params: SuspectParams
) -> list[pd.DataFrame]:
    """Jumps and heading flips between a track's consecutive detected rows (a hole in the frame
    selection is no step: the animal moved unseen)."""
    detected = ~tracks["interpolated"]
    frame = tracks["frame"][detected]
    position = np.searchsorted(frames, frame)
    track_ids = tracks["track_id"][detected]
    same = track_ids[1:] == track_ids[:-1]
    elapsed = np.diff(frame)
    step = same & (np.diff(position) == elapsed) & (elapsed > 0)
    del position  # a long video's checks hold a few arrays of its rows at a time
    x, y = (tracks[name][detected] for name in ("x", "y"))
    speed = np.hypot(np.diff(x), np.diff(y)) / np.maximum(elapsed, 1)
    del x, y
    steps = np.flatnonzero(step & np.isfinite(speed))
    del step
    found = []
    if len(steps):
        # Never below a tenth of a body length a frame: resting animals jitter by a pixel.
        limit = max(params.jump_factor * np.percentile(speed[steps], 99), 0.1 * body)
        jumps = steps[speed[steps] > limit]
        found.append(
            _flags(
                frame[jumps + 1],
                _names(track_ids[jumps + 1]),
                "jump",
                speed[jumps] / limit,
                [f"moves {s:.0f} px/frame (plausible: up to {limit:.0f})" for s in speed[jumps]],
            )
        )
    del speed, steps
    if "heading" in tracks:
        change = np.diff(tracks["heading"][detected])
        turn = np.abs(np.angle(np.exp(1j * change)))
        del change
        flips = np.flatnonzero(same & (elapsed == 1) & (turn > params.heading_flip))
        found.append(
            _flags(
                frame[flips + 1],
                _names(track_ids[flips + 1]),
                "heading_flip",
                turn[flips] / params.heading_flip,
                [f"heading turns {np.degrees(t):.0f}° in one frame" for t in turn[flips]],
            )
        )
    return found


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
