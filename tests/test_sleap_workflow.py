"""The SLEAP stage end to end: real sleap-nn in its own venv, real Snakemake, real ONNX Runtime.

The workflow runs from the main environment (which has no sleap-nn) with ``pose.env`` naming the
SLEAP venv's Python. Keypoints are compared with what the ``sleap-nn predict`` CLI writes for the
same model and frames.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess

import numpy as np
import pytest
from conftest import REPO, run_snakemake
from scipy.optimize import linear_sum_assignment

from snakeherd import io

pytestmark = pytest.mark.workflow

FRAMES = "0-11"
PAIR = ["minimal_instance_centroid", "minimal_instance_centered_instance"]
SCRIPTS = REPO / "workflow" / "scripts"


@pytest.fixture(scope="module")
def models(shared_data, tmp_path_factory):
    """Writable copies of the shared models (exports go next to them)."""
    folder = tmp_path_factory.mktemp("models")
    for source in (shared_data / "sleap" / "models").iterdir():
        shutil.copytree(source, folder / source.name)
        for path in (folder / source.name).iterdir():
            path.chmod(0o644)
    return folder


@pytest.fixture(scope="module")
def video(shared_data):
    return shared_data / "sleap" / "centered_pair_small.mp4"


@pytest.fixture(scope="module")
def ground_truth(shared_data):
    return shared_data / "sleap" / "minimal_instance.pkg.slp"


def sleap_config(models, video, sleap_python, names, runtime="cpu", **extra):
    config = {
        "experiment": "sleap",
        "runtime": runtime,
        "videos": [{"id": "pair", "path": str(video), "frames": FRAMES}],
        "detection": {"method": "none"},
        "pose": {
            "method": "sleap",
            "models": [str(models / name) for name in names],
            "env": str(sleap_python),
            "threads": 2,
        },
        "tracking": {"enabled": True, "max_distance": 60},
    }
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(config.get(key), dict):
            config[key].update(value)
        else:
            config[key] = value
    return config


def instances(path):
    """Per frame: (n, nodes, 2) keypoints of a .slp (read with sleap-io in this env)."""
    import sleap_io

    labels = sleap_io.load_slp(str(path))
    return {
        lf.frame_idx: np.stack([i.numpy() for i in lf.instances])
        if lf.instances
        else np.zeros((0, len(labels.skeletons[0].nodes), 2))
        for lf in labels.labeled_frames
    }


def keypoint_differences(first, second):
    """Absolute keypoint differences of instances matched per frame, and unmatched counts."""
    assert set(first) == set(second)
    differences, unmatched = [], 0
    for frame in first:
        a, b = first[frame], second[frame]
        unmatched += abs(len(a) - len(b))
        if len(a) == 0 or len(b) == 0:
            continue
        with np.errstate(all="ignore"):
            cost = np.nan_to_num(
                np.nanmean(np.linalg.norm(a[:, None] - b[None], axis=-1), axis=-1), nan=1e6
            )
        for i, j in zip(*linear_sum_assignment(cost), strict=True):
            assert (np.isnan(a[i]) == np.isnan(b[j])).all(), f"visibility differs in {frame}"
            differences.append(np.abs(a[i] - b[j])[~np.isnan(a[i])])
    return np.concatenate(differences), unmatched


def run_cli(sleap_python, video, model_paths, output, frames=FRAMES):
    """``sleap-nn predict`` itself, in the SLEAP venv."""
    command = [
        str(sleap_python.parent / "sleap-nn"),
        "predict",
        "--data_path",
        str(video),
        "--frames",
        frames,
        "--device",
        "cpu",
        "--output_path",
        str(output),
    ]
    for path in model_paths:
        command += ["--model_paths", str(path)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    return output


@pytest.fixture(scope="module")
def cpu_run(models, video, ground_truth, sleap_python, tmp_path_factory):
    config = sleap_config(models, video, sleap_python, PAIR)
    config["videos"][0]["ground_truth"] = str(ground_truth)
    run = run_snakemake(tmp_path_factory.mktemp("sleap_cpu"), config)
    assert run.returncode == 0, run.output
    return run


@pytest.fixture(scope="module")
def onnx_run(models, video, ground_truth, sleap_python, tmp_path_factory):
    config = sleap_config(models, video, sleap_python, PAIR, runtime="onnx_cpu")
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


def test_cpu_reproduces_sleap_nn_predict_exactly(cpu_run, models, video, sleap_python, tmp_path):
    cli = run_cli(sleap_python, video, [models / n for n in PAIR], tmp_path / "cli.slp")
    ours = instances(results(cpu_run) / "poses.slp")
    theirs = instances(cli)
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


def test_onnx_export_sits_next_to_the_model_with_its_parity(onnx_run, models):
    folder = (
        models / "minimal_instance_centroid+minimal_instance_centered_instance.onnx" / "384x384"
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
    cpu = instances(results(cpu_run) / "poses.slp")
    onnx = instances(results(onnx_run) / "poses.slp")
    assert set(cpu) == set(onnx)
    distances = []
    for frame in cpu:
        a, b = cpu[frame], onnx[frame]
        assert len(a) == len(b)
        cost = np.nan_to_num(np.nanmean(np.linalg.norm(a[:, None] - b[None], axis=-1), -1), nan=1e6)
        for i, j in zip(*linear_sum_assignment(cost), strict=True):
            distance = np.linalg.norm(a[i] - b[j], axis=-1)
            distances.extend(distance[~np.isnan(distance)])
    median = float(np.median(distances))
    print(f"onnx_cpu vs cpu on frames {FRAMES}: median {median:.3f} px, max {max(distances):.3f}")
    assert max(distances) < 0.01


def test_pair_export_takes_more_crops_than_its_graph_at_once(
    cpu_run, onnx_run, models, video, sleap_python, tmp_path
):
    folder = (
        models / "minimal_instance_centroid+minimal_instance_centered_instance.onnx" / "384x384"
    )
    metadata = json.loads((folder / "centered_instance" / "export_metadata.json").read_text())
    assert metadata["max_batch_size"] == 8
    # 8 frames a batch with 2 flies each: 16 crops, which the stage feeds the graph 8 at a time.
    command = [
        str(sleap_python), str(SCRIPTS / "sleap_predict.py"),
        "--runtime", "onnx_cpu", "--kind", "topdown",
        "--models", *[str(models / name) for name in PAIR], "--nodes", "A", "B",
        "--video", str(video), "--frames", FRAMES, "--export", str(folder),
        "--batch-size", "8", "--threads", "2",
        "--slp", str(tmp_path / "ours.slp"), "--npz", str(tmp_path / "ours.npz"),
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    checkpoint = instances(results(cpu_run) / "poses.slp")
    exported = instances(tmp_path / "ours.slp")
    assert checkpoint.keys() == exported.keys()
    assert sum(len(points) for points in exported.values()) == 2 * len(exported)
    for frame, points in checkpoint.items():
        order = np.lexsort(points[:, 0].T)
        found = exported[frame][np.lexsort(exported[frame][:, 0].T)]
        np.testing.assert_allclose(found, points[order], atol=0.01)


def test_export_is_redone_only_when_the_model_files_change(onnx_run, models):
    config = ("--configfile", str(onnx_run.workdir / "config.yaml"))
    again = run_snakemake(onnx_run.workdir, None, *config)
    assert again.returncode == 0, again.output
    assert "Nothing to be done" in again.output
    checkpoint = models / "minimal_instance_centered_instance" / "best.ckpt"
    os.utime(checkpoint)  # a newer time, the same content: nothing to redo
    dry = run_snakemake(onnx_run.workdir, None, *config, "-n")
    assert "Nothing to be done" in dry.output, dry.output
    training_config = models / "minimal_instance_centered_instance" / "training_config.yaml"
    with training_config.open("a") as handle:
        handle.write("# edited\n")
    dry = run_snakemake(onnx_run.workdir, None, *config, "-n")
    assert dry.returncode == 0, dry.output
    assert "sleap_export" in dry.output
    assert "sleap_predict" in dry.output


@pytest.mark.parametrize(
    "names",
    [["minimal_instance_bottomup"], ["minimal_instance_single_instance"]],
    ids=["bottomup", "single_instance"],
)
def test_stage_reproduces_sleap_nn_predict(names, models, video, sleap_python, tmp_path):
    kind = "bottomup" if "bottomup" in names[0] else "single_instance"
    command = [
        str(sleap_python),
        str(SCRIPTS / "sleap_predict.py"),
        "--runtime",
        "cpu",
        "--kind",
        kind,
        "--models",
        *[str(models / n) for n in names],
        "--nodes",
        "A",
        "B",
        "--video",
        str(video),
        "--frames",
        FRAMES,
        "--slp",
        str(tmp_path / "ours.slp"),
        "--npz",
        str(tmp_path / "ours.npz"),
        "--threads",
        "2",
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    cli = run_cli(sleap_python, video, [models / n for n in names], tmp_path / "cli.slp")
    differences, unmatched = keypoint_differences(instances(cli), instances(tmp_path / "ours.slp"))
    assert unmatched == 0
    assert len(differences) >= 2
    assert differences.max() <= 1e-3


def test_export_over_tolerance_fails_with_the_numbers(models, video, sleap_python, tmp_path):
    # The single-instance export sits 0.12 px from its checkpoint after the stage's corrections.
    single = ["minimal_instance_single_instance"]
    config = sleap_config(models, video, sleap_python, single, runtime="onnx_cpu")
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


def export_parity(kind, model, video, sleap_python, tmp_path):
    """Export one model with the stage's CLI (onnx_cpu, 384 x 384 frames); its parity record."""
    folder = tmp_path / f"{model.name}.onnx" / "384x384"
    command = [
        str(sleap_python), str(SCRIPTS / "sleap_export.py"),
        "--runtime", "onnx_cpu", "--kind", kind,
        "--models", str(model), "--nodes", "A", "B", "--video", str(video),
        "--folder", str(folder), "--height", "384", "--width", "384", "--tolerance", "1.5",
        "--parity-frames", "8", "--threads", "2", "--log", str(tmp_path / "export.log"),
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode == 0, (tmp_path / "export.log").read_text()[-3000:]
    report = json.loads((folder / "parity.json").read_text())
    print(json.dumps({k: report[k] for k in ("input_size", "raw", "corrected")}, indent=1))
    return report


def test_single_instance_export_is_resized_as_its_checkpoint(models, video, sleap_python, tmp_path):
    # This model was trained at max_height x max_width 320 x 560 (frames resized and padded to
    # it); sleap-nn's exported graph skips that, the stage does it for the graph.
    model = models / "minimal_instance_single_instance"
    report = export_parity("single_instance", model, video, sleap_python, tmp_path)
    assert report["input_size"] == [320, 560]
    assert report["corrected"]["median_px"] < 0.5 < report["raw"]["median_px"]
    # It also shrinks its input by half, which the graph now does antialiased, as torchvision does.
    assert report["corrections"] == [
        "integral peak refinement",
        "input resized as the checkpoint resizes it",
    ]


def test_bottomup_export_agrees_with_its_checkpoint(models, video, sleap_python, tmp_path):
    model = models / "minimal_instance_bottomup"
    report = export_parity("bottomup", model, video, sleap_python, tmp_path)
    assert report["passed"] and report["input_size"] == [384, 384]
    raw, corrected = report["raw"], report["corrected"]
    # sleap-nn's graph returns its peaks on the model's 2 px grid (0.29 px median from the
    # checkpoint); refined from the exposed maps, they are the checkpoint's (0.0 px measured).
    assert report["confmaps_exposed"]
    assert report["corrections"] == ["integral peak refinement"]
    assert raw["median_px"] > 0.1
    assert corrected["reference_instances"] == corrected["other_instances"] > 0
    assert corrected["unmatched_instances"] == corrected["keypoints_found_by_one_only"] == 0
    assert corrected["max_px"] < 0.01
    # torch.onnx's tracing warnings are summed up in one line, not logged one by one.
    log = (tmp_path / "export.log").read_text()
    assert "routine tracing warnings" in log and "TracerWarning" not in log


LOCAL_PEAK_REFINEMENT = """
import sys

import torch
from sleap_nn.inference.ops.peaks import find_local_peaks

sys.path.insert(0, sys.argv[1])
from snakeherd.sleap.corrections import refined_local_peaks

stride, scale, slots = 4, 0.6, 3
ys, xs = torch.meshgrid(torch.arange(48.0), torch.arange(64.0), indexing="ij")
centres = {(0, 0): [(10.3, 7.8), (40.6, 30.2)], (0, 1): [(20.5, 20.5)], (1, 1): [(59.7, 1.4)]}
maps = torch.zeros(2, 2, 48, 64)
for (sample, node), points in centres.items():
    for x, y in points:
        blob = torch.exp(-((xs - x) ** 2 + (ys - y) ** 2) / 4.5)
        maps[sample, node] = torch.maximum(maps[sample, node], blob)
# sleap-nn's checkpoint path: rough local peaks, refined by integrating a patch around each.
expected, _, sample_inds, node_inds = find_local_peaks(maps, 0.2, "integral", 5)
rough, _, _, _ = find_local_peaks(maps, 0.2, None, 5)
# The same rough peaks as a multi-class graph reports them (x stride / scale), times the scale.
peaks, checkpoint = torch.zeros(2, 2, slots, 2), torch.zeros(2, 2, slots, 2)
valid = torch.zeros(2, 2, slots, dtype=torch.bool)
for i, (sample, node) in enumerate(zip(sample_inds.tolist(), node_inds.tolist(), strict=True)):
    slot = int(valid[sample, node].sum())
    peaks[sample, node, slot] = rough[i] * stride / scale * scale
    checkpoint[sample, node, slot] = expected[i]
    valid[sample, node, slot] = True
refined = refined_local_peaks(maps, peaks, valid, stride) / stride
short = torch.ceil(peaks / stride) - peaks / stride
print(len(rough), int(((short > 0) & (short < 1e-3))[valid].any(-1).sum()))
print(float((refined - checkpoint)[valid].abs().max()))
"""


def test_local_peaks_are_refined_as_the_checkpoint_refines_them(sleap_python):
    result = subprocess.run(
        [str(sleap_python), "-c", LOCAL_PEAK_REFINEMENT, str(REPO / "workflow" / "scripts")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    counts, difference = result.stdout.split("\n")[:2]
    peaks, below_their_grid_point = map(int, counts.split())
    assert peaks == 4
    # Some points come back a hair below their grid point (x.9999998), and still refine around
    # the right pixel.
    assert below_their_grid_point > 0
    assert float(difference) < 1e-5


def test_centered_instance_on_detection_crops(models, video, sleap_python, tmp_path):
    config = sleap_config(
        models,
        video,
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
