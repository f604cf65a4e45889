"""The standing bad-input suite: one row per bad or awkward input, each a real Snakemake run.

Every row builds its input in the test's own folder (a config, and the files it names) and says
what must happen, one of:

* ``REJECTED`` — the config is rejected before any job: one message naming the key and the fix
  (every fragment in stderr), no traceback, no ``results/`` folder.
* ``BAD_VIDEO`` — the bad video runs with ``--keep-going`` beside a good generated one: the run
  fails, the message names the video and the fix, the good video's ``provenance.json`` and
  ``tracks.parquet`` are written and the bad video's folder holds no table.
* ``FAILS`` — an input every video needs (a model, the results folder) is bad: the run fails
  naming it and the fix, without a traceback or "a bug", and leaves no table of the stage that
  failed, nor any after it.
* ``RUNS`` — an awkward input that must work (spaces, unicode, shell syntax in names, one-frame
  selections, a second run in the same folder): the run succeeds and every video has its
  ``provenance.json`` and ``tracks.parquet``.

Shell syntax in a row runs ``touch pwned_*`` if it ever reaches a shell, and a crafted model
touches ``pwned_pt`` if it is ever unpickled: no row may leave a ``pwned*`` file anywhere.

A row that exposes a defect of the workflow stays, marked ``defect=`` (a strict xfail): it passes
once the workflow is fixed, and then the mark must go.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from snakeherd import io, sample_sheet
from tests.support.configs import background_config, sleap_config
from tests.support.data import copy_sleap_models
from tests.support.paths import REPO
from tests.support.snakemake import SnakemakeRun, run_snakemake

pytestmark = pytest.mark.workflow

REJECTED = "rejected before any job"
BAD_VIDEO = "the bad video's jobs fail and the others finish"
FAILS = "the run fails naming the input"
RUNS = "runs fine"

GOOD, BAD = "good", "bad"  # the video ids of BAD_VIDEO rows
TABLES = ("detections.parquet", "poses.parquet", "tracks.parquet", "provenance.json")
# centered_pair_low_quality.mp4 cut to its first 95,675 bytes: its index (at the front) still
# says 1,100 frames; 89 of them decode.
TRUNCATED_BYTES = 95_675

CRAFTED_PT = """
import os, sys
import torch

class Payload:
    def __reduce__(self):
        return (os.system, (f"touch {sys.argv[2]}",))

