"""Scoring tracks against ground truth: CLEAR-MOT and identity metrics, and HOTA.

A predicted position matches a ground-truth animal when it lies within ``match_distance`` pixels;
per frame, matches are solved as py-motmetrics solves them (Hungarian, keeping earlier
correspondences), counting misses, false positives and identity switches; IDF1 comes from the
global identity matching. The counts are kept as running tallies (:mod:`.clear_mot`), so a long
video is scored in memory that does not grow with its frames (HOTA's inputs wait in temporary
files for TrackEval's two passes).
HOTA (with DetA, AssA, LocA) comes from TrackEval, with the similarity of a prediction to a
ground-truth animal ``max(0, 1 - distance / match_distance)`` (points have no boxes to overlap), so
HOTA's localisation thresholds 0.05-0.95 correspond to distances of 0.95-0.05 × ``match_distance``.
Only frames the workflow processed are scored.
"""

from __future__ import annotations

import sys
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from . import slp
from .clear_mot import ClearMot
from .errors import InputFileError
from .io import frame_aligned
from .stored import StoredRows

# Rows of a whole table given to frame_aligned as one part (slices of it, not copies).
ROWS_AT_ONCE = 65536
# Frames of HOTA's inputs gathered before they are stored, and read back at once.
HOTA_FRAMES_AT_ONCE = 8192

METRICS = {
    "mota": "MOTA",
    "motp": "MOTP_px",
    "idf1": "IDF1",
    "idp": "IDP",
    "idr": "IDR",
    "precision": "precision",
    "recall": "recall",
    "num_switches": "id_switches",
    "num_fragmentations": "fragmentations",
    "num_false_positives": "false_positives",
    "num_misses": "misses",
    "num_objects": "gt_instances",
    "num_predictions": "predicted_instances",
    "num_unique_objects": "gt_tracks",
    "mostly_tracked": "mostly_tracked",
    "mostly_lost": "mostly_lost",
    "num_frames": "frames",
    "idtp": "id_true_positives",
    "idfp": "id_false_positives",
    "idfn": "id_false_negatives",
}
HOTA_METRICS = ("HOTA", "DetA", "AssA", "LocA")
"""motmetrics metric → column name in our evaluation tables."""

COUNT_COLUMNS = [
    "id_switches",
    "fragmentations",
    "false_positives",
    "misses",
    "gt_instances",
    "predicted_instances",
    "gt_tracks",
    "mostly_tracked",
    "mostly_lost",
    "frames",
    "id_true_positives",
    "id_false_positives",
    "id_false_negatives",
]
SHORT_SUMMARY = [
    "video_id",
    "MOTA",
    "IDF1",
    "HOTA",
    "id_switches",
    "precision",
    "recall",
    "MOTP_px",
]


def load_ground_truth(path: str) -> pd.DataFrame:
    """Ground-truth positions as columns ``frame, track_id, x, y``.

    Accepts a table (``.parquet``, ``.csv``, ``.tsv``) with those columns, or a SLEAP ``.slp``
    file with tracks, whose animal position is the mean of each instance's visible keypoints.
    """
    suffix = _format_of(path)
    if suffix == ".slp":
        return pd.concat(list(_ground_truth_from_slp(path)), ignore_index=True)
    return _ground_truth_table(path, suffix)


def ground_truth_parts(path: str) -> Callable[[], Iterator[pd.DataFrame]]:
    """:func:`load_ground_truth`'s rows afresh at each call, in parts sorted by frame: a
    ``.slp``'s a block of labelled frames at a time, so a whole video's proofread file is never
    held (its positions alone are 32 bytes an instance); a table's read whole and sorted once.
    The file's path and format are checked now, a ``.slp`` without tracked instances when read."""
    suffix = _format_of(path)
    if suffix == ".slp":
        return lambda: _ground_truth_from_slp(path)
    table = _ground_truth_table(path, suffix).sort_values("frame", kind="stable")
    return lambda: iter([table])


def _format_of(path: str) -> str:
    suffix = Path(path).suffix.lower()
    if not Path(path).is_file():
        raise InputFileError(
            f"ground truth file not found: {path}",
            "fix the `ground_truth` path of this video in the config or sample sheet.",
        )
    if suffix not in (".slp", ".parquet", ".csv", ".tsv"):
        raise InputFileError(
            f"ground truth {path}: unknown format '{suffix}'",
            "give a SLEAP .slp file with tracks, or a .parquet/.csv/.tsv table with columns "
            "frame, track_id, x, y.",
        )
    return suffix


