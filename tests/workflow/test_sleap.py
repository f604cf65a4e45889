"""The SLEAP stage end to end: real sleap-nn in its own venv, real Snakemake, real ONNX Runtime.

The workflow runs from the main environment (which has no sleap-nn) with ``pose.env`` naming the
SLEAP venv's Python. Keypoints are compared with what the ``sleap-nn predict`` CLI writes for the
same model and frames.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess

import numpy as np
import pytest

from snakeherd import io
from tests.support import configs
from tests.support.data import SLEAP_PAIR
from tests.support.matching import keypoint_differences, matched_instances, slp_instances
from tests.support.nwb import check_video_results
from tests.support.sleap_commands import run_sleap_nn_predict, stage_script
from tests.support.snakemake import run_snakemake

pytestmark = pytest.mark.workflow

FRAMES = "0-11"


@pytest.fixture(scope="module")
def ground_truth(shared_data):
    return shared_data / "sleap" / "minimal_instance.pkg.slp"


def sleap_config(models, video, sleap_python, names, runtime="cpu", **extra):
    config = configs.sleap_config(
        "sleap",
        runtime,
        video,
        FRAMES,
        [models / name for name in names],
        sleap_python,
        tracking={"enabled": True, "max_distance": 60},
        threads=2,
    )
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(config.get(key), dict):
            config[key].update(value)
        else:
            config[key] = value
    return config


@pytest.fixture(scope="module")
def cpu_run(sleap_models, sleap_video, ground_truth, sleap_python, tmp_path_factory):
    config = sleap_config(sleap_models, sleap_video, sleap_python, SLEAP_PAIR)
    config["videos"][0]["ground_truth"] = str(ground_truth)
    config.setdefault("outputs", {})["overlay"] = {"enabled": True}
    run = run_snakemake(tmp_path_factory.mktemp("sleap_cpu"), config)
    assert run.returncode == 0, run.output
    return run


@pytest.fixture(scope="module")
def onnx_run(sleap_models, sleap_video, ground_truth, sleap_python, tmp_path_factory):
    config = sleap_config(sleap_models, sleap_video, sleap_python, SLEAP_PAIR, runtime="onnx_cpu")
    config["videos"][0]["ground_truth"] = str(ground_truth)
    run = run_snakemake(tmp_path_factory.mktemp("sleap_onnx"), config)
    assert run.returncode == 0, run.output
    return run


def results(run):
    return run.workdir / "results" / "sleap" / "pair"


def test_main_environment_never_imports_sleap_nn(cpu_run):
    # The run succeeded from this environment, which cannot import sleap-nn at all: every
    # sleap-nn import happened in the SLEAP venv, whose versions the stage recorded.
    assert importlib.util.find_spec("sleap_nn") is None
    stage = io.read_metadata(results(cpu_run) / "poses.parquet")["stage"]
    assert stage["runtime"]["runtime"] == "cpu"
    assert stage["runtime"]["packages"]["sleap_nn"] == "0.3.5"
    assert stage["pipeline"] == "topdown"


def test_cpu_reproduces_sleap_nn_predict_exactly(
    cpu_run, sleap_models, sleap_video, sleap_python, tmp_path
):
    models = [sleap_models / n for n in SLEAP_PAIR]
    cli = run_sleap_nn_predict(sleap_python, sleap_video, FRAMES, models, tmp_path / "cli.slp")
    ours = slp_instances(results(cpu_run) / "poses.slp")
    theirs = slp_instances(cli)
    assert len(ours) == 12
    differences, unmatched = keypoint_differences(theirs, ours)
    assert unmatched == 0
    assert len(differences) > 20
    assert differences.max() <= 1e-3


def test_tables_join_and_tracking_follows(cpu_run):
    folder = results(cpu_run)
    poses = io.read_table(folder / "poses.parquet", "poses")
    detections = io.read_table(folder / "detections.parquet", "detections")
    assert list(poses.columns[:7]) == list(io.CORE_COLUMNS["poses"])
    assert list(detections.columns[:10]) == list(io.CORE_COLUMNS["detections"])
    assert set(poses["node"]) == {"A", "B"}
    joined = poses.merge(detections, on=["video_id", "frame", "det_id"], suffixes=("", "_det"))
    assert len(joined) == len(poses.dropna(subset=["x"]).drop_duplicates(["frame", "det_id"])) * 2
    assert ((detections["angle"] >= 0) & (detections["angle"] < np.pi)).all()
    assert (detections.groupby("frame").size() == 2).mean() > 0.8  # two flies
    tracks = io.read_table(folder / "tracks.parquet", "tracks")
    assert tracks["track_id"].nunique() >= 2
    record = json.loads((folder / "provenance.json").read_text())
    assert record["runtime"]["stages"]["poses"]["method"] == "sleap"
    assert "poses_slp" in record["outputs"]


def test_nwb_of_the_top_down_run_loads_in_movement_as_the_tracks(cpu_run):
    numbers = check_video_results(results(cpu_run))
    assert numbers["tracks"] >= 2


def test_pose_evaluation_with_sleap_nn_evaluator(cpu_run, onnx_run):
    scores = {}
    for name, run in (("cpu", cpu_run), ("onnx_cpu", onnx_run)):
        metrics = json.loads((results(run) / "pose_evaluation.json").read_text())
        print(name, metrics)
        assert metrics["frames_scored"] == 1 and metrics["gt_instances"] == 2
        assert 0 < metrics["mOKS"] <= 1 and 0 <= metrics["mPCK"] <= 1
        scores[name] = metrics
    # The checkpoint was trained on this very frame.
    assert scores["cpu"]["mOKS"] > 0.8
    assert scores["onnx_cpu"]["mOKS"] > 0.7


def test_onnx_export_sits_next_to_the_model_with_its_parity(onnx_run, sleap_models):
    folder = (
        sleap_models
        / "minimal_instance_centroid+minimal_instance_centered_instance.onnx"
        / "384x384"
    )
    # The pair is exported one model each, and the stage composes them.
    assert (folder / "centroid" / "model.onnx").is_file()
    assert (folder / "centered_instance" / "model.onnx").is_file()
    report = json.loads((folder / "parity.json").read_text())
    print(json.dumps({k: report[k] for k in ("raw", "corrected")}, indent=1))
    raw, corrected = report["raw"], report["corrected"]
    # sleap-nn's exports leave centroids and keypoints unrefined: 0.8 px from the checkpoint
    # (its one-graph bundle: 1.5 px). Refined by the stage, they are the checkpoint's (0.0 px).
    assert raw["median_px"] > 0.3
    assert corrected["reference_instances"] == corrected["other_instances"] > 0
    assert corrected["unmatched_instances"] == corrected["keypoints_found_by_one_only"] == 0
    assert corrected["max_px"] < 0.01
    assert report["confmaps_exposed"] and report["passed"]
    assert report["corrections"] == [
        "integral peak refinement",
        "crops cut as the checkpoint cuts them",
    ]
    stage = io.read_metadata(results(onnx_run) / "poses.parquet")["stage"]
    assert stage["runtime"]["providers"] == ["CPUExecutionProvider"]
    assert stage["export_parity"]["corrected"] == corrected
    # pose.max_instances is null: the training frame shows 2 flies, the export gets 4 slots
    # (sleap-nn's own default, 20, runs the instance model 20 times a frame), and no frame
    # of this 2-fly clip fills them.
    assert report["max_instances"] == 4
    assert "minimal_instance_centroid" in report["max_instances_from"]
    assert stage["frames_at_max_instances"] == 0


def test_onnx_agrees_with_cpu_within_tolerance(cpu_run, onnx_run):
    cpu = slp_instances(results(cpu_run) / "poses.slp")
    onnx = slp_instances(results(onnx_run) / "poses.slp")
    assert set(cpu) == set(onnx)
    pairs, unmatched = matched_instances(cpu, onnx)
    assert unmatched == 0  # every frame has as many instances in both
    distances = []
    for _, a, b in pairs:
        distance = np.linalg.norm(a - b, axis=-1)
        distances.extend(distance[~np.isnan(distance)])
    median = float(np.median(distances))
    print(f"onnx_cpu vs cpu on frames {FRAMES}: median {median:.3f} px, max {max(distances):.3f}")
    assert max(distances) < 0.01


def test_pair_export_takes_more_crops_than_its_graph_at_once(
    cpu_run, onnx_run, sleap_models, sleap_video, sleap_python, tmp_path
):
    folder = (
        sleap_models
        / "minimal_instance_centroid+minimal_instance_centered_instance.onnx"
        / "384x384"
    )
    metadata = json.loads((folder / "centered_instance" / "export_metadata.json").read_text())
    assert metadata["max_batch_size"] == 8
    # 8 frames a batch with 2 flies each: 16 crops, which the stage feeds the graph 8 at a time.
    command = stage_script(
        sleap_python, "sleap_predict.py", "onnx_cpu", "topdown",
        [sleap_models / name for name in SLEAP_PAIR], sleap_video,
        "--frames", FRAMES, "--export", folder, "--batch-size", "8", "--threads", "2",
        "--slp", tmp_path / "ours.slp", "--npz", tmp_path / "ours.npz",
    )  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    checkpoint = slp_instances(results(cpu_run) / "poses.slp")
    exported = slp_instances(tmp_path / "ours.slp")
    assert checkpoint.keys() == exported.keys()
    assert sum(len(points) for points in exported.values()) == 2 * len(exported)
    for frame, points in checkpoint.items():
        order = np.lexsort(points[:, 0].T)
        found = exported[frame][np.lexsort(exported[frame][:, 0].T)]
        np.testing.assert_allclose(found, points[order], atol=0.01)


def test_export_is_redone_only_when_the_model_files_change(onnx_run, sleap_models):
    config = ("--configfile", str(onnx_run.workdir / "config.yaml"))
    again = run_snakemake(onnx_run.workdir, None, *config)
    assert again.returncode == 0, again.output
    assert "Nothing to be done" in again.output
    checkpoint = sleap_models / "minimal_instance_centered_instance" / "best.ckpt"
    os.utime(checkpoint)  # a newer time, the same content: nothing to redo
    dry = run_snakemake(onnx_run.workdir, None, *config, "-n")
    assert "Nothing to be done" in dry.output, dry.output
    training_config = sleap_models / "minimal_instance_centered_instance" / "training_config.yaml"
    with training_config.open("a") as handle:
        handle.write("# edited\n")
    dry = run_snakemake(onnx_run.workdir, None, *config, "-n")
    assert dry.returncode == 0, dry.output
    assert "sleap_export" in dry.output
    assert "sleap_predict" in dry.output


def test_export_over_tolerance_fails_with_the_numbers(
    sleap_models, sleap_video, sleap_python, tmp_path
):
    # The single-instance export sits 0.12 px from its checkpoint after the stage's corrections.
    single = ["minimal_instance_single_instance"]
    config = sleap_config(sleap_models, sleap_video, sleap_python, single, runtime="onnx_cpu")
    config["export_dir"] = str(tmp_path / "exports")
    config["videos"][0]["frames"] = "0-3"
    config["pose"]["export_parity_frames"] = 3
    config["pose"]["export_tolerance_px"] = 0.05
    run = run_snakemake(tmp_path / "work", config)
    assert run.returncode != 0
    log = tmp_path / "work" / "results" / "sleap" / "logs" / "sleap_export_384x384.log"
    message = log.read_text()
    assert "disagrees with its checkpoint" in message
    assert "median keypoint distance" in message and "(tolerance 0.05 px" in message
    assert "sleap-nn's raw export: median" in message
    assert "Traceback" not in message
    assert not list((tmp_path / "exports").rglob("model.onnx"))
    assert not (tmp_path / "work" / "results" / "sleap" / "pair" / "poses.parquet").exists()


def test_centered_instance_on_detection_crops(sleap_models, sleap_video, sleap_python, tmp_path):
    config = sleap_config(
        sleap_models,
        sleap_video,
        sleap_python,
        ["minimal_instance_centered_instance"],
        runtime="onnx_cpu",
        detection={"method": "background", "background": {"polarity": "bright", "n_animals": 2}},
    )
    config["export_dir"] = str(tmp_path / "exports")
    config["pose"]["crop_scale"] = 1.2
    run = run_snakemake(tmp_path / "work", config)
    assert run.returncode == 0, run.output
    folder = tmp_path / "work" / "results" / "sleap" / "pair"
    detections = io.read_table(folder / "detections.parquet", "detections")
    poses = io.read_table(folder / "poses.parquet", "poses")
    assert io.read_metadata(folder / "detections.parquet")["stage"]["method"] == "background"
    assert io.read_metadata(folder / "poses.parquet")["stage"]["pipeline"] == "crops"
    keys = ["video_id", "frame", "det_id"]
    assert len(poses) == 2 * len(detections)
    assert poses[keys].drop_duplicates().merge(detections[keys]).shape[0] == len(detections)
    # Keypoints land on the animal each crop was cut around.
    found = poses.dropna(subset=["x"]).merge(detections, on=keys, suffixes=("", "_box"))
    assert len(found) > len(poses) / 2
    distance = np.hypot(found["x"] - found["x_box"], found["y"] - found["y_box"])
    assert (distance <= 0.6 * found["w"] * 1.2 + 1).mean() > 0.9
    parity = json.loads(
        (
            tmp_path
            / "exports"
            / "minimal_instance_centered_instance.onnx"
            / "96x96"
            / "parity.json"
        ).read_text()
    )
    # Same crops in both: the refined export reproduces the checkpoint.
    assert parity["raw"]["median_px"] > 0.2
    assert parity["corrected"]["max_px"] <= 1e-3


def test_overlay_of_the_sleap_run_plays_in_browsers(cpu_run, sleap_video):
    from snakeherd.video import probe
    from tests.support.overlays import stream_info

    info = stream_info(results(cpu_run) / "overlay.mp4")
    assert info["codec"].startswith("h264") and info["pix_fmt"] == "yuv420p", info
    assert info["frames"] == 12  # FRAMES
    assert info["fps"] == pytest.approx(probe(sleap_video).fps)
    assert (results(cpu_run) / "plots" / "timeline.png").is_file()
