"""YOLO exports to ONNX, checked against their source model on held-out frames of the fly clip."""

from __future__ import annotations


def test_exports_match_their_source(exported):
    for task in ("obb", "pose"):
        parity = exported[task]["parity"]
        print(task, parity)
        assert parity["passed"]
        assert parity["position_px"]["max"] < 1e-3
        assert parity["score"]["max"] < 1e-4
    assert exported["obb"]["parity"]["angle_rad"]["max"] < 1e-4
    assert exported["pose"]["parity"]["keypoints_px"]["max"] < 1e-3
