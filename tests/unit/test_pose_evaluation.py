"""Keypoint scores: OKS-mAP (pycocotools' figures, computed a frame at a time) and PCK, on
constructed and real poses."""

from __future__ import annotations

import contextlib
import io

import numpy as np
import pandas as pd
import pytest

from snakeherd import pose_evaluation, ranks
from snakeherd.pose_evaluation import KeypointScores, _keypoint_errors, evaluate_poses, oks_map, pck


def instances(n_frames=20, offset=0.0):
    rng = np.random.default_rng(1)
    base = rng.uniform(50, 150, (2, 5, 2))
    frames = np.repeat(np.arange(n_frames), 2)
    points = np.tile(base, (n_frames, 1, 1)) + offset
    return frames, points


def test_perfect_keypoints_score_one():
    frames, points = instances()
    scores = np.ones(len(frames))
    result = oks_map(frames, points, frames, points.copy(), scores, sigma=0.025)
    assert result["pose_oks_map"] == pytest.approx(1.0)
    result = pck(frames, points, frames, points.copy(), [1.0, 5.0])
    assert result["pose_pck_1px"] == 1.0 and result["pose_error_median_px"] == 0.0


def test_offsets_lower_the_scores_and_missing_points_count_as_wrong():
    frames, truth = instances()
    shifted = truth + np.array([3.0, 0.0])
    result = pck(frames, truth, frames, shifted, [2.0, 5.0])
    assert result["pose_pck_2px"] == 0.0 and result["pose_pck_5px"] == 1.0
    assert result["pose_error_median_px"] == pytest.approx(3.0)
    mean_ap = oks_map(frames, truth, frames, shifted, np.ones(len(frames)), 0.025)
    assert 0.0 <= mean_ap["pose_oks_map"] < 1.0
    missing = truth.copy()
    missing[:, 0] = np.nan
    assert pck(frames, truth, frames, missing, [1.0])["pose_pck_1px"] == pytest.approx(0.8)
    # No prediction at all in a frame: every keypoint of its animals is wrong.
    keep = frames != 0
    assert pck(frames, truth, frames[keep], truth[keep], [1.0])["pose_pck_1px"] == pytest.approx(
        0.95
    )


def test_real_tracks_against_their_own_file(shared_data):
    from snakeherd import slp
    from snakeherd.tracking import TrackerParams, track

    path = shared_data / "tracking" / "centered_pair_predictions.clean.slp"
    predictions = slp.read_predictions(str(path), "flies")
    frames = np.arange(0, 200)
    subset = predictions.detections[predictions.detections["frame"] < 200]
    tracks = track(subset, predictions.poses, TrackerParams(), frames, predictions.nodes)
    result = evaluate_poses(tracks, predictions.nodes, str(path), frames, 0.025, [2.0])
    assert result["pose_gt_instances"] == 400
    assert result["pose_oks_map"] == pytest.approx(1.0) and result["pose_pck_2px"] == 1.0
    assert evaluate_poses(tracks, ["a", "b"], str(path), frames, 0.025, [2.0]) is None
    # A model with fewer nodes is scored on the nodes it shares with the labels.
    subset = evaluate_poses(tracks, ["head", "thorax", "wingL"], str(path), frames, 0.025, [2.0])
    assert subset["pose_nodes_scored"] == 3 and subset["pose_pck_2px"] == 1.0


def test_keypoints_read_in_parts_score_as_the_whole_table(shared_data, tmp_path):
    """The evaluate job reads a long video's tracks a batch at a time beside the ground truth,
    and only the shared nodes' positions: the scores equal those from the whole table."""
    import sleap_io

    from snakeherd import slp
    from snakeherd.tracking import TrackerParams, track

    path = shared_data / "tracking" / "centered_pair_predictions.clean.slp"
    labels = sleap_io.load_slp(str(path), open_videos=False)
    labels.labeled_frames = [f for f in labels.labeled_frames if f.frame_idx % 10 == 0]
    sparse = tmp_path / "every_tenth.slp"
    sleap_io.save_slp(labels, str(sparse), verbose=False)
    predictions = slp.read_predictions(str(path), "flies")
    frames = np.arange(0, 300)
    subset = predictions.detections[predictions.detections["frame"] < 300]
    tracks = track(subset, predictions.poses, TrackerParams(), frames, predictions.nodes)
    noisy = tracks.copy()
    points = [c for c in tracks.columns if c.endswith((".x", ".y"))]
    noisy[points] += np.random.default_rng(0).normal(0, 1.0, (len(tracks), len(points)))
    asked = []

    def parts_of(columns):
        asked.append(columns)
        return (noisy.iloc[start : start + 7][columns] for start in range(0, len(noisy), 7))

    whole = evaluate_poses(noisy, predictions.nodes, str(sparse), frames, 0.025, [2.0])
    read = evaluate_poses(parts_of, predictions.nodes, str(sparse), frames, 0.025, [2.0])
    assert read == whole and 0.1 < whole["pose_pck_2px"] < 1.0
    assert whole["pose_gt_instances"] == 60  # 2 flies on 30 of the 300 frames
    assert "frame" in asked[0] and not any(c.endswith(".score") for c in asked[0])


