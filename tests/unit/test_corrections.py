"""Corrections back in, on real data: the proofread ground truth of the courtship clip becomes the
tracks of record; one fixed swap on the fly clip fixes the rest of the track; bad files are
refused with their name and the fix."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import sleap_io

from snakeherd import slp
from snakeherd.errors import InputFileError
from snakeherd.evaluation import evaluate_tracks, load_ground_truth
from snakeherd.proofreading import corrections
from snakeherd.stored import StoredColumns
from snakeherd.tracking import TrackerParams, TrackTable, track
from tests.support.proofreading import FLY_TRACKS, fly_tracks, inject_errors

FLY_VIDEO = "tracking/centered_pair_low_quality.mp4"


@pytest.fixture(scope="module")
def flies(shared_data):
    clean, _ = fly_tracks(shared_data / FLY_TRACKS)
    nodes = [c[: -len(".x")] for c in clean.columns if c.endswith(".x")]
    return clean, nodes


def write(tracks, nodes, path, video):
    slp.write_tracks(tracks, str(path), video_path=str(video), nodes=nodes, n_frames=1100)


def test_one_fixed_swap_fixes_the_rest_of_the_track(flies, shared_data, tmp_path):
    clean, nodes = flies
    clean = clean[clean["frame"] < 400].reset_index(drop=True)  # enough, and quick
    swapped, _ = inject_errors(clean, swaps=[200], drops=[], low_scores=[])
    video = shared_data / FLY_VIDEO
    write(swapped, nodes, tmp_path / "tracks.slp", video)
    # The person swaps the two flies' tracks on frame 200 in the GUI and saves.
    labels = sleap_io.load_slp(str(tmp_path / "tracks.slp"), open_videos=False)
    (frame,) = [f for f in labels.labeled_frames if f.frame_idx == 200]
    first, second = frame.instances
    first.track, second.track = second.track, first.track
    sleap_io.save_slp(labels, str(tmp_path / "proofread.slp"), verbose=False)

    fixes = corrections.read(str(tmp_path / "proofread.slp"), nodes, 1100, str(video))
    fixed = corrections.apply(swapped, fixes, max_distance=40.0)
    assert len(fixed) == len(clean) and fixed.attrs["corrected_frames"] == [200]
    assert (fixed["track_id"].to_numpy() == clean["track_id"].to_numpy()).all()
    later = fixed["frame"] > 200  # predictions kept as they were, identities carried
    np.testing.assert_array_equal(fixed.loc[later, "x"], clean.loc[later, "x"])
    assert (fixed.loc[fixed["frame"] != 200, "det_id"] >= 0).all()


def test_the_ground_truth_as_corrections_gives_the_ground_truth(shared_data):
    clip = shared_data / "tracking" / "sleap_clip"
    frames = np.arange(500)  # enough for swaps and misses to fix, and quick
    predictions = slp.read_predictions(str(clip / "clip.predictions.slp"), "clip", frames=frames)
    tracks = track(
        predictions.detections, predictions.poses, TrackerParams(max_tracks=2), frames,
        predictions.nodes,
    )  # fmt: skip
    before = evaluate_tracks(tracks, truth := load_ground_truth(str(clip / "clip.2node.slp")),
                             frames, match_distance=1.0).iloc[0]  # fmt: skip
    assert before["IDF1"] < 0.9  # within 1 px: the predictions are far from the truth
    truth_file = str(clip / "clip.2node.slp")
    fixes = corrections.read(truth_file, predictions.nodes, 1500, str(clip / "clip.mp4"))
    assert fixes.instances["user"].all()
    fixed = corrections.apply(tracks, fixes, max_distance=40.0, frames=frames)
    row = evaluate_tracks(fixed, truth, frames, match_distance=1.0).iloc[0]
    assert row["IDF1"] == 1.0 and row["id_switches"] == 0 and row["misses"] == 0
    assert len(fixed) == (truth["frame"] < 500).sum()


def courtship_with_its_truth(shared_data, n_frames: int = 300):
    """The courtship clip's first frames tracked from its predictions, its proofread ground
    truth as corrections (every frame a person's), the nodes and the frames."""
    clip = shared_data / "tracking" / "sleap_clip"
    frames = np.arange(n_frames)
    predictions = slp.read_predictions(str(clip / "clip.predictions.slp"), "clip", frames=frames)
    tracks = track(
        predictions.detections, predictions.poses, TrackerParams(max_tracks=2), frames,
        predictions.nodes,
    )  # fmt: skip
    truth = corrections.read(
        str(clip / "clip.2node.slp"), predictions.nodes, 1500, str(clip / "clip.mp4")
    )
    return tracks, truth, predictions.nodes, frames


def in_temporary_files(tracks: TrackTable) -> TrackTable:
    """``tracks`` with its light columns kept as the track job keeps a long video's."""
    light = StoredColumns(len(tracks.light))
    for name in tracks.light.columns:
        light[name] = tracks.light[name].to_numpy()
    return replace(tracks, light=light)


def test_tracks_kept_in_temporary_files_are_corrected_as_tracks_in_memory(
    flies, shared_data, tmp_path
):
    """The track job corrects a long video's tracks where they are kept, a column at a time:
    the same tracks of record as in memory, with identities carried, a keypoint moved and an
    animal removed (the fly clip), and with every frame a person's (the ground truth of the
    courtship clip)."""
    clean, fly_nodes = flies
    clean = clean[clean["frame"] < 400].reset_index(drop=True)
    swapped, _ = inject_errors(clean, swaps=[200], drops=[(300, 10)], low_scores=[])
    video = shared_data / FLY_VIDEO
    write(swapped, fly_nodes, tmp_path / "tracks.slp", video)
    labels = sleap_io.load_slp(str(tmp_path / "tracks.slp"), open_videos=False)
    for frame in labels.labeled_frames:
        if frame.frame_idx == 200:
            first, second = frame.instances
            first.track, second.track = second.track, first.track
        if frame.frame_idx == 100:
            frame.instances[0].points["xy"][3] += 4.0
        if frame.frame_idx == 250:
            frame.instances.pop()
    sleap_io.save_slp(labels, str(tmp_path / "proofread.slp"), verbose=False)
    fly_fixes = corrections.read(str(tmp_path / "proofread.slp"), fly_nodes, 1100, str(video))
    clip_tracks, truth, clip_nodes, clip_frames = courtship_with_its_truth(shared_data)
    for tracks, fixes, nodes, frames, corrected_frames in (
        (swapped, fly_fixes, fly_nodes, None, 3),
        (clip_tracks, truth, clip_nodes, clip_frames, 300),
    ):
        table = TrackTable.from_frame(tracks, nodes)
        in_memory, corrected = corrections.apply_table(table, fixes, 40.0, frames)
        stored, stored_corrected = corrections.apply_table(
            in_temporary_files(table), fixes, 40.0, frames
        )
        assert isinstance(stored.light, StoredColumns)
        assert len(corrected) == corrected_frames and stored_corrected == corrected
        pd.testing.assert_frame_equal(stored.whole(), in_memory.whole(), check_exact=True)
        # The person's instances as a .slp's are kept (in temporary files, read a part of
        # whole frames at a time) and as one table in memory: the same tracks of record.
        assert isinstance(fixes.instances, StoredColumns)
        whole_fixes = replace(fixes, instances=fixes.instances.frame(), points=fixes.points[:])
        from_memory, memory_corrected = corrections.apply_table(table, whole_fixes, 40.0, frames)
        assert memory_corrected == corrected
        pd.testing.assert_frame_equal(from_memory.whole(), in_memory.whole(), check_exact=True)


def test_a_proofread_slp_is_read_in_parts_of_whole_frames(shared_data, monkeypatch):
    """A whole video's proofread file is applied a part of whole frames at a time: with parts
    of a few rows (a frame's two instances often split by the part's end, a frame larger than
    a part), every row once, in order, and the same tracks of record as the table whole."""
    tracks, truth, nodes, frames = courtship_with_its_truth(shared_data)
    whole = truth.instances.frame()
    table = TrackTable.from_frame(tracks, nodes)
    expected, expected_frames = corrections.apply_table(table, truth, 40.0, frames)
    for rows in (1, 3):
        monkeypatch.setattr(corrections, "block_rows", lambda n_nodes, rows=rows: rows)
        parts = list(truth.blocks())
        assert len(parts) > len(whole) / 4
        joined = pd.concat(parts)
        assert joined.index.tolist() == list(range(len(whole)))
        pd.testing.assert_frame_equal(joined, whole)
        last_frames = [part["frame"].iat[-1] for part in parts[:-1]]
        first_frames = [part["frame"].iat[0] for part in parts[1:]]
        assert all(a < b for a, b in zip(last_frames, first_frames, strict=True))
        fixed, corrected = corrections.apply_table(table, truth, 40.0, frames)
        assert corrected == expected_frames
        pd.testing.assert_frame_equal(fixed.whole(), expected.whole(), check_exact=True)
    assert truth.placed_by_a_person() == len(whole)


def test_bad_corrections_files_are_refused_with_their_name(flies, shared_data, tmp_path):
    _, nodes = flies
    video = str(shared_data / FLY_VIDEO)
    source = str(shared_data / FLY_TRACKS)
    clip = shared_data / "tracking" / "sleap_clip"
    with pytest.raises(InputFileError, match="skeleton") as error:
        corrections.read(str(clip / "clip.slp"), nodes, 1100, video)
    assert "clip.slp" in str(error.value)
    with pytest.raises(InputFileError, match=r"of the video \['clip.mp4'\]"):
        corrections.read(str(clip / "clip.2node.slp"), ["head", "thorax"], 1500, video)
    with pytest.raises(InputFileError, match="labels frame 100; the video has frames 0-99"):
        corrections.read(source, nodes, 100, video)
    empty = tmp_path / "empty.slp"
    labels = sleap_io.load_slp(source, open_videos=False)
    labels.labeled_frames = []
    sleap_io.save_slp(labels, str(empty), verbose=False)
    with pytest.raises(InputFileError, match=r"empty\.slp holds no labelled frames"):
        corrections.read(str(empty), nodes, 1100, video)
    with pytest.raises(InputFileError, match="not found"):
        corrections.read(str(tmp_path / "missing.slp"), nodes, 1100, video)
    damaged = tmp_path / "damaged.slp"
    damaged.write_bytes(empty.read_bytes()[:2000])
    with pytest.raises(
        InputFileError, match=r"proofread file .*damaged\.slp cannot be read"
    ) as error:
        corrections.read(str(damaged), nodes, 1100, video)
    assert str(error.value).count("Fix:") == 1 and "proofreading" in str(error.value)
