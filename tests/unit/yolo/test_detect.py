"""YOLO-OBB detection on the real fly clip: accuracy on held-out frames, the same boxes on every
CPU runtime, a job's threads, and a lean ONNX path without torch.

The models (`../shared/data/yolo/`) were trained on frames 0-799 of centered_pair_low_quality.mp4;
frames 900-1099 are held out. Labels come from centered_pair_predictions.clean.slp with the
conventions of the models' README (box centre = mean of head, thorax, abdomen).
"""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment

from snakeherd.video import FrameSelection
from snakeherd.yolo.decode import Filters
from snakeherd.yolo.detect import YoloRun, detect_video
from snakeherd.yolo.pose import PoseRun, pose_on_crops
from tests.support.data import FLY_HELD_OUT_FRAMES, FLY_NODES
from tests.support.matching import box_differences
from tests.support.paths import REPO


def label_centres(instances):
    """Box centres of the labelled flies, or None when a fly lacks head, thorax or abdomen: the
    models' README drops such frames from evaluation, since an unlabelled fly that is detected
    would count as a false positive."""
    bodies = [points[[0, 2, 3]] for points in instances]
    if any(np.isnan(body).any() for body in bodies):
        return None
    return np.array([body.mean(axis=0) for body in bodies]).reshape(-1, 2)


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
                node_names=FLY_NODES,
            ),
        )[0]
        for threads in (1, 2)
    ]
    assert len(poses[0]) == 6 * len(detections)
    pd.testing.assert_frame_equal(poses[0], poses[1])


def test_lean_path_never_imports_torch(exported, clip):
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
        cwd=str(REPO),
    )
    assert result.stdout.split() == ["False", "False"]
