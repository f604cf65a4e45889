"""Provenance records: checksums of files and folders, package versions, the workflow's git
commit (and whether it is dirty), and one video's provenance.json."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import snakeherd
from snakeherd import io, provenance


@pytest.fixture
def no_git_environment(monkeypatch):
    """git commands see the directory they are given, whatever the caller's git environment."""
    for name in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_CEILING_DIRECTORIES"):
        monkeypatch.delenv(name, raising=False)


def git(folder: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(folder), "-c", "user.name=t", "-c", "user.email=t@example.org",
         "-c", "commit.gpgsign=false", *args],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip


@pytest.fixture
def checkout(tmp_path, no_git_environment) -> Path:
    """A git repository with one commit of one file."""
    folder = tmp_path / "checkout"
    folder.mkdir()
    git(folder, "init", "--quiet")
    (folder / "Snakefile").write_text("rule all:\n")
    git(folder, "add", "Snakefile")
    git(folder, "commit", "--quiet", "-m", "first")
    return folder


def detections_table(path: Path, stage: dict) -> Path:
    frame = pd.DataFrame(
        {
            "video_id": ["v"],
            "frame": [0],
            "det_id": [0],
            "x": [1.5],
            "y": [2.5],
            "w": [10.0],
            "h": [4.0],
            "angle": [0.1],
            "score": [0.9],
            "class_id": [0],
        }
    )
    io.write_table(frame, path, "detections", stage)
    return path


def test_sha256_file_streams_in_chunks_to_the_whole_files_digest(tmp_path):
    data = np.random.default_rng(0).bytes(10_000)
    path = tmp_path / "video.bin"
    path.write_bytes(data)
    expected = hashlib.sha256(data).hexdigest()
    # Chunks that do not divide the size, one byte, and larger than the file.
    for chunk_size in (7, 1, 1 << 20):
        assert provenance.sha256_file(path, chunk_size=chunk_size) == expected
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    assert provenance.sha256_file(str(empty)) == hashlib.sha256(b"").hexdigest()


def test_describe_file_gives_size_and_checksum(tmp_path):
    path = tmp_path / "model.pt"
    path.write_bytes(b"weights")
    assert provenance.describe_file(path) == {
        "path": str(path),
        "bytes": 7,
        "sha256": hashlib.sha256(b"weights").hexdigest(),
    }


def test_describe_folder_lists_every_file_below_it_by_relative_path(tmp_path):
    model = tmp_path / "sleap_model"
    (model / "viz").mkdir(parents=True)
    (model / "best.ckpt").write_bytes(b"checkpoint")
    (model / "viz" / "train.png").write_bytes(b"png")
    (model / "empty_folder").mkdir()
    record = provenance.describe_file(str(model))
    assert record == {
        "path": str(model),
        "files": {
            "best.ckpt": hashlib.sha256(b"checkpoint").hexdigest(),
            "viz/train.png": hashlib.sha256(b"png").hexdigest(),
        },
    }
    assert list(record["files"]) == sorted(record["files"])


def test_package_versions_omit_absent_packages():
    versions = provenance.package_versions(("numpy", "no-such-package-snakeherd", "pandas"))
    assert versions == {"numpy": np.__version__, "pandas": pd.__version__}
    # The default list covers what this environment runs the workflow with.
    defaults = provenance.package_versions()
    assert defaults["numpy"] == np.__version__ and "snakemake" in defaults
    assert set(defaults) <= set(provenance.PACKAGES)


def test_git_commit_of_a_checkout_and_whether_it_is_dirty(checkout):
    head = git(checkout, "rev-parse", "HEAD")
    assert len(head) == 40
    assert provenance.git_commit(checkout) == {"commit": head, "dirty": False}
    # A file git does not track leaves the checkout clean ...
    (checkout / "results.csv").write_text("x\n")
    assert provenance.git_commit(str(checkout)) == {"commit": head, "dirty": False}
    # ... an edited tracked file makes it dirty.
    (checkout / "Snakefile").write_text("rule all:\n    input: []\n")
    assert provenance.git_commit(checkout) == {"commit": head, "dirty": True}


def test_git_commit_outside_a_checkout_is_unknown(tmp_path, no_git_environment):
    outside = tmp_path / "not_a_checkout"
    outside.mkdir()
    assert provenance.git_commit(outside) == {"commit": None, "dirty": None}
    assert provenance.git_commit(tmp_path / "missing") == {"commit": None, "dirty": None}