def _ground_truth_table(path: str, suffix: str) -> pd.DataFrame:
    if suffix == ".parquet":
        table = pd.read_parquet(path)
    else:
        table = pd.read_csv(path, sep="\t" if suffix == ".tsv" else ",")
    missing = {"frame", "track_id", "x", "y"} - set(table.columns)
    if missing:
        raise InputFileError(
            f"ground truth {path} lacks the columns {sorted(missing)}",
            "provide columns frame (0-based), track_id, x, y (video pixels).",
        )
    return table[["frame", "track_id", "x", "y"]].astype(
        {"frame": "int64", "x": "float64", "y": "float64"}
    )


def _ground_truth_from_slp(path: str) -> Iterator[pd.DataFrame]:
    """A tracked .slp's instances (of its first skeleton) as ``frame, track_id, x, y``, the
    position the mean of each instance's visible keypoints and ``track_id`` the track's number
    in the file, read as arrays a block at a time in frame order (a whole video's proofread file
    as sleap-io's objects took ~3 KB an instance); InputFileError at the end when none is
    tracked."""
    _, skeletons, _, _ = slp.read_records(path, slp.GROUND_TRUTH)
    n_nodes = len(skeletons[0].nodes) if skeletons else 0
    found = False
    for block in slp.iter_instances(path, n_nodes, slp.GROUND_TRUTH):
        tracked = block.track >= 0
        points = block.points[tracked]
        visible = ~np.isnan(points).any(axis=2)
        # Each instance's visible points summed in node order (as numpy's mean sums them).
        centre = np.where(visible[..., None], points, 0.0).sum(axis=1)
        centre /= visible.sum(axis=1)[:, None]
        found |= bool(tracked.any())
        yield pd.DataFrame(
            {
                "frame": block.frame_idx[tracked],
                "track_id": block.track[tracked],
                "x": centre[:, 0],
                "y": centre[:, 1],
            }
        )
    if not found:
        raise InputFileError(
            f"ground truth {path} has no tracked instances",
            "give a .slp whose instances are assigned to tracks (proofread in SLEAP).",
        )


Frame = tuple[int, np.ndarray, np.ndarray, np.ndarray, np.ndarray]
"""One frame to score: its number, the ground truth's ids and positions ``(n, 2)``, the tracks'."""


def evaluate_tracks(
    tracks: pd.DataFrame | Iterable[pd.DataFrame],
    ground_truth: pd.DataFrame | Iterable[pd.DataFrame],
    frames: np.ndarray,
    match_distance: float,
    with_hota: bool = True,
) -> pd.DataFrame:
    """One-row table of tracking metrics over ``frames`` (see :data:`METRICS`), and HOTA's
    (:data:`HOTA_METRICS`) unless ``with_hota`` is False. ``tracks`` and ``ground_truth`` whole,
    or in parts sorted by frame (a long video's: see :func:`frames_of`)."""
    return score_frames(frames_of(tracks, ground_truth, frames), match_distance, with_hota)


def score_frames(frames: Iterable[Frame], match_distance: float, with_hota: bool = True):
    """:func:`evaluate_tracks`'s table from frames given one at a time, in frame order. Without
    HOTA (whose inputs TrackEval reads twice: :class:`HotaInputs` keeps them in temporary files),
    nothing is kept per frame."""
    score = ClearMot(match_distance)
    hota_inputs = HotaInputs(match_distance)
    for frame in frames:
        score.update(*frame)
        if with_hota:
            hota_inputs.add(*frame[1:])
    table = pd.DataFrame([score.metrics()]).rename(columns=METRICS)
    table = table.astype({name: "int64" for name in COUNT_COLUMNS})
    if with_hota:
        for name, value in hota(hota_inputs).items():
            table[name] = value
    return table


