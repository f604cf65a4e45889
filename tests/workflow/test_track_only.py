"""Track-only runs: an existing SLEAP predictions file, tracked and scored like `sleap-nn track`."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import sleap_io as sio

from snakeherd import io
from tests.support.nwb import check_video_results
from tests.support.snakemake import run_snakemake

pytestmark = pytest.mark.workflow


@pytest.fixture(scope="module")
def track_only(shared_data, tmp_path_factory):
    clip = shared_data / "tracking"
    work = tmp_path_factory.mktemp("track_only")
    # A sample sheet without a video column: the .slp names its video (found beside it).
    sheet = work / "videos.tsv"
    sheet.write_text(
        "id\tpredictions\tground_truth\tframes\n"
        f"flies\t{clip / 'centered_pair_predictions.clean.slp'}\t"
        f"{clip / 'centered_pair_predictions.clean.slp'}\t0-399\n"
    )
    config = {
        "experiment": "retrack",
        "runtime": "cpu",
        "sample_sheet": str(sheet),
        "detection": {"method": "none"},
        "pose": {"method": "none"},
        "tracking": {"max_tracks": 2},
        "evaluation": {"match_distance": 5},
    }
    run = run_snakemake(work, config)
    assert run.returncode == 0, run.output
    return run


def test_track_only_writes_tracks_in_every_format(track_only):
    folder = track_only.workdir / "results" / "retrack" / "flies"
    for name in (
        "detections.parquet",
        "poses.parquet",
        "tracks.parquet",
        "tracks.csv",
        "tracks.slp",
        "evaluation.csv",
        "provenance.json",
    ):
        assert (folder / name).is_file(), name
    tracks = io.read_table(folder / "tracks.parquet", "tracks")
    assert sorted(tracks["frame"].unique()) == list(range(400))
    assert tracks["track_id"].nunique() == 2
    csv = pd.read_csv(folder / "tracks.csv")
    assert list(csv.columns[:5]) == ["TrajectoryID", "FrameID", "X", "Y", "Theta"]
    assert {"head.x", "head.y", "head.score", "hindlegR3.x"} <= set(csv.columns)
    # The heading comes from the head and abdomen keypoints.
    assert csv["Heading"].notna().mean() > 0.9
    labels = sio.load_slp(str(folder / "tracks.slp"), open_videos=False)
    assert len(labels.tracks) == 2 and len(labels.labeled_frames) == 400
    assert len(labels.skeleton.nodes) == 24 and labels.skeleton.edges
    assert labels.video.filename.endswith("centered_pair_low_quality.mp4")


def test_track_only_nwb_finds_the_video_the_predictions_name(track_only):
    # The sample sheet names no video: its frame rate comes from the one the .slp names.
    numbers = check_video_results(track_only.workdir / "results" / "retrack" / "flies")
    assert numbers["tracks"] == 2 and numbers["fps"] == 15


def test_track_only_scores_identities_and_keypoints(track_only):
    folder = track_only.workdir / "results" / "retrack"
    summary = pd.read_csv(folder / "evaluation_summary.csv")
    print(summary.to_string())
    row = summary.iloc[0]
    assert row["frames"] == 400
    assert row["IDF1"] == 1.0 and row["id_switches"] == 0 and row["HOTA"] > 0.99
    assert row["pose_oks_map"] > 0.99 and row["pose_pck_2px"] == 1.0
    assert row["pose_oks_sigma"] == 0.025
    assert "HOTA" in track_only.stderr


def test_track_only_provenance_names_the_predictions(track_only):
    folder = track_only.workdir / "results" / "retrack" / "flies"
    record = json.loads((folder / "provenance.json").read_text())
    assert record["inputs"]["predictions"]["sha256"]
    assert "video" not in record["inputs"]
    stages = record["runtime"]["stages"]
    assert stages["detections"]["method"] == "predictions"
    assert stages["detections"]["existing_tracks"] == "ignored"
    assert stages["detections"]["frame_size"] == [384, 384]  # measured once, at the import
    assert stages["tracks"]["params"]["max_tracks"] == 2


def test_a_proofread_tracks_file_goes_back_in(track_only):
    """The loop's last step through Snakemake: the run's tracks.slp, with the two flies' tracks
    swapped on frame 200 in SLEAP (a person's identity fix), named as the video's proofread
    file; the track job carries the fix from that frame on and keeps the rest."""
    work = track_only.workdir
    first = work / "results" / "retrack" / "flies"
    labels = sio.load_slp(str(first / "tracks.slp"), open_videos=False)
    (frame,) = [f for f in labels.labeled_frames if f.frame_idx == 200]
    one, other = frame.instances
    one.track, other.track = other.track, one.track
    proofread = work / "proofread.slp"
    sio.save_slp(labels, str(proofread), verbose=False)
    sheet = (work / "videos.tsv").read_text().splitlines()
    (work / "fixed.tsv").write_text(f"{sheet[0]}\tproofread\n{sheet[1]}\t{proofread}\n")
    config = {
        "experiment": "fixed",
        "runtime": "cpu",
        "sample_sheet": str(work / "fixed.tsv"),
        "detection": {"method": "none"},
        "pose": {"method": "none"},
        "tracking": {"max_tracks": 2},
        "evaluation": {"match_distance": 5},
    }
    run = run_snakemake(work, config, "--until", "track")
    assert run.returncode == 0, run.output
    fixed_folder = work / "results" / "fixed" / "flies"
    log = (fixed_folder.parent / "logs" / "flies" / "track.log").read_text()
    assert f"proofread {proofread}: 1 corrected frames" in log
    before = io.read_table(first / "tracks.parquet", "tracks")
    after = io.read_table(fixed_folder / "tracks.parquet", "tracks")
    assert io.read_metadata(fixed_folder / "tracks.parquet")["stage"]["proofread_sha256"]
    key = ["frame", "x", "y"]
    joined = before.merge(after, on=key, suffixes=("", "_fixed"))
    assert len(joined) == len(before) == len(after)  # every prediction kept where it was
    swapped = joined["track_id"] != joined["track_id_fixed"]
    assert (swapped == (joined["frame"] >= 200)).all()  # the fix carried forward
    # The keypoints of every row, the person's on frame 200 among them, are the predictions'.
    points = [column for column in before.columns if column.endswith((".x", ".y"))]
    pd.testing.assert_frame_equal(
        joined[points].reset_index(drop=True),
        joined[[f"{column}_fixed" for column in points]].set_axis(points, axis=1),
    )
    fixed_slp = sio.load_slp(str(fixed_folder / "tracks.slp"), open_videos=False)
    assert len(fixed_slp.labeled_frames) == 400 and len(fixed_slp.tracks) == 2
