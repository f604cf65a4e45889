"""The YOLO stages through real Snakemake: exports as rules, every CPU runtime, bad inputs."""

from __future__ import annotations

import json
import os

import numpy as np
import pandas as pd
import pytest

from snakeherd import io
from tests.support import configs
from tests.support.data import FLY_NODES
from tests.support.nwb import check_video_results
from tests.support.snakemake import run_snakemake

pytestmark = pytest.mark.workflow
NODES = list(FLY_NODES)


def yolo_config(shared_data, models, runtime="onnx_cpu", frames="900-959"):
    """The fly chain as experiment ``flies_<runtime>``, with two skeleton edges for tracks.slp."""
    edges = [["head", "thorax"], ["thorax", "abdomen"]]
    config = configs.yolo_config(
        shared_data, models, runtime, frames, f"flies_{runtime}", edges=edges
    )
    config.setdefault("outputs", {})["overlay"] = {"enabled": True}  # test_overlay_...
    return config


@pytest.fixture(scope="module")
def onnx_run(shared_data, yolo_models, tmp_path_factory):
    run = run_snakemake(tmp_path_factory.mktemp("yolo_onnx"), yolo_config(shared_data, yolo_models))
    assert run.returncode == 0, run.output
    return run


def test_exports_sit_next_to_the_models_with_their_parity_numbers(onnx_run, yolo_models):
    for name, task in (("fly_obb_yolo11n", "obb"), ("fly_pose_crops_yolo11n", "pose")):
        assert (yolo_models / f"{name}.onnx").is_file()
        record = json.loads((yolo_models / f"{name}.onnx.parity.json").read_text())
        assert record["model"]["task"] == task
        assert record["parity"]["passed"] and record["parity"]["position_px"]["max"] < 1e-3
        assert record["model"]["source"]["path"].endswith(f"{name}.pt")


def test_onnx_run_outputs_and_provenance(onnx_run):
    folder = onnx_run.workdir / "results" / "flies_onnx_cpu" / "pair"
    detections = io.read_table(folder / "detections.parquet", "detections")
    poses = io.read_table(folder / "poses.parquet", "poses")
    assert set(detections["frame"]) <= set(range(900, 960))
    assert list(poses.columns[:7]) == list(io.CORE_COLUMNS["poses"])
    assert sorted(poses["node"].unique()) == sorted(NODES)
    assert len(poses) == len(detections) * len(NODES)
    joined = poses.merge(detections, on=["video_id", "frame", "det_id"])
    assert len(joined) == len(poses)
    pose_stage = io.read_metadata(folder / "poses.parquet")["stage"]
    assert pose_stage["skeleton"] == {
        "nodes": NODES,
        "edges": [["head", "thorax"], ["thorax", "abdomen"]],
    }
    stage = io.read_metadata(folder / "detections.parquet")["stage"]
    assert stage["runtime"]["runtime"] == "onnx_cpu"
    assert stage["runtime"]["providers"] == ["CPUExecutionProvider"]
    record = json.loads((folder / "provenance.json").read_text())
    assert record["runtime"]["stages"]["poses"]["runtime"]["providers"] == ["CPUExecutionProvider"]
    assert record["inputs"]["detection_model"]["sha256"]
    assert record["inputs"]["pose_model_runtime"]["path"].endswith("fly_pose_crops_yolo11n.onnx")
    summary = pd.read_csv(folder.parent / "evaluation_summary.csv")
    assert summary.iloc[0]["recall"] >= 0.9
    import sleap_io

    tracks = sleap_io.load_slp(str(folder / "tracks.slp"))
    assert tracks.skeletons[0].node_names == NODES
    assert len(tracks.skeletons[0].edges) == 2
    assert len(tracks.tracks) >= 2


def test_nwb_of_the_fly_clip_loads_in_movement_as_the_tracks(onnx_run):
    from pynwb import NWBHDF5IO

    folder = onnx_run.workdir / "results" / "flies_onnx_cpu" / "pair"
    numbers = check_video_results(folder)
    assert numbers["fps"] == 15 and numbers["tracks"] >= 2
    with NWBHDF5IO(str(sorted((folder / "nwb").glob("*.nwb"))[0]), mode="r") as handle:
        pose = handle.read().processing["behavior"]["PoseEstimation"]
        assert pose.scorer == "fly_obb_yolo11n.onnx, fly_pose_crops_yolo11n.onnx"
        assert "on runtime onnx_cpu (CPUExecutionProvider)" in pose.description
        assert list(pose.skeleton.nodes) == NODES
    assert (folder / "tracks.analysis.h5").is_file()