def pycocotools_oks_map(truth_frames, truth_points, frames, points, scores, sigma, areas):
    """The figures as pycocotools' COCOeval computes them (the evaluation's oracle)."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    n_nodes = truth_points.shape[1]
    visible = np.isfinite(truth_points).all(axis=2)
    low = np.where(visible[..., None], truth_points, np.inf).min(axis=1)
    high = np.where(visible[..., None], truth_points, -np.inf).max(axis=1)
    boxes = np.column_stack([low, np.clip(high - low, 1.0, None)])
    annotations = [
        {
            "id": index + 1,
            "image_id": int(frame),
            "category_id": 1,
            "keypoints": np.column_stack([np.nan_to_num(p), 2 * v]).ravel().tolist(),
            "num_keypoints": int(v.sum()),
            "area": float(area),
            "bbox": box.tolist(),
            "iscrowd": 0,
        }
        for index, (frame, p, v, area, box) in enumerate(
            zip(truth_frames, truth_points, visible, areas, boxes, strict=True)
        )
    ]
    keep = np.isin(frames, truth_frames)
    results = []
    for frame, p, score in zip(frames[keep], points[keep], scores[keep], strict=True):
        seen = np.isfinite(p).all(axis=1)
        placed = np.where(seen[:, None], p, -1e6)
        results.append(
            {
                "image_id": int(frame),
                "category_id": 1,
                "keypoints": np.column_stack([placed, seen.astype(float)]).ravel().tolist(),
                "score": float(np.nan_to_num(score, nan=0.0)),
            }
        )
    with contextlib.redirect_stdout(io.StringIO()):
        truth = COCO()
        truth.dataset = {
            "images": [{"id": int(f)} for f in np.unique(truth_frames)],
            "annotations": annotations,
            "categories": [{"id": 1, "name": "a", "keypoints": [str(i) for i in range(n_nodes)]}],
        }
        truth.createIndex()
        evaluator = COCOeval(truth, truth.loadRes(results), "keypoints")
        evaluator.params.kpt_oks_sigmas = np.full(n_nodes, sigma)
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    return [max(value, 0.0) for value in evaluator.stats[:3]]


@pytest.mark.parametrize("run_length, merged_rows", [(1 << 16, 1 << 16), (7, 12), (1, 1)])
@pytest.mark.parametrize("seed", range(25))
def test_oks_map_is_pycocotools_figures(seed, run_length, merged_rows, monkeypatch):
    """Frames of up to 25 animals (more predictions than COCO's 20 kept per image), missing
    keypoints on both sides, ground truth without a visible keypoint (ignored), tied and
    missing scores, predictions on frames without ground truth and frames without any. The
    predictions ranked in memory, or by merging runs of 7 or of 1 (ties across runs)."""
    monkeypatch.setattr(pose_evaluation, "RUN_LENGTH", run_length)
    monkeypatch.setattr(pose_evaluation, "MERGED_ROWS", merged_rows)
    rng = np.random.default_rng(seed)
    n_nodes = int(rng.integers(1, 6))
    truth_frames = np.repeat(np.arange(30), rng.integers(1, 25 if seed % 5 == 0 else 4, 30))
    truth_points = rng.uniform(0, 200, (len(truth_frames), n_nodes, 2))
    truth_points[rng.random(truth_points.shape[:2]) < 0.2] = np.nan
    if seed % 3 == 0:
        truth_points[::7] = np.nan
    areas = rng.uniform(50, 2000, len(truth_frames))
    taken = rng.random(len(truth_frames)) < 0.8
    frames = np.concatenate([truth_frames[taken], rng.integers(0, 40, 15)])
    noise = rng.choice([0.5, 2.0, 6.0])
    points = np.concatenate(
        [truth_points[taken] + rng.normal(0, noise, (taken.sum(), n_nodes, 2)),
         rng.uniform(0, 200, (15, n_nodes, 2))]
    )  # fmt: skip
    points[rng.random(points.shape[:2]) < 0.1] = np.nan
    scores = np.round(rng.uniform(0, 1, len(frames)), 1)  # ties
    scores[rng.random(len(scores)) < 0.05] = np.nan
    order = rng.permutation(len(frames))  # predictions in any order
    frames, points, scores = frames[order], points[order], scores[order]
    got = oks_map(truth_frames, truth_points, frames, points, scores, 0.05, areas)
    # Given a few frames at a time (as a long video's are), ranked across batches.
    in_batches = KeypointScores(0.05)
    for first in range(0, 40, 3):
        truth, predicted = (np.isin(f, range(first, first + 3)) for f in (truth_frames, frames))
        in_batches.add(truth_frames[truth], truth_points[truth], areas[truth],
                       frames[predicted], points[predicted], scores[predicted])  # fmt: skip
    assert in_batches.oks() == got
    expected = pycocotools_oks_map(truth_frames, truth_points, frames, points, scores, 0.05, areas)
    assert [got["pose_oks_map"], got["pose_oks_ap50"], got["pose_oks_ap75"]] == expected


def reference_errors(truth_frames, truth_points, predicted_frames, predicted_points):
    """PCK's errors grouped as first written (a per-frame list of each frame's predictions, by
    pandas), each frame's from the same pairing: the oracle of the grouping by sorted slices."""
    errors = []
    by_frame = pd.Series(np.arange(len(predicted_frames))).groupby(predicted_frames).apply(list)
    for frame in np.unique(truth_frames):
        truth = truth_points[np.flatnonzero(truth_frames == frame)]
        candidates = np.asarray(by_frame.get(frame, []), dtype=np.int64)
        errors.append(_keypoint_errors(truth, predicted_points[candidates]))
    return np.concatenate(errors)