def frame_errors(
    tracks: pd.DataFrame | Iterable[pd.DataFrame],
    ground_truth: pd.DataFrame | Iterable[pd.DataFrame],
    frames: np.ndarray,
    match_distance: float,
) -> pd.DataFrame:
    """Per frame of ``frames``: misses, false positives and ID switches, as
    :func:`evaluate_tracks` counts them (for plots of where the errors are). The tracks and the
    ground truth may come in parts, as :func:`frames_of` takes them."""
    score = ClearMot(match_distance, record_frames=True)
    for frame in frames_of(tracks, ground_truth, frames):
        score.update(*frame)
    errors = score.frame_errors()
    return pd.DataFrame(
        {
            "frame": np.asarray(frames, dtype=np.int64),
            "misses": errors[:, 1],
            "false_positives": errors[:, 2],
            "id_switches": errors[:, 3],
        }
    )


def frames_of(
    tracks: pd.DataFrame | Iterable[pd.DataFrame],
    ground_truth: pd.DataFrame | Iterable[pd.DataFrame],
    frames: np.ndarray,
) -> Iterator[Frame]:
    """The :data:`Frame`\\ s ``frames`` (in their order) of the tracks and the ground truth.
    With either in parts sorted by frame (e.g. :func:`snakeherd.io.iter_table`'s batches,
    :func:`ground_truth_parts`), ``frames`` must increase, and only a batch of each is held at a
    time."""
    whole = [isinstance(table, pd.DataFrame) for table in (tracks, ground_truth)]
    if all(whole):
        yield from _frames(_FrameRows(ground_truth), _FrameRows(tracks), frames)
        return
    frames = np.asarray(frames, dtype=np.int64)
    if (np.diff(frames) <= 0).any():
        raise ValueError("frames scored against tables read in parts must increase")
    tracks, ground_truth = (
        _slices_by_frame(table) if is_whole else table
        for table, is_whole in zip((tracks, ground_truth), whole, strict=True)
    )
    done = 0
    for truth_part, predicted in frame_aligned(ground_truth, tracks):
        truth_rows, predicted_rows = _FrameRows(truth_part), _FrameRows(predicted)
        last = max(rows.frames[-1] for rows in (truth_rows, predicted_rows) if len(rows.frames))
        stop = int(np.searchsorted(frames, last, side="right"))
        yield from _frames(truth_rows, predicted_rows, frames[done:stop])
        done = stop
    nothing = _FrameRows(pd.DataFrame())
    yield from _frames(nothing, nothing, frames[done:])


def _slices_by_frame(table: pd.DataFrame) -> Iterator[pd.DataFrame]:
    """A whole table as parts sorted by frame: slices of it, where it is so sorted (a .slp's
    is: no copy of a long one)."""
    if not table["frame"].is_monotonic_increasing:
        table = table.sort_values("frame", kind="stable")
    for start in range(0, len(table), ROWS_AT_ONCE):
        yield table.iloc[start : start + ROWS_AT_ONCE]


def frames_side_by_side(
    tracks: Iterable[pd.DataFrame], ground_truth: Iterable[pd.DataFrame]
) -> Iterator[Frame]:
    """The :data:`Frame`\\ s of two tables sorted by frame, each read in parts (e.g.
    :func:`snakeherd.io.iter_table`'s batches): every frame either has, a batch at a time
    (ValueError where a table goes back in frame)."""
    for truth, predicted in frame_aligned(ground_truth, tracks):
        truth_rows, predicted_rows = _FrameRows(truth), _FrameRows(predicted)
        present = np.union1d(truth_rows.frames, predicted_rows.frames)
        yield from _frames(truth_rows, predicted_rows, present)


def _frames(truth_rows: _FrameRows, predicted_rows: _FrameRows, frames) -> Iterator[Frame]:
    for frame in frames:
        frame = int(frame)
        yield (frame, *truth_rows.of(frame), *predicted_rows.of(frame))


class _FrameRows:
    """A table's track ids and positions by frame: its rows sorted by frame once, each frame's
    a slice (with a table per frame, scoring 110,000 frames took 168 s; 22 s this way)."""

    def __init__(self, table: pd.DataFrame):
        if table.empty:  # perhaps without columns (a frame_aligned table with none of a batch)
            table = pd.DataFrame({"frame": [], "track_id": [], "x": [], "y": []})
        frame = table["frame"].to_numpy(np.int64)
        order = np.argsort(frame, kind="stable")  # a frame's rows in the table's order
        self.frames = frame[order]
        self.ids = table["track_id"].to_numpy()[order]
        self.xy = table[["x", "y"]].to_numpy(float)[order]

    def of(self, frame: int) -> tuple[np.ndarray, np.ndarray]:
        low, high = np.searchsorted(self.frames, [frame, frame + 1])
        return self.ids[low:high], self.xy[low:high]


