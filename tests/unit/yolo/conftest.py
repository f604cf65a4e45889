"""Fixtures of the YOLO tests: Ultralytics offline, the fly clip's labels, and detections of
held-out frames on every CPU runtime."""

from __future__ import annotations

import pytest

from snakeherd.video import FrameSelection
from snakeherd.yolo.decode import Filters
from snakeherd.yolo.detect import YoloRun, detect_video


@pytest.fixture(autouse=True)
def _ultralytics_offline(offline_ultralytics) -> None:
    """Every test here may import Ultralytics: offline, with private settings, first."""


@pytest.fixture(scope="session")
def labels(shared_data):
    """Per frame of the fly clip: each labelled fly's keypoints (the clip's tracked predictions)."""
    import sleap_io

    slp = sleap_io.load_slp(str(shared_data / "tracking" / "centered_pair_predictions.clean.slp"))
    return {frame.frame_idx: [i.numpy() for i in frame.instances] for frame in slp.labeled_frames}


@pytest.fixture(scope="session")
def detections_by_runtime(exported, clip):
    """Detections of held-out frames 900-949 by the OBB model on cpu (.pt), onnx_cpu and tract."""
    selection = FrameSelection.parse("900-949")
    tables = {}
    for runtime, model in (("cpu", "pt"), ("onnx_cpu", "onnx"), ("tract", "onnx")):
        run = YoloRun(model=exported["obb"][model], runtime=runtime, filters=Filters())
        tables[runtime], _ = detect_video(clip, selection, run)
    return tables
