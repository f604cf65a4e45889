"""Plots of one video's results, as PNG files for people and for the Snakemake report.

Each plot is a function of the tables alone: a fixed style, no timestamp or software version in
the files, so the same tables give the same bytes. Tracks keep the colours the overlay video
gives them (:func:`snakeherd.overlay.track_color`), so a track is the same colour everywhere.
A video without detections or tracks still gets every plot, saying so in the picture.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from . import ranks
from .overlay import track_color
from .ranks import ValueParts

STYLE = {
    "figure.dpi": 100,
    "savefig.dpi": 100,
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "svg.hashsalt": "snakeherd",
    "path.simplify": True,
}
WIDTH_IN = 8.0


SUSPECT_COLOR = "tab:orange"


def rgb(track_id: int) -> tuple[float, float, float]:
    """A track's colour for matplotlib (the overlay's BGR colour, as RGB in 0..1)."""
    blue, green, red = track_color(track_id)
    return red / 255, green / 255, blue / 255


@contextmanager
def _figure(path: str | os.PathLike, height_in: float, **subplots) -> Iterator[tuple]:
    """A figure in the fixed style, saved to ``path`` without metadata when the block ends."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # A figure's artists refer to each other: the last figure's (a long video's lines, tens
    # of MB) last until a collection, which could come only after this one is drawn.
    gc.collect()
    with matplotlib.rc_context(STYLE):
        figure, axes = plt.subplots(figsize=(WIDTH_IN, height_in), **subplots)
        try:
            yield figure, axes
            figure.tight_layout()
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            # No "Software" (matplotlib's version) or creation time: reruns give the same bytes.
            figure.savefig(path, format="png", metadata={"Software": None})
        finally:
            plt.close(figure)


def _say_empty(axes, text: str) -> None:
    axes.text(0.5, 0.5, text, ha="center", va="center", transform=axes.transAxes, color="0.3")


def trajectories(
    tracks: pd.DataFrame,
    background: np.ndarray | None,
    size: tuple[int, int],
    path,
) -> None:
    """Each track's path (x-y, its own colour) over the video's first processed frame; a path
    breaks where the track has no position or the run skipped frames."""
    width, height = size
    aspect = height / width if width else 1.0
    with _figure(path, height_in=min(max(WIDTH_IN * aspect, 3.0), 12.0)) as (_, axes):
        if background is not None:
            axes.imshow(background, cmap="gray", extent=(0, width, height, 0), vmin=0, vmax=255)
        axes.set_xlim(0, width)
        axes.set_ylim(height, 0)  # image rows grow downwards
        axes.set_aspect("equal")
        axes.set_xlabel("x (px)")
        axes.set_ylabel("y (px)")
        axes.grid(False)
        if not len(tracks):
            _say_empty(axes, "no tracks")
        by_track = _ByTrack(tracks, ["x", "y"])
        for track_id, rows in by_track:
            frames, x, y = by_track.frame[rows], by_track.x[rows], by_track.y[rows]
            axes.plot(*_broken_at_gaps(frames, x, y), color=rgb(track_id), linewidth=0.8,
                      alpha=0.9)  # fmt: skip
            axes.annotate(
                str(int(track_id)), (x[-1], y[-1]), color=rgb(track_id), fontsize=7,
                xytext=(3, 3), textcoords="offset points",
            )  # fmt: skip
        axes.set_title(f"Trajectories: {len(by_track.track_ids)} tracks")


