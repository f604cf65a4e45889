"""YOLO stages on the real fly clip: accuracy, agreement across runtimes, exports, geometry.

The models (`../shared/data/yolo/`) were trained on frames 0-799 of centered_pair_low_quality.mp4;
frames 900-1099 are held out. Labels come from centered_pair_predictions.clean.slp with the
conventions of the models' README (box centre = mean of head, thorax, abdomen).
"""

from __future__ import annotations

import math
import sys
import tempfile

import numpy as np
import pandas as pd
import pytest
from conftest import FLY_HELD_OUT_FRAMES, box_differences
from scipy.optimize import linear_sum_assignment

from snakeherd.yolo import offline

offline.configure(tempfile.mkdtemp(prefix="snakeherd-test-ultralytics-"))

from snakeherd.crops import Crop, extract  # noqa: E402
from snakeherd.errors import InputFileError  # noqa: E402
from snakeherd.video import FrameSelection  # noqa: E402
from snakeherd.yolo import geometry  # noqa: E402
from snakeherd.yolo.decode import Filters  # noqa: E402
from snakeherd.yolo.detect import YoloRun, detect_video  # noqa: E402
from snakeherd.yolo.export import (  # noqa: E402
    export_artifact,
    model_record,
    write_sidecar,
)
from snakeherd.yolo.pose import PoseRun, pose_on_crops, pose_on_frames  # noqa: E402

NODES = ("head", "neck", "thorax", "abdomen", "wingL", "wingR")


@pytest.fixture(scope="module")
def labels(shared_data):
    import sleap_io

    slp = sleap_io.load_slp(str(shared_data / "tracking" / "centered_pair_predictions.clean.slp"))
    return {frame.frame_idx: [i.numpy() for i in frame.instances] for frame in slp.labeled_frames}


def label_centres(instances):
    """Box centres of the labelled flies, or None when a fly lacks head, thorax or abdomen: the
    models' README drops such frames from evaluation, since an unlabelled fly that is detected
    would count as a false positive."""
    bodies = [points[[0, 2, 3]] for points in instances]
    if any(np.isnan(body).any() for body in bodies):
        return None
    return np.array([body.mean(axis=0) for body in bodies]).reshape(-1, 2)


def test_exports_match_their_source(exported):
    for task in ("obb", "pose"):
        parity = exported[task]["parity"]
        print(task, parity)
        assert parity["passed"]
        assert parity["position_px"]["max"] < 1e-3
        assert parity["score"]["max"] < 1e-4
    assert exported["obb"]["parity"]["angle_rad"]["max"] < 1e-4
    assert exported["pose"]["parity"]["keypoints_px"]["max"] < 1e-3


def test_detection_finds_the_held_out_flies(exported, clip, labels):
    run = YoloRun(model=exported["obb"]["onnx"], runtime="onnx_cpu", filters=Filters())
    detections, summary = detect_video(clip, FrameSelection.parse(FLY_HELD_OUT_FRAMES), run)
    assert summary["providers"] == ["CPUExecutionProvider"]
    found = total = predicted = scored = 0
    errors = []
    for frame in range(900, 1100):
        truth = label_centres(labels[frame])
        if truth is None:
            continue
        scored += 1
        mine = detections[detections["frame"] == frame][["x", "y"]].to_numpy()
        total += len(truth)
        predicted += len(mine)
        if len(truth) and len(mine):
            cost = np.linalg.norm(truth[:, None] - mine[None], axis=2)
            rows, cols = linear_sum_assignment(cost)
            hits = cost[rows, cols] <= 8.0
            found += int(hits.sum())
            errors += list(cost[rows, cols][hits])
    recall, precision = found / total, found / predicted
    print(
        f"{scored} frames: recall {recall:.3f} precision {precision:.3f} "
        f"mean centre error {np.mean(errors):.2f} px"
    )
    assert scored >= 180
    assert recall >= 0.95
    assert precision >= 0.90
    assert ((detections["angle"] >= 0) & (detections["angle"] < math.pi)).all()
    assert (detections["w"] >= detections["h"]).all()


@pytest.fixture(scope="module")
def detections_by_runtime(exported, clip):
    selection = FrameSelection.parse("900-949")
    tables = {}
    for runtime, model in (("cpu", "pt"), ("onnx_cpu", "onnx"), ("tract", "onnx")):
        run = YoloRun(model=exported["obb"][model], runtime=runtime, filters=Filters())
        tables[runtime], _ = detect_video(clip, selection, run)
    return tables


def test_cpu_onnx_and_tract_give_the_same_boxes(detections_by_runtime):
    reference = detections_by_runtime["cpu"]
    for runtime in ("onnx_cpu", "tract"):
        other = detections_by_runtime[runtime]
        assert len(other) == len(reference) > 90
        differences = box_differences(reference, other)
        print(f"{runtime} vs cpu: {differences}")
        assert differences["matched"] == len(reference)
        assert differences["centre_px"] < 1e-2
        assert differences["angle_rad"] < 1e-3
        assert differences["score"] < 1e-3


