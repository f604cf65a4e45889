"""Plots of one video's results, as PNG files for people and for the Snakemake report.

Each plot is a function of the tables alone: a fixed style, no timestamp or software version in
the files, so the same tables give the same bytes. Tracks keep the colours the overlay video
gives them (:func:`snakeherd.overlay.track_color`), so a track is the same colour everywhere.
A video without detections or tracks still gets every plot, saying so in the picture.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from . import ranks
from .io import sorted_by_frame
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

# A table read in parts (e.g. :func:`snakeherd.io.iter_table`'s batches; a tracks table's
# sorted by frame), afresh at each call: each plot holds a part at a time and what it draws
# of the parts before, not a long video's whole table.
TableParts = Callable[[], Iterable[pd.DataFrame]]


def rgb(track_id: int) -> tuple[float, float, float]:
    """A track's colour for matplotlib (the overlay's BGR colour, as RGB in 0..1)."""
    blue, green, red = track_color(track_id)
    return red / 255, green / 255, blue / 255


@contextmanager
def _figure(
    path: str | os.PathLike, height_in: float, *, drawn: bool = False, **subplots
) -> Iterator[tuple]:
    """A figure in the fixed style, saved to ``path`` without metadata when the block ends.
    ``drawn``: the block laid the figure out and drew onto its canvas itself (see
    :func:`trajectories`); the canvas is saved as drawn."""
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
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            if drawn:
                # savefig would draw the figure's artists anew, without what was drawn onto
                # the canvas alone. Pillow writes no metadata: reruns give the same bytes.
                from PIL import Image

                pixels = np.asarray(figure.canvas.buffer_rgba())
                Image.fromarray(pixels).save(path, format="png")
            else:
                figure.tight_layout()
                # No "Software" (matplotlib's version) or creation time: the same bytes again.
                figure.savefig(path, format="png", metadata={"Software": None})
        finally:
            plt.close(figure)


def _say_empty(axes, text: str) -> None:
    axes.text(0.5, 0.5, text, ha="center", va="center", transform=axes.transAxes, color="0.3")


def trajectories(
    tracks: pd.DataFrame | TableParts,
    background: np.ndarray | None,
    size: tuple[int, int],
    path,
) -> int:
    """Each track's path (x-y, its own colour) over the video's first processed frame; a path
    breaks where the track has no position or the run skipped frames. Returns how many tracks
    there are.

    Each part's paths are drawn onto the canvas and let go: a long video's figure holds no
    line of a million points (matplotlib kept ~100 bytes a point until the figure was saved)."""
    parts = _in_frame_order(tracks)
    ends = _last_rows(parts, ["x", "y"])
    width, height = size
    aspect = height / width if width else 1.0
    with _figure(path, height_in=min(max(WIDTH_IN * aspect, 3.0), 12.0), drawn=True) as (
        figure,
        axes,
    ):
        if background is not None:
            axes.imshow(background, cmap="gray", extent=(0, width, height, 0), vmin=0, vmax=255)
        axes.set_xlim(0, width)
        axes.set_ylim(height, 0)  # image rows grow downwards
        axes.set_aspect("equal")
        axes.set_xlabel("x (px)")
        axes.set_ylabel("y (px)")
        axes.grid(False)
        if not len(ends):
            _say_empty(axes, "no tracks")
        axes.set_title(f"Trajectories: {len(ends)} tracks")
        figure.tight_layout()
        figure.canvas.draw()
        _draw_paths(axes, parts)
        # Labels over every path, as matplotlib orders texts above lines.
        for track_id, (x, y) in ends.items():
            label = axes.annotate(
                str(int(track_id)), (x, y), color=rgb(track_id), fontsize=7,
                xytext=(3, 3), textcoords="offset points",
            )  # fmt: skip
            axes.draw_artist(label)
    return len(ends)


def _draw_paths(axes, parts: TableParts) -> None:
    """Each part's stretch of each track's path, drawn onto the (drawn) canvas from the last
    point of the track before it, then removed from the figure."""
    from matplotlib.lines import Line2D

    last: dict[int, tuple[int, float, float]] = {}  # per track: frame, x, y of its last row
    for part in parts():
        for track_id, frames, columns in _by_track(part, ["x", "y"]):
            x, y = columns
            if track_id in last:
                before_frame, before_x, before_y = last[track_id]
                frames = np.r_[before_frame, frames]
                x, y = np.r_[before_x, x], np.r_[before_y, y]
            last[track_id] = (int(frames[-1]), float(x[-1]), float(y[-1]))
            path = Line2D(*_broken_at_gaps(frames, x, y), color=rgb(track_id), linewidth=0.8,
                          alpha=0.9)  # fmt: skip
            axes.add_line(path)
            axes.draw_artist(path)
            path.remove()


def _in_frame_order(tracks: pd.DataFrame | TableParts) -> TableParts:
    """Tracks as parts in frame order (a table is sorted once; its rows of a frame keep their
    order); parts that go back in frame are refused (ValueError) as they are read."""
    if isinstance(tracks, pd.DataFrame):
        if not tracks["frame"].is_monotonic_increasing:
            tracks = tracks.sort_values("frame", kind="stable")
        return lambda: [tracks]
    return lambda: sorted_by_frame(tracks(), "tracks read in parts")


def _by_track(
    part: pd.DataFrame, columns: list[str]
) -> Iterator[tuple[int, np.ndarray, list[np.ndarray]]]:
    """A part's tracks in track order: id, frames and ``columns`` (as floats) of its rows, in
    frame order."""
    track_ids = part["track_id"].to_numpy()
    order = np.argsort(track_ids, kind="stable")  # a track's rows stay in frame order
    sorted_ids = track_ids[order]
    starts = np.flatnonzero(np.r_[True, sorted_ids[1:] != sorted_ids[:-1]][: len(order)])
    stops = np.r_[starts[1:], len(order)][: len(starts)]
    frames = part["frame"].to_numpy()[order]
    values = [part[column].to_numpy(float)[order] for column in columns]
    for start, stop in zip(starts, stops, strict=True):
        rows = slice(int(start), int(stop))
        yield int(sorted_ids[start]), frames[rows], [column[rows] for column in values]


def _last_rows(parts: TableParts, columns: list[str]) -> dict[int, tuple]:
    """Each track's ``columns`` at its last row, by track id in order."""
    last: dict[int, tuple] = {}
    for part in parts():
        for track_id, _, values in _by_track(part, columns):
            last[track_id] = tuple(float(column[-1]) for column in values)
    return dict(sorted(last.items()))


