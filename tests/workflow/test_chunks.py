"""Long videos in chunks through real Snakemake: the chunked run's detections, poses and tracks
equal the unsplit run's (one run of each, shared by the assertions), the jobs a chunked video
makes, and a video whose header promises frames it does not hold."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from snakeherd import io
from snakeherd.synthetic import SceneSpec, simulate, write_video
from tests.support import configs
from tests.support.matching import assert_same_rows
from tests.support.snakemake import run_snakemake

pytestmark = pytest.mark.workflow

# 160 frames whose gaps fall inside chunks: 40 frames a chunk gives the 4 chunks
# 850-889 | 890-899,950-979 | 980-1019 | 1020-1039,1050-1069.
FLY_FRAMES = "850-899,950-1039,1050-1069"
FLY_CHUNK = 40
KEYS = ["frame", "det_id"]


def read(results, experiment, video, table):
    return io.read_table(results / experiment / video / f"{table}.parquet", table)


@pytest.fixture(scope="module")
def fly_runs(shared_data, yolo_models, exported, tmp_path_factory):
    """The fly chain (YOLO-OBB, YOLO-pose on crops) on FLY_FRAMES unsplit and in chunks, in one
    working directory. On onnx_cpu with the session's exports placed beside the models (newer
    than them, so the workflow does not export again): a chunk job then starts in about a
    second, where one on `cpu` imports torch."""
    for task in ("obb", "pose"):
        for suffix in ("", ".parity.json"):
            source = Path(exported[task]["onnx"] + suffix)
            shutil.copyfile(source, yolo_models / source.name)
    workdir = tmp_path_factory.mktemp("fly_chunks")
    for name, chunk_frames in (("whole", None), ("chunked", FLY_CHUNK)):
        config = configs.yolo_config(shared_data, yolo_models, "onnx_cpu", FLY_FRAMES, name)
        config["chunk_frames"] = chunk_frames
        run = run_snakemake(workdir, config, f"results/{name}/pair/tracks.parquet")
        assert run.returncode == 0, run.output
        assert "export_yolo" not in run.output
    return workdir / "results"


def test_fly_clip_in_chunks_equals_the_unsplit_run(fly_runs):
    for table in ("detections", "poses"):
        whole = read(fly_runs, "whole", "pair", table)
        chunked = read(fly_runs, "chunked", "pair", table)
        assert_same_rows(whole, chunked, KEYS + (["node"] if table == "poses" else []))
    # Frames on both sides of every gap, and in every chunk, have their animals.
    frames = set(read(fly_runs, "chunked", "pair", "detections")["frame"])
    assert {899, 950, 979, 980, 1039, 1050, 1069} <= frames
    whole_tracks = read(fly_runs, "whole", "pair", "tracks")
    chunked_tracks = read(fly_runs, "chunked", "pair", "tracks")
    assert_same_rows(whole_tracks, chunked_tracks, ["frame", "track_id", "det_id"])


def test_chunk_records_and_leftovers(fly_runs):
    folder = fly_runs / "chunked" / "pair"
    stage = io.read_metadata(folder / "detections.parquet")["stage"]
    whole = io.read_metadata(fly_runs / "whole" / "pair" / "detections.parquet")["stage"]
    assert stage["chunks"] == ["850-889", "890-899,950-979", "980-1019", "1020-1039,1050-1069"]
    assert stage["frames"] == whole["frames"] == 160
    assert stage["frame_selection"] == whole["frame_selection"] == FLY_FRAMES
    assert io.read_metadata(folder / "poses.parquet")["stage"]["skeleton"]["nodes"]
    # The chunk tables were temporary; each chunk job has its own log and benchmark.
    assert not list((folder / "chunks").glob("*.parquet"))
    logs = fly_runs / "chunked" / "logs" / "pair" / "chunks"
    assert len(list(logs.glob("detect_yolo_obb.*.log"))) == 4
    assert len(list(logs.glob("pose_yolo_crops.*.log"))) == 4


@pytest.fixture(scope="module")
def background_runs(small_videos, tmp_path_factory):
    """Background subtraction on a generated arena (the session's 60-frame video, 4 animals),
    unsplit and in chunks of 20 frames: 0-19 | 30-49 | 50-59."""
    workdir = tmp_path_factory.mktemp("background_chunks")
    for name, chunk_frames in (("whole", None), ("chunked", 20)):
        config = configs.background_config(name, "cpu", "arena", 2)
        config["videos"] = [
            {"id": "arena", "path": str(small_videos["small_a"]), "frames": "0-19,30-59"}
        ]
        config["detection"]["background"] = {"n_animals": 4}
        config["chunk_frames"] = chunk_frames
        # The tracks alone: evaluation, outputs and the report do not depend on chunks.
        run = run_snakemake(workdir, config, f"results/{name}/arena/tracks.parquet")
        assert run.returncode == 0, run.output
    return workdir / "results"


def test_background_subtraction_in_chunks_equals_the_unsplit_run(background_runs):
    whole = read(background_runs, "whole", "arena", "detections")
    chunked = read(background_runs, "chunked", "arena", "detections")
    assert_same_rows(whole, chunked, KEYS)
    assert_same_rows(
        read(background_runs, "whole", "arena", "tracks"),
        read(background_runs, "chunked", "arena", "tracks"),
        ["frame", "track_id", "det_id"],
    )
    chunked_stage = io.read_metadata(background_runs / "chunked" / "arena" / "detections.parquet")[
        "stage"
    ]
    whole_stage = io.read_metadata(background_runs / "whole" / "arena" / "detections.parquet")[
        "stage"
    ]
    # Every chunk used the one background model of the whole selection.
    assert chunked_stage["animal_area_px"] == whole_stage["animal_area_px"]
    assert chunked_stage["background_frames"] == whole_stage["background_frames"] == 50
    assert len(chunked_stage["chunks"]) == 3


def job_counts(output: str) -> dict[str, int]:
    table = output[output.index("Job stats:") :]
    return {name: int(count) for name, count in re.findall(r"^(\w+)\s+(\d+)$", table, re.M)}


def test_dry_run_makes_one_job_per_chunk_and_keeps_short_videos_whole(
    shared_data, yolo_models, tmp_path
):
    config = configs.yolo_config(shared_data, yolo_models, "cpu", "0-", "dry")
    clip = config["videos"][0]["path"]
    config["videos"] += [
        {"id": "short", "path": clip, "frames": "0-299"},
        {"id": "unsplit", "path": clip, "chunk_frames": None},
    ]
    config["chunk_frames"] = 300  # 1,100 frames: 4 chunks; 300 frames: one job
    run = run_snakemake(tmp_path, config, "-n")
    assert run.returncode == 0, run.output
    counts = job_counts(run.output)
    assert counts["detect_yolo_obb_chunk"] == counts["pose_yolo_crops_chunk"] == 4
    assert counts["join_chunks"] == 2
    assert counts["detect_yolo_obb"] == counts["pose_yolo_crops"] == 2
    assert counts["track"] == 3
    # The chunk jobs ask for the chunk's time, not the video's.
    chunk_job = re.search(
        r"rule detect_yolo_obb_chunk:.*?wildcards: video=pair, chunk=3.*?runtime=(\d+)",
        run.output,
        re.S,
    )
    whole_job = re.search(
        r"rule detect_yolo_obb:.*?wildcards: video=unsplit.*?runtime=(\d+)", run.output, re.S
    )
    assert int(chunk_job.group(1)) < int(whole_job.group(1))
    # With pose on whole frames, one job per chunk makes both tables, each joined.
    config["detection"] = {"method": "none"}
    config["pose"].update(mode="frames", yolo={"imgsz": 640})
    run = run_snakemake(tmp_path, config, "-n")
    assert run.returncode == 0, run.output
    counts = job_counts(run.output)
    assert counts["pose_yolo_frames_chunk"] == 4 and counts["pose_yolo_frames"] == 2
    assert counts["join_chunks"] == 2 and "detect_yolo_obb_chunk" not in counts


def test_a_header_that_promises_missing_frames_fails_clearly_without_tables(tmp_path):
    spec = SceneSpec(n_animals=3, n_frames=60, width=128, height=128, seed=9)
    whole = tmp_path / "whole.avi"
    write_video(spec, simulate(spec), str(whole), fourcc="MJPG")
    truncated = tmp_path / "truncated.avi"
    truncated.write_bytes(whole.read_bytes()[: whole.stat().st_size * 3 // 4])
    config = configs.background_config("lying", "cpu", "x", 2, chunk_frames=20)
    config["videos"] = [{"id": "lying", "path": str(truncated)}]
    run = run_snakemake(tmp_path / "work", config, "--keep-going")
    assert run.returncode != 0
    assert re.search(rf"video {re.escape(str(truncated))}: frame \d+ cannot be decoded", run.stderr)
    assert "has 60 frames" in run.stderr and "Fix:" in run.stderr
    folder = tmp_path / "work" / "results" / "lying" / "lying"
    assert not (folder / "detections.parquet").exists()
    assert not list(folder.rglob("*.parquet"))


def test_a_track_only_run_notes_that_it_ignores_chunk_frames(shared_data, tmp_path):
    predictions = shared_data / "tracking" / "centered_pair_predictions.clean.slp"
    config = {
        "experiment": "retrack",
        "runtime": "cpu",
        "chunk_frames": 100,
        "videos": [{"id": "flies", "predictions": str(predictions), "frames": "0-399"}],
        "detection": {"method": "none"},
        "pose": {"method": "none"},
    }
    run = run_snakemake(tmp_path, config, "-n")
    assert run.returncode == 0, run.output
    assert "chunk_frames is ignored in a track-only run" in run.stderr
    assert "chunk" not in "".join(re.findall(r"^rule (\w+):", run.output, re.M))