class HotaInputs:
    """TrackEval's per-frame HOTA inputs, gathered a frame at a time (:meth:`add`): the ids
    numbered from 0 in order of appearance, and the similarity of each ground-truth animal to
    each prediction, ``max(0, 1 - distance / match_distance)``. TrackEval reads every frame
    twice, in order; the frames are kept in temporary files (~40 bytes an instance-frame with
    two animals: 26 MB at 660,000) and :meth:`data`'s per-frame lists read them back
    ``frames_at_once`` frames at a time."""

    def __init__(self, match_distance: float, frames_at_once: int = HOTA_FRAMES_AT_ONCE):
        self.match_distance = match_distance
        self.frames_at_once = frames_at_once
        self.truth_index: dict = {}
        self.predicted_index: dict = {}
        self._stored = _StoredFrames(frames_at_once)
        # Added since last stored: the ids, the similarities, and per frame where each ends.
        self._added = [array("q"), array("q"), array("d"), array("q")]
        self._ends = [0, 0, 0]  # the totals so far

    def add(self, truth_ids, truth_xy, predicted_ids, predicted_xy) -> None:
        truth, predicted, similarity, ends = self._added
        truth.extend(self.truth_index.setdefault(t, len(self.truth_index)) for t in truth_ids)
        predicted.extend(
            self.predicted_index.setdefault(t, len(self.predicted_index)) for t in predicted_ids
        )
        distance = np.sqrt(((truth_xy[:, None, :] - predicted_xy[None, :, :]) ** 2).sum(axis=2))
        scores = np.clip(1.0 - distance / self.match_distance, 0.0, 1.0)
        similarity.frombytes(np.ascontiguousarray(scores, dtype=np.float64).tobytes())
        self._ends[0] += len(truth_ids)
        self._ends[1] += len(predicted_ids)
        self._ends[2] += scores.size
        ends.extend(self._ends)
        if len(ends) >= 3 * self.frames_at_once:
            self._store()

    def _store(self) -> None:
        self._stored.append(*(np.frombuffer(added, added.typecode) for added in self._added))
        self._added = [array(added.typecode) for added in self._added]

    def data(self) -> dict:
        self._store()
        stored = self._stored
        length = len(stored)
        return {
            "gt_ids": _PerFrame(lambda t: stored.frame(t)[0], length),
            "tracker_ids": _PerFrame(lambda t: stored.frame(t)[1], length),
            "similarity_scores": _PerFrame(lambda t: stored.frame(t)[2], length),
            "num_timesteps": length,
            "num_gt_ids": len(self.truth_index),
            "num_tracker_ids": len(self.predicted_index),
            "num_gt_dets": self._ends[0],
            "num_tracker_dets": self._ends[1],
        }


