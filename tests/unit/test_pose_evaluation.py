"""Keypoint scores: OKS-mAP through pycocotools and PCK, on constructed and real poses."""

from __future__ import annotations

import numpy as np
import pytest

from snakeherd.pose_evaluation import evaluate_poses, oks_map, pck


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


def test_keypoints_are_read_on_the_ground_truths_frames_alone(shared_data, tmp_path):
    """The evaluate job reads a long video's keypoint columns only where the ground truth has
    labels, and only the shared nodes' positions: the scores equal those from the whole
    table."""
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

    def rows_of(scored, columns):
        asked.append(scored)
        assert "frame" in columns and not any(c.endswith(".score") for c in columns)
        return noisy.loc[noisy["frame"].isin(scored), columns]

    whole = evaluate_poses(noisy, predictions.nodes, str(sparse), frames, 0.025, [2.0])
    read = evaluate_poses(rows_of, predictions.nodes, str(sparse), frames, 0.025, [2.0])
    assert read == whole and 0.1 < whole["pose_pck_2px"] < 1.0
    assert (asked[0] % 10 == 0).all() and len(asked[0]) == 110
