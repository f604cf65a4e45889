"""Scoring keypoints against ground-truth keypoints: OKS-mAP (COCO) and PCK.

Runs when the tracks carry keypoints (a pose stage ran, or a track-only run) and the ground
truth is a SLEAP file sharing node names with them; only the shared nodes are scored (a 6-node
model against 24-node labels is scored on its 6 nodes). Only frames the workflow processed and
the ground truth labels are scored; interpolated track rows are not predictions and are left out.

- OKS-mAP: COCO keypoint average precision over OKS thresholds 0.50:0.05:0.95, as pycocotools
  computes it (here a frame at a time on arrays; tested against it). OKS of a keypoint is
  ``exp(-d² / (2 · area · (2σ)²))`` with ``area`` the ground-truth instance's keypoint
  bounding-box area and σ ``evaluation.oks_sigma`` for every node (default 0.025, as sleap-nn's
  evaluator uses; COCO's human sigmas range 0.025-0.107). Predicted instances are ranked by
  their instance score. Also AP at OKS 0.5 and 0.75.
- PCK: each ground-truth instance is paired with a prediction in its frame (Hungarian on mean
  keypoint distance); PCK at ``t`` px is the fraction of the ground truth's visible keypoints whose
  prediction lies within ``t`` px (a keypoint the prediction lacks counts as wrong); an unpaired
  ground-truth instance counts all its keypoints wrong. Also the median keypoint error (px).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment

from . import ranks, slp
from .io import frame_aligned
from .stored import StoredRows


def pose_ground_truth_nodes(path: str) -> list[str]:
    """The node names of a ground-truth .slp's first skeleton."""
    _, skeletons, _, _ = slp.read_records(path, slp.GROUND_TRUTH)
    return [str(name) for name in skeletons[0].node_names] if skeletons else []


def iter_pose_ground_truth(
    path: str, nodes: list[str], kept: list[int], frames: np.ndarray
) -> Iterator[pd.DataFrame]:
    """A ground-truth .slp's instances (its first skeleton's ``nodes``, with a visible point) in
    ``frames``, a block of whole frames at a time in frame order: ``frame``, ``area`` (of the
    box around all its labelled keypoints: OKS's scale) and the ``<node>.x/.y`` columns of the
    nodes ``kept`` (indices into ``nodes``). Read as arrays (a whole video's file as sleap-io's
    objects took ~3 KB an instance)."""
    for block in slp.iter_instances(path, len(nodes), slp.GROUND_TRUTH):
        scored = np.isin(block.frame_idx, frames)
        points = block.points[scored]
        _, areas = _coco_boxes(points)
        part = {"frame": block.frame_idx[scored], "area": areas}
        for k in kept:
            part[f"{nodes[k]}.x"], part[f"{nodes[k]}.y"] = points[:, k, 0], points[:, k, 1]
        yield pd.DataFrame(part)


def track_keypoints(tracks: pd.DataFrame, nodes: list[str]) -> np.ndarray:
    """(rows, K, 2) keypoints from a tracks table's ``<node>.x/.y`` columns."""
    return np.stack([tracks[[f"{n}.x", f"{n}.y"]].to_numpy(dtype=np.float64) for n in nodes], 1)


