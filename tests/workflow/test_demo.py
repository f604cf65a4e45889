"""The embedded demo, end to end through real Snakemake: outputs, accuracy, determinism."""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import subprocess
import time

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import sleap_io

from snakeherd import io
from tests.support.nwb import critical_messages, differences_from_tracks
from tests.support.paths import REPO
from tests.support.snakemake import run_snakemake, snakemake_command

pytestmark = pytest.mark.workflow
VIDEOS = ("arena_a", "arena_b")


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    run = run_snakemake(tmp_path_factory.mktemp("demo_first"))
    assert run.returncode == 0, run.output
    return run


def test_demo_writes_every_output(demo):
    results = demo.workdir / "results" / "demo"
    for video in VIDEOS:
        for name in (
            "detections.parquet",
            "tracks.parquet",
            "tracks.csv",
            "tracks.slp",
            "evaluation.parquet",
            "evaluation.csv",
            "provenance.json",
        ):
            assert (results / video / name).is_file(), f"{video}/{name}"
        # The track job writes provenance.json: no job of its own.
        for rule in ("detect_background", "track", "evaluate"):
            assert (results / "logs" / video / f"{rule}.log").is_file()
            assert (results / "benchmarks" / video / f"{rule}.tsv").is_file()
    assert (results / "evaluation_summary.csv").is_file()


def test_demo_writes_nwb_and_analysis_files_that_movement_loads(demo, monkeypatch):
    # arena_b skips frames 150-199: the NWB rows stay on the video's frames and times.
    folder = demo.workdir / "results" / "demo" / "arena_b"
    assert critical_messages(folder / "nwb") == []
    # The README's "Analyse with movement" code as written (on arena_b), in the demo's folder:
    # speeds from the analysis file, then the NWB files merged.
    readme = (REPO / "README.md").read_text().split("## Analyse with movement", 1)[1]
    blocks = re.findall(r"```python\n(.*?)```", readme.split("\n## ", 1)[0], re.S)
    assert len(blocks) == 2
    monkeypatch.chdir(demo.workdir)
    namespace = {}
    for code in blocks:
        exec(code.replace("arena_a", "arena_b"), namespace)
    speeds = namespace["speed"].values
    assert speeds.size >= 8 and (speeds[~np.isnan(speeds)] > 0).all()
    numbers = differences_from_tracks(namespace["ds"], folder / "tracks.parquet")
    assert len(numbers["individuals"]) == numbers["tracks"] >= 8 and numbers["fps"] == 25
    assert numbers["position_px"] == 0 and numbers["confidence"] == 0


def test_demo_scores_and_prints_its_summary(demo):
    summary = pd.read_csv(demo.workdir / "results" / "demo" / "evaluation_summary.csv")
    print(summary.to_string())
    assert summary["video_id"].tolist() == [*VIDEOS, "ALL"]
    # Measured: MOTA 0.984 / 0.978, IDF1 0.897 / 0.814, 4 + 10 ID switches (the first tracker:
    # IDF1 0.83 / 0.53, 9 + 22 switches). arena_b's identities survive its 50-frame gap because
    # the config knows there are 8 animals (tracking.max_tracks).
    assert (summary["MOTA"] >= 0.95).all()
    assert (summary["recall"] >= 0.95).all()
    assert (summary["IDF1"] >= 0.75).all()
    assert summary.set_index("video_id").loc["ALL", "id_switches"] <= 20
    assert (summary["HOTA"] >= 0.6).all()
    assert "Tracking evaluation" in demo.stderr and "MOTA" in demo.stderr
    assert "results are in" in demo.stderr


def test_demo_scene_is_honest(demo):
    for video in VIDEOS:
        stage = io.read_metadata(
            demo.workdir / "results" / "demo" / video / "synthetic" / "ground_truth.parquet"
        )["stage"]
        assert stage["crossings"] >= 5
        assert stage["scene"]["n_animals"] == 8


