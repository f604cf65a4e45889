"""The comparison of an experiment's variants: one row per variant and video, plus each variant's
all-videos row, with the scores against ground truth (where a video has it), track-quality
figures that need none, what each stage cost (from the benchmark files), and how far its boxes,
keypoints and tracks are from the first variant's (a runtime sweep's question).

A variant's cost counts the stages it shares with other variants in full: the cost of the variant
run on its own.
"""

from __future__ import annotations

import math
import os
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .evaluation import summarize
from .io import frame_aligned, iter_table, read_table, write_csv
from .report import benchmark_table

ALL_VIDEOS = "ALL"
# Scores against ground truth (evaluation.parquet), higher is better unless listed in LOWER_BETTER.
EVALUATION_COLUMNS = ["MOTA", "IDF1", "HOTA", "id_switches"]
TRACK_QUALITY_COLUMNS = [
    "tracks",
    "fragments",
    "mean track length (frames)",
    "frames with expected count (share)",
    "suspect frames",  # frames inside suspect stretches, where proofreading is on
]
LOWER_BETTER = {"id_switches", "fragments", "suspect frames", "CPU seconds", "peak RSS (MB)"}
# Benchmark rule names -> the stage they belong to (the rest are grouped as "other").
STAGES = {
    "detect": ("detect_", "import_predictions"),
    "pose": ("pose_", "sleap_"),
    "track": ("track",),
}


@dataclass(frozen=True)
class VariantResults:
    """Where a variant's results are: its own folder and the folders of the stages it shares."""

    name: str
    results: Path
    upstream: Path  # where its detections are (shared with the variants of its upstream key)
    benchmarks: list[Path]
    videos: list[str]
    evaluated: list[str] = field(default_factory=list)
    expected_count: int | None = None
    match_distance: float = 10.0  # evaluation.match_distance: tracks vs the first variant's


# What the comparisons read of a tracks table (not its keypoint columns: a long video's table
# with them is large).
POSITION_COLUMNS = ["frame", "track_id", "x", "y"]
# What the comparisons with the first variant read of the detections and poses tables.
BOX_COLUMNS = ["frame", "det_id", "x", "y"]
KEYPOINT_COLUMNS = ["frame", "det_id", "node", "x", "y"]


def stage_of(rule: str) -> str:
    for stage, prefixes in STAGES.items():
        if any(rule.startswith(prefix) for prefix in prefixes):
            return stage
    return "other"


def track_quality(
    tracks: pd.DataFrame | Iterable[pd.DataFrame], expected_count: int | None
) -> dict:
    """Figures of a video's tracks that need no ground truth; ``tracks`` (``frame`` and
    ``track_id`` at least) whole, or in parts sorted by frame (a long video's, never held
    whole: what is kept is a few numbers per track and how many frames hold each count)."""
    if isinstance(tracks, pd.DataFrame):
        tracks = [tracks.sort_values("frame", kind="stable")]
    last_frame, length, fragments = {}, Counter(), 0
    frames_holding = Counter()  # animals in a frame -> frames
    for (part,) in frame_aligned(tracks):
        frame, track_id = part["frame"].to_numpy(np.int64), part["track_id"].to_numpy()
        frames_holding.update(np.unique(frame, return_counts=True)[1].tolist())
        # Each track's distinct frames of the part, in order.
        order = np.lexsort((frame, track_id))
        frame, track_id = frame[order], track_id[order]
        distinct = np.concatenate([[True], (track_id[1:] != track_id[:-1]) | (np.diff(frame) != 0)])
        frame, track_id = frame[distinct], track_id[distinct]
        starts = np.flatnonzero(np.concatenate([[True], track_id[1:] != track_id[:-1]]))
        for start, stop in zip(starts, [*starts[1:], len(frame)], strict=True):
            track, own = track_id[start], frame[start:stop]
            before = last_frame.get(track)
            # A fragment starts at a track's first frame and after each hole in it.
            fragments += int(before is None or own[0] - before > 1)
            fragments += int((np.diff(own) > 1).sum())
            length[track] += len(own)
            last_frame[track] = own[-1]
    if not length:
        empty = [name for name in TRACK_QUALITY_COLUMNS if name != "suspect frames"]
        return dict.fromkeys(empty, 0) | {"track frames": 0, "frames": 0}
    frames = sum(frames_holding.values())
    expected = expected_count if expected_count else int(_median(frames_holding))
    return {
        "tracks": len(length),
        "fragments": fragments,
        "mean track length (frames)": float(np.mean(list(length.values()))),
        "frames with expected count (share)": frames_holding[expected] / frames,
        # Kept to pool the all-videos row, dropped from the table.
        "track frames": int(sum(length.values())),
        "frames": frames,
    }