torch.save({"model": Payload(), "epoch": 1}, sys.argv[1])
"""


@dataclass
class Inputs:
    """What a row builds its input from: its own folder and the test data."""

    tmp: Path
    data: Path
    videos: dict[str, Path]
    request: pytest.FixtureRequest
    workdir: str = "work"

    @property
    def work(self) -> Path:
        """The folder Snakemake runs in."""
        return self.tmp / self.workdir

    @property
    def clip(self) -> Path:
        """The real fly clip (1,100 frames)."""
        return self.data / "tracking" / "centered_pair_low_quality.mp4"

    def model(self, name: str) -> Path:
        """A shared fly YOLO model (read-only)."""
        return self.data / "yolo" / f"{name}.pt"

    def write(self, name: str, content: str | bytes) -> Path:
        path = self.tmp / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
        return path

    def small_video(self, name: str) -> Path:
        """A copy of a short generated video (60 frames, 256x256, 4 animals) at ``name``."""
        path = self.tmp / name
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(self.videos["small_a"], path)
        return path

    def truncated_clip(self) -> Path:
        return self.write("truncated.mp4", self.clip.read_bytes()[:TRUNCATED_BYTES])

    def crafted_pt(self) -> Path:
        """A .pt whose unpickling runs ``touch pwned_pt`` (in this row's folder)."""
        path = self.tmp / "crafted.pt"
        command = [sys.executable, "-c", CRAFTED_PT, str(path), str(self.tmp / "pwned_pt")]
        subprocess.run(command, check=True)
        return path


@dataclass(frozen=True)
class Row:
    make: Callable[[Inputs], dict]  # the config (and the files it names)
    outcome: str
    fragments: tuple[str, ...] = ()  # "{tmp}" is the row's folder, "{data}" the shared data
    check: Callable[[Inputs, SnakemakeRun, dict], None] | None = None  # more assertions
    absent: tuple[str, ...] = TABLES  # FAILS: the tables no video may have
    workdir: str = "work"
    timeout: float = 600
    defect: str | None = None  # a defect of the workflow this row exposes: a strict xfail


# --- configs -------------------------------------------------------------------------------


def demo_config(**overrides):
    """A valid config; ``overrides`` replace or add top-level sections."""
    return background_config("bad", "onnx_cpu", "arena", 30, **overrides)


def sheet_config(tmp, text):
    sheet = tmp / "videos.tsv"
    sheet.write_text(text)
    config = demo_config(sample_sheet=str(sheet))
    del config["videos"]
    return config


def sleap_model_dir(tmp):
    model = tmp / "sleap_model"
    model.mkdir(exist_ok=True)
    return str(model)


def with_bad_video(**entry) -> dict:
    """A generated 30-frame video that must finish, and the bad one (``entry``) after it."""
    config = background_config("mixed", "cpu", GOOD, 30)
    config["videos"].append({"id": BAD, **entry})
    return config


def on_video(path: Path, frames="0-9", **overrides) -> dict:
    """Background detection on frames of one video file."""
    return background_config(
        "odd",
        "cpu",
        "v",
        30,
        videos=[{"id": "v", "path": str(path), "frames": frames}],
        **overrides,
    )


def synthetic(frames=None, n_frames=30, **scene) -> dict:
    video = {"id": "v", "synthetic": {"n_frames": n_frames, **scene}}
    if frames is not None:
        video["frames"] = frames
    return demo_config(videos=[video])


def one_frame(frames) -> dict:
    config = background_config("one", "cpu", "clip", 60)
    config["videos"][0]["frames"] = frames
    return config


def yolo_on_clip(i: Inputs, model, runtime="cpu", pose=None, **overrides) -> dict:
    """YOLO-OBB detection (and YOLO pose on crops with ``pose``) on two frames of the fly clip."""
    config = background_config(
        "flies",
        runtime,
        "pair",
        30,
        videos=[{"id": "pair", "path": str(i.clip), "frames": "0-1"}],
        detection={"method": "yolo_obb", "model": str(model)},
        **overrides,
    )
    if pose is not None:
        config["pose"] = {"method": "yolo_pose", "models": [str(pose)]}
    return config


def blocked(i: Inputs, where: str) -> dict:
    """A valid config, with a regular file at ``where`` (relative to the working directory),
    where the run needs a folder."""
    (i.work / where).parent.mkdir(parents=True, exist_ok=True)
    (i.work / where).write_text("a file where a folder belongs\n")
    return background_config("blocked", "cpu", "v", 30)


def sleap_with_shell_syntax(i: Inputs) -> dict:
    """SLEAP (shell rules) on a model folder and a video whose paths hold shell syntax."""
    folder = i.tmp / "x $(touch pwned_a); touch pwned_b; `touch pwned_c` 'q\" é"
    copy_sleap_models(i.data, folder, ("minimal_instance_single_instance",))
    model = folder / "minimal_instance_single_instance"
    video = folder / "clip $(touch pwned_d);`touch pwned_e`.mp4"
    shutil.copyfile(i.data / "sleap" / "centered_pair_small.mp4", video)
    sleap_python = i.request.getfixturevalue("sleap_python")
    return sleap_config("sleap", "cpu", video, "0-1", [model], sleap_python)


def sheet_with_shell_syntax(i: Inputs) -> dict:
    """A sample sheet in a folder with shell syntax, naming a video by a relative path with
    more of it."""
    folder = i.tmp / "sheet $(touch pwned_s)"
    relative = "clips; `touch pwned_t`/clip $(touch pwned_u).mp4"
    i.small_video(f"{folder.name}/{relative}")
    sheet = i.write(f"{folder.name}/videos.tsv", f"id\tpath\tframes\nv\t{relative}\t0-9\n")
    config = background_config("sheet", "cpu", "v", 30, sample_sheet=str(sheet))
    del config["videos"]
    return config


# --- extra checks --------------------------------------------------------------------------


def one_frame_summary(i: Inputs, run: SnakemakeRun, config: dict) -> None:
    log = (i.work / "results" / "one" / "logs" / "clip" / "detect_background.log").read_text()
    # One frame teaches no animal area; the summary line says so instead of failing to format.
    assert "Logging error" not in log and "Traceback" not in log
    assert "detections in 1 frames (animal area " in log


def frames_0_to_20_once(i: Inputs, run: SnakemakeRun, config: dict) -> None:
    table = io.read_table(i.work / "results" / "bad" / "v" / "detections.parquet", "detections")
    assert sorted(set(table["frame"])) == list(range(21))
    assert not table.duplicated(["frame", "det_id"]).any()


def second_run_does_nothing(i: Inputs, run: SnakemakeRun, config: dict) -> None:
    tables = sorted((i.work / "results").rglob("*.parquet"))
    before = {path: path.stat().st_mtime_ns for path in tables}
    again = run_snakemake(i.work, config)
    assert again.returncode == 0, again.output[-3000:]
    assert "Nothing to be done" in again.output
    assert "Traceback" not in again.output
    assert {path: path.stat().st_mtime_ns for path in tables} == before


# --- the rows ------------------------------------------------------------------------------

ROWS: dict[str, Row] = {
    # Configs (the rows of the former test_bad_configs.py come first, unchanged).
    "misspelled runtime": Row(
        lambda i: demo_config(runtime="onnx-cpu"),
        REJECTED,
        ("runtime: 'onnx-cpu' is not a runtime snakeherd knows", "Did you mean 'onnx_cpu'?"),
    ),
    "track-only video without predictions": Row(
        lambda i: demo_config(
            videos=[{"id": "v", "path": str(i.tmp / "v.mp4")}],
            detection={"method": "none"},
        ),
        REJECTED,
        ("(a track-only run), so the video needs `predictions:`", "Fix: add `predictions:`"),
    ),
    "predictions in a run that detects": Row(
        lambda i: demo_config(
            videos=[{"id": "v", "synthetic": {}, "predictions": str(i.tmp / "p.slp")}],
        ),
        REJECTED,
        ("predictions are tracked only in track-only runs", "set detection.method and pose"),
    ),
    "proofread folder of another video's X-AnyLabeling files": Row(
        lambda i: demo_config(
            videos=[
                {
                    "id": "arena",
                    "synthetic": {},
                    "proofread": str(i.write("xal/flies-239.json", '{"shapes": []}').parent),
                }
            ],
        ),
        REJECTED,
        (
            "videos[0].proofread (id arena): {tmp}/xal/flies-239.json is not a frame of video",
            "arena-<frame>.json",
            "Fix: point the video's proofread entry at the folder xanylabeling_export wrote",
        ),
    ),
    "unknown tracking option value": Row(
        lambda i: demo_config(tracking={"scoring": "okss"}),
        REJECTED,
        ("tracking.scoring: 'okss' is not one of oks, iou, euclidean_dist, cosine_sim",),
    ),
    "unknown runtime": Row(
        lambda i: demo_config(runtime="gpu"),
        REJECTED,
        ("runtime: 'gpu' is not a runtime", "Valid for this config's enabled stages"),
    ),
    "runtime outside the intersection with SLEAP": Row(
        lambda i: demo_config(
            runtime="rocm",
            detection={"method": "none"},
            pose={"method": "sleap", "models": [sleap_model_dir(i.tmp)]},
        ),
        REJECTED,
        (
            "runtime: 'rocm' cannot run the enabled stage(s) SLEAP pose (pose.method: sleap)",
            "cpu, mps, cuda, onnx_cpu, onnx_cuda, tensorrt",
        ),
    ),
    "onnx_rocm with YOLO and SLEAP": Row(
        lambda i: demo_config(
            runtime="onnx_rocm",
            detection={"method": "yolo_obb", "model": "/nope.pt"},
            pose={"method": "sleap", "models": [sleap_model_dir(i.tmp)]},
        ),
        REJECTED,
        ("'onnx_rocm' cannot run the enabled stage(s) SLEAP pose", "YOLO-OBB detection"),
    ),
    "missing video": Row(
        lambda i: demo_config(videos=[{"id": "v", "path": str(i.tmp / "missing.mp4")}]),
        REJECTED,
        ("videos[0].path: video file not found", "missing.mp4", "Fix:"),
    ),
    "duplicate ids": Row(
        lambda i: demo_config(
            videos=[{"id": "same", "synthetic": {}}, {"id": "same", "synthetic": {"seed": 2}}]
        ),
        REJECTED,
        ("video id 'same' is used twice", "give every video a unique id"),
    ),
    "unsafe id": Row(
        lambda i: demo_config(videos=[{"id": "a/b", "synthetic": {}}]),
        REJECTED,
        ("'a/b' is not a safe folder name",),
    ),
    "reversed frame range": Row(
        lambda i: demo_config(videos=[{"id": "v", "synthetic": {}, "frames": "10-5"}]),
        REJECTED,
        ("videos[0].frames (id v): '10-5' ends before it starts",),
    ),
    "frame range past the end": Row(
        lambda i: demo_config(
            videos=[{"id": "v", "synthetic": {"n_frames": 30}, "frames": "0-10,20-40"}]
        ),
        REJECTED,
        ("range 20-40 runs past the end of the video (30 frames: 0-29)",),
    ),
    "unknown stage method": Row(
        lambda i: demo_config(detection={"method": "yolo"}),
        REJECTED,
        ("detection.method: 'yolo' is not one of background, yolo_obb, none",),
    ),
    "missing model path": Row(
        lambda i: demo_config(detection={"method": "yolo_obb", "model": str(i.tmp / "m.pt")}),
        REJECTED,
        ("detection.model: model file not found", "m.pt"),
    ),
    "pose without models": Row(
        lambda i: demo_config(pose={"method": "yolo_pose"}),
        REJECTED,
        ("pose.models: pose.method 'yolo_pose' needs at least one model",),
    ),
    "misspelled key": Row(
        lambda i: {**demo_config(), "trackng": {"enabled": True}},
        REJECTED,
        ("unknown key 'trackng' (did you mean 'tracking'?)",),
    ),
    "wrong type": Row(
        lambda i: demo_config(tracking={"max_gap": "five"}),
        REJECTED,
        ("config tracking.max_gap: 'five' is a str, expected integer",),
    ),
    "out of range": Row(
        lambda i: demo_config(tracking={"max_distance": -3}),
        REJECTED,
        ("config tracking.max_distance: -3 is out of range; it must be > 0",),
    ),
    "both videos and sample sheet": Row(
        lambda i: {
            **sheet_config(i.tmp, "id\tpath\n"),
            "videos": [{"id": "a", "synthetic": {}}],
        },
        REJECTED,
        ("not both",),
    ),
    "sample sheet with an unknown column": Row(
        lambda i: sheet_config(i.tmp, "id\tpath\tfps\nv\tv.mp4\t30\n"),
        REJECTED,
        ("unknown column(s) ['fps']",),
    ),
    "chunk_frames 0": Row(
        lambda i: demo_config(chunk_frames=0),
        REJECTED,
        ("chunk_frames: 0 frames per chunk", "at least 1 frame", "or null"),
    ),
    "sample sheet chunk_frames negative": Row(
        lambda i: sheet_config(i.tmp, f"id\tpath\tchunk_frames\nv\t{i.videos['small_a']}\t-3\n"),
        REJECTED,
        ("row 1.chunk_frames (id v)", "-3 frames per chunk", "Fix:"),
    ),
    "sample sheet row without a path": Row(
        lambda i: sheet_config(i.tmp, "id\tpath\nv1\tv1.mp4\nv2\t\n"),
        REJECTED,
        ("row 2", "Fix:"),
    ),
    "a folder as the video": Row(
        lambda i: demo_config(videos=[{"id": "v", "path": str(i.tmp)}]),
        REJECTED,
        ("videos[0].path: ", "is a folder, and a video file is a file"),
    ),
    "a folder as the YOLO model": Row(
        lambda i: demo_config(detection={"method": "yolo_obb", "model": str(i.tmp)}),
        REJECTED,
        ("detection.model: ", "is a folder, and a model file is a file"),
    ),
    "NaN where a number belongs": Row(
        lambda i: demo_config(tracking={"max_distance": float("nan")}),
        REJECTED,
        ("tracking.max_distance: NaN is not a number snakeherd can use",),
    ),
    "an absurd synthetic video": Row(
        lambda i: demo_config(videos=[{"id": "v", "synthetic": {"n_frames": 10**9}}]),
        REJECTED,
        ("n_frames: 1000000000 is out of range",),
    ),
    "sample sheet row with an extra cell": Row(
        lambda i: sheet_config(i.tmp, "id\tpath\nv1\tv1.mp4\textra\n"),
        REJECTED,
        ("line 2: 3 tab-separated cells, and the header has 2 (id, path)",),
    ),
    "sample sheet row missing a cell": Row(
        lambda i: sheet_config(i.tmp, "id\tpath\tframes\n# note\nv1\tv1.mp4\n"),
        REJECTED,
        ("line 3: 2 tab-separated cells, and the header has 3",),
    ),
    "missing sample sheet": Row(
        lambda i: {**sheet_config(i.tmp, ""), "sample_sheet": str(i.tmp / "nope.tsv")},
        REJECTED,
        ("sample_sheet: file not found", "nope.tsv"),
    ),
    # Keys, types, ranges, numbers.
    "unknown top-level key": Row(
        lambda i: {**demo_config(), "colour": "red"},
        REJECTED,
        ("config (top level): unknown key 'colour'.", "Fix: use only the keys", " detection, "),
    ),
    "misspelled nested key": Row(
        lambda i: demo_config(tracking={"stitch": {"maxgap": 3}}),
        REJECTED,
        ("config tracking.stitch: unknown key 'maxgap' (did you mean 'max_gap'?)",),
    ),
    "a string where a boolean belongs": Row(
        lambda i: demo_config(tracking={"enabled": "yes"}),
        REJECTED,
        ("config tracking.enabled: 'yes' is a str, expected boolean", "Fix:"),
    ),
    "a threshold above its maximum": Row(
        lambda i: demo_config(detection={"method": "background", "background": {"threshold": 300}}),
        REJECTED,
        ("config detection.background.threshold: 300 is out of range; it must be <= 255",),
    ),
    "a YOLO input size not a multiple of 32": Row(
        lambda i: demo_config(
            detection={
                "method": "yolo_obb",
                "model": str(i.model("fly_obb_yolo11n")),
                "yolo": {"imgsz": 100},
            }
        ),
        REJECTED,
        ("config detection.yolo.imgsz: 100 is not a multiple of 32",),
    ),
    "NaN in a list": Row(
        lambda i: demo_config(evaluation={"pck_thresholds": [2, float("nan")]}),
        REJECTED,
        ("evaluation.pck_thresholds[1]: NaN is not a number snakeherd can use", "Fix:"),
    ),
    "infinite memory scale": Row(
        lambda i: demo_config(resources={"memory_scale": float("inf")}),
        REJECTED,
        ("resources.memory_scale", "Fix:"),
    ),
    "infinite synthetic speed": Row(
        lambda i: synthetic(speed=float("inf")),
        REJECTED,
        ("videos[0].synthetic.speed", "Fix:"),
    ),
    "infinite synthetic frame rate": Row(
        lambda i: synthetic(fps=float("inf")),
        REJECTED,
        ("videos[0].synthetic.fps", "Fix:"),
        timeout=25,
    ),
    # Runtimes.
    "runtime in capitals": Row(
        lambda i: demo_config(runtime="CPU"),
        REJECTED,
        ("runtime: 'CPU' is not a runtime snakeherd knows. Did you mean 'cpu'?",),
    ),
    "no runtime": Row(
        lambda i: {k: v for k, v in demo_config().items() if k != "runtime"},
        REJECTED,
        ("config (top level): missing required key 'runtime'", "Fix: add runtime"),
    ),
    "tract with SLEAP": Row(
        lambda i: demo_config(
            runtime="tract",
            detection={"method": "none"},
            pose={"method": "sleap", "models": [sleap_model_dir(i.tmp)]},
        ),
        REJECTED,
        (
            "runtime: 'tract' cannot run the enabled stage(s) SLEAP pose (pose.method: sleap)",
            "SLEAP pose supports: cpu, mps, cuda, onnx_cpu, onnx_cuda, tensorrt.",
        ),
    ),
    # Frame selections.
    "frames that are not numbers": Row(
        lambda i: synthetic(frames="a-b"),
        REJECTED,
        ("videos[0].frames (id v): 'a-b' is not a frame range", "Fix: write frames as"),
    ),
    "frames with an empty item": Row(
        lambda i: synthetic(frames="1,,2"),
        REJECTED,
        ("videos[0].frames (id v): ", "is not a frame range"),
    ),
    "a fractional frame": Row(
        lambda i: synthetic(frames=3.5),
        REJECTED,
        ("config videos[0].frames: 3.5 is a float, expected string or integer or null",),
    ),
    "an open range starting past the end": Row(
        lambda i: synthetic(frames="25-", n_frames=20),
        REJECTED,
        ("range starting at frame 25 is past the end of the video (20 frames: 0-19)",),
    ),
    "a range past the end of a real video": Row(
        lambda i: on_video(i.clip, frames="1000-1200"),
        REJECTED,
        ("range 1000-1200 runs past the end of the video (1100 frames: 0-1099)",),
    ),
    # Ids and names.
    "id ..": Row(
        lambda i: demo_config(videos=[{"id": "..", "synthetic": {}}]),
        REJECTED,
        ("videos[0].id: '..' is not a safe folder name",),
    ),
    "id climbing out with ../": Row(
        lambda i: demo_config(videos=[{"id": "../escape", "synthetic": {}}]),
        REJECTED,
        ("videos[0].id: '../escape' is not a safe folder name",),
    ),
    "no id": Row(
        lambda i: demo_config(videos=[{"synthetic": {}}]),
        REJECTED,
        ("config videos[0]: missing required key 'id'",),
    ),
    "an experiment name with a slash": Row(
        lambda i: demo_config(experiment="my exp/1"),
        REJECTED,
        ("config experiment: 'my exp/1' has characters that are not allowed",),
    ),
    # Videos and other files named by the config.
    "both path and synthetic": Row(
        lambda i: demo_config(videos=[{"id": "v", "synthetic": {}, "path": str(i.clip)}]),
        REJECTED,
        ("videos[0] (id v): give exactly one of `path` (a video file) or `synthetic`",),
    ),
    "neither path nor synthetic": Row(
        lambda i: demo_config(videos=[{"id": "v"}]),
        REJECTED,
        ("videos[0] (id v): give exactly one of `path` (a video file) or `synthetic`",),
    ),
    "a video path through a file": Row(
        lambda i: demo_config(
            videos=[{"id": "v", "path": str(i.write("notes.txt", "x") / "clip.mp4")}]
        ),
        REJECTED,
        ("videos[0].path: video file not found: {tmp}/notes.txt/clip.mp4",),
    ),
    "a folder as the ground truth": Row(
        lambda i: demo_config(
            videos=[{"id": "v", "path": str(i.clip), "ground_truth": str(i.tmp)}]
        ),
        REJECTED,
        ("videos[0].ground_truth: {tmp} is a folder, and a ground truth file is a file",),
    ),
    "a folder as the YOLO pose model": Row(
        lambda i: demo_config(pose={"method": "yolo_pose", "models": [str(i.tmp)]}),
        REJECTED,
        ("pose.models[0]: {tmp} is a folder, and a model is a file",),
    ),
    "a file as the SLEAP model": Row(
        lambda i: demo_config(
            runtime="cpu",
            detection={"method": "none"},
            pose={"method": "sleap", "models": [str(i.model("fly_pose_crops_yolo11n"))]},
        ),
        REJECTED,
        ("is not a folder; the SLEAP pose stage takes trained sleap-nn model folders",),
    ),
    "an empty folder as the SLEAP model": Row(
        lambda i: demo_config(
            runtime="cpu",
            detection={"method": "none"},
            pose={"method": "sleap", "models": [sleap_model_dir(i.tmp)]},
        ),
        REJECTED,
        ("lacks best.ckpt and training_config.yaml (it has: nothing)", "Fix:"),
    ),
    # Sample sheets.
    "sample sheet without an id column": Row(
        lambda i: sheet_config(i.tmp, "path\nv.mp4\n"),
        REJECTED,
        ("sample_sheet {tmp}/videos.tsv: missing the column 'id'",),
    ),
    "sample sheet without a path column": Row(
        lambda i: sheet_config(i.tmp, "id\nv1\n"),
        REJECTED,
        ("sample_sheet {tmp}/videos.tsv: missing the column 'path'",),
    ),
    "sample sheet with a header only": Row(
        lambda i: sheet_config(i.tmp, "id\tpath\n"),
        REJECTED,
        ("sample_sheet {tmp}/videos.tsv lists no videos", "Fix: add one row per video"),
    ),
    "an empty sample sheet file": Row(
        lambda i: sheet_config(i.tmp, ""),
        REJECTED,
        ("sample_sheet {tmp}/videos.tsv cannot be read as a tab-separated table", "Fix:"),
    ),
    "sample sheet with duplicate ids": Row(
        lambda i: sheet_config(i.tmp, f"id\tpath\nv\t{i.clip}\nv\t{i.clip}\n"),
        REJECTED,
        ("video id 'v' is used twice (entries 1 and 2 of sample_sheet {tmp}/videos.tsv)",),
    ),
    "sample sheet naming a missing video": Row(
        lambda i: sheet_config(i.tmp, "id\tpath\nv\tnope.mp4\n"),
        REJECTED,
        (
            "sample_sheet {tmp}/videos.tsv row 1.path: video file not found: {tmp}/nope.mp4",
            "resolved against the sample sheet's folder",
        ),
    ),
    "a folder as the sample sheet": Row(
        lambda i: {**sheet_config(i.tmp, ""), "sample_sheet": str(i.tmp)},
        REJECTED,
        ("sample_sheet: {tmp} is a folder", "Fix:"),
    ),
    # Bad videos among good ones (run with --keep-going beside a generated video).
    "a zero-byte video": Row(
        lambda i: with_bad_video(path=str(i.write("empty.mp4", b""))),
        BAD_VIDEO,
        ("cannot open video {tmp}/empty.mp4: OpenCV/FFmpeg does not recognise it", "Fix:"),
    ),
    "a text file as the video": Row(
        lambda i: with_bad_video(path=str(i.write("notes.mp4", "my notes, not a video\n" * 20))),
        BAD_VIDEO,
        ("cannot open video {tmp}/notes.mp4: OpenCV/FFmpeg does not recognise it", "Fix:"),
    ),
    "an mp4 cut before its index": Row(
        lambda i: with_bad_video(
            path=str(i.write("cut.mp4", i.videos["small_a"].read_bytes()[:20_000]))
        ),
        BAD_VIDEO,
        ("cannot open video {tmp}/cut.mp4", "Fix:"),
    ),
    "frames 500-501 of a truncated mp4": Row(
        lambda i: with_bad_video(path=str(i.truncated_clip()), frames="500-501"),
        BAD_VIDEO,
        (
            "video {tmp}/truncated.mp4: frame 500 cannot be decoded",
            "the decoder got no further than frame 89",
            "Fix: re-encode the video",
        ),
    ),
    "the whole of a truncated mp4": Row(
        lambda i: with_bad_video(path=str(i.truncated_clip())),
        BAD_VIDEO,
        (
            "video {tmp}/truncated.mp4: frame 89 cannot be decoded (the container says it has "
            "1100 frames)",
            "Fix:",
        ),
    ),
    # Bad models: every video's jobs fail.
    "a truncated YOLO model": Row(
        lambda i: yolo_on_clip(
            i, i.write("cut.pt", i.model("fly_obb_yolo11n").read_bytes()[:4000])
        ),
        FAILS,
        ("detection.model: {tmp}/cut.pt cannot be loaded as an Ultralytics model", "Fix:"),
    ),
    "the pose model as detection.model": Row(
        lambda i: yolo_on_clip(i, i.model("fly_pose_crops_yolo11n")),
        FAILS,
        (
            "detection.model: {data}/yolo/fly_pose_crops_yolo11n.pt is a YOLO-pose (keypoints) "
            "model, but this stage needs a YOLO-OBB (oriented boxes) model",
            "Fix:",
        ),
    ),
    "the OBB model as the pose model": Row(
        lambda i: yolo_on_clip(i, i.model("fly_obb_yolo11n"), pose=i.model("fly_obb_yolo11n")),
        FAILS,
        (
            "pose.models[0]: {data}/yolo/fly_obb_yolo11n.pt is a YOLO-OBB (oriented boxes) "
            "model, but this stage needs a YOLO-pose (keypoints) model",
        ),
        absent=TABLES[1:],  # detection ran, with the right model
    ),
    "a crafted .pt as detection.model": Row(
        lambda i: yolo_on_clip(i, i.crafted_pt()),
        FAILS,
        ("names code that an Ultralytics model does not hold", "trust_model_files: true"),
    ),
    "a crafted .pt as the pose model": Row(
        lambda i: yolo_on_clip(i, i.model("fly_obb_yolo11n"), pose=i.crafted_pt()),
        FAILS,
        ("names code that an Ultralytics model does not hold", "trust_model_files: true"),
        absent=TABLES[1:],
    ),
    "a crafted .pt to export": Row(
        lambda i: yolo_on_clip(i, i.crafted_pt(), runtime="onnx_cpu"),
        FAILS,
        (
            "rule export_yolo_obb failed",
            "names code that an Ultralytics model does not hold",
            "trust_model_files: true",
        ),
    ),
    # Folders that cannot be written: root ignores permissions, so a file stands in the way.
    "results is a file": Row(
        lambda i: blocked(i, "results"),
        FAILS,
        ("results", "Fix:"),
    ),
    "the run's logs folder is a file": Row(
        lambda i: blocked(i, "results/blocked/logs"),
        FAILS,
        ("results/blocked/logs", "Fix:"),
    ),
    "export_dir inside a file": Row(
        lambda i: yolo_on_clip(
            i,
            i.model("fly_obb_yolo11n"),
            runtime="onnx_cpu",
            export_dir=str(i.write("exports.txt", "a file\n") / "onnx"),
        ),
        FAILS,
        ("{tmp}/exports.txt", "Fix:"),
    ),
    # Awkward inputs that must work.
    "a video path with spaces": Row(
        lambda i: on_video(i.small_video("my videos/clip one.mp4")),
        RUNS,
    ),
    "a unicode video path": Row(
        lambda i: on_video(i.small_video("données/vidéo_动物_🐭.mp4")),
        RUNS,
    ),
    "$(touch) in the video's name": Row(
        lambda i: on_video(i.small_video("$(touch pwned_dollar).mp4")),
        RUNS,
    ),
    "semicolons in the video's name": Row(
        lambda i: on_video(i.small_video("a;touch pwned_semi;.mp4")),
        RUNS,
    ),
    "backticks in the video's name": Row(
        lambda i: on_video(i.small_video("`touch pwned_tick`.mp4")),
        RUNS,
    ),
    "shell syntax in the video's folder": Row(
        lambda i: on_video(i.small_video("$(touch pwned_dir); `touch pwned_dir2`/clip.mp4")),
        RUNS,
    ),
    "quotes, pipes, redirections and a newline in the video's name": Row(
        lambda i: on_video(i.small_video('it\'s "quoted" & | > pwned_gt < *\nline 2.mp4')),
        RUNS,
    ),
    "shell syntax in the working directory": Row(
        lambda i: background_config("here", "cpu", "v", 30),
        RUNS,
        workdir="work $(touch pwned_w); `touch pwned_x` é",
    ),
    "shell syntax in a sample sheet's paths": Row(sheet_with_shell_syntax, RUNS),
    "shell syntax in SLEAP's model and video paths": Row(sleap_with_shell_syntax, RUNS),
    "one frame as a string": Row(lambda i: one_frame("42"), RUNS, check=one_frame_summary),
    "one frame as a number": Row(lambda i: one_frame(7), RUNS, check=one_frame_summary),
    "overlapping frame ranges": Row(
        lambda i: synthetic(frames="0-10,5-20"),
        RUNS,
        check=frames_0_to_20_once,
    ),
    "the frames a truncated mp4 still decodes": Row(
        lambda i: on_video(i.truncated_clip(), frames="0-9"),
        RUNS,
    ),
    "two runs in one folder, one after the other": Row(
        lambda i: background_config("twice", "cpu", "v", 30),
        RUNS,
        check=second_run_does_nothing,
    ),
}


def fill(text: str, inputs: Inputs) -> str:
    return text.replace("{tmp}", str(inputs.tmp)).replace("{data}", str(inputs.data))


def tables_in(folder: Path, names=None) -> list[Path]:
    """Tables (or, with ``names``, the files of those names) under ``folder``."""
    if not folder.is_dir():
        return []
    found = [path for path in folder.rglob("*") if path.is_file()]
    if names is not None:
        return [path for path in found if path.name in names]
    return [path for path in found if path.suffix in (".parquet", ".csv", ".slp")]


def video_ids(config: dict) -> list[str]:
    if config.get("videos"):
        return [video["id"] for video in config["videos"]]
    return list(sample_sheet.read(config["sample_sheet"])["id"])


def assert_rejected(run: SnakemakeRun, row: Row, fragments: list[str], config: dict) -> None:
    assert run.returncode != 0
    for text in fragments:
        assert text in run.stderr, f"{text!r} not in:\n{run.stderr}"
    assert "snakeherd: invalid configuration" in run.stderr
    assert "Traceback" not in run.output
    assert not (run.workdir / "results").exists()


def assert_bad_video_alone(run: SnakemakeRun, row: Row, fragments: list[str], config: dict):
    assert run.returncode != 0
    for text in fragments:
        assert text in run.output, f"{text!r} not in:\n{run.output[-5000:]}"
    assert "Traceback" not in run.output, run.output[-5000:]
    results = run.workdir / "results" / config["experiment"]
    for name in ("provenance.json", "tracks.parquet"):
        assert (results / GOOD / name).is_file(), run.output[-5000:]
    assert tables_in(results / BAD) == []


def assert_failed(run: SnakemakeRun, row: Row, fragments: list[str], config: dict) -> None:
    assert run.returncode != 0
    for text in fragments:
        assert text in run.output, f"{text!r} not in:\n{run.output[-5000:]}"
    assert "Traceback" not in run.output, run.output[-5000:]
    assert "a bug" not in run.output, run.output[-5000:]
    assert tables_in(run.workdir / "results", row.absent) == []


def assert_ran(run: SnakemakeRun, row: Row, fragments: list[str], config: dict) -> None:
    assert run.returncode == 0, run.output[-5000:]
    assert "Traceback" not in run.output
    results = run.workdir / "results" / config["experiment"]
    for video_id in video_ids(config):
        for name in ("provenance.json", "tracks.parquet"):
            assert (results / video_id / name).is_file(), f"{video_id}/{name} missing"


ASSERTIONS = {
    REJECTED: assert_rejected,
    BAD_VIDEO: assert_bad_video_alone,
    FAILS: assert_failed,
    RUNS: assert_ran,
}


def as_param(name: str, row: Row):
    marks = [pytest.mark.xfail(strict=True, reason=row.defect)] if row.defect else []
    return pytest.param(row, id=name, marks=marks)


def test_the_table_has_what_it_promises():
    assert len(ROWS) >= 60
    assert {row.outcome for row in ROWS.values()} == set(ASSERTIONS)
    for name, row in ROWS.items():
        assert row.outcome == RUNS or row.fragments, f"{name}: a failure names what failed"


@pytest.mark.parametrize("row", [as_param(name, row) for name, row in ROWS.items()])
def test_bad_input(row: Row, tmp_path, shared_data, small_videos, request):
    inputs = Inputs(tmp_path, shared_data, small_videos, request, row.workdir)
    config = row.make(inputs)
    args = ("--keep-going",) if row.outcome == BAD_VIDEO else ()
    run = run_snakemake(inputs.work, config, *args, timeout=row.timeout)
    ASSERTIONS[row.outcome](run, row, [fill(text, inputs) for text in row.fragments], config)
    if row.check is not None:
        row.check(inputs, run, config)
    # Nothing from a name, a path or a model file ran.
    assert sorted(tmp_path.rglob("pwned*")) == []
    assert sorted(REPO.glob("pwned*")) == []