def test_exports_rerun_only_when_the_model_changes(onnx_run, shared_data, yolo_models):
    config = yolo_config(shared_data, yolo_models)
    again = run_snakemake(onnx_run.workdir, config)
    assert again.returncode == 0 and "Nothing to be done" in again.output
    os.utime(yolo_models / "fly_obb_yolo11n.pt")  # "edited" now, after its export
    dry = run_snakemake(onnx_run.workdir, config, "-n")
    assert "export_yolo_obb" in dry.output
    assert "export_yolo_pose" not in dry.output


def test_tract_and_native_cpu_agree_with_onnx(onnx_run, shared_data, yolo_models):
    reference = io.read_table(
        onnx_run.workdir / "results" / "flies_onnx_cpu" / "pair" / "detections.parquet",
        "detections",
    )
    reference = reference[reference["frame"] < 910]
    for runtime in ("tract", "cpu"):
        config = yolo_config(shared_data, yolo_models, runtime=runtime, frames="900-909")
        run = run_snakemake(onnx_run.workdir, config)
        assert run.returncode == 0, run.output
        folder = onnx_run.workdir / "results" / f"flies_{runtime}" / "pair"
        table = io.read_table(folder / "detections.parquet", "detections")
        merged = reference.merge(table, on=["frame", "det_id"], suffixes=("", "_other"))
        assert len(merged) == len(reference) == len(table)
        gap = np.hypot(merged["x"] - merged["x_other"], merged["y"] - merged["y_other"]).max()
        assert gap < 1e-2, (runtime, gap)
        stage = io.read_metadata(folder / "poses.parquet")["stage"]
        assert stage["runtime"]["runtime"] == runtime


def test_gpu_runtime_fails_in_the_job_without_falling_back(shared_data, yolo_models, tmp_path):
    import torch

    config = yolo_config(shared_data, yolo_models, runtime="cuda", frames="900-904")
    run = run_snakemake(tmp_path / "work", config)
    folder = tmp_path / "work" / "results" / "flies_cuda" / "pair"
    if torch.cuda.is_available():
        assert run.returncode == 0, run.output
        return
    assert run.returncode != 0
    assert "runtime 'cuda' for stage YOLO-OBB detection: no CUDA device is visible" in run.stderr
    assert "Fix:" in run.stderr
    assert not (folder / "detections.parquet").exists()


def test_pose_model_given_as_detector_is_named(shared_data, yolo_models, tmp_path):
    config = yolo_config(shared_data, yolo_models, runtime="cpu", frames="900-904")
    config["detection"]["model"] = str(yolo_models / "fly_pose_crops_yolo11n.pt")
    run = run_snakemake(tmp_path / "work", config)
    assert run.returncode != 0
    assert "is a YOLO-pose (keypoints) model, but this stage needs a YOLO-OBB" in run.stderr
    assert not list((tmp_path / "work" / "results").rglob("*.parquet"))


def test_corrupt_model_fails_its_export_cleanly(shared_data, yolo_models, tmp_path):
    broken = tmp_path / "broken_obb.pt"
    broken.write_bytes((yolo_models / "fly_obb_yolo11n.pt").read_bytes()[:5000])
    config = yolo_config(shared_data, yolo_models, frames="900-904")
    config["detection"]["model"] = str(broken)
    run = run_snakemake(tmp_path / "work", config)
    assert run.returncode != 0
    assert f"{broken} cannot be loaded as an Ultralytics model" in run.stderr
    assert not (tmp_path / "broken_obb.onnx").exists()
    assert not (tmp_path / "broken_obb.onnx.parity.json").exists()


def test_undecodable_video_fails_alone(shared_data, yolo_models, tmp_path):
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(b"not a video at all" * 300)
    config = yolo_config(shared_data, yolo_models, frames="900-909")
    config["videos"].append({"id": "garbage", "path": str(garbage)})
    run = run_snakemake(tmp_path / "work", config, "--keep-going")
    assert run.returncode != 0
    assert f"cannot open video {garbage}" in run.stderr
    results = tmp_path / "work" / "results" / "flies_onnx_cpu"
    assert (results / "pair" / "provenance.json").is_file()
    assert not [p for p in results.glob("garbage/**/*") if p.is_file()]


def test_overlay_of_the_fly_clip_plays_in_browsers(onnx_run, clip):
    from snakeherd.video import probe
    from tests.support.overlays import stream_info

    info = stream_info(onnx_run.workdir / "results" / "flies_onnx_cpu" / "pair" / "overlay.mp4")
    assert info["codec"].startswith("h264") and info["pix_fmt"] == "yuv420p", info
    assert info["frames"] == 60  # frames 900-959
    assert info["fps"] == pytest.approx(probe(clip).fps)
    assert info["size"] == (384, 384)