def _median(counts: Counter) -> float:
    """The median of values given as value -> how many times it occurs."""
    values = sorted(counts)
    seen = np.cumsum([counts[value] for value in values])
    total = int(seen[-1])
    low = values[int(np.searchsorted(seen, (total - 1) // 2, side="right"))]
    high = values[int(np.searchsorted(seen, total // 2, side="right"))]
    return (low + high) / 2


def cost(benchmarks: pd.DataFrame, video: str | None) -> dict:
    """CPU seconds and peak memory per stage (one video's jobs, or every job with None)."""
    rows = benchmarks if video is None else benchmarks[benchmarks["video"] == video]
    result = {}
    for stage in (*STAGES, "other"):
        stage_rows = rows[rows["rule"].map(stage_of) == stage]
        if not len(stage_rows):
            continue
        result[f"{stage} CPU seconds"] = float(stage_rows["CPU seconds"].sum())
        result[f"{stage} peak RSS (MB)"] = float(stage_rows["peak RSS (MB)"].max())
    timed = rows[rows["rule"].map(stage_of) != "other"]
    result["seconds"] = float(timed["seconds"].sum()) if len(timed) else np.nan
    return result


# Columns that compare a variant with the first one (a runtime sweep's "how far from the first
# runtime"): figures of agreement, not of quality, so no variant is "best" at them.
VERSUS_FIRST = ("boxes vs first", "keypoints vs first", "tracks vs first")


def matched_boxes(detections: pd.DataFrame, reference: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """A variant's boxes paired with the first variant's: per frame, centres matched one to one
    (least total distance). The pairs (``frame``, row positions ``ours`` and ``theirs``,
    ``distance`` in px) and the number of boxes left without a partner on either side."""
    from scipy.optimize import linear_sum_assignment
    from scipy.spatial.distance import cdist

    empty = np.empty(0, dtype=np.intp)
    frames, ours_rows, their_rows, distances = [empty], [empty], [empty], [np.empty(0)]
    if detections.empty or reference.empty:  # perhaps without columns (a frame_aligned table)
        return _pairs(frames, ours_rows, their_rows, distances), len(detections) + len(reference)
    unmatched = 0
    ours = detections.groupby("frame").indices
    theirs = reference.groupby("frame").indices
    our_xy = detections[["x", "y"]].to_numpy(float)
    their_xy = reference[["x", "y"]].to_numpy(float)
    for frame in ours.keys() | theirs.keys():
        a, b = ours.get(frame, empty), theirs.get(frame, empty)
        if len(a) and len(b):
            apart = cdist(our_xy[a], their_xy[b])
            rows, columns = linear_sum_assignment(apart)
            frames.append(np.full(len(rows), frame, dtype=np.intp))
            ours_rows.append(a[rows])
            their_rows.append(b[columns])
            distances.append(apart[rows, columns])
        unmatched += abs(len(a) - len(b))
    return _pairs(frames, ours_rows, their_rows, distances), unmatched


def _pairs(frames, ours, theirs, distances) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "frame": np.concatenate(frames),
            "ours": np.concatenate(ours),
            "theirs": np.concatenate(theirs),
            "distance": np.concatenate(distances),
        }
    )


class _Offsets:
    """The largest and the mean of distances given a batch at a time (the mean the whole set's
    to within rounding: each batch summed exactly, with ``math.fsum``)."""

    def __init__(self, what: str):
        self.what = what
        self.largest, self.sums, self.count = np.nan, [], 0

    def add(self, distances: np.ndarray) -> None:
        distances = distances[~np.isnan(distances)]
        if len(distances):
            self.largest = np.fmax(self.largest, distances.max())
            self.sums.append(math.fsum(distances))
            self.count += len(distances)

    def figures(self) -> dict:
        return {
            f"{self.what} vs first: max offset (px)": float(self.largest),
            f"{self.what} vs first: mean offset (px)": (
                math.fsum(self.sums) / self.count if self.count else np.nan
            ),
        }


def box_offsets(pairs: pd.DataFrame, unmatched: int) -> dict:
    """How far a variant's boxes are from the first variant's, from :func:`matched_boxes`: the
    largest and mean distance of matched centres, and the boxes without a partner (how a runtime
    or model change moves the detections)."""
    offsets = _Offsets("boxes")
    offsets.add(pairs["distance"].to_numpy(float))
    return offsets.figures() | {"boxes vs first: unmatched": unmatched}


def keypoint_offsets(
    pairs: pd.DataFrame,
    detections: pd.DataFrame,
    reference: pd.DataFrame,
    poses: pd.DataFrame | Iterable[pd.DataFrame],
    reference_poses: pd.DataFrame | Iterable[pd.DataFrame],
) -> dict:
    """How far a variant's keypoints are from the first variant's: each node of a pair of boxes
    that :func:`matched_boxes` matched (``pairs``); nodes missing on either side are left out.
    The poses tables may come in parts in frame order (a long video's, a row per keypoint, are
    never held whole; the mean is then the whole tables' to within rounding)."""
    offsets = _Offsets("keypoints")
    for ours, theirs in frame_aligned(_in_parts(poses), _in_parts(reference_poses)):
        offsets.add(_keypoint_distances(pairs, detections, reference, ours, theirs))
    return offsets.figures()


def _keypoint_distances(pairs, detections, reference, poses, reference_poses) -> np.ndarray:
    """:func:`keypoint_offsets`'s distances of the rows of ``poses`` and ``reference_poses``."""
    if poses.empty or reference_poses.empty:
        return np.empty(0)
    pairs = pd.DataFrame(
        {
            "frame": pairs["frame"].to_numpy(np.int64),
            "det_id": detections["det_id"].to_numpy()[pairs["ours"].to_numpy(np.intp)],
            "det_id_first": reference["det_id"].to_numpy()[pairs["theirs"].to_numpy(np.intp)],
        }
    )
    joined = poses[KEYPOINT_COLUMNS].merge(pairs, on=["frame", "det_id"])
    joined = joined.merge(
        reference_poses[KEYPOINT_COLUMNS].rename(columns={"det_id": "det_id_first"}),
        on=["frame", "det_id_first", "node"],
        suffixes=("", "_first"),
    )
    return np.hypot(joined["x"] - joined["x_first"], joined["y"] - joined["y_first"]).to_numpy()


def _in_parts(table: pd.DataFrame | Iterable[pd.DataFrame]) -> Iterable[pd.DataFrame]:
    return [table] if isinstance(table, pd.DataFrame) else table


def track_agreement(
    tracks: pd.DataFrame | Iterable[pd.DataFrame],
    reference: pd.DataFrame | Iterable[pd.DataFrame],
    match_distance: float,
) -> dict:
    """How far a variant's identities are from the first variant's: its tracks scored against the
    first variant's tracks as if those were the ground truth (IDF1 1 and no ID switches: the same
    identities), over the frames either has. Each table whole, or in parts sorted by frame
    (:data:`POSITION_COLUMNS` at least): then a frame's rows are scored and forgotten."""
    from .evaluation import frames_side_by_side, score_frames

    tracks, reference = (
        [table.sort_values("frame", kind="stable")] if isinstance(table, pd.DataFrame) else table
        for table in (tracks, reference)
    )
    scores = score_frames(
        frames_side_by_side(tracks, reference), match_distance, with_hota=False
    ).iloc[0]
    if not scores["frames"]:
        return {"tracks vs first: IDF1": np.nan, "tracks vs first: ID switches": 0}
    return {
        "tracks vs first: IDF1": float(scores["IDF1"]),
        "tracks vs first: ID switches": int(scores["id_switches"]),
    }


def versus_first(variant: VariantResults, first: VariantResults, video: str) -> dict:
    """A video's boxes, keypoints (where both have poses) and tracks against the first variant's.
    The tables (sorted by frame) are read side by side a batch of frames at a time: a long
    video's are never held whole."""
    tables = [
        iter_table(folder.upstream / video / "detections.parquet", "detections", BOX_COLUMNS)
        for folder in (variant, first)
    ]
    poses = [folder.upstream / video / "poses.parquet" for folder in (variant, first)]
    with_poses = all(path.is_file() for path in poses)
    if with_poses:
        tables += [iter_table(path, "poses", KEYPOINT_COLUMNS) for path in poses]
    boxes, keypoints, unmatched = _Offsets("boxes"), _Offsets("keypoints"), 0
    for detections, reference, *both_poses in frame_aligned(*tables):
        pairs, missed = matched_boxes(detections, reference)
        boxes.add(pairs["distance"].to_numpy())
        unmatched += missed
        if with_poses:
            keypoints.add(_keypoint_distances(pairs, detections, reference, *both_poses))
    figures = boxes.figures() | {"boxes vs first: unmatched": unmatched}
    if with_poses:
        figures |= keypoints.figures()
    figures |= track_agreement(
        iter_table(variant.results / video / "tracks.parquet", "tracks", POSITION_COLUMNS),
        iter_table(first.results / video / "tracks.parquet", "tracks", POSITION_COLUMNS),
        variant.match_distance,
    )
    return figures


def variant_rows(variant: VariantResults, first: VariantResults | None = None) -> list[dict]:
    tables = [benchmark_table(folder) for folder in variant.benchmarks]
    benchmarks = (
        pd.concat(tables, ignore_index=True)
        if tables
        else pd.DataFrame(columns=["rule", "video", "seconds", "peak RSS (MB)", "CPU seconds"])
    )
    rows, evaluations, qualities = [], [], []
    for video in variant.videos:
        row = {"variant": variant.name, "video": video}
        folder = variant.results / video
        if video in variant.evaluated:
            evaluation = read_table(folder / "evaluation.parquet", "evaluation")
            evaluations.append(evaluation)
            row |= _evaluation_figures(evaluation.iloc[0])
        quality = track_quality(
            iter_table(folder / "tracks.parquet", "tracks", POSITION_COLUMNS),
            variant.expected_count,
        )
        if (folder / "suspects.parquet").is_file():  # proofreading: written with the tracks
            from .proofreading.suspects import flagged_frames

            suspects = read_table(folder / "suspects.parquet", "suspects")
            quality["suspect frames"] = len(flagged_frames(suspects))
        qualities.append(quality)
        row |= quality
        if first is not None and first.name != variant.name:
            row |= versus_first(variant, first, video)
        row |= cost(benchmarks, video)
        row["frames/s"] = row["frames"] / row["seconds"] if row.get("seconds") else np.nan
        rows.append(row)
    overall = {"variant": variant.name, "video": ALL_VIDEOS}
    if evaluations:
        overall |= _evaluation_figures(summarize(evaluations).iloc[-1])
    overall |= _pooled_quality(qualities)
    overall |= _pooled_versus_first(rows)
    overall |= cost(benchmarks, None)
    overall["frames/s"] = (
        overall["frames"] / overall["seconds"] if overall.get("seconds") else np.nan
    )
    return [*rows, overall]


def _evaluation_figures(evaluation: pd.Series) -> dict:
    figures = {name: evaluation[name] for name in EVALUATION_COLUMNS if name in evaluation}
    figures |= {name: evaluation[name] for name in evaluation.index if name.startswith("pose_")}
    if "id_switches" in figures:
        figures["id_switches"] = int(figures["id_switches"])
    return figures


def _pooled_versus_first(rows: list[dict]) -> dict:
    """The all-videos figures against the first variant: the worst video's (largest offsets,
    lowest IDF1) and the totals of unmatched boxes and ID switches."""
    pooled = {}
    for column in sorted({name for row in rows for name in row if name.startswith(VERSUS_FIRST)}):
        values = [row[column] for row in rows if column in row]
        if column.endswith("max offset (px)"):
            pooled[column] = float(np.nanmax(values)) if not np.isnan(values).all() else np.nan
        elif column.endswith(("unmatched", "ID switches")):
            pooled[column] = int(sum(values))
        elif column.endswith("IDF1"):
            pooled[column] = float(np.nanmin(values)) if not np.isnan(values).all() else np.nan
    return pooled


def _pooled_quality(qualities: list[dict]) -> dict:
    frames = sum(quality["frames"] for quality in qualities)
    tracks = sum(quality["tracks"] for quality in qualities)
    return {
        "tracks": tracks,
        "fragments": sum(quality["fragments"] for quality in qualities),
        "mean track length (frames)": (
            sum(quality["track frames"] for quality in qualities) / tracks if tracks else 0.0
        ),
        "frames with expected count (share)": (
            sum(q["frames with expected count (share)"] * q["frames"] for q in qualities) / frames
            if frames
            else 0.0
        ),
        "frames": frames,
        **(
            {"suspect frames": sum(quality["suspect frames"] for quality in qualities)}
            if all("suspect frames" in quality for quality in qualities) and qualities
            else {}
        ),
    }


def best_per_metric(table: pd.DataFrame) -> pd.Series:
    """For each all-videos row: the metrics where its variant is best (ties all marked)."""
    overall = table[table["video"] == ALL_VIDEOS]
    marks = {index: [] for index in overall.index}
    metrics = [
        column
        for column in table.columns
        if column not in ("variant", "video", "frames", "seconds", "best at")
        and not column.startswith(VERSUS_FIRST)
        and pd.api.types.is_numeric_dtype(table[column])
    ]
    if len(overall) < 2:
        return pd.Series("", index=table.index)
    for metric in metrics:
        values = overall[metric].astype(float)
        if values.isna().all() or values.nunique() < 2:
            continue
        lower = metric in LOWER_BETTER or metric.endswith(("CPU seconds", "peak RSS (MB)"))
        best = values.min() if lower else values.max()
        for index in values.index[np.isclose(values, best)]:
            marks[index].append(metric)
    return pd.Series({index: ", ".join(names) for index, names in marks.items()}).reindex(
        table.index, fill_value=""
    )


def compare(variants: list[VariantResults]) -> pd.DataFrame:
    rows = [row for variant in variants for row in variant_rows(variant, variants[0])]
    table = pd.DataFrame(rows).drop(columns=["track frames"], errors="ignore")
    table["best at"] = best_per_metric(table)
    return table


def write_comparison(
    variants: list[VariantResults], csv_path, parquet_path, plot_path, html_path
) -> pd.DataFrame:
    """The table as CSV and Parquet, its headline metrics as a plot, and the whole table as a
    page of the Snakemake report."""
    from .report import html_page

    table = compare(variants)
    write_csv(table, csv_path)
    table.to_parquet(parquet_path, index=False)
    plot_comparison(table, plot_path)
    Path(html_path).write_text(
        html_page(
            "Comparison of the variants",
            table,
            [
                "One row per variant and video, and each variant's all-videos row (ALL); "
                "the columns 'vs first' compare it with the first variant."
            ],
        )
    )
    return table


def plot_comparison(table: pd.DataFrame, path: str | os.PathLike) -> None:
    """One panel per headline metric, a bar per variant (all-videos rows); best bar outlined."""
    from .plots import _figure

    overall = table[table["video"] == ALL_VIDEOS]
    metrics = [
        name
        for name in [*EVALUATION_COLUMNS, *TRACK_QUALITY_COLUMNS, "frames/s"]
        if name in overall and overall[name].notna().any()
    ]
    with _figure(path, 1.6 * len(metrics) + 0.5, nrows=len(metrics), squeeze=False) as (
        _,
        axes,
    ):
        for axis, metric in zip(axes[:, 0], metrics, strict=True):
            values = overall[metric].astype(float).to_numpy()
            bars = axis.barh(overall["variant"], values, color="#7a9cc6")
            marked = overall["best at"].str.split(", ").map(lambda names, m=metric: m in names)
            for bar, is_best in zip(bars, marked, strict=True):
                if is_best:
                    bar.set_color("#2f6f3e")
            axis.set_title(metric, loc="left")
            axis.invert_yaxis()