def _broken_at_gaps(frames: np.ndarray, x: np.ndarray, y: np.ndarray):
    """x and y of a track (sorted by frame) with NaN between rows of non-consecutive frames
    (the track had no position, or the run skipped those frames)."""
    breaks = np.flatnonzero(np.diff(frames) != 1) + 1
    return np.insert(x, breaks, np.nan), np.insert(y, breaks, np.nan)


def _track_runs(parts: TableParts) -> dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Each track's runs of consecutive frames of one kind, detected or interpolated: their
    first frames, lengths and kinds (True: interpolated) in frame order, by track id in order.
    A run that goes on into the next part is one run."""
    held: dict[int, list[tuple[np.ndarray, np.ndarray, np.ndarray]]] = {}
    for part in parts():
        if "interpolated" not in part:
            part = part.assign(interpolated=False)
        for track_id, frames, (interpolated,) in _by_track(part, ["interpolated"]):
            kinds = interpolated != 0
            breaks = np.flatnonzero((np.diff(frames) != 1) | (kinds[1:] != kinds[:-1])) + 1
            starts, stops = np.r_[0, breaks], np.r_[breaks, len(frames)]
            firsts, lengths, kinds = frames[starts], stops - starts, kinds[starts]
            runs = held.setdefault(track_id, [])
            if runs:
                last_firsts, last_lengths, last_kinds = runs[-1]
                if last_kinds[-1] == kinds[0] and last_firsts[-1] + last_lengths[-1] == firsts[0]:
                    last_lengths[-1] += lengths[0]
                    firsts, lengths, kinds = firsts[1:], lengths[1:], kinds[1:]
            if len(firsts):
                runs.append((firsts, lengths, kinds))
    return {
        track_id: tuple(np.concatenate(column) for column in zip(*held[track_id], strict=True))
        for track_id in sorted(held)
    }


def timeline(
    tracks: pd.DataFrame | TableParts,
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
    runs = _track_runs(_in_frame_order(tracks))
    track_ids = list(runs)
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
        for row, (track_id, (firsts, lengths, interpolated)) in enumerate(runs.items()):
            color = rgb(track_id)
            for kind, alpha in ((False, 1.0), (True, 0.35)):
                of_kind = interpolated == kind
                if of_kind.any():
                    bars = zip(firsts[of_kind] - 0.5, lengths[of_kind], strict=True)
                    axes.broken_barh(
                        [(float(start), int(length)) for start, length in bars], (row - 0.35, 0.7),
                        facecolors=[color], alpha=alpha, linewidth=0,
                    )  # fmt: skip
            axes.plot(firsts[0], row, marker=">", color="black", markersize=4)
            axes.plot(firsts[-1] + lengths[-1] - 1, row, marker="s", color="black", markersize=3)
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
    _step(axes, frames, errors["misses"], color="tab:red", label="misses", linewidth=0.9)
    _step(axes, frames, errors["false_positives"], color="tab:purple", label="false positives",
          linewidth=0.9)  # fmt: skip
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


# A step series of more points than this is drawn reduced to pixel columns (see _step): more
# columns than the widest axes has pixels, four points each.
STEP_COLUMNS = 2000
STEP_POINTS = 4 * STEP_COLUMNS
STEP_CHUNK = 1 << 16  # vertices reduced at once


def _step(axes, x, y, **style) -> None:
    """``axes.step(x, y, where="mid", **style)`` of sorted ``x``. A longer series than
    :data:`STEP_POINTS` (a long video's frames) is drawn from each of :data:`STEP_COLUMNS`
    columns' first, lowest, highest and last vertex of its steps: the line a full series draws
    at that width (the M4 reduction), where the figure would hold every frame's two vertices
    (~40 MB for 330,000 frames in two panels)."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if len(x) <= STEP_POINTS:
        axes.step(x, y, where="mid", **style)
        return
    axes.plot(*_step_columns(x, y), **style)


def _step_columns(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The vertices of the "steps-mid" line of ``x``, ``y`` that :func:`_step` draws: each of
    :data:`STEP_COLUMNS` columns' first, lowest, highest and last (the first of equal ones),
    found :data:`STEP_CHUNK` vertices at a time (a long video's every vertex at once, with its
    column and two sorts, was ~40 MB at 330,000 frames)."""
    vertices = 2 * len(x)
    first = np.full(STEP_COLUMNS, -1, dtype=np.int64)
    last, lowest, highest = (np.zeros(STEP_COLUMNS, dtype=np.int64) for _ in range(3))
    low, high = np.full(STEP_COLUMNS, np.inf), np.full(STEP_COLUMNS, -np.inf)
    for start in range(0, vertices, STEP_CHUNK):
        at = np.arange(start, min(start + STEP_CHUNK, vertices))
        step_x, step_y = _step_vertices(x, y, at)
        column = ((step_x - x[0]) / (x[-1] - x[0]) * STEP_COLUMNS).astype(np.int64)
        column = np.minimum(column, STEP_COLUMNS - 1)
        starts = np.flatnonzero(np.r_[True, column[1:] != column[:-1]])
        stops = np.r_[starts[1:], len(column)] - 1
        here = column[starts]  # this chunk's columns, each once (x is sorted)
        first[here] = np.where(first[here] < 0, at[starts], first[here])
        last[here] = at[stops]
        for extreme, values, sign, better in ((lowest, low, 1, np.less),
                                              (highest, high, -1, np.greater)):  # fmt: skip
            found = np.lexsort((sign * step_y, column))[starts]
            # A column over two chunks keeps the earlier of equal extremes.
            replaced = better(step_y[found], values[here])
            extreme[here[replaced]] = at[found[replaced]]
            values[here[replaced]] = step_y[found[replaced]]
    present = first >= 0
    kept = np.unique(np.concatenate([e[present] for e in (first, last, lowest, highest)]))
    return _step_vertices(x, y, kept)


def _step_vertices(x: np.ndarray, y: np.ndarray, at: np.ndarray) -> tuple[np.ndarray, ...]:
    """Vertices ``at`` (of ``2 * len(x)``) of the line matplotlib's "steps-mid" draws: each
    value from the midpoint before it to the midpoint after it."""
    value = at // 2
    neighbour = np.clip(np.where(at % 2, value + 1, value - 1), 0, len(x) - 1)
    step_x = (x[value] + x[neighbour]) / 2
    ends = (at == 0) | (at == 2 * len(x) - 1)
    step_x[ends] = x[value[ends]]
    return step_x, y[value]


def _shade_gaps(axes, processed_frames: np.ndarray) -> None:
    """Grey bands over frames the run did not process (between frame ranges)."""
    for gap in np.flatnonzero(np.diff(processed_frames) > 1):
        before, after = processed_frames[gap], processed_frames[gap + 1]
        axes.axvspan(before + 0.5, after - 0.5, color="0.85", zorder=0, linewidth=0)


def animal_counts(
    detections: pd.DataFrame | TableParts,
    tracks: pd.DataFrame | TableParts,
    processed_frames: np.ndarray,
    expected: int | None,
    path,
) -> None:
    """Animals detected and tracked per processed frame, against the expected count."""
    with _figure(path, height_in=3.2) as (_, axes):
        index = pd.Index(processed_frames, name="frame")
        detected, n_detections = _per_frame(detections, index)
        _step(axes, index, detected, color="tab:blue", label="detected")
        tracked, n_tracked = _per_frame(tracks, index)
        if n_tracked:
            # Interpolated positions count: the track holds the animal there.
            _step(axes, index, tracked, color="tab:orange", label="tracked", linewidth=0.9)
        if expected is not None:
            axes.axhline(expected, color="black", linestyle="--", linewidth=1, label="expected")
        _shade_gaps(axes, processed_frames)
        axes.set_xlabel("frame")
        axes.set_ylabel("animals")
        axes.set_ylim(bottom=0)
        if not n_detections:
            _say_empty(axes, "no detections")
        axes.legend(loc="lower right", fontsize=8)
        axes.set_title("Animals per frame")


def _per_frame(table: pd.DataFrame | TableParts, processed: pd.Index) -> tuple[np.ndarray, int]:
    """A table's rows in each of the ``processed`` frames (sorted), counted without a group per
    frame, and its rows in all."""
    parts = table if callable(table) else (lambda: [table])
    counts, rows = np.zeros(len(processed), dtype=np.int64), 0
    for part in parts():
        frames = part["frame"].to_numpy()
        at = np.searchsorted(processed, frames)
        inside = at < len(processed)
        inside[inside] = processed.to_numpy()[at[inside]] == frames[inside]
        counts += np.bincount(at[inside], minlength=len(processed))
        rows += len(frames)
    return counts, rows


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
