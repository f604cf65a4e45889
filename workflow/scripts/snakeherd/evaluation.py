"""Scoring tracks against ground truth: CLEAR-MOT and identity metrics, and HOTA.

A predicted position matches a ground-truth animal when it lies within ``match_distance`` pixels;
per frame, matches are solved as py-motmetrics solves them (Hungarian, keeping earlier
correspondences), counting misses, false positives and identity switches; IDF1 comes from the
global identity matching. The counts are kept as running tallies (:mod:`.clear_mot`), so a long
video is scored in memory that does not grow with its frames (HOTA aside).
HOTA (with DetA, AssA, LocA) comes from TrackEval, with the similarity of a prediction to a
ground-truth animal ``max(0, 1 - distance / match_distance)`` (points have no boxes to overlap), so
HOTA's localisation thresholds 0.05-0.95 correspond to distances of 0.95-0.05 × ``match_distance``.
Only frames the workflow processed are scored.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from .clear_mot import ClearMot
from .errors import InputFileError
from .io import frame_aligned

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
    suffix = Path(path).suffix.lower()
    if not Path(path).is_file():
        raise InputFileError(
            f"ground truth file not found: {path}",
            "fix the `ground_truth` path of this video in the config or sample sheet.",
        )
    if suffix == ".slp":
        return _ground_truth_from_slp(path)
    if suffix == ".parquet":
        table = pd.read_parquet(path)
    elif suffix in (".csv", ".tsv"):
        table = pd.read_csv(path, sep="\t" if suffix == ".tsv" else ",")
    else:
        raise InputFileError(
            f"ground truth {path}: unknown format '{suffix}'",
            "give a SLEAP .slp file with tracks, or a .parquet/.csv/.tsv table with columns "
            "frame, track_id, x, y.",
        )
    missing = {"frame", "track_id", "x", "y"} - set(table.columns)
    if missing:
        raise InputFileError(
            f"ground truth {path} lacks the columns {sorted(missing)}",
            "provide columns frame (0-based), track_id, x, y (video pixels).",
        )
    return table[["frame", "track_id", "x", "y"]].astype(
        {"frame": "int64", "x": "float64", "y": "float64"}
    )


def _ground_truth_from_slp(path: str) -> pd.DataFrame:
    try:
        import sleap_io
    except ImportError as error:
        raise InputFileError(
            f"ground truth {path} is a SLEAP file, and reading it needs sleap-io.",
            "`pip install sleap-io` in the workflow's environment.",
        ) from error
    labels = sleap_io.load_slp(path)
    track_index = {id(track): index for index, track in enumerate(labels.tracks)}
    rows = []
    for frame in labels.labeled_frames:
        for instance in frame.instances:
            if instance.track is None:
                continue
            points = instance.numpy()
            visible = ~np.isnan(points).any(axis=1)
            if not visible.any():
                continue
            x, y = points[visible].mean(axis=0)
            rows.append((int(frame.frame_idx), track_index[id(instance.track)], x, y))
    if not rows:
        raise InputFileError(
            f"ground truth {path} has no tracked instances",
            "give a .slp whose instances are assigned to tracks (proofread in SLEAP).",
        )
    return pd.DataFrame(rows, columns=["frame", "track_id", "x", "y"])


Frame = tuple[int, np.ndarray, np.ndarray, np.ndarray, np.ndarray]
"""One frame to score: its number, the ground truth's ids and positions ``(n, 2)``, the tracks'."""


def evaluate_tracks(
    tracks: pd.DataFrame,
    ground_truth: pd.DataFrame,
    frames: np.ndarray,
    match_distance: float,
    with_hota: bool = True,
) -> pd.DataFrame:
    """One-row table of tracking metrics over ``frames`` (see :data:`METRICS`), and HOTA's
    (:data:`HOTA_METRICS`) unless ``with_hota`` is False."""
    return score_frames(frames_of(tracks, ground_truth, frames), match_distance, with_hota)


def score_frames(frames: Iterable[Frame], match_distance: float, with_hota: bool = True):
    """:func:`evaluate_tracks`'s table from frames given one at a time, in frame order. Without
    HOTA (which TrackEval scores from every frame at once), nothing is kept per frame."""
    score = ClearMot(match_distance)
    hota_frames = []
    for frame in frames:
        score.update(*frame)
        if with_hota:
            _, truth_ids, truth_xy, predicted_ids, predicted_xy = frame
            hota_frames.append((truth_ids, predicted_ids, truth_xy, predicted_xy))
    table = pd.DataFrame([score.metrics()]).rename(columns=METRICS)
    table = table.astype({name: "int64" for name in COUNT_COLUMNS})
    if with_hota:
        for name, value in hota(hota_frames, match_distance).items():
            table[name] = value
    return table


def frame_errors(
    tracks: pd.DataFrame,
    ground_truth: pd.DataFrame,
    frames: np.ndarray,
    match_distance: float,
) -> pd.DataFrame:
    """Per frame of ``frames``: misses, false positives and ID switches, as
    :func:`evaluate_tracks` counts them (for plots of where the errors are)."""
    score = ClearMot(match_distance, record_frames=True)
    for frame in frames_of(tracks, ground_truth, frames):
        score.update(*frame)
    errors = np.array(score.frame_errors(), dtype=np.int64).reshape(-1, 4)
    return pd.DataFrame(
        {
            "frame": np.asarray(frames, dtype=np.int64),
            "misses": errors[:, 1],
            "false_positives": errors[:, 2],
            "id_switches": errors[:, 3],
        }
    )


def frames_of(tracks: pd.DataFrame, ground_truth: pd.DataFrame, frames: np.ndarray):
    """The :data:`Frame`\\ s ``frames`` (in their order) of two whole tables."""
    yield from _frames(_FrameRows(ground_truth), _FrameRows(tracks), frames)


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


def hota(frames: list[tuple], match_distance: float) -> dict[str, float]:
    """HOTA, DetA, AssA and LocA (TrackEval) over per-frame (truth ids, predicted ids, truth xy,
    predicted xy); NaN when TrackEval is not installed."""
    try:
        from trackeval.metrics import HOTA
    except ImportError:
        return {name: float("nan") for name in HOTA_METRICS}
    truth_index: dict = {}
    predicted_index: dict = {}
    data = {"gt_ids": [], "tracker_ids": [], "similarity_scores": []}
    for truth_ids, predicted_ids, truth_xy, predicted_xy in frames:
        data["gt_ids"].append(
            np.array([truth_index.setdefault(t, len(truth_index)) for t in truth_ids], dtype=int)
        )
        data["tracker_ids"].append(
            np.array(
                [predicted_index.setdefault(t, len(predicted_index)) for t in predicted_ids],
                dtype=int,
            )
        )
        distance = np.sqrt(((truth_xy[:, None, :] - predicted_xy[None, :, :]) ** 2).sum(axis=2))
        data["similarity_scores"].append(np.clip(1.0 - distance / match_distance, 0.0, 1.0))
    data.update(
        num_timesteps=len(frames),
        num_gt_ids=len(truth_index),
        num_tracker_ids=len(predicted_index),
        num_gt_dets=int(sum(len(ids) for ids in data["gt_ids"])),
        num_tracker_dets=int(sum(len(ids) for ids in data["tracker_ids"])),
    )
    result = HOTA().eval_sequence(data)
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