def test_build_provenance_records_inputs_stages_outputs_and_platform(tmp_path, checkout):
    video = tmp_path / "clip.mp4"
    video.write_bytes(b"frames")
    detections = detections_table(tmp_path / "detections.parquet", {"method": "background"})
    config = {"experiment": "exp", "runtime": "onnx_cpu", "tracking": {"max_gap": 5}}
    before = datetime.now(UTC).replace(microsecond=0)
    record = provenance.build_provenance(
        experiment="exp",
        video_id="arena",
        config=config,
        inputs={"video": str(video), "ground_truth": None},
        tables={"detections": str(detections)},
        outputs={"detections": str(detections)},
        workflow_dir=str(checkout),
    )
    assert record["snakeherd_version"] == snakeherd.__version__
    assert record["schema_version"] == io.SCHEMA_VERSION
    assert (record["experiment"], record["video_id"]) == ("exp", "arena")
    created = datetime.fromisoformat(record["created_utc"])
    assert created.utcoffset().total_seconds() == 0 and created >= before
    assert record["workflow"] == {
        "path": str(checkout),
        "commit": git(checkout, "rev-parse", "HEAD"),
        "dirty": False,
    }
    assert record["runtime"] == {
        "requested": "onnx_cpu",
        "stages": {"detections": {"method": "background"}},
    }
    # An input that is not given (None) is left out, not recorded as missing.
    assert list(record["inputs"]) == ["video"]
    assert record["inputs"]["video"]["sha256"] == hashlib.sha256(b"frames").hexdigest()
    assert record["outputs"]["detections"]["bytes"] == detections.stat().st_size
    assert record["config"] == config
    assert record["packages"]["numpy"] == np.__version__
    assert record["platform"]["python"] == sys.version.split()[0]
    assert record["platform"]["system"]


def test_dumps_is_indented_json_that_writes_paths_as_text(tmp_path):
    text = provenance.dumps({"b": 1, "a": {"model": tmp_path / "m.pt"}})
    assert text.endswith("}\n")
    assert json.loads(text) == {"b": 1, "a": {"model": str(tmp_path / "m.pt")}}
    assert list(json.loads(text)) == ["b", "a"]  # the record's order, not sorted
    assert '\n  "b": 1' in text


def test_write_video_provenance_keeps_its_own_video_and_the_tables_stages(tmp_path):
    folder = tmp_path / "results" / "exp" / "arena"
    detections = detections_table(folder / "detections.parquet", {"method": "yolo_obb"})
    tracks_csv = folder / "tracks.csv"
    tracks_csv.write_text("TrajectoryID,FrameID\n")
    entry = {"id": "arena", "path": "/videos/arena.mp4"}
    config = {
        "experiment": "exp",
        "runtime": "cpu",
        "videos": [entry, {"id": "other", "path": "/videos/other.mp4"}],
        "detection": {"method": "yolo_obb"},
    }
    path = folder / "provenance.json"
    provenance.write_video_provenance(
        path,
        config=config,
        video_id="arena",
        entry=entry,
        inputs={"ground_truth": None},
        results={"detections": str(detections), "tracks_csv": str(tracks_csv)},
        workflow_dir=str(tmp_path),
    )
    record = json.loads(path.read_text())
    # Only the video's own entry, not every video of the experiment.
    assert record["config"] == {
        "experiment": "exp",
        "runtime": "cpu",
        "detection": {"method": "yolo_obb"},
        "video": entry,
    }
    assert (record["experiment"], record["video_id"]) == ("exp", "arena")
    # Stages come from the tables; every result is checksummed.
    assert record["runtime"]["stages"] == {"detections": {"method": "yolo_obb"}}
    assert set(record["outputs"]) == {"detections", "tracks_csv"}
    assert (
        record["outputs"]["tracks_csv"]["sha256"]
        == hashlib.sha256(tracks_csv.read_bytes()).hexdigest()
    )
    assert record["inputs"] == {}
    # Written atomically: nothing but the results and the record in the folder.
    assert sorted(p.name for p in folder.iterdir()) == [
        "detections.parquet",
        "provenance.json",
        "tracks.csv",
    ]
