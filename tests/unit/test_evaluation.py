"""Tracking metrics (py-motmetrics' counts, kept as running tallies), and reading ground truth in
every accepted format."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from snakeherd.clear_mot import ClearMot
from snakeherd.errors import InputFileError
from snakeherd.evaluation import (
    HOTA_METRICS,
    METRICS,
    HotaInputs,
    evaluate_tracks,
    format_summary,
    frame_errors,
    frames_side_by_side,
    ground_truth_parts,
    hota,
    load_ground_truth,
    score_frames,
    summarize,
)


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
    # In parts (the evaluate and plots jobs read them so): sorted by frame, the same rows; the
    # path and format checked before anything is read.
    shuffled = truth.sample(frac=1, random_state=0)
    shuffled.to_csv(tmp_path / "shuffled.csv", index=False)
    parts = list(ground_truth_parts(str(tmp_path / "shuffled.csv"))())
    pd.testing.assert_frame_equal(
        pd.concat(parts).reset_index(drop=True),
        shuffled.sort_values("frame", kind="stable").reset_index(drop=True),
    )
    for name, message in (("gt.txt", "unknown format"), ("missing.slp", "not found")):
        with pytest.raises(InputFileError, match=message):
            ground_truth_parts(str(tmp_path / name))


def test_a_slp_ground_truth_read_in_parts_is_the_whole_one_in_frame_order(
    shared_data, tmp_path, monkeypatch
):
    """A whole video's proofread .slp is read a block of labelled frames at a time: the blocks
    are its rows in frame order, and a file without tracked instances is named when read."""
    import sleap_io

    from snakeherd import slp

    path = shared_data / "tracking" / "sleap_clip" / "clip.slp"
    whole = load_ground_truth(str(path))
    monkeypatch.setattr(slp, "POSE_ROWS", 24 * 7)  # blocks of ~7 instances
    parts = list(ground_truth_parts(str(path))())
    assert len(parts) > 10
    joined = pd.concat(parts, ignore_index=True)
    assert joined["frame"].is_monotonic_increasing
    pd.testing.assert_frame_equal(
        joined, whole.sort_values("frame", kind="stable").reset_index(drop=True), check_exact=True
    )
    labels = sleap_io.load_slp(str(path))
    for labelled in labels.labeled_frames:
        for instance in labelled.instances:
            instance.track = None
    untracked = tmp_path / "untracked.slp"
    labels.save(str(untracked))
    read = ground_truth_parts(str(untracked))  # checked for path and format only
    with pytest.raises(InputFileError, match="no tracked instances"):
        list(read())


def test_ground_truth_from_a_real_slp(shared_data):
    truth = load_ground_truth(str(shared_data / "tracking" / "centered_pair_predictions.clean.slp"))
    assert truth["frame"].nunique() == 1100
    assert sorted(truth["track_id"].unique()) == [0, 1]
    assert truth[["x", "y"]].notna().all().all()
    assert truth["x"].between(0, 384).all() and truth["y"].between(0, 384).all()


def test_a_damaged_ground_truth_slp_is_named_with_its_fix(shared_data, tmp_path):
    damaged = tmp_path / "truth.slp"
    damaged.write_bytes((shared_data / "tracking" / "sleap_clip" / "clip.slp").read_bytes()[:3000])
    with pytest.raises(InputFileError, match=r"ground truth file .*truth\.slp cannot be read"):
        load_ground_truth(str(damaged))


@pytest.mark.parametrize("name", ["centered_pair_predictions.clean.slp", "sleap_clip/clip.slp"])
def test_ground_truth_read_as_arrays_is_sleap_ios_instances_mean(shared_data, name):
    """Read without sleap-io's objects (a whole video's proofread file as objects took ~3 KB an
    instance): the same positions, to the bit, as the mean of each instance's visible points."""
    import sleap_io

    path = shared_data / "tracking" / name
    labels = sleap_io.load_slp(str(path))
    rows = []
    for labelled in labels.labeled_frames:
        for instance in labelled.instances:
            points = instance.numpy()
            visible = ~np.isnan(points).any(axis=1)
            if instance.track is not None and visible.any():
                x, y = points[visible].mean(axis=0)
                rows.append((labelled.frame_idx, labels.tracks.index(instance.track), x, y))
    expected = pd.DataFrame(rows, columns=["frame", "track_id", "x", "y"])
    truth = load_ground_truth(str(path))
    pd.testing.assert_frame_equal(
        truth.sort_values("frame", kind="stable").reset_index(drop=True),
        expected.sort_values("frame", kind="stable").reset_index(drop=True),
        check_dtype=False,
        check_exact=True,
    )


