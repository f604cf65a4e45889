"""Bad configs stop Snakemake before any job, with one readable message and no results."""

from __future__ import annotations

import pytest

from tests.support.configs import background_config
from tests.support.snakemake import run_snakemake

pytestmark = pytest.mark.workflow


def demo_config(**overrides):
    """A valid config; ``overrides`` replace or add top-level sections."""
    return background_config("bad", "onnx_cpu", "arena", 30, **overrides)


def sheet_config(tmp_path, text):
    sheet = tmp_path / "videos.tsv"
    sheet.write_text(text)
    config = demo_config(sample_sheet=str(sheet))
    del config["videos"]
    return config


def sleap_model_dir(tmp_path):
    model = tmp_path / "sleap_model"
    model.mkdir(exist_ok=True)
    return str(model)


CASES = {
    "misspelled runtime": (
        lambda tmp: demo_config(runtime="onnx-cpu"),
        ["runtime: 'onnx-cpu' is not a runtime snakeherd knows", "Did you mean 'onnx_cpu'?"],
    ),
    "track-only video without predictions": (
        lambda tmp: demo_config(
            videos=[{"id": "v", "path": str(tmp / "v.mp4")}],
            detection={"method": "none"},
        ),
        ["(a track-only run), so the video needs `predictions:`", "Fix: add `predictions:`"],
    ),
    "predictions in a run that detects": (
        lambda tmp: demo_config(
            videos=[{"id": "v", "synthetic": {}, "predictions": str(tmp / "p.slp")}],
        ),
        ["predictions are tracked only in track-only runs", "set detection.method and pose"],
    ),
    "unknown tracking option value": (
        lambda tmp: demo_config(tracking={"scoring": "okss"}),
        ["tracking.scoring: 'okss' is not one of oks, iou, euclidean_dist, cosine_sim"],
    ),
    "unknown runtime": (
        lambda tmp: demo_config(runtime="gpu"),
        ["runtime: 'gpu' is not a runtime", "Valid for this config's enabled stages"],
    ),
    "runtime outside the intersection with SLEAP": (
        lambda tmp: demo_config(
            runtime="rocm",
            detection={"method": "none"},
            pose={"method": "sleap", "models": [sleap_model_dir(tmp)]},
        ),
        [
            "runtime: 'rocm' cannot run the enabled stage(s) SLEAP pose (pose.method: sleap)",
            "cpu, mps, cuda, onnx_cpu, onnx_cuda, tensorrt",
        ],
    ),
    "onnx_rocm with YOLO and SLEAP": (
        lambda tmp: demo_config(
            runtime="onnx_rocm",
            detection={"method": "yolo_obb", "model": "/nope.pt"},
            pose={"method": "sleap", "models": [sleap_model_dir(tmp)]},
        ),
        ["'onnx_rocm' cannot run the enabled stage(s) SLEAP pose", "YOLO-OBB detection"],
    ),
    "missing video": (
        lambda tmp: demo_config(videos=[{"id": "v", "path": str(tmp / "missing.mp4")}]),
        ["videos[0].path: video file not found", "missing.mp4", "Fix:"],
    ),
    "duplicate ids": (
        lambda tmp: demo_config(
            videos=[{"id": "same", "synthetic": {}}, {"id": "same", "synthetic": {"seed": 2}}]
        ),
        ["video id 'same' is used twice", "give every video a unique id"],
    ),
    "unsafe id": (
        lambda tmp: demo_config(videos=[{"id": "a/b", "synthetic": {}}]),
        ["'a/b' is not a safe folder name"],
    ),
    "reversed frame range": (
        lambda tmp: demo_config(videos=[{"id": "v", "synthetic": {}, "frames": "10-5"}]),
        ["videos[0].frames (id v): '10-5' ends before it starts"],
    ),
    "frame range past the end": (
        lambda tmp: demo_config(
            videos=[{"id": "v", "synthetic": {"n_frames": 30}, "frames": "0-10,20-40"}]
        ),
        ["range 20-40 runs past the end of the video (30 frames: 0-29)"],
    ),
    "unknown stage method": (
        lambda tmp: demo_config(detection={"method": "yolo"}),
        ["detection.method: 'yolo' is not one of background, yolo_obb, none"],
    ),
    "missing model path": (
        lambda tmp: demo_config(detection={"method": "yolo_obb", "model": str(tmp / "m.pt")}),
        ["detection.model: model file not found", "m.pt"],
    ),
    "pose without models": (
        lambda tmp: demo_config(pose={"method": "yolo_pose"}),
        ["pose.models: pose.method 'yolo_pose' needs at least one model"],
    ),
    "misspelled key": (
        lambda tmp: {**demo_config(), "trackng": {"enabled": True}},
        ["unknown key 'trackng' (did you mean 'tracking'?)"],
    ),
    "wrong type": (
        lambda tmp: demo_config(tracking={"max_gap": "five"}),
        ["config tracking.max_gap: 'five' is a str, expected integer"],
    ),
    "out of range": (
        lambda tmp: demo_config(tracking={"max_distance": -3}),
        ["config tracking.max_distance: -3 is out of range; it must be > 0"],
    ),
    "both videos and sample sheet": (
        lambda tmp: {**sheet_config(tmp, "id\tpath\n"), "videos": [{"id": "a", "synthetic": {}}]},
        ["not both"],
    ),
    "sample sheet with an unknown column": (
        lambda tmp: sheet_config(tmp, "id\tpath\tfps\nv\tv.mp4\t30\n"),
        ["unknown column(s) ['fps']"],
    ),
    "sample sheet row without a path": (
        lambda tmp: sheet_config(tmp, "id\tpath\nv1\tv1.mp4\nv2\t\n"),
        ["row 2", "Fix:"],
    ),
    "a folder as the video": (
        lambda tmp: demo_config(videos=[{"id": "v", "path": str(tmp)}]),
        ["videos[0].path: ", "is a folder, and a video file is a file"],
    ),
    "a folder as the YOLO model": (
        lambda tmp: demo_config(detection={"method": "yolo_obb", "model": str(tmp)}),
        ["detection.model: ", "is a folder, and a model file is a file"],
    ),
    "NaN where a number belongs": (
        lambda tmp: demo_config(tracking={"max_distance": float("nan")}),
        ["tracking.max_distance: NaN is not a number snakeherd can use"],
    ),
    "an absurd synthetic video": (
        lambda tmp: demo_config(videos=[{"id": "v", "synthetic": {"n_frames": 10**9}}]),
        ["n_frames: 1000000000 is out of range"],
    ),
    "sample sheet row with an extra cell": (
        lambda tmp: sheet_config(tmp, "id\tpath\nv1\tv1.mp4\textra\n"),
        ["line 2: 3 tab-separated cells, and the header has 2 (id, path)"],
    ),
    "sample sheet row missing a cell": (
        lambda tmp: sheet_config(tmp, "id\tpath\tframes\n# note\nv1\tv1.mp4\n"),
        ["line 3: 2 tab-separated cells, and the header has 3"],
    ),
    "missing sample sheet": (
        lambda tmp: {**sheet_config(tmp, ""), "sample_sheet": str(tmp / "nope.tsv")},
        ["sample_sheet: file not found", "nope.tsv"],
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_config_is_rejected_before_any_job(case, tmp_path):
    make_config, expected = CASES[case]
    run = run_snakemake(tmp_path / "work", make_config(tmp_path))
    assert run.returncode != 0
    for text in expected:
        assert text in run.stderr, f"{text!r} not in:\n{run.stderr}"
    assert "snakeherd: invalid configuration" in run.stderr
    assert "Traceback" not in run.output
    assert not (tmp_path / "work" / "results").exists()