class _ByTrack:
    """A tracks table's ``frame`` and ``columns`` as arrays sorted by track, then frame, and
    each track's rows among them (iterating gives track id and slice, in track order): one
    copy of the columns drawn, where a group per track and its sorted copy were two of every
    column."""

    def __init__(self, tracks: pd.DataFrame, columns: list[str]):
        frames, track_ids = tracks["frame"].to_numpy(), tracks["track_id"].to_numpy()
        order = np.lexsort((frames, track_ids))
        self.frame = frames[order]
        for column in columns:
            setattr(self, column, tracks[column].to_numpy(float)[order])
        sorted_ids = track_ids[order]
        starts = np.flatnonzero(np.r_[True, sorted_ids[1:] != sorted_ids[:-1]][: len(order)])
        self.track_ids = sorted_ids[starts]
        self._stops = np.r_[starts[1:], len(order)][: len(starts)]
        self._starts = starts

    def __iter__(self):
        for track_id, start, stop in zip(self.track_ids, self._starts, self._stops, strict=True):
            yield track_id, slice(int(start), int(stop))


def _broken_at_gaps(frames: np.ndarray, x: np.ndarray, y: np.ndarray):
    """x and y of a track (sorted by frame) with NaN between rows of non-consecutive frames
    (the track had no position, or the run skipped those frames)."""
    breaks = np.flatnonzero(np.diff(frames) != 1) + 1
    return np.insert(x, breaks, np.nan), np.insert(y, breaks, np.nan)


def _runs(frames: np.ndarray) -> list[tuple[int, int]]:
    """Runs of consecutive frames among sorted ``frames``, as (start, length)."""
    if not len(frames):
        return []
    breaks = np.flatnonzero(np.diff(frames) != 1) + 1
    return [(int(run[0]), len(run)) for run in np.split(frames, breaks)]


def timeline(
    tracks: pd.DataFrame,
    processed_frames: np.ndarray,
    path,
    errors: pd.DataFrame | None = None,
    suspects: pd.DataFrame | None = None,
) -> None:
    """One row per track over the processed frames: detected (solid), interpolated (light),
    missing (blank); a triangle where a track starts, a square where it ends. With ``errors``
    (:func:`snakeherd.evaluation.frame_errors`), a panel below shows the misses, false positives
    and ID switches against the ground truth on the same frames. With ``suspects``
    (:mod:`snakeherd.proofreading.suspects`), a band marks each suspect stretch."""
    track_ids = sorted(tracks["track_id"].unique()) if len(tracks) else []
    rows = max(len(track_ids), 1)
    height = min(1.2 + 0.22 * rows, 14.0)
    panels = {}
    if errors is not None:
        height += 1.6
        ratios = [min(0.22 * rows + 0.6, 12.0), 1.4]
        panels = {"nrows": 2, "sharex": True, "gridspec_kw": {"height_ratios": ratios}}
    with _figure(path, height_in=height, **panels) as (_, all_axes):
        axes = all_axes[0] if errors is not None else all_axes
        if errors is not None:
            _errors_panel(all_axes[1], errors, processed_frames)
        else:
            axes.set_xlabel("frame")
        axes.set_ylabel("track")
        axes.grid(axis="y", visible=False)
        if len(processed_frames):
            axes.set_xlim(processed_frames[0] - 0.5, processed_frames[-1] + 0.5)
        if not track_ids:
            _say_empty(axes, "no tracks")
        if "interpolated" not in tracks:
            tracks = tracks.assign(interpolated=False)
        by_track = _ByTrack(tracks, ["interpolated"])
        for row, (track_id, span) in enumerate(by_track):
            color = rgb(track_id)
            frames, interpolated = by_track.frame[span], by_track.interpolated[span] != 0
            for kind, alpha in ((False, 1.0), (True, 0.35)):
                runs = _runs(frames[interpolated == kind])
                if runs:
                    axes.broken_barh(
                        [(start - 0.5, length) for start, length in runs], (row - 0.35, 0.7),
                        facecolors=[color], alpha=alpha, linewidth=0,
                    )  # fmt: skip
            axes.plot(frames[0], row, marker=">", color="black", markersize=4)
            axes.plot(frames[-1], row, marker="s", color="black", markersize=3)
        axes.set_yticks(range(len(track_ids)))
        axes.set_yticklabels([str(int(t)) for t in track_ids], fontsize=7 if rows > 30 else 9)
        axes.set_ylim(rows - 0.5, -0.5)
        _shade_gaps(axes, processed_frames)
        title = (
            "Track timeline: solid = detected, light = interpolated, blank = missing; "
            "> start, ■ end"
        )
        if suspects is not None and len(suspects):
            for start, end in zip(suspects["start_frame"], suspects["end_frame"], strict=True):
                axes.axvspan(start - 0.5, end + 0.5, color=SUSPECT_COLOR, alpha=0.3, zorder=0,
                             linewidth=0)  # fmt: skip
            title += f"; orange: {len(suspects)} suspect stretches"
        axes.set_title(title, fontsize=9)