def messy_sequence(seed: int):
    """Random frames of a few animals and their tracks: animals and tracks missing, tracks
    swapped or renamed, false positives, a position unknown, frames skipped; many near one
    another where ``crowded``. Yields (frame, truth ids, truth xy, track ids, track xy)."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 8))
    position = rng.uniform(0, 15 if seed % 3 == 0 else 50, (n, 2))
    truth_ids = np.arange(n) + (50 if seed % 2 else 0)
    track_of = np.arange(n) + 100
    for frame in range(0, 2 * int(rng.integers(1, 100)), 2):
        position += rng.normal(0, 3, (n, 2))
        if n > 1 and rng.random() < 0.1:
            a, b = rng.choice(n, 2, replace=False)
            track_of[[a, b]] = track_of[[b, a]]
        if rng.random() < 0.05:
            track_of[rng.integers(n)] = rng.integers(200, 300)
        seen, found = rng.random(n) > 0.15, rng.random(n) > 0.15
        truth_xy = position[seen].copy()
        if len(truth_xy) and rng.random() < 0.05:
            truth_xy[0] = np.nan
        track_xy = position[found] + rng.normal(0, 4, (found.sum(), 2))
        track_ids = track_of[found].tolist()
        if rng.random() < 0.5:
            track_xy = np.vstack([track_xy, rng.uniform(0, 50, (1, 2))])
            track_ids.append(int(rng.integers(400, 410)))
        yield frame, truth_ids[seen].tolist(), truth_xy, track_ids, track_xy


@pytest.mark.parametrize("seed", range(40))
def test_the_running_tallies_count_what_motmetrics_counts(seed):
    """Every figure and each frame's errors equal py-motmetrics' accumulator's, whose events
    they no longer keep."""
    import motmetrics

    accumulator = motmetrics.MOTAccumulator(auto_id=False)
    tallies = ClearMot(8.0, record_frames=True)
    for frame, truth_ids, truth_xy, track_ids, track_xy in messy_sequence(seed):
        squared = motmetrics.distances.norm2squared_matrix(truth_xy, track_xy, max_d2=64.0)
        accumulator.update(truth_ids, track_ids, np.sqrt(squared), frameid=frame)
        tallies.update(frame, truth_ids, truth_xy, track_ids, track_xy)
    expected = motmetrics.metrics.create().compute(accumulator, metrics=list(METRICS)).iloc[0]
    got = tallies.metrics()
    for name in METRICS:
        # MOTP's sum is exact here (fsum), motmetrics' pairwise: the last bit may differ.
        assert got[name] == pytest.approx(expected[name], rel=1e-12, nan_ok=True), name
    events = accumulator.mot_events.reset_index()
    counts = pd.crosstab(events["FrameId"], events["Type"])
    for frame, misses, false_positives, switches in tallies.frame_errors():
        for kind, count in (("MISS", misses), ("FP", false_positives), ("SWITCH", switches)):
            assert count == (counts[kind].get(frame, 0) if kind in counts else 0)


def test_frame_errors_place_each_error_on_its_frame():
    truth = straight_paths()
    predicted = truth[truth["frame"] != 4].copy()  # both animals missed on frame 4
    late = predicted["frame"] >= 10
    predicted.loc[late, "track_id"] = 1 - predicted.loc[late, "track_id"]
    errors = frame_errors(predicted, truth, np.arange(20), match_distance=5).set_index("frame")
    assert errors.loc[4, "misses"] == 2 and errors["misses"].sum() == 2
    assert errors.loc[10, "id_switches"] == 2 and errors["id_switches"].sum() == 2
    assert errors["false_positives"].sum() == 0


def test_tables_scored_in_parts_score_as_the_whole_tables():
    rng = np.random.default_rng(3)
    truth = straight_paths(60)
    truth = truth[rng.random(len(truth)) > 0.1]  # frames where only the tracks have an animal
    predicted = truth.assign(x=truth["x"] + rng.normal(0, 2, len(truth)))
    predicted = predicted[rng.random(len(predicted)) > 0.1]
    predicted.loc[predicted["frame"] >= 30, "track_id"] += 7
    frames = np.union1d(truth["frame"], predicted["frame"])
    whole = evaluate_tracks(predicted, truth, frames, match_distance=5, with_hota=False)

    def cut(table, sizes):  # parts of uneven sizes, a frame's rows split between two
        bounds = [0, *np.cumsum(sizes), len(table)]
        return [table.iloc[a:b] for a, b in itertools.pairwise(bounds) if a < b]

    in_parts = score_frames(
        frames_side_by_side(cut(predicted, [1, 7, 30, 2]), cut(truth, [13, 1, 50])),
        match_distance=5,
        with_hota=False,
    )
    pd.testing.assert_frame_equal(in_parts, whole)
    assert whole["id_switches"].iloc[0] == 2


def test_parts_out_of_frame_order_are_refused():
    truth = straight_paths(4)
    shuffled = [truth[truth["frame"] >= 2], truth[truth["frame"] < 2]]
    with pytest.raises(ValueError, match="sorted by frame"):
        list(frames_side_by_side(shuffled, [truth]))


def test_tracks_read_in_parts_score_as_the_whole_table_hota_included():
    """The evaluate job reads a long video's tracks a batch at a time, over every processed
    frame (some with neither tracks nor ground truth)."""
    rng = np.random.default_rng(5)
    truth = straight_paths(80)
    truth = truth[(truth["frame"] < 30) | (truth["frame"] > 40)]
    tracks = truth.assign(x=truth["x"] + rng.normal(0, 1.5, len(truth)))
    tracks = tracks[rng.random(len(tracks)) > 0.1].reset_index(drop=True)
    tracks.loc[tracks["frame"] >= 60, "track_id"] += 3
    frames = np.arange(90)  # frames 80-89 hold nothing
    whole = evaluate_tracks(tracks, truth, frames, match_distance=5)
    assert whole["frames"].iloc[0] == 90 and 0 < whole["HOTA"].iloc[0] < 1
    for size in (1, 9, 1000):
        parts = (tracks.iloc[start : start + size] for start in range(0, len(tracks), size))
        pd.testing.assert_frame_equal(evaluate_tracks(parts, truth, frames, 5), whole)
    with pytest.raises(ValueError, match="must increase"):
        evaluate_tracks(iter([tracks]), truth, frames[::-1], 5)
    # The ground truth in parts too, with the tracks whole or in parts.
    for size in (1, 7, 1000):
        truth_parts = [truth.iloc[start : start + size] for start in range(0, len(truth), size)]
        for predicted in (tracks, iter([tracks.iloc[:50], tracks.iloc[50:]])):
            scored = evaluate_tracks(predicted, iter(truth_parts), frames, 5)
            pd.testing.assert_frame_equal(scored, whole)
        errors = frame_errors(tracks, iter(truth_parts), frames, 5)
        pd.testing.assert_frame_equal(errors, frame_errors(tracks, truth, frames, 5))


@pytest.mark.parametrize("frames_at_once", [1, 3, 8192])
@pytest.mark.parametrize("seed", range(6))
def test_hota_inputs_kept_in_files_give_trackevals_hota_of_per_frame_lists(seed, frames_at_once):
    from trackeval.metrics import HOTA

    inputs = HotaInputs(8.0, frames_at_once)
    lists = {"gt_ids": [], "tracker_ids": [], "similarity_scores": []}
    truth_index, predicted_index = {}, {}
    for _, truth_ids, truth_xy, track_ids, track_xy in messy_sequence(seed):
        placed = np.isfinite(truth_xy).all(axis=1)  # TrackEval's matching takes no NaN
        truth_ids, truth_xy = np.asarray(truth_ids)[placed].tolist(), truth_xy[placed]
        inputs.add(truth_ids, truth_xy, track_ids, track_xy)
        lists["gt_ids"].append(np.array([truth_index.setdefault(t, len(truth_index))
                                         for t in truth_ids], dtype=int))  # fmt: skip
        lists["tracker_ids"].append(np.array([predicted_index.setdefault(t, len(predicted_index))
                                              for t in track_ids], dtype=int))  # fmt: skip
        apart = np.hypot(*(truth_xy[:, None, :] - track_xy[None, :, :]).transpose(2, 0, 1))
        lists["similarity_scores"].append(np.clip(1 - apart / 8.0, 0, 1))
    lists |= {
        "num_timesteps": len(lists["gt_ids"]),
        "num_gt_ids": len(truth_index),
        "num_tracker_ids": len(predicted_index),
        "num_gt_dets": sum(map(len, lists["gt_ids"])),
        "num_tracker_dets": sum(map(len, lists["tracker_ids"])),
    }
    expected = HOTA().eval_sequence(lists)
    data = inputs.data()  # read back a window of frames at a time, in order and out of it
    for t in [*range(data["num_timesteps"]), *range(data["num_timesteps"])[::-5]]:
        assert_array_equal(data["gt_ids"][t], lists["gt_ids"][t])
        assert_array_equal(data["tracker_ids"][t], lists["tracker_ids"][t])
        assert_allclose(data["similarity_scores"][t], lists["similarity_scores"][t], rtol=1e-12)
    got = hota(inputs)
    for name in HOTA_METRICS:
        assert got[name] == pytest.approx(float(np.mean(expected[name])), rel=1e-12), name
