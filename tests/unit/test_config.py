"""Config checks beyond the schema, schema messages, and schema defaults that match the library."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml

from snakeherd.config import check_config, describe_schema_error, yaml_problem
from snakeherd.detection import BackgroundParams
from snakeherd.errors import ConfigError
from snakeherd.sample_sheet import read as read_sample_sheet
from snakeherd.synthetic import SceneSpec
from snakeherd.tracking import TrackerParams
from snakeherd.yolo.decode import Filters
from snakeherd.yolo.export import ParityTolerance
from tests.support.configs import background_config
from tests.support.paths import REPO

SCHEMA = yaml.safe_load((REPO / "config" / "schemas" / "config.schema.yaml").read_text())


def schema_error(config: dict) -> str:
    validator = jsonschema.Draft202012Validator(SCHEMA)
    error = next(iter(validator.iter_errors(config)))
    return describe_schema_error(error)


def base_config(**overrides):
    """A valid config with tracking on; ``overrides`` replace or add top-level sections."""
    return background_config("x", "cpu", "a", 50, **{"tracking": {"enabled": True}, **overrides})


def test_schema_defaults_match_the_library_defaults():
    definitions = SCHEMA["$defs"]["synthetic"]["properties"]
    for field in dataclasses.fields(SceneSpec):
        assert definitions[field.name]["default"] == field.default, field.name
    background = SCHEMA["properties"]["detection"]["properties"]["background"]["properties"]
    for field in dataclasses.fields(BackgroundParams):
        assert background[field.name]["default"] == field.default, field.name
    tracking = SCHEMA["properties"]["tracking"]["properties"]
    for field in dataclasses.fields(TrackerParams):
        if field.name in ("stitch", "link"):
            section = tracking[field.name]["properties"]
            for nested in dataclasses.fields(field.default_factory):
                assert section[nested.name]["default"] == nested.default, nested.name
            continue
        assert tracking[field.name]["default"] == field.default, field.name
    yolo = SCHEMA["$defs"]["yolo_filters"]["properties"]
    for field in dataclasses.fields(Filters):
        assert yolo[field.name]["default"] == field.default, field.name
    export = SCHEMA["properties"]["export"]["properties"]
    for field in dataclasses.fields(ParityTolerance):
        assert export[field.name]["default"] == field.default, field.name


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        (base_config(runtim="cpu"), "unknown key 'runtim' (did you mean 'runtime'?)"),
        (
            base_config(detection={"method": "yolo"}),
            "config detection.method: 'yolo' is not one of background, yolo_obb, none.",
        ),
        (base_config(tracking={"max_gap": "five"}), "tracking.max_gap: 'five' is a str"),
        (base_config(tracking={"max_distance": 0}), "it must be > 0"),
        (base_config(experiment="my exp"), "config experiment: 'my exp' has characters"),
        ({"runtime": "cpu"}, "missing required key 'experiment'"),
        (base_config(videos=[{"path": "a.mp4"}]), "config videos[0]: missing required key 'id'"),
    ],
)
def test_schema_errors_read_as_one_sentence_with_a_fix(config, expected):
    message = schema_error(config)
    assert expected in message
    assert "Fix:" in message
    assert "Traceback" not in message and "schema[" not in message


def test_runtime_is_judged_before_anything_else():
    config = base_config(
        runtime="rocm",
        detection={"method": "none"},
        pose={"method": "sleap", "models": ["/does/not/exist"]},
        videos=[{"id": "a", "path": "/missing.mp4"}],
    )
    with pytest.raises(ConfigError, match="runtime: 'rocm' cannot run"):
        check_config(config)


def test_videos_are_checked(tmp_path):
    video = tmp_path / "v.mp4"
    video.write_bytes(b"x")
    with pytest.raises(ConfigError, match="video id 'a' is used twice"):
        check_config(base_config(videos=[{"id": "a", "path": str(video)}] * 2))
    with pytest.raises(ConfigError, match="video file not found"):
        check_config(base_config(videos=[{"id": "a", "path": str(tmp_path / "no.mp4")}]))
    with pytest.raises(ConfigError, match="not a safe folder name"):
        check_config(base_config(videos=[{"id": "../up", "path": str(video)}]))
    with pytest.raises(ConfigError, match="exactly one of `path`"):
        check_config(base_config(videos=[{"id": "a", "path": str(video), "synthetic": {}}]))
    with pytest.raises(ConfigError, match="past the end of the video"):
        check_config(
            base_config(videos=[{"id": "a", "synthetic": {"n_frames": 50}, "frames": "0-60"}])
        )
    with pytest.raises(ConfigError, match="not a frame range"):
        check_config(base_config(videos=[{"id": "a", "path": str(video), "frames": "x"}]))
    # An unreadable video with frame ranges is left to its job, so --keep-going can go on.
    entries = check_config(base_config(videos=[{"id": "a", "path": str(video), "frames": "0-9"}]))
    assert entries[0].frames.ranges == ((0, 9),)


def test_sample_sheet(tmp_path):
    (tmp_path / "videos").mkdir()
    (tmp_path / "videos" / "v1.mp4").write_bytes(b"x")
    sheet = tmp_path / "videos" / "sheet.tsv"
    sheet.write_text("id\tpath\tframes\n# a comment\nv1\tv1.mp4\t\n")
    config = base_config(sample_sheet=str(sheet))
    del config["videos"]
    entries = check_config(config, read_sample_sheet(str(sheet)))
    assert entries[0].path == str(tmp_path / "videos" / "v1.mp4")
    sheet.write_text("id\tvideo\nv1\tv1.mp4\n")
    with pytest.raises(ConfigError, match=r"unknown column\(s\) \['video'\]"):
        read_sample_sheet(str(sheet))
    with pytest.raises(ConfigError, match="either as a `videos:` list or as a `sample_sheet:`"):
        check_config({**config, "videos": [{"id": "x", "synthetic": {}}]}, None)


def test_a_proofread_file_is_found_beside_the_sample_sheet_or_named(tmp_path):
    (tmp_path / "v1.mp4").write_bytes(b"x")
    (tmp_path / "v1.proofread.slp").write_bytes(b"x")
    sheet = tmp_path / "sheet.tsv"
    sheet.write_text("id\tpath\tproofread\nv1\tv1.mp4\tv1.proofread.slp\n")
    config = base_config(sample_sheet=str(sheet))
    del config["videos"]
    (entry,) = check_config(config, read_sample_sheet(str(sheet)))
    assert entry.proofread == str(tmp_path / "v1.proofread.slp")
    assert entry.as_dict()["proofread"] == entry.proofread
    missing = [{"id": "a", "path": str(tmp_path / "v1.mp4"), "proofread": "gone.slp"}]
    with pytest.raises(ConfigError, match=r"videos\[0\]\.proofread") as error:
        check_config(base_config(videos=missing))
    assert "gone.slp" in str(error.value) and "remove proofread" in str(error.value)


def test_models_must_exist(tmp_path):
    with pytest.raises(ConfigError, match=r"detection\.model: detection\.method 'yolo_obb' needs"):
        check_config(base_config(detection={"method": "yolo_obb", "model": None}))
    with pytest.raises(ConfigError, match=r"detection\.model: model file not found"):
        check_config(base_config(detection={"method": "yolo_obb", "model": "/nope.pt"}))
    with pytest.raises(ConfigError, match=r"pose.models\[0\]: model not found"):
        check_config(base_config(pose={"method": "yolo_pose", "models": ["/nope.pt"]}))


def test_pose_modes_need_the_right_detection(tmp_path):
    model = tmp_path / "pose.pt"
    model.write_bytes(b"x")
    crops_without_detection = base_config(
        detection={"method": "none"},
        pose={"method": "yolo_pose", "models": [str(model)], "mode": "crops"},
    )
    with pytest.raises(ConfigError, match=r"pose\.mode: 'crops' runs the pose model on crops"):
        check_config(crops_without_detection)
    frames_with_detection = base_config(
        pose={"method": "yolo_pose", "models": [str(model)], "mode": "frames"}
    )
    with pytest.raises(ConfigError, match=r"pose\.mode: 'frames' lets the pose model find"):
        check_config(frames_with_detection)


@pytest.mark.parametrize(
    ("text", "line", "column", "fix"),
    [
        ("runtime: cpu\nvideos:\n  - path: a\n   bad: [\n", 4, 4, "indentation"),
        ("tracking:\n\tmax_tracks: 2\n", 2, 1, "never tabs"),
        ("runtime: [cpu, onnx_cpu\nvideos: []\n", 2, 7, "quoting"),
    ],
)
def test_a_yaml_error_names_the_file_line_and_column(tmp_path, text, line, column, fix):
    path = tmp_path / "my config.yaml"
    path.write_text(text, encoding="utf-8")
    problem = yaml_problem(path)
    assert problem.startswith(f"{path}, line {line}, column {column}: ")
    assert fix in problem
    shown, caret = problem.splitlines()[1:3]
    assert caret.index("^") - 4 == column - 1 and shown.strip()


def test_valid_yaml_and_json_have_no_problem_and_binary_files_do(tmp_path):
    assert yaml_problem("config/config.yaml") is None
    (tmp_path / "c.json").write_text('{"runtime": "cpu"}')
    assert yaml_problem(tmp_path / "c.json") is None
    (tmp_path / "c.yaml").write_bytes(b"runtime: \xff\xfe")
    assert "not UTF-8" in yaml_problem(tmp_path / "c.yaml")


def test_make_check_config_prints_the_line_snakemake_does_not(tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text("videos:\n  - path: a.mp4\n     id: a\n")
    script = Path(__file__).resolve().parents[2] / "workflow" / "scripts" / "check_config_yaml.py"
    result = subprocess.run(
        [sys.executable, str(script), str(broken)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 1
    assert f"{broken}, line 3, column 8" in result.stderr


def test_chunk_frames_top_level_per_video_and_per_sample_sheet_row(tmp_path):
    videos = [
        {"id": "a", "synthetic": {"n_frames": 50}},
        {"id": "b", "synthetic": {"n_frames": 50}, "chunk_frames": 10},
        {"id": "c", "synthetic": {"n_frames": 50}, "chunk_frames": None},
    ]
    entries = check_config(base_config(videos=videos, chunk_frames=20))
    assert [entry.chunk_frames for entry in entries] == [20, 10, None]
    for bad in (0, -5):
        with pytest.raises(ConfigError, match=r"(?s)^chunk_frames: .* at least 1 frame.*or null"):
            check_config(base_config(chunk_frames=bad))
        with pytest.raises(ConfigError, match=r"videos\[0\]\.chunk_frames \(id a\)"):
            check_config(base_config(videos=[{**videos[0], "chunk_frames": bad}]))
    assert "chunk_frames" in SCHEMA["$defs"]["video"]["properties"]
    assert SCHEMA["properties"]["chunk_frames"]["default"] == 18000

    (tmp_path / "v.mp4").write_bytes(b"x")
    sheet = tmp_path / "sheet.tsv"
    sheet.write_text("id\tpath\tchunk_frames\nv1\tv.mp4\t\nv2\tv.mp4\t500\nv3\tv.mp4\tnone\n")
    config = base_config(sample_sheet=str(sheet), chunk_frames=900)
    del config["videos"]
    entries = check_config(config, read_sample_sheet(str(sheet)))
    assert [entry.chunk_frames for entry in entries] == [900, 500, None]
    sheet.write_text("id\tpath\tchunk_frames\nv1\tv.mp4\tlots\n")
    with pytest.raises(ConfigError, match=r"row 1\.chunk_frames \(id v1\): 'lots' is not a number"):
        check_config(config, read_sample_sheet(str(sheet)))


def test_subject_fields_per_video_entry_and_per_sample_sheet_row(tmp_path):
    videos = [
        {"id": "a", "synthetic": {"n_frames": 50}},
        {"id": "b", "synthetic": {"n_frames": 50}, "subject": {"sex": "F", "age": "P5D"}},
    ]
    entries = check_config(base_config(videos=videos))
    assert [entry.subject for entry in entries] == [{}, {"sex": "F", "age": "P5D"}]
    assert entries[1].as_dict()["subject"] == {"sex": "F", "age": "P5D"}
    subject_schema = SCHEMA["$defs"]["video"]["properties"]["subject"]
    jsonschema.validate(videos[1]["subject"], subject_schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"sex": "female"}, subject_schema)

    (tmp_path / "v.mp4").write_bytes(b"x")
    sheet = tmp_path / "sheet.tsv"
    sheet.write_text(
        "id\tpath\tsubject_sex\tsubject_genotype\nv1\tv.mp4\t\t\nv2\tv.mp4\tM\t w1118 \n"
    )
    config = base_config(sample_sheet=str(sheet))
    del config["videos"]
    entries = check_config(config, read_sample_sheet(str(sheet)))
    assert [entry.subject for entry in entries] == [{}, {"sex": "M", "genotype": "w1118"}]


def test_track_only_runs_ignore_chunk_frames(tmp_path):
    predictions = tmp_path / "p.slp"
    predictions.write_bytes(b"x")
    config = base_config(
        videos=[{"id": "a", "predictions": str(predictions), "chunk_frames": 10}],
        detection={"method": "none"},
        pose={"method": "none"},
        chunk_frames=5,
    )
    assert check_config(config)[0].chunk_frames is None