def _errors_panel(axes, errors: pd.DataFrame, processed_frames: np.ndarray) -> None:
    frames = errors["frame"].to_numpy()
    axes.step(frames, errors["misses"], where="mid", color="tab:red", label="misses",
              linewidth=0.9)  # fmt: skip
    axes.step(frames, errors["false_positives"], where="mid", color="tab:purple",
              label="false positives", linewidth=0.9)  # fmt: skip
    switches = frames[errors["id_switches"].to_numpy() > 0]
    if len(switches):
        axes.vlines(switches, 0, 1, transform=axes.get_xaxis_transform(), color="black",
                    linewidth=0.8, label="ID switch")  # fmt: skip
    _shade_gaps(axes, processed_frames)
    axes.set_ylim(bottom=0)
    axes.set_xlabel("frame")
    axes.set_ylabel("errors")
    axes.legend(loc="upper right", fontsize=7, ncols=3)
    axes.set_title(
        f"Against the ground truth: {int(errors['misses'].sum())} misses, "
        f"{int(errors['false_positives'].sum())} false positives, "
        f"{int(errors['id_switches'].sum())} ID switches",
        fontsize=9,
    )


def _shade_gaps(axes, processed_frames: np.ndarray) -> None:
    """Grey bands over frames the run did not process (between frame ranges)."""
    for gap in np.flatnonzero(np.diff(processed_frames) > 1):
        before, after = processed_frames[gap], processed_frames[gap + 1]
        axes.axvspan(before + 0.5, after - 0.5, color="0.85", zorder=0, linewidth=0)


def animal_counts(
    detections: pd.DataFrame,
    tracks: pd.DataFrame,
    processed_frames: np.ndarray,
    expected: int | None,
    path,
) -> None:
    """Animals detected and tracked per processed frame, against the expected count."""
    with _figure(path, height_in=3.2) as (_, axes):
        index = pd.Index(processed_frames, name="frame")
        detected = _per_frame(detections["frame"].to_numpy(), index)
        axes.step(index, detected, where="mid", color="tab:blue", label="detected")
        if len(tracks):
            # Interpolated positions count: the track holds the animal there.
            tracked = _per_frame(tracks["frame"].to_numpy(), index)
            axes.step(
                index, tracked, where="mid", color="tab:orange", label="tracked", linewidth=0.9,
            )  # fmt: skip
        if expected is not None:
            axes.axhline(expected, color="black", linestyle="--", linewidth=1, label="expected")
        _shade_gaps(axes, processed_frames)
        axes.set_xlabel("frame")
        axes.set_ylabel("animals")
        axes.set_ylim(bottom=0)
        if not len(detections):
            _say_empty(axes, "no detections")
        axes.legend(loc="lower right", fontsize=8)
        axes.set_title("Animals per frame")


def _per_frame(frames: np.ndarray, processed: pd.Index) -> np.ndarray:
    """Rows in each of the ``processed`` frames (sorted), counted without a group per frame."""
    at = np.searchsorted(processed, frames)
    inside = at < len(processed)
    inside[inside] = processed.to_numpy()[at[inside]] == frames[inside]
    return np.bincount(at[inside], minlength=len(processed)).astype(np.int64)


SCORE_BINS = 40