def test_a_jobs_threads_run_the_model_concurrently_with_the_serial_results(
    exported, clip, detections_by_runtime
):
    """Threads are concurrent one-thread runs of one session: rows and order as with one."""
    for runtime in ("onnx_cpu", "tract"):
        run = YoloRun(
            model=exported["obb"]["onnx"], runtime=runtime, filters=Filters(), batch=2, threads=3
        )
        concurrent, summary = detect_video(clip, FrameSelection.parse("900-949"), run)
        assert summary["concurrent_runs"] == 3
        pd.testing.assert_frame_equal(concurrent, detections_by_runtime[runtime])
    detections = detections_by_runtime["onnx_cpu"].query("frame < 910")
    poses = [
        pose_on_crops(
            clip,
            detections,
            PoseRun(
                yolo=YoloRun(
                    model=exported["pose"]["onnx"],
                    runtime="onnx_cpu",
                    filters=Filters(),
                    threads=threads,
                ),
                node_names=NODES,
            ),
        )[0]
        for threads in (1, 2)
    ]
    assert len(poses[0]) == 6 * len(detections)
    pd.testing.assert_frame_equal(poses[0], poses[1])


def test_pose_keypoints_agree_across_runtimes_and_land_near_labels(
    exported, clip, labels, detections_by_runtime
):
    detections = detections_by_runtime["onnx_cpu"]
    poses = {}
    for runtime, model in (("cpu", "pt"), ("onnx_cpu", "onnx"), ("tract", "onnx")):
        run = PoseRun(
            yolo=YoloRun(model=exported["pose"][model], runtime=runtime, filters=Filters()),
            node_names=NODES,
        )
        poses[runtime], summary = pose_on_crops(clip, detections, run)
        assert summary["nodes"] == list(NODES)
    reference = poses["cpu"]
    for runtime in ("onnx_cpu", "tract"):
        other = poses[runtime]
        assert (reference["x"].isna() == other["x"].isna()).all()
        gap = np.hypot(reference["x"] - other["x"], reference["y"] - other["y"]).max()
        print(f"{runtime} vs cpu keypoints: {gap:.2e} px")
        assert gap < 1e-2
    errors = []
    for frame, group in reference.groupby("frame"):
        truth = [points[:6] for points in labels[frame]]
        predicted = [
            g.set_index("node").loc[list(NODES), ["x", "y"]].to_numpy()
            for _, g in group.groupby("det_id")
        ]
        cost = np.array([[np.nanmedian(np.hypot(*(t - p).T)) for p in predicted] for t in truth])
        rows, cols = linear_sum_assignment(np.nan_to_num(cost, nan=1e6))
        for r, c in zip(rows, cols, strict=True):
            errors += [e for e in np.hypot(*(truth[r] - predicted[c]).T) if not np.isnan(e)]
    errors = np.array(errors)
    print(f"keypoint error: mean {errors.mean():.2f} px, median {np.median(errors):.2f} px")
    assert np.median(errors) < 5.0
    assert errors.mean() < 10.0


def test_pose_on_whole_frames_agrees_across_runtimes(shared_data, clip, tmp_path):
    """The crop model on whole frames at imgsz 640 (flies then appear at crop scale): its
    instances become detections, identically on every runtime."""
    source = str(shared_data / "yolo" / "fly_pose_crops_yolo11n.pt")
    model = offline.load(source, "pose", "pose.models[0]")
    artifact = str(tmp_path / "pose640.onnx")
    export_artifact(model, artifact, 640, 1, "cpu")
    write_sidecar(artifact, {"model": model_record(model, "pose", 640, 1, source)})
    results = {}
    for runtime, weights in (("cpu", source), ("onnx_cpu", artifact), ("tract", artifact)):
        run = PoseRun(
            yolo=YoloRun(model=weights, runtime=runtime, filters=Filters(), size=640),
            mode="frames",
        )
        results[runtime] = pose_on_frames(clip, FrameSelection.parse("900-904"), run)
    detections, poses, summary = results["cpu"]
    assert summary["mode"] == "frames" and len(detections) >= 10
    assert len(poses) == 6 * len(detections)
    assert set(detections["angle"]) <= {0.0, math.pi / 2}
    for runtime in ("onnx_cpu", "tract"):
        other_detections, other_poses, _ = results[runtime]
        assert len(other_detections) == len(detections)
        box_gap = np.abs(detections[["x", "y", "w", "h"]] - other_detections[["x", "y", "w", "h"]])
        assert box_gap.to_numpy().max() < 1e-2
        point_gap = np.hypot(poses["x"] - other_poses["x"], poses["y"] - other_poses["y"])
        assert point_gap.max() < 1e-2


def test_crop_convention_matches_the_models_readme(clip):
    """README: M = [[s, 0, -(cx - side/2) s], [0, s, -(cy - side/2) s]], s = 128/side,
    side = 1.5 L, warpAffine INTER_LINEAR with zero border."""
    import cv2

    cx, cy, length = 150.25, 300.5, 40.0
    side = 1.5 * length
    s = 128 / side
    readme = np.array([[s, 0, -(cx - side / 2) * s], [0, s, -(cy - side / 2) * s]])
    crop = Crop.around(cx, cy, length, 1.5, 128)
    assert np.allclose(crop.matrix(), readme)
    image = cv2.VideoCapture(clip).read()[1]
    expected = cv2.warpAffine(
        image,
        readme,
        (128, 128),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=0,
    )
    assert np.array_equal(extract(image, crop), expected)


