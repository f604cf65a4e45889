"""Workflow configs that several tests and the benchmarks run, built in one place."""

from __future__ import annotations

from pathlib import Path

from tests.support.data import FLY_NODES


def background_config(
    experiment: str, runtime: str, video_id: str, n_frames: int, /, **overrides
) -> dict:
    """The smallest valid config: background detection on one generated video, no pose model;
    ``overrides`` replace or add top-level keys (``experiment`` and ``runtime`` too)."""
    config = {
        "experiment": experiment,
        "runtime": runtime,
        "videos": [{"id": video_id, "synthetic": {"n_frames": n_frames}}],
        "detection": {"method": "background"},
        "pose": {"method": "none"},
    }
    config.update(overrides)
    return config


def good_and_bad_videos_config(
    experiment: str, small_videos: dict[str, Path], bad: dict[str, Path], **sections
) -> dict:
    """Background detection (4 animals, cpu) on the two small generated videos with the ``bad``
    ones (id -> path) listed between them: ``small_a`` whole and scored against its truth,
    frames 0-39 of ``small_b``. ``sections`` adds top-level sections."""
    good_a = small_videos["small_a"]
    return {
        "experiment": experiment,
        "runtime": "cpu",
        "videos": [
            {
                "id": "good_a",
                "path": str(good_a),
                "ground_truth": str(good_a.with_name("small_a_truth.parquet")),
            },
            *({"id": video_id, "path": str(path)} for video_id, path in bad.items()),
            {"id": "good_b", "path": str(small_videos["small_b"]), "frames": "0-39"},
        ],
        "detection": {"method": "background", "background": {"n_animals": 4}},
        **sections,
    }


def yolo_config(
    data: Path, models: Path, runtime: str, frames: str, experiment: str, **pose
) -> dict:
    """The YOLO chain (OBB detection, pose on crops) on ``frames`` of the fly clip, scored against
    its tracked predictions; ``models`` holds both fly models, ``pose`` adds to the pose section."""
    clip = data / "tracking"
    return {
        "experiment": experiment,
        "runtime": runtime,
        "videos": [
            {
                "id": "pair",
                "path": str(clip / "centered_pair_low_quality.mp4"),
                "frames": frames,
                "ground_truth": str(clip / "centered_pair_predictions.clean.slp"),
            }
        ],
        "detection": {"method": "yolo_obb", "model": str(models / "fly_obb_yolo11n.pt")},
        "pose": {
            "method": "yolo_pose",
            "models": [str(models / "fly_pose_crops_yolo11n.pt")],
            "node_names": list(FLY_NODES),
            **pose,
        },
    }


def sleap_config(
    experiment: str,
    runtime: str,
    video: Path,
    frames: str,
    models: list,
    env: str | Path | None,
    *,
    video_id: str = "pair",
    tracking: dict | None = None,
    **pose,
) -> dict:
    """SLEAP pose alone (no detection) on ``frames`` of one video, with the model folders
    ``models`` run by the environment ``env`` (a Python, a conda name, or None for the config's
    default); ``pose`` adds to the pose section, ``tracking`` is the tracking section if given."""
    config = {
        "experiment": experiment,
        "runtime": runtime,
        "videos": [{"id": video_id, "path": str(video), "frames": frames}],
        "detection": {"method": "none"},
        "pose": {
            "method": "sleap",
            "models": [str(model) for model in models],
            "env": None if env is None else str(env),
            **pose,
        },
    }
    if tracking is not None:
        config["tracking"] = tracking
    return config