def _coco_boxes(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    visible = np.isfinite(points).all(axis=2)
    low = np.where(visible[..., None], points, np.inf).min(axis=1)
    high = np.where(visible[..., None], points, -np.inf).max(axis=1)
    size = np.clip(high - low, 1.0, None)
    return np.column_stack([low, size]), size[:, 0] * size[:, 1]


# COCO's keypoint evaluation parameters (pycocotools' Params.setKpParams), computed as it does.
OKS_THRESHOLDS = np.linspace(0.5, 0.95, int(np.round((0.95 - 0.5) / 0.05)) + 1, endpoint=True)
RECALL_THRESHOLDS = np.linspace(0.0, 1.00, int(np.round((1.00 - 0.0) / 0.01)) + 1, endpoint=True)
MAX_DETECTIONS = 20  # per image, the highest-scoring
ALL_AREAS = (0**2, 1e5**2)  # the "all" area range: instances outside it are ignored


def oks_map(
    truth_frames: np.ndarray,
    truth_points: np.ndarray,
    predicted_frames: np.ndarray,
    predicted_points: np.ndarray,
    predicted_scores: np.ndarray,
    sigma: float,
    areas: np.ndarray | None = None,
) -> dict[str, float]:
    """COCO keypoint mAP@[.5:.95], AP50 and AP75 with one σ for every node (see
    :class:`KeypointScores`). ``areas`` are the ground-truth instances' areas (default: their
    keypoint box areas)."""
    scores = KeypointScores(sigma)
    scores.add(
        truth_frames, truth_points, areas, predicted_frames, predicted_points, predicted_scores
    )
    return scores.oks()


def pck(
    truth_frames: np.ndarray,
    truth_points: np.ndarray,
    predicted_frames: np.ndarray,
    predicted_points: np.ndarray,
    thresholds: list[float],
) -> dict[str, float]:
    """PCK at each threshold (px) and the median keypoint error (px) of paired instances (see
    :class:`KeypointScores`)."""
    scores = KeypointScores(sigma=1.0)
    scores.add(
        truth_frames, truth_points, None, predicted_frames, predicted_points,
        np.ones(len(predicted_frames)),
    )  # fmt: skip
    return scores.pck(thresholds)


class KeypointScores:
    """OKS-mAP and PCK of ground-truth and predicted instances given a batch of frames at a time
    (:meth:`add`: each frame's instances in one batch, the batches in frame order).

    OKS-mAP is what pycocotools' COCOeval gives (tested against it), computed a frame at a time
    on arrays: pycocotools keeps a Python dict per instance and per image (~15 KB a ground-truth
    instance with 24 nodes: a whole video's proofread file took gigabytes); here each kept
    prediction keeps its score and, per OKS threshold, whether it matched and whether it is
    ignored, in temporary files, ranked by an external merge sort (:class:`_RankedPredictions`).
    PCK keeps each ground-truth visible keypoint's error (inf: missed) in a temporary file, read
    back a block at a time for the PCK counts and the exact median (8 bytes a keypoint: 190
    bytes an instance of 24 nodes, most of a long video's evaluation in memory)."""

    def __init__(self, sigma: float):
        self.sigma = float(sigma)
        self.ranked = _RankedPredictions()  # the kept predictions
        self.counted = 0  # ground-truth instances not ignored
        self.errors = StoredRows(0, ())

    def add(
        self,
        truth_frames: np.ndarray,
        truth_points: np.ndarray,
        truth_areas: np.ndarray | None,
        predicted_frames: np.ndarray,
        predicted_points: np.ndarray,
        predicted_scores: np.ndarray,
    ) -> None:
        """One batch of frames: the ground truth's and the predictions' frames and keypoints
        ``(n, K, 2)``, the ground truth's areas (None: their keypoint box areas) and the
        predictions' scores. Predictions in frames without ground truth are left out."""
        if not len(truth_frames):
            return
        boxes, own_areas = _coco_boxes(truth_points)
        areas = own_areas if truth_areas is None else np.asarray(truth_areas)
        variances = (np.full(truth_points.shape[1], self.sigma) * 2) ** 2
        truth_order = np.argsort(truth_frames, kind="stable")
        predicted_order = np.argsort(predicted_frames, kind="stable")
        images = np.unique(truth_frames)
        truth_bounds = np.searchsorted(truth_frames[truth_order], np.r_[images, np.inf])
        sorted_predicted = predicted_frames[predicted_order]
        first = np.searchsorted(sorted_predicted, images, side="left")
        last = np.searchsorted(sorted_predicted, images, side="right")
        # Per kept prediction (at most MAX_DETECTIONS an image), filled image after image.
        kept = np.minimum(last - first, MAX_DETECTIONS)
        starts = np.concatenate([[0], np.cumsum(kept)])
        scores = np.empty(starts[-1])
        matched = np.empty((len(OKS_THRESHOLDS), starts[-1]), dtype=bool)
        ignored = np.empty_like(matched)
        for image in range(len(images)):
            truth = truth_order[truth_bounds[image] : truth_bounds[image + 1]]
            predicted = predicted_order[first[image] : last[image]]
            found = _match_image(
                truth_points[truth],
                boxes[truth],
                areas[truth],
                predicted_points[predicted],
                np.nan_to_num(predicted_scores[predicted], nan=0.0),
                variances,
            )
            at = slice(starts[image], starts[image + 1])
            scores[at], matched[:, at], ignored[:, at] = found[:3]
            self.counted += found[3]
            self.errors.append(_keypoint_errors(truth_points[truth], predicted_points[predicted]))
        self.ranked.add(scores, matched, ignored)

    def oks(self) -> dict[str, float]:
        """COCO keypoint mAP@[.5:.95], AP50 and AP75 (0 without predictions)."""
        if not len(self.ranked):
            return {"pose_oks_map": 0.0, "pose_oks_ap50": 0.0, "pose_oks_ap75": 0.0}
        precision = _precision(self.ranked.in_order(), self.counted)
        return {
            "pose_oks_map": max(_mean_precision(precision), 0.0),
            "pose_oks_ap50": max(_mean_precision(precision, 0.5), 0.0),
            "pose_oks_ap75": max(_mean_precision(precision, 0.75), 0.0),
        }

    def pck(self, thresholds: list[float]) -> dict[str, float]:
        """PCK at each threshold (px): the share of the ground truth's visible keypoints whose
        paired prediction lies within it; and the median keypoint error (px)."""
        thresholds = np.asarray(thresholds, dtype=np.float64)
        within = np.zeros(len(thresholds), dtype=np.int64)
        for errors in self.errors.blocks(ERROR_BLOCK):
            within += (errors[:, None] <= thresholds[None, :]).sum(axis=0)
        total = len(self.errors)
        result = {
            f"pose_pck_{threshold:g}px": float(count / total) if total else float("nan")
            for threshold, count in zip(thresholds.tolist(), within.tolist(), strict=True)
        }
        result["pose_error_median_px"] = ranks.median(
            lambda: (block[np.isfinite(block)] for block in self.errors.blocks(ERROR_BLOCK))
        )
        return result


ERROR_BLOCK = 1 << 18  # errors read back at once
# Kept predictions sorted in memory at once into a run, and read at once from all runs.
RUN_LENGTH = 1 << 16
MERGED_ROWS = 1 << 14


class _RankedPredictions:
    """The kept predictions' scores and, per OKS threshold, whether each matched and whether it
    is ignored, kept in temporary files (12 bytes a prediction) and given back in
    COCOeval.accumulate's order: highest score first, ties in the order added. An external
    merge sort: every ``RUN_LENGTH`` predictions added are sorted into a run, and the runs are
    merged reading ``MERGED_ROWS`` rows of them at a time."""

    def __init__(self):
        # The runs one after another, each sorted; where each ends.
        self._scores, self._flags = StoredRows(0, (), np.float64), StoredRows(0, (), np.uint32)
        self._run_ends: list[int] = []
        self._added: list[tuple[np.ndarray, np.ndarray]] = []  # since the last run
        self._pending = 0

    def __len__(self) -> int:
        return len(self._scores) + self._pending

    def add(self, scores: np.ndarray, matched: np.ndarray, ignored: np.ndarray) -> None:
        """Predictions' ``scores`` and their ``matched`` and ``ignored`` (thresholds, n)."""
        bits = _threshold_bits()
        flags = (matched * bits).sum(axis=0, dtype=np.uint32)
        flags |= (ignored * (bits << len(OKS_THRESHOLDS))).sum(axis=0, dtype=np.uint32)
        self._added.append((np.asarray(scores, dtype=np.float64), flags))
        self._pending += len(flags)
        if self._pending >= RUN_LENGTH:
            self._store_run()

    def _store_run(self) -> None:
        if not self._pending:
            return
        scores, flags = (np.concatenate(values) for values in zip(*self._added, strict=True))
        order = np.argsort(-scores, kind="mergesort")
        self._scores.append(scores[order])
        self._flags.append(flags[order])
        self._run_ends.append(len(self._scores))
        self._added, self._pending = [], 0

    def in_order(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Blocks of (matched, ignored), each (thresholds, rows), in rank order."""
        self._store_run()
        bits = _threshold_bits()
        for flags in self._merged():
            yield (flags & bits) != 0, (flags & (bits << len(OKS_THRESHOLDS))) != 0

    def _merged(self) -> Iterator[np.ndarray]:
        """The runs' flags in rank order. Each round, the loaded rows up to the smallest last
        key of a run with rows still unread are ranked and given (the key: the score negated,
        then the run): no row yet unread comes before them. That run's block is used up, and
        it loads its next."""
        ends = self._run_ends
        read = [0, *ends[:-1]]  # each run's next row
        block = max(MERGED_ROWS // max(len(ends), 1), 1)
        loaded = [(np.zeros(0), np.zeros(0, dtype=np.uint32)) for _ in ends]
        while True:
            for r, end in enumerate(ends):
                if not len(loaded[r][0]) and read[r] < end:
                    stop = min(read[r] + block, end)
                    loaded[r] = (-self._scores[read[r] : stop], self._flags[read[r] : stop])
                    read[r] = stop
            unread = [r for r, end in enumerate(ends) if read[r] < end]
            bound, bound_run = min(((loaded[r][0][-1], r) for r in unread), default=(None, -1))
            keys, given = [], []
            for r, (key, flags) in enumerate(loaded):
                if bound is None or r == bound_run:
                    taken = len(key)
                else:  # ties go to the earlier run
                    side = "right" if r < bound_run else "left"
                    taken = int(np.searchsorted(key, bound, side=side))
                keys.append(key[:taken])
                given.append(flags[:taken])
                loaded[r] = (key[taken:], flags[taken:])
            keys = np.concatenate([np.zeros(0), *keys])
            if not len(keys):
                return
            # Stable: equal keys stay in run order, and in a run in row order.
            yield np.concatenate(given)[np.argsort(keys, kind="stable")]


def _threshold_bits() -> np.ndarray:
    """Each OKS threshold's bit in a prediction's flags (its ignored bit: shifted by their
    number), as a column."""
    return (1 << np.arange(len(OKS_THRESHOLDS), dtype=np.uint32))[:, None]


def _keypoint_errors(truth: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """One frame's PCK errors: each ground-truth instance paired with a prediction (Hungarian
    on mean keypoint distance); each visible keypoint's distance, inf when not predicted."""
    visible = np.isfinite(truth).all(axis=2)
    distance = np.full(visible.shape, np.inf)
    if len(predicted):
        d = np.sqrt(((truth[:, None] - predicted[None]) ** 2).sum(axis=-1))  # (G, P, K)
        d = np.where(np.isfinite(d), d, np.inf)
        both = visible[:, None, :] & np.isfinite(d)
        with np.errstate(invalid="ignore"):
            mean = np.where(both, d, 0).sum(-1) / both.sum(-1)
        cost = np.where(np.isfinite(mean), mean, 1e9)
        rows, cols = linear_sum_assignment(cost)
        for g, p in zip(rows, cols, strict=True):
            if np.isfinite(mean[g, p]):
                distance[g] = d[g, p]
    return distance[visible]


def _match_image(truth_points, truth_boxes, truth_areas, points, scores, variances):
    """One image's COCOeval.evaluateImg (area "all"): the kept predictions' scores (highest
    first), whether each matched a ground-truth instance and whether it is ignored at each OKS
    threshold, and the ground-truth instances not ignored."""
    truth_visible = np.isfinite(truth_points).all(axis=2)
    truth_ignored = (truth_visible.sum(axis=1) == 0) | (truth_areas < ALL_AREAS[0])
    truth_ignored |= truth_areas > ALL_AREAS[1]
    # The prediction's box spans every keypoint, a missing one placed as the results place it.
    visible = np.isfinite(points).all(axis=2)
    placed = np.where(visible[..., None], points, -1e6)
    extent = placed.max(axis=1) - placed.min(axis=1)
    outside = (extent[:, 0] * extent[:, 1] < ALL_AREAS[0]) | (
        extent[:, 0] * extent[:, 1] > ALL_AREAS[1]
    )
    order = np.argsort(-scores, kind="mergesort")[:MAX_DETECTIONS]
    placed, scores, outside = placed[order], scores[order], outside[order]
    truth_order = np.argsort(truth_ignored.astype(int), kind="mergesort")
    oks = _oks(truth_points[truth_order], truth_boxes[truth_order], truth_areas[truth_order],
               placed, variances)  # fmt: skip
    truth_ignored = truth_ignored[truth_order]
    thresholds, n_truth, n_predicted = len(OKS_THRESHOLDS), len(truth_order), len(order)
    truth_taken = np.zeros((thresholds, n_truth), dtype=bool)
    matched = np.zeros((thresholds, n_predicted), dtype=bool)
    ignored = np.zeros((thresholds, n_predicted), dtype=bool)
    if n_truth and n_predicted:
        for t, threshold in enumerate(OKS_THRESHOLDS):
            for d in range(n_predicted):
                best, m = min(threshold, 1 - 1e-10), -1
                for g in range(n_truth):
                    if truth_taken[t, g]:
                        continue
                    if m > -1 and not truth_ignored[m] and truth_ignored[g]:
                        break
                    if oks[d, g] < best:
                        continue
                    best, m = oks[d, g], g
                if m == -1:
                    continue
                ignored[t, d] = truth_ignored[m]
                matched[t, d] = truth_taken[t, m] = True
    ignored |= ~matched & outside[None, :]
    return scores, matched, ignored, int((~truth_ignored).sum())


def _oks(truth_points, truth_boxes, truth_areas, placed, variances) -> np.ndarray:
    """COCOeval.computeOks: (predictions, ground truth) object keypoint similarity."""
    oks = np.zeros((len(placed), len(truth_points)))
    for g, (points, box, area) in enumerate(
        zip(truth_points, truth_boxes, truth_areas, strict=True)
    ):
        seen = np.isfinite(points).all(axis=1)
        if seen.any():
            truth = np.nan_to_num(points)
            dx = placed[..., 0] - truth[:, 0]
            dy = placed[..., 1] - truth[:, 1]
        else:  # the distance to the box doubled around the ground truth's
            x0, x1 = box[0] - box[2], box[0] + box[2] * 2
            y0, y1 = box[1] - box[3], box[1] + box[3] * 2
            zero = np.zeros(placed.shape[:2])
            dx = np.maximum(zero, x0 - placed[..., 0]) + np.maximum(zero, placed[..., 0] - x1)
            dy = np.maximum(zero, y0 - placed[..., 1]) + np.maximum(zero, placed[..., 1] - y1)
        e = (dx**2 + dy**2) / variances / (area + np.spacing(1)) / 2
        if seen.any():
            e = e[:, seen]
        oks[:, g] = np.exp(-e).sum(axis=1) / e.shape[1]
    return oks


def _precision(ranked: Iterable[tuple[np.ndarray, np.ndarray]], counted: int) -> np.ndarray:
    """COCOeval.accumulate for one category, area and detection limit: precision (thresholds,
    recall thresholds), -1 where no ground truth counts. ``ranked``: blocks of the predictions'
    (matched, ignored), each (thresholds, rows), highest score first."""
    thresholds = len(OKS_THRESHOLDS)
    if not counted:
        return -np.ones((thresholds, len(RECALL_THRESHOLDS)))
    # COCO's precision at a recall threshold is the highest precision of any rank from the first
    # that reaches it on (precision made non-increasing from the right): kept here per
    # threshold and per number of recall thresholds reached, then the highest from each on.
    highest = np.full((thresholds, len(RECALL_THRESHOLDS) + 1), -np.inf)
    tp_before = np.zeros((thresholds, 1), dtype=np.int64)
    fp_before = np.zeros((thresholds, 1), dtype=np.int64)
    for matched, ignored in ranked:
        tp_count = tp_before + np.cumsum(matched & ~ignored, axis=1)
        fp_count = fp_before + np.cumsum(~matched & ~ignored, axis=1)
        tp_before, fp_before = tp_count[:, -1:], fp_count[:, -1:]
        tp, fp = tp_count.astype(float), fp_count.astype(float)
        for t in range(thresholds):
            reached = np.searchsorted(RECALL_THRESHOLDS, tp[t] / counted, side="right")
            precision = tp[t] / (fp[t] + tp[t] + np.spacing(1))
            # Recall never falls: each number reached is a run of ranks.
            starts = np.flatnonzero(np.r_[True, np.diff(reached) != 0])
            runs = reached[starts]
            highest[t, runs] = np.maximum(highest[t, runs], np.maximum.reduceat(precision, starts))
    from_each_on = np.maximum.accumulate(highest[:, ::-1], axis=1)[:, ::-1]
    # At recall threshold k: the ranks that reach more than k thresholds. Never reached: 0.
    precision = from_each_on[:, 1:]
    precision[precision == -np.inf] = 0.0
    return precision


def _mean_precision(precision: np.ndarray, threshold: float | None = None) -> float:
    """COCOeval.summarize's AP: the mean precision over recall thresholds and OKS thresholds
    (or the one ``threshold``), -1 when none counts."""
    if threshold is not None:
        precision = precision[np.where(threshold == OKS_THRESHOLDS)[0]]
    kept = precision[:, :, None][precision[:, :, None] > -1]
    return float(np.mean(kept)) if len(kept) else -1.0


def evaluate_poses(
    tracks: pd.DataFrame | Callable[[list[str]], Iterable[pd.DataFrame]],
    nodes: list[str],
    ground_truth_path: str,
    frames: np.ndarray,
    sigma: float,
    pck_thresholds: list[float],
) -> dict[str, float] | None:
    """Pose metrics of the tracks' keypoints over the nodes they share (by name) with the ground
    truth, or None when the ground truth is not a .slp or shares no node. ``tracks``: the
    tracks table, or what reads the given columns of it in parts sorted by frame (a long video's
    tracks and ground truth are then read side by side a batch of frames at a time, and only
    the shared nodes' positions)."""
    if not nodes or not str(ground_truth_path).lower().endswith(".slp"):
        return None
    truth_nodes = pose_ground_truth_nodes(ground_truth_path)
    truth_index = {name.lower(): k for k, name in enumerate(truth_nodes)}
    shared = [(name, truth_index[name.lower()]) for name in nodes if name.lower() in truth_index]
    if not shared:
        return None
    columns = ["frame", "score", "interpolated"]
    columns += [f"{name}.{axis}" for name, _ in shared for axis in ("x", "y")]
    parts = tracks(columns) if callable(tracks) else [tracks.sort_values("frame", kind="stable")]
    truth_parts = iter_pose_ground_truth(
        ground_truth_path, truth_nodes, [k for _, k in shared], np.asarray(frames)
    )
    scores, instances = KeypointScores(sigma), 0
    for truth, predicted in frame_aligned(truth_parts, parts):
        if truth.empty:
            continue
        if predicted.empty:  # perhaps without columns (frame_aligned's table of no rows)
            predicted = pd.DataFrame({column: np.zeros(0) for column in columns})
        if "interpolated" in predicted:  # interpolated rows are not predictions
            predicted = predicted[~predicted["interpolated"].to_numpy(bool)]
        instances += len(truth)
        scores.add(
            truth["frame"].to_numpy(),
            track_keypoints(truth, [truth_nodes[k] for _, k in shared]),
            truth["area"].to_numpy(),
            predicted["frame"].to_numpy(np.int64),
            track_keypoints(predicted, [name for name, _ in shared]),
            predicted["score"].to_numpy(np.float64),
        )
    return {
        "pose_gt_instances": instances,
        "pose_nodes_scored": len(shared),
        "pose_oks_sigma": sigma,
        **scores.oks(),
        **scores.pck(pck_thresholds),
    }
