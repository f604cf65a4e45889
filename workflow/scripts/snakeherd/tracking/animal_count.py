"""How many animals a video holds, estimated from its predictions when the config does not say.

Without a count the online tracker starts a new track whenever a prediction goes missing or
lands off its animal, so a messy two-animal video ends in dozens of fragments. The count is the
number of confident, non-overlapping instances that most frames hold: instances that could
start a track (score and visible keypoints, as for starting one), one per place (an instance
closer than half an animal to a stronger one is the same animal predicted twice). Stretches
with fewer animals (one hidden, missed by the model, or gone) do not stop the count: an identity
the whole-video linking cannot follow waits and is taken up again where an animal reappears.
Animals that come into view on top of the count do: such a count is not forced on the video
(those animals would go untracked); the estimate says so and the tracker runs without a count.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from .instances import Instances
from .params import TrackerParams

# An instance closer than this many animal sizes to a stronger one in its frame is a duplicate.
DUPLICATE_DISTANCE = 0.5
# The video is cut into this many stretches to see whether more animals come into view.
STRETCHES = 10
# Fewest frames per stretch for a stretch's count to mean anything.
MIN_STRETCH_FRAMES = 30
# Instance pairs compared at once by duplicates: each pair takes ~50 bytes in the block's
# arrays, so a block stays near 13 MB however long the video.
PAIRS_PER_BLOCK = 2**18
# A count is never forced on a video where more than this share of the frames show more animals:
# those animals would go untracked.
MAX_SHARE_ABOVE = 0.1


@dataclass(frozen=True)
class AnimalCount:
    """The estimate and its evidence (for the log and the provenance record)."""

    count: int | None  # None: no frame holds an instance, or more animals come into view
    most_frames: int  # the count most frames hold
    share: float  # share of frames holding exactly that many
    frames: int  # frames with at least one confident instance
    stretch_counts: list[int]  # the count most frames of each stretch hold, in order
    changes: bool

    def as_dict(self) -> dict:
        return asdict(self)

    def describe(self) -> str:
        if self.frames == 0:
            return "no frame holds a confident instance: no animal count to estimate"
        counts = ", ".join(map(str, self.stretch_counts)) or "-"
        if self.changes:
            return (
                f"more animals than {self.most_frames} come into view along the video (most "
                f"frames of its stretches hold {counts}): tracking without a count. Set "
                "tracking.max_tracks if the count is in fact fixed."
            )
        return (
            f"{self.count} animals: {100 * self.share:.0f} % of {self.frames} frames hold "
            f"{self.count} confident, non-overlapping instances (stretches: {counts})"
        )


def confident_rows(instances: Instances, params: TrackerParams, rows=slice(None)) -> np.ndarray:
    """bool per instance of ``rows``: could it start a track (score, visible keypoints, a
    position)?"""
    confident = (instances.score[rows] >= params.min_new_track_score) & (
        instances.visible_points[rows]
        >= max(params.min_new_track_points, 1 if instances.nodes else 0)
    )
    return confident & np.isfinite(instances.xy[rows]).all(axis=1)


def duplicates(instances: Instances, rows: np.ndarray) -> np.ndarray:
    """bool per row of ``rows`` (instances, in frame order): closer than
    :data:`DUPLICATE_DISTANCE` animal sizes to a stronger instance of ``rows`` in its frame
    (one animal predicted twice). All instance pairs of a frame are compared at once."""
    frames = instances.frame[rows]
    if len(frames) == 0:
        return np.zeros(0, dtype=bool)
    xy = instances.xy[rows]
    score = instances.score[rows]
    size = instances.scale_of(rows)
    # Each frame is one run of rows, padded here to a row of a (frames, slots) grid.
    starts = np.concatenate([[0], np.flatnonzero(np.diff(frames)) + 1])
    run = np.repeat(np.arange(len(starts)), np.diff(np.concatenate([starts, [len(frames)]])))
    slot = np.arange(len(frames)) - starts[run]
    grid = (len(starts), int(slot.max()) + 1)
    here = np.zeros(grid, dtype=bool)
    g_xy = np.full((*grid, 2), np.nan)
    g_score = np.full(grid, -np.inf)
    g_size = np.full(grid, np.nan)
    index = (run, slot)
    here[index], g_xy[index], g_score[index], g_size[index] = True, xy, score, size
    distance = np.linalg.norm(g_xy[:, :, None] - g_xy[:, None, :], axis=-1)
    limit = DUPLICATE_DISTANCE * np.minimum(g_size[:, :, None], g_size[:, None, :])
    order = np.arange(grid[1])
    stronger = (g_score[:, None, :] > g_score[:, :, None]) | (
        (g_score[:, None, :] == g_score[:, :, None]) & (order[None, :] < order[:, None])
    )
    with np.errstate(invalid="ignore"):
        duplicate = ((distance < limit) & stronger & here[:, None, :]).any(axis=2)
    return duplicate[index]


def per_frame_counts(instances: Instances, params: TrackerParams) -> tuple[np.ndarray, np.ndarray]:
    """Frames with at least one confident instance, and how many distinct animals each holds
    (confident instances that are not :func:`duplicates`).

    The frames are taken in blocks of about :data:`PAIRS_PER_BLOCK` instance pairs."""
    starts, stops = instances.starts, instances.stops
    if not len(starts):
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    widest = int((stops - starts).max())
    block = max(1, PAIRS_PER_BLOCK // (widest * widest))
    counts = np.zeros(len(starts), dtype=np.int64)
    for first in range(0, len(starts), block):
        low, high = starts[first], stops[min(first + block, len(starts)) - 1]
        rows = low + np.flatnonzero(confident_rows(instances, params, slice(low, high)))
        distinct = rows[~duplicates(instances, rows)]
        at = np.searchsorted(starts, distinct, side="right") - 1
        counts[first : first + block] = np.bincount(
            at - first, minlength=len(starts[first : first + block])
        )
    held = counts > 0
    return instances.frame[starts[held]], counts[held]


def _most_common(values: np.ndarray) -> int:
    numbers, times = np.unique(values, return_counts=True)
    return int(numbers[np.argmax(times)])  # ties: the smaller count


def estimate(instances: Instances, params: TrackerParams) -> AnimalCount:
    """The number of animals the video holds, or None with the reason."""
    _frames, counts = per_frame_counts(instances, params)
    if len(counts) == 0:
        return AnimalCount(None, 0, 0.0, 0, [], False)
    most = _most_common(counts)
    share = float((counts == most).mean())
    n_stretches = min(STRETCHES, len(counts) // MIN_STRETCH_FRAMES)
    stretch_counts = (
        [_most_common(part) for part in np.array_split(counts, n_stretches)]
        if n_stretches >= 2
        else []
    )
    # One stretch above the overall count is a bad stretch of predictions; two or more mean
    # animals came. So do many frames with more animals than most frames show.
    changes = (
        sum(count > most for count in stretch_counts) >= 2
        or float((counts > most).mean()) > MAX_SHARE_ABOVE
    )
    return AnimalCount(None if changes else most, most, share, len(counts), stretch_counts, changes)
