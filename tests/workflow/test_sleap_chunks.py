"""The SLEAP stage of a long video in chunks through real Snakemake and real sleap-nn: one
prediction job per chunk, joined into the poses.slp, tables and tracks an unsplit run writes."""

from __future__ import annotations

import numpy as np
import pytest

from snakeherd import io
from tests.support import configs
from tests.support.data import SLEAP_PAIR
from tests.support.matching import assert_same_rows
from tests.support.snakemake import run_snakemake
from tests.workflow.test_resources import dry_run_jobs

pytestmark = pytest.mark.workflow

# 24 frames of the two-fly clip, 12 a chunk: 0-7,20-23 | 24-31,50-53 (both chunks span a gap of
# the selection).
FRAMES = "0-7,20-31,50-53"
CHUNK = 12
CHUNKS = ["0-7,20-23", "24-31,50-53"]


def pair_config(sleap_models, sleap_video, sleap_python, experiment):
    """The top-down pair on FRAMES of the clip twice: as video `whole` (chunk_frames null) and
    as video `chunked` (CHUNK frames a job)."""
    config = configs.sleap_config(
        experiment,
        "cpu",
        sleap_video,
        FRAMES,
        [sleap_models / name for name in SLEAP_PAIR],
        sleap_python,
        video_id="whole",
        tracking={"enabled": True, "max_distance": 60},
        threads=2,
    )
    config["videos"][0]["chunk_frames"] = None
    config["videos"].append({"id": "chunked", "path": str(sleap_video), "frames": FRAMES})
    config["chunk_frames"] = CHUNK
    return config


@pytest.fixture(scope="module")
def results(sleap_models, sleap_video, sleap_python, tmp_path_factory):
    """One run of both videos (one preflight), up to the tracks and poses.slp."""
    workdir = tmp_path_factory.mktemp("sleap_chunks")
    config = pair_config(sleap_models, sleap_video, sleap_python, "chunks")
    targets = [
        f"results/chunks/{video}/{name}"
        for video in ("whole", "chunked")
        for name in ("tracks.parquet", "poses.slp")
    ]
    run = run_snakemake(workdir, config, *targets)
    assert run.returncode == 0, run.output
    return workdir / "results" / "chunks"


def read(results, video, table):
    frame = io.read_table(results / video / f"{table}.parquet", table)
    assert (frame["video_id"] == video).all()
    return frame.drop(columns="video_id")


def slp_frames(path):
    """Per labelled frame: its instances' keypoints, point scores, scores and track names."""
    import sleap_io

    labels = sleap_io.load_slp(str(path), open_videos=False)
    assert len(labels.videos) == len(labels.skeletons) == 1
    frames = {}
    for labeled_frame in labels.labeled_frames:
        assert labeled_frame.video is labels.videos[0]
        instances = labeled_frame.instances
        frames[labeled_frame.frame_idx] = (
            np.array([instance.numpy(scores=True) for instance in instances]),
            np.array([instance.score for instance in instances]),
            [instance.track.name if instance.track else None for instance in instances],
        )
    return frames, labels.videos[0].filename


def test_sleap_in_chunks_equals_the_unsplit_run(results):
    for table, keys in (
        ("detections", ["frame", "det_id"]),
        ("poses", ["frame", "det_id", "node"]),
    ):
        assert_same_rows(read(results, "whole", table), read(results, "chunked", table), keys)
    frames = set(read(results, "chunked", "detections")["frame"])
    assert {7, 20, 23, 24, 31, 50, 53} <= frames  # both sides of every gap and chunk boundary
    assert_same_rows(
        read(results, "whole", "tracks"),
        read(results, "chunked", "tracks"),
        ["frame", "track_id", "det_id"],
    )


def test_the_joined_slp_holds_the_unsplit_instances(results):
    whole, whole_video = slp_frames(results / "whole" / "poses.slp")
    chunked, chunked_video = slp_frames(results / "chunked" / "poses.slp")
    assert chunked_video == whole_video
    assert list(chunked) == list(whole) and len(whole) == 24
    for frame, (points, scores, tracks) in whole.items():
        chunk_points, chunk_scores, chunk_tracks = chunked[frame]
        assert chunk_points.shape == points.shape
        np.testing.assert_allclose(chunk_points, points, atol=1e-4, err_msg=f"frame {frame}")
        np.testing.assert_allclose(chunk_scores, scores, atol=1e-6)
        assert chunk_tracks == tracks


def test_chunk_jobs_and_records(results):
    stage = io.read_metadata(results / "chunked" / "poses.parquet")["stage"]
    whole = io.read_metadata(results / "whole" / "poses.parquet")["stage"]
    assert stage["chunks"] == CHUNKS
    assert stage["frames"] == whole["frames"] == 24
    assert stage["frame_selection"] == whole["frame_selection"] == FRAMES
    assert stage["pipeline"] == whole["pipeline"] == "topdown"
    logs = results / "logs" / "chunked"
    assert len(list((logs / "chunks").glob("sleap_predict.*.log"))) == len(CHUNKS)
    assert not (logs / "sleap_predict.log").exists()
    assert (logs / "sleap_join_chunks.log").is_file()
    assert (results / "logs" / "whole" / "sleap_predict.log").is_file()
    # The chunk predictions were temporary.
    assert not list((results / "chunked" / "chunks").glob("*"))


def test_dry_run_predicts_per_chunk_on_a_gpu_and_joins_on_cpus(
    sleap_models, sleap_video, sleap_python, tmp_path
):
    whole_frames = pair_config(sleap_models, sleap_video, sleap_python, "dry")
    whole_frames["videos"][0]["frames"] = "0-9"  # shorter than a chunk: one job
    whole_frames["videos"][0].pop("chunk_frames")
    whole_frames["runtime"] = "cuda"  # a dry run needs no GPU; it shows which jobs ask for one
    jobs, _ = dry_run_jobs(tmp_path / "pair", whole_frames)
    assert len(jobs["sleap_predict_chunk"]) == len(CHUNKS)
    assert len(jobs["sleap_predict"]) == len(jobs["sleap_join_chunks"]) == 1
    assert all(
        job["gres"] == "gpu:1" for job in jobs["sleap_predict_chunk"] + jobs["sleap_predict"]
    )
    assert all("gres" not in job for job in jobs["sleap_join_chunks"] + jobs["sleap_tables"])
    assert "video=whole" in jobs["sleap_predict"][0]["_wildcards"]

    crops = configs.sleap_config(
        "dry",
        "cpu",
        sleap_video,
        FRAMES,
        [sleap_models / "minimal_instance_centered_instance"],
        sleap_python,
    )
    crops["detection"] = {"method": "background", "background": {"n_animals": 2}}
    crops["chunk_frames"] = CHUNK
    jobs, _ = dry_run_jobs(tmp_path / "crops", crops)
    assert len(jobs["detect_background_chunk"]) == len(jobs["sleap_crop_boxes_chunk"]) == 2
    assert len(jobs["sleap_predict_chunk"]) == len(jobs["sleap_crop_boxes_chunk"])
    assert "sleap_predict" not in jobs and "sleap_crop_boxes" not in jobs