@dataclass(frozen=True)
class ScoreHistogram:
    """What a score panel shows: ``counts`` in the bins between ``edges`` (40 over 0..1, or over
    the scores' own range when one falls outside), how many scores and their median (NaN
    without any). Missing scores are left out."""

    counts: np.ndarray
    edges: np.ndarray
    n: int
    median: float

    @classmethod
    def of(cls, scores: pd.Series | np.ndarray | ValueParts) -> ScoreHistogram:
        """The histogram of ``scores``: values, or a column read in parts, afresh at each call
        (a long video's keypoint scores, many times its instances: three passes or a
        few more, holding a bounded share of them: see :func:`snakeherd.ranks.value_at_rank`)."""
        parts = scores if callable(scores) else (lambda: [np.asarray(scores, dtype=float)])

        def finite() -> Iterator[np.ndarray]:
            for part in parts():
                part = np.asarray(part, dtype=float)
                yield part[np.isfinite(part)]

        n, smallest, largest = 0, np.inf, -np.inf
        for part in finite():
            if len(part):
                n += len(part)
                smallest, largest = min(smallest, part.min()), max(largest, part.max())
        if n == 0 or (smallest >= 0 and largest <= 1):
            edges = np.linspace(0, 1, SCORE_BINS + 1)
        else:  # the edges numpy (and matplotlib's hist) give SCORE_BINS bins over these values
            edges = np.histogram_bin_edges(np.array([smallest, largest]), bins=SCORE_BINS)
        counts = np.zeros(SCORE_BINS, dtype=np.int64)
        for part in finite():
            counts += np.histogram(part, bins=edges)[0]
        return cls(counts, edges, n, ranks.median(finite, (n, smallest, largest)))


def score_distributions(
    detections: pd.DataFrame | ScoreHistogram,
    poses: pd.DataFrame | ScoreHistogram | None,
    path,
) -> None:
    """Histograms of detection scores and, when there are poses, keypoint scores (each a table
    with a ``score`` column, or its :class:`ScoreHistogram`)."""
    panels = 2 if poses is not None else 1
    sources = [("detection", detections)]
    if poses is not None:
        sources.append(("keypoint", poses))
    with _figure(path, height_in=3.0, ncols=panels) as (_, axes):
        axes = np.atleast_1d(axes)
        for panel, (name, scores) in zip(axes, sources, strict=True):
            if not isinstance(scores, ScoreHistogram):
                scores = ScoreHistogram.of(scores["score"])
            # Each bin drawn from its count: the bars a histogram of the scores themselves has.
            panel.hist(
                scores.edges[:-1], bins=scores.edges, weights=scores.counts, color="tab:blue"
            )
            panel.set_xlabel(f"{name} score")
            panel.set_ylabel("count")
            median = f", median {scores.median:.3g}" if scores.n else ""
            panel.set_title(f"{name.capitalize()} scores (n = {scores.n}{median})")
            if not scores.n:
                _say_empty(panel, f"no {name}s")


def rule_costs(rules: pd.DataFrame, path) -> None:
    """Total time and largest peak memory of each rule (a table from
    :func:`snakeherd.report.per_rule`)."""
    height = min(1.5 + 0.3 * max(len(rules), 1), 10.0)
    with _figure(path, height_in=height, ncols=2) as (_, (time_axes, memory_axes)):
        names = rules["rule"].tolist()
        positions = np.arange(len(names))
        time_axes.barh(positions, rules["total seconds"], color="tab:blue")
        memory_axes.barh(positions, rules["max peak RSS (MB)"], color="tab:orange")
        for axes, title in (
            (time_axes, "Total time per rule (s)"),
            (memory_axes, "Largest peak memory per rule (MB)"),
        ):
            axes.set_yticks(positions)
            axes.set_yticklabels(names)
            axes.invert_yaxis()
            axes.set_title(title)
            if not names:
                _say_empty(axes, "no benchmark files")
        memory_axes.set_yticklabels([])
