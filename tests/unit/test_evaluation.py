"""Tracking metrics through py-motmetrics, and reading ground truth in every accepted format."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from snakeherd.errors import InputFileError
from snakeherd.evaluation import evaluate_tracks, format_summary, load_ground_truth, summarize


def straight_paths(n_frames=20):
    rows = []
    for frame in range(n_frames):
        rows.append((frame, 0, 10.0 + frame, 10.0))
        rows.append((frame, 1, 10.0 + frame, 80.0))
    return pd.DataFrame(rows, columns=["frame", "track_id", "x", "y"])


def test_perfect_tracks_score_one():
    truth = straight_paths()
    predicted = truth.assign(track_id=truth["track_id"] + 100, x=truth["x"] + 0.5)
    metrics = evaluate_tracks(predicted, truth, np.arange(20), match_distance=5)
    row = metrics.iloc[0]
    assert row["MOTA"] == 1.0 and row["IDF1"] == 1.0 and row["id_switches"] == 0
    assert row["MOTP_px"] == pytest.approx(0.5)
    assert row["gt_instances"] == 40 and row["frames"] == 20


def test_identity_swap_counts_two_switches_and_lowers_idf1():
    truth = straight_paths()
    predicted = truth.copy()
    late = predicted["frame"] >= 10
    predicted.loc[late, "track_id"] = 1 - predicted.loc[late, "track_id"]
    row = evaluate_tracks(predicted, truth, np.arange(20), match_distance=5).iloc[0]
    assert row["id_switches"] == 2
    assert row["IDF1"] == pytest.approx(0.5)
    assert row["MOTA"] == pytest.approx(1 - 2 / 40)


def test_misses_false_positives_and_distance_gate():
    truth = straight_paths()
    predicted = truth[truth["frame"] < 15].copy()
    predicted.loc[predicted["frame"] == 0, "x"] += 50  # too far: a miss plus a false positive
    row = evaluate_tracks(predicted, truth, np.arange(20), match_distance=5).iloc[0]
    assert row["misses"] == 10 + 2
    assert row["false_positives"] == 2


def test_only_processed_frames_are_scored():
    truth = straight_paths()
    predicted = truth[truth["frame"] < 10]
    row = evaluate_tracks(predicted, truth, np.arange(10), match_distance=5).iloc[0]
    assert row["MOTA"] == 1.0 and row["frames"] == 10


def test_summary_pools_counts():
    truth = straight_paths()
    a = evaluate_tracks(truth, truth, np.arange(20), 5).assign(video_id="a")
    swapped = truth.copy()
    swapped.loc[swapped["frame"] >= 10, "track_id"] ^= 1
    b = evaluate_tracks(swapped, truth, np.arange(20), 5).assign(video_id="b")
    summary = summarize([a, b])
    overall = summary.iloc[-1]
    assert overall["video_id"] == "ALL"
    assert overall["id_switches"] == 2
    assert overall["MOTA"] == pytest.approx(1 - 2 / 80)
    assert overall["IDF1"] == pytest.approx((40 + 20) / 80)
    assert "ALL" in format_summary(summary)


def test_ground_truth_tables(tmp_path):
    truth = straight_paths(3)
    truth.to_csv(tmp_path / "gt.csv", index=False)
    truth.to_parquet(tmp_path / "gt.parquet")
    truth.to_csv(tmp_path / "gt.tsv", sep="\t", index=False)
    for name in ("gt.csv", "gt.parquet", "gt.tsv"):
        loaded = load_ground_truth(str(tmp_path / name))
        assert (
            loaded[["frame", "track_id"]].values.tolist()
            == truth[["frame", "track_id"]].values.tolist()
        )
    truth.drop(columns="track_id").to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(InputFileError, match="lacks the columns"):
        load_ground_truth(str(tmp_path / "bad.csv"))
    (tmp_path / "gt.txt").write_text("x")
    with pytest.raises(InputFileError, match="unknown format"):
        load_ground_truth(str(tmp_path / "gt.txt"))
    with pytest.raises(InputFileError, match="not found"):
        load_ground_truth(str(tmp_path / "missing.slp"))


def test_ground_truth_from_a_real_slp(shared_data):
    truth = load_ground_truth(str(shared_data / "tracking" / "centered_pair_predictions.clean.slp"))
    assert truth["frame"].nunique() == 1100
    assert sorted(truth["track_id"].unique()) == [0, 1]
    assert truth[["x", "y"]].notna().all().all()
    assert truth["x"].between(0, 384).all() and truth["y"].between(0, 384).all()