def test_tables_follow_the_contract(demo):
    folder = demo.workdir / "results" / "demo" / "arena_b"
    detections = pq.read_table(folder / "detections.parquet")
    assert detections.schema.names[:10] == list(io.CORE_COLUMNS["detections"])
    tracks = io.read_table(folder / "tracks.parquet", "tracks")
    assert list(tracks.columns[:8]) == list(io.CORE_COLUMNS["tracks"])
    frames = set(tracks["frame"])
    # arena_b processes frames 0-149 and 200-299 only
    assert frames == set(range(150)) | set(range(200, 300))
    detected = tracks[~tracks["interpolated"]]
    assert (tracks.loc[tracks["interpolated"], "det_id"] == -1).all()
    joined = detected.merge(
        detections.to_pandas(), on=["video_id", "frame", "det_id"], suffixes=("", "_det")
    )
    assert len(joined) == len(detected)
    assert (joined["x"] == joined["x_det"]).all()
    assert (tracks["x"] % 1 != 0).any()  # sub-pixel, never rounded
    csv = pd.read_csv(folder / "tracks.csv")
    assert list(csv.columns[:5]) == ["TrajectoryID", "FrameID", "X", "Y", "Theta"]
    assert len(csv) == len(tracks)
    assert tracks["track_id"].nunique() == 8  # tracking.max_tracks
    labels = sleap_io.load_slp(str(folder / "tracks.slp"), open_videos=False)
    assert len(labels.tracks) == 8 and labels.skeleton.node_names == ["centroid"]


def test_demo_lists_suspect_frames_for_proofreading(demo):
    """Suspects beside the tracks, as tracks.slp's suggestions and in a package with the frames'
    images; they point at the tracker's real errors (measured on arena_b: 8 of its 10 ID
    switches and all 17 misses within 5 frames of a stretch, 20 % of the frames flagged)."""
    from snakeherd.evaluation import frame_errors, load_ground_truth

    folder = demo.workdir / "results" / "demo" / "arena_b"
    suspects = io.read_table(folder / "suspects.parquet", "suspects")
    assert len(suspects) and pd.read_csv(folder / "suspects.csv")["frame"].tolist() == list(
        suspects["frame"]
    )
    processed = np.r_[0:150, 200:300]
    assert suspects["frame"].isin(processed).all() and (suspects["severity"] >= 1).all()
    assert sorted(suspects["rank"]) == list(range(1, len(suspects) + 1))
    flagged = {f for a, b in zip(suspects["start_frame"], suspects["end_frame"], strict=True)
               for f in range(a, b + 1)}  # fmt: skip
    assert len(flagged) <= 0.3 * len(processed)
    tracks = io.read_table(folder / "tracks.parquet", "tracks")
    truth = load_ground_truth(str(folder / "synthetic" / "ground_truth.parquet"))
    errors = frame_errors(tracks, truth, processed, 10.0)
    switches = errors.loc[errors["id_switches"] > 0, "frame"]
    near = [any(a - 5 <= f <= b + 5 for a, b in zip(suspects["start_frame"],
            suspects["end_frame"], strict=True)) for f in switches]  # fmt: skip
    assert len(switches) and np.mean(near) >= 0.6
    frames = sorted(set(suspects["frame"]))
    labels = sleap_io.load_slp(str(folder / "tracks.slp"), open_videos=False)
    assert [int(s.frame_idx) for s in labels.suggestions] == frames
    package = sleap_io.load_slp(str(folder / "proofread.pkg.slp"))
    assert [int(s.frame_idx) for s in package.suggestions] == frames
    assert package.labeled_frames[0].image.shape[:2] == (400, 400)
    record = json.loads((folder / "provenance.json").read_text())
    assert (
        record["outputs"]["suspects"]["sha256"]
        == hashlib.sha256((folder / "suspects.parquet").read_bytes()).hexdigest()
    )