class _StoredFrames:
    """:class:`HotaInputs`' frames in temporary files, read back a window of
    ``frames_at_once`` frames at a time (TrackEval asks for them in order)."""

    def __init__(self, frames_at_once: int):
        self.frames_at_once = frames_at_once
        self._truth, self._predicted = StoredRows(0, (), np.int64), StoredRows(0, (), np.int64)
        self._similarity = StoredRows(0, (), np.float64)
        self._ends = StoredRows(0, (3,), np.int64)
        self._window_start, self._window = -1, None

    def __len__(self) -> int:
        return len(self._ends)

    def append(self, truth, predicted, similarity, ends) -> None:
        for stored, values in zip(
            (self._truth, self._predicted, self._similarity, self._ends),
            (truth, predicted, similarity, ends.reshape(-1, 3)),
            strict=True,
        ):
            stored.append(values)
        self._window_start, self._window = -1, None

    def frame(self, t: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Frame ``t``'s ground-truth ids, predicted ids and similarity matrix."""
        start = t - t % self.frames_at_once
        if start != self._window_start:
            self._window_start, self._window = start, self._read_window(start)
        bounds, truth, predicted, similarity = self._window
        first, last = bounds[t - start] - bounds[0], bounds[t - start + 1] - bounds[0]
        return (
            truth[first[0] : last[0]],
            predicted[first[1] : last[1]],
            similarity[first[2] : last[2]].reshape(last[0] - first[0], last[1] - first[1]),
        )

    def _read_window(self, start: int):
        """The window's frame bounds (its first frame's start, then each frame's end) and the
        stored values of its frames."""
        # With the frame before's end, in one read (the first frame starts at 0).
        bounds = self._ends[max(start - 1, 0) : start + self.frames_at_once]
        if not start:
            bounds = np.vstack([np.zeros((1, 3), dtype=np.int64), bounds])
        return (
            bounds,
            self._truth[bounds[0, 0] : bounds[-1, 0]],
            self._predicted[bounds[0, 1] : bounds[-1, 1]],
            self._similarity[bounds[0, 2] : bounds[-1, 2]],
        )


class _PerFrame(Sequence):
    """A per-frame list of :meth:`HotaInputs.data`, each item made when asked for."""

    def __init__(self, item: Callable[[int], np.ndarray], length: int):
        self._item, self._length = item, length

    def __len__(self) -> int:
        return self._length

    def __getitem__(self, t: int) -> np.ndarray:
        if not -self._length <= t < self._length:
            raise IndexError(t)
        return self._item(t % self._length)


def hota(inputs: HotaInputs) -> dict[str, float]:
    """HOTA, DetA, AssA and LocA (TrackEval) of the frames gathered in ``inputs``; NaN when
    TrackEval is not installed."""
    try:
        from trackeval.metrics import HOTA
    except ImportError:
        return {name: float("nan") for name in HOTA_METRICS}
    result = HOTA().eval_sequence(inputs.data())
    return {name: float(np.mean(result[name])) for name in HOTA_METRICS}


def summarize(per_video: list[pd.DataFrame]) -> pd.DataFrame:
    """Per-video metric rows plus an ``ALL`` row pooled over every video's counts."""
    table = pd.concat(per_video, ignore_index=True)
    totals = table[COUNT_COLUMNS].sum()
    matched = totals["gt_instances"] - totals["misses"]
    overall = dict(totals)
    overall["video_id"] = "ALL"
    overall["MOTA"] = 1.0 - (
        totals["misses"] + totals["false_positives"] + totals["id_switches"]
    ) / max(totals["gt_instances"], 1)
    overall["MOTP_px"] = float(
        (table["MOTP_px"] * (table["gt_instances"] - table["misses"])).sum() / max(matched, 1)
    )
    overall["precision"] = matched / max(matched + totals["false_positives"], 1)
    overall["recall"] = matched / max(totals["gt_instances"], 1)
    idtp, idfp, idfn = (
        totals["id_true_positives"],
        totals["id_false_positives"],
        totals["id_false_negatives"],
    )
    overall["IDF1"] = 2 * idtp / max(2 * idtp + idfp + idfn, 1)
    overall["IDP"] = idtp / max(idtp + idfp, 1)
    overall["IDR"] = idtp / max(idtp + idfn, 1)
    # HOTA does not pool from counts: the overall row is the mean weighted by ground-truth size.
    weights = table["gt_instances"].to_numpy(float)
    for name in [*HOTA_METRICS, *(c for c in table.columns if c.startswith("pose_"))]:
        if name == "pose_gt_instances":
            overall[name] = float(table[name].sum())
        elif name in table:
            values = table[name].to_numpy(float)
            known = np.isfinite(values)
            overall[name] = (
                float((values[known] * weights[known]).sum() / weights[known].sum())
                if known.any() and weights[known].sum() > 0
                else float("nan")
            )
    if "match_distance_px" in table:
        overall["match_distance_px"] = table["match_distance_px"].iloc[0]
    return pd.concat([table, pd.DataFrame([overall])[table.columns]], ignore_index=True)


def format_summary(summary: pd.DataFrame) -> str:
    """The few numbers people read first, as an aligned text table."""
    columns = [c for c in SHORT_SUMMARY if c in summary.columns]
    columns += [c for c in ("pose_oks_map", "pose_pck") if c in summary.columns]
    return summary[columns].to_string(index=False, float_format=lambda v: f"{v:.3f}")


def print_run_summary(results: str | Path) -> None:
    """The end of a run, on stderr: the tracking evaluation when there is one, and where the
    results are."""
    summary = Path(results) / "evaluation_summary.parquet"
    if summary.exists():
        print(f"\nTracking evaluation ({summary.with_suffix('.csv')}):", file=sys.stderr)
        print(format_summary(pd.read_parquet(summary)), file=sys.stderr)
    print(f"\nsnakeherd: results are in {Path(results).resolve()}/", file=sys.stderr)
