"""Provenance: what produced a results folder, so a result can be trusted and re-run.

Each video's ``provenance.json`` records the config, checksums of its inputs and outputs, the
runtime asked for and what every stage actually used (read from the tables' metadata), package
versions, the platform, and the workflow's git commit. The video's last production job writes it
(the track job, or the provenance rule when tracking is off): a job of its own per video would
cost a third of the DAG's build time on large sample sheets.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import platform
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from . import __version__
from .io import SCHEMA_VERSION, read_metadata, write_text_atomic

# Result files whose table metadata records what their stage ran on.
TABLES = ("detections", "poses", "tracks")

PACKAGES = (
    "snakemake",
    "numpy",
    "scipy",
    "pandas",
    "pyarrow",
    "opencv-python",
    "opencv-python-headless",
    "scikit-learn",
    "motmetrics",
    "sleap-io",
    "onnxruntime",
    "onnxruntime-gpu",
    "torch",
    "torchvision",
    "ultralytics",
    "tract",
    "tensorrt",
    "sleap-nn",
)


def sha256_file(path: str | Path, chunk_size: int = 1 << 20) -> str:
    """Streamed SHA-256 of a file (memory stays at one chunk for any file size)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


def describe_file(path: str | Path) -> dict:
    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file())
        return {
            "path": str(path),
            "files": {str(p.relative_to(path)): sha256_file(p) for p in files},
        }
    return {"path": str(path), "bytes": path.stat().st_size, "sha256": sha256_file(path)}


def package_versions(names=PACKAGES) -> dict[str, str]:
    """Installed versions of the packages that can shape results (absent ones are omitted)."""
    versions = {}
    for name in names:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return versions


def git_commit(directory: str | Path) -> dict:
    """The workflow checkout's commit and whether it has uncommitted changes (None outside git)."""

    def git(*args) -> str | None:
        try:
            result = subprocess.run(
                ["git", "-C", str(directory), *args],
                capture_output=True,
                text=True,
                timeout=10,
                check=True,
            )
        except (OSError, subprocess.SubprocessError):
            return None
        return result.stdout.strip()

    commit = git("rev-parse", "HEAD")
    status = git("status", "--porcelain", "--untracked-files=no") if commit else None
    return {"commit": commit, "dirty": bool(status) if status is not None else None}


def stage_records(tables: dict[str, str]) -> dict[str, dict]:
    """What each stage recorded in its table's metadata, keyed by table name."""
    return {name: read_metadata(path).get("stage", {}) for name, path in tables.items()}


def build_provenance(
    *,
    experiment: str,
    video_id: str,
    config: dict,
    inputs: dict[str, str | None],
    tables: dict[str, str],
    outputs: dict[str, str],
    workflow_dir: str,
) -> dict:
    """The provenance record of one video's results folder."""
    return {
        "snakeherd_version": __version__,
        "schema_version": SCHEMA_VERSION,
        "experiment": experiment,
        "video_id": video_id,
        "created_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "workflow": {"path": str(workflow_dir), **git_commit(workflow_dir)},
        "runtime": {
            "requested": config.get("runtime"),
            "stages": stage_records(tables),
        },
        "inputs": {name: describe_file(path) for name, path in inputs.items() if path is not None},
        "outputs": {name: describe_file(path) for name, path in outputs.items()},
        "config": config,
        "packages": package_versions(),
        "platform": {
            "python": sys.version.split()[0],
            "implementation": platform.python_implementation(),
            "system": platform.system(),
            "release": platform.release(),
            "machine": platform.machine(),
            "node": platform.node(),
        },
    }


def dumps(record: dict) -> str:
    return json.dumps(record, indent=2, sort_keys=False, default=str) + "\n"


def write_video_provenance(
    path: str | Path,
    *,
    config: dict,
    video_id: str,
    entry: dict,
    inputs: dict[str, str | None],
    results: dict[str, str],
    workflow_dir: str,
) -> None:
    """Write one video's provenance.json describing ``results`` (name -> file)."""
    record = build_provenance(
        experiment=config["experiment"],
        video_id=video_id,
        # The whole video list would repeat in every video's record; its own entry is enough.
        config={**{key: value for key, value in config.items() if key != "videos"}, "video": entry},
        inputs=inputs,
        tables={name: file for name, file in results.items() if name in TABLES},
        outputs=results,
        workflow_dir=workflow_dir,
    )
    write_text_atomic(path, dumps(record))