def test_provenance_records_what_produced_the_results(demo):
    folder = demo.workdir / "results" / "demo" / "arena_a"
    record = json.loads((folder / "provenance.json").read_text())
    assert record["runtime"]["requested"] == "onnx_cpu"
    assert record["runtime"]["stages"]["detections"]["method"] == "background"
    assert record["runtime"]["stages"]["tracks"]["params"]["max_distance"] == 40
    video = folder / "synthetic" / "video.mp4"
    assert record["inputs"]["video"]["sha256"] == hashlib.sha256(video.read_bytes()).hexdigest()
    assert (
        record["outputs"]["tracks"]["sha256"]
        == hashlib.sha256((folder / "tracks.parquet").read_bytes()).hexdigest()
    )
    assert record["packages"]["snakemake"] and record["packages"]["numpy"]
    assert "commit" in record["workflow"]
    assert record["config"]["video"]["id"] == "arena_a"
    assert record["schema_version"] == io.SCHEMA_VERSION


def test_rerun_has_nothing_to_do(demo):
    again = run_snakemake(demo.workdir)
    assert again.returncode == 0, again.output
    assert "Nothing to be done" in again.output


def test_two_runs_give_identical_tables(demo, tmp_path):
    second = run_snakemake(tmp_path / "demo_second")
    assert second.returncode == 0, second.output
    first_files = sorted((demo.workdir / "results").rglob("*.parquet"))
    assert len(first_files) >= 9
    for first in first_files:
        relative = first.relative_to(demo.workdir)
        other = second.workdir / relative
        assert pd.read_parquet(first).equals(pd.read_parquet(other)), relative
        assert first.read_bytes() == other.read_bytes(), relative


def test_a_killed_run_is_unlocked_and_rerun_to_the_same_tables(demo, tmp_path):
    # SIGKILL to the whole run (Snakemake and its jobs, as a cluster's or a terminal's kill of
    # the process group does) while a job is writing: the lock stays, `--unlock` frees it, and
    # `--rerun-incomplete` redoes what the killed jobs left, to the same bytes as a clean run.
    workdir = tmp_path / "killed"
    command = snakemake_command(workdir, None, "--cores", "2")
    run = subprocess.Popen(
        command, cwd=workdir, start_new_session=True, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    logs = workdir / "results" / "demo" / "logs"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and not list(logs.rglob("detect_background.log")):
        time.sleep(0.2)
    os.killpg(run.pid, signal.SIGKILL)
    run.wait(timeout=60)
    assert list(logs.rglob("detect_background.log")), "no job started before the kill"

    locked = run_snakemake(workdir)
    assert locked.returncode != 0 and "--unlock" in locked.output
    unlocked = run_snakemake(workdir, None, "--unlock")
    assert unlocked.returncode == 0, unlocked.output
    rerun = run_snakemake(workdir, None, "--rerun-incomplete")
    assert rerun.returncode == 0, rerun.output
    first_files = sorted((demo.workdir / "results").rglob("*.parquet"))
    for first in first_files:
        relative = first.relative_to(demo.workdir)
        assert first.read_bytes() == (workdir / relative).read_bytes(), relative


def test_demo_overlays_plots_and_batch_pages(demo):
    from tests.support.overlays import stream_info

    results = demo.workdir / "results" / "demo"
    for video, frames in (("arena_a", 300), ("arena_b", 250)):  # arena_b: 0-149,200-299
        info = stream_info(results / video / "overlay.mp4")
        assert info["codec"].startswith("h264") and info["pix_fmt"] == "yuv420p", info
        assert info["frames"] == frames and info["fps"] == pytest.approx(25.0)
        assert info["size"] == (400, 400)
        for plot in ("trajectories", "timeline", "counts", "scores"):
            assert (results / video / "plots" / f"{plot}.png").is_file()
    summary = pd.read_csv(results / "report" / "summary.csv")
    assert summary["video"].tolist() == list(VIDEOS) and (summary["status"] == "ok").all()
