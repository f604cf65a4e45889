"""YOLO pose on the real fly clip, on detection crops and on whole frames: the same keypoints on
every CPU runtime, near the labels."""

from __future__ import annotations

import math

import numpy as np
from scipy.optimize import linear_sum_assignment

from snakeherd.video import FrameSelection
from snakeherd.yolo import offline
from snakeherd.yolo.decode import Filters
from snakeherd.yolo.detect import YoloRun
from snakeherd.yolo.export import export_artifact, model_record, write_sidecar
from snakeherd.yolo.pose import PoseRun, pose_on_crops, pose_on_frames
from tests.support.data import FLY_NODES


def test_pose_keypoints_agree_across_runtimes_and_land_near_labels(
    exported, clip, labels, detections_by_runtime
):
    detections = detections_by_runtime["onnx_cpu"]
    poses = {}
    for runtime, model in (("cpu", "pt"), ("onnx_cpu", "onnx"), ("tract", "onnx")):
        run = PoseRun(
            yolo=YoloRun(model=exported["pose"][model], runtime=runtime, filters=Filters()),
            node_names=FLY_NODES,
        )
        poses[runtime], summary = pose_on_crops(clip, detections, run)
        assert summary["nodes"] == list(FLY_NODES)
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
            g.set_index("node").loc[list(FLY_NODES), ["x", "y"]].to_numpy()
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