@pytest.mark.parametrize("seed", range(8))
def test_pck_pairs_each_frames_instances_as_first_written(seed):
    """Predictions in frames the ground truth lacks, in any order, some missing."""
    rng = np.random.default_rng(seed)
    truth_frames = np.repeat(np.arange(0, 60, 3), rng.integers(1, 4, 20))
    truth_points = rng.uniform(0, 100, (len(truth_frames), 4, 2))
    truth_points[rng.random(truth_points.shape[:2]) < 0.2] = np.nan
    taken = rng.random(len(truth_frames)) < 0.8
    frames = np.concatenate([truth_frames[taken], rng.integers(0, 60, 20)])
    points = np.concatenate(
        [truth_points[taken] + rng.normal(0, 2, (taken.sum(), 4, 2)),
         rng.uniform(0, 100, (20, 4, 2))]
    )  # fmt: skip
    order = rng.permutation(len(frames))
    arguments = (truth_frames, truth_points, frames[order], points[order])
    expected = KeypointScores(sigma=1.0)
    expected.errors.append(reference_errors(*arguments))
    assert pck(*arguments, [1.0, 3.0]) == expected.pck([1.0, 3.0])
    assert 0 < expected.pck([3.0])["pose_pck_3px"] < 1


@pytest.mark.parametrize(
    "values",
    [
        [],
        [np.inf, np.inf],
        [0.0],
        [0.0, 0.0, np.inf],
        [3.0, 1.0],
        [5e-324, 0.0, 1e308, 7.0],  # the smallest and a huge float: every bit pattern's digit
        np.random.default_rng(0).exponential(3, 10_001),
        np.round(np.random.default_rng(1).exponential(3, 10_000)),  # many ties, even count
        np.concatenate([np.full(5000, 2.5), [np.inf] * 7, np.full(4999, 1.25)]),
    ],
    ids=lambda values: f"{len(values)} values",
)
def test_the_median_error_is_numpys_median_of_the_finite_errors(values, monkeypatch):
    """Found by passes over the stored errors (a block of 1,000 at a time here, the search
    made to narrow its range several times before it holds any), not held."""
    monkeypatch.setattr(pose_evaluation, "ERROR_BLOCK", 1000)
    monkeypatch.setattr(ranks, "HELD_VALUES", 50)
    monkeypatch.setattr(ranks, "MEDIAN_BINS", 4)
    values = np.asarray(values, dtype=np.float64)
    scores = KeypointScores(sigma=1.0)
    scores.errors.append(values)
    finite = values[np.isfinite(values)]
    expected = float(np.median(finite)) if len(finite) else np.nan
    found = scores.pck([1.0])
    np.testing.assert_equal(found["pose_error_median_px"], expected)
    np.testing.assert_equal(
        found["pose_pck_1px"], (values <= 1.0).mean() if len(values) else np.nan
    )