def test_lean_path_never_imports_torch(exported, clip):
    import subprocess

    code = (
        "import sys; sys.path.insert(0, 'workflow/scripts')\n"
        "from snakeherd.yolo.detect import YoloRun, detect_video\n"
        "from snakeherd.yolo.decode import Filters\n"
        "from snakeherd.video import FrameSelection\n"
        f"t, s = detect_video({clip!r}, FrameSelection.parse('0-4'), "
        f"YoloRun(model={exported['obb']['onnx']!r}, runtime='onnx_cpu', filters=Filters()))\n"
        "assert len(t) > 0\n"
        "print('torch' in sys.modules, 'ultralytics' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=str(__import__("conftest").REPO),
    )
    assert result.stdout.split() == ["False", "False"]


def test_wrong_task_and_corrupt_models_are_named(shared_data, tmp_path):
    with pytest.raises(
        InputFileError, match=r"is a YOLO-pose \(keypoints\) model, but this stage needs a YOLO-OBB"
    ):
        offline.load(shared_data / "yolo" / "fly_pose_crops_yolo11n.pt", "obb", "detection.model")
    corrupt = tmp_path / "broken.pt"
    corrupt.write_bytes((shared_data / "yolo" / "fly_obb_yolo11n.pt").read_bytes()[:4000])
    with pytest.raises(InputFileError, match="cannot be loaded as an Ultralytics model") as caught:
        offline.load(corrupt, "obb", "detection.model")
    assert str(corrupt) in str(caught.value) and "Fix:" in str(caught.value)
    with pytest.raises(InputFileError, match="model file not found"):
        offline.load(tmp_path / "yolo11n-obb.pt", "obb", "detection.model")
    assert not (tmp_path / "yolo11n-obb.pt").exists()  # nothing was downloaded in its place


# ---- geometry against Ultralytics' own implementation ----------------------------------------


def random_obbs(rng, n):
    return np.column_stack(
        [
            rng.uniform(0, 100, n),
            rng.uniform(0, 100, n),
            rng.uniform(5, 40, n),
            rng.uniform(5, 40, n),
            rng.uniform(0, math.pi, n),
        ]
    )


def test_probiou_and_rotated_nms_match_ultralytics():
    import torch
    from ultralytics.utils.metrics import batch_probiou
    from ultralytics.utils.nms import TorchNMS

    rng = np.random.default_rng(0)
    boxes = random_obbs(rng, 60)
    scores = rng.uniform(0, 1, 60)
    ours = geometry.probiou_matrix(boxes, boxes)
    theirs = batch_probiou(torch.from_numpy(boxes), torch.from_numpy(boxes)).numpy()
    assert np.allclose(ours, theirs, atol=1e-6)
    kept = geometry.fast_nms(boxes, scores, 0.3, rotated=True)
    reference = TorchNMS.fast_nms(
        torch.from_numpy(boxes), torch.from_numpy(scores), 0.3, iou_func=batch_probiou
    ).numpy()
    assert kept.tolist() == reference.tolist()


def test_greedy_nms_matches_torchvision():
    import torch
    import torchvision

    rng = np.random.default_rng(1)
    xy = rng.uniform(0, 100, (80, 2))
    wh = rng.uniform(5, 30, (80, 2))
    boxes = np.column_stack([xy, xy + wh])
    scores = rng.uniform(0, 1, 80)
    reference = torchvision.ops.nms(torch.from_numpy(boxes), torch.from_numpy(scores), 0.5)
    assert geometry.greedy_nms(boxes, scores, 0.5).tolist() == reference.numpy().tolist()


@pytest.mark.parametrize(
    ("height", "width", "size"), [(384, 384, 384), (480, 640, 320), (600, 300, 640)]
)
def test_letterbox_matches_ultralytics(height, width, size):
    from ultralytics.data.augment import LetterBox

    rng = np.random.default_rng(2)
    image = rng.integers(0, 255, (height, width, 3), dtype=np.uint8)
    box = geometry.Letterbox.fit(height, width, size)
    expected = LetterBox(new_shape=(size, size), auto=False)(image=image)
    assert np.array_equal(box.apply(image), expected)
    # a video pixel maps into the letterbox and back
    point = np.array([[width * 0.3, height * 0.7]])
    forward = point * [box.gain_x, box.gain_y] + [box.pad_x, box.pad_y]
    assert np.allclose(box.to_video(forward), point)


def test_long_side_first():
    boxes = np.array([[0, 0, 10, 30, 0.2], [0, 0, 30, 10, 3.0], [0, 0, 20, 20, math.pi]])
    out = geometry.long_side_first(boxes)
    assert np.allclose(out[0, 2:], [30, 10, 0.2 + math.pi / 2])
    assert np.allclose(out[1, 2:], [30, 10, 3.0])
    assert 0 <= out[2, 4] < math.pi
