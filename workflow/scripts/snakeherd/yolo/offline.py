"""Ultralytics without a network: settings, fonts, and loading only files that exist.

Ultralytics downloads what it misses (a font for plots, an official model named but absent,
packages it wants). On an air-gapped cluster that hangs or fails, so every job that imports it
first calls :func:`configure`, and models are loaded only by absolute path after checking them.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from ..errors import InputFileError

TASK_LABELS = {"obb": "YOLO-OBB (oriented boxes)", "pose": "YOLO-pose (keypoints)"}


def configure(config_dir: str | os.PathLike, trust_model_files: bool = False) -> None:
    """Set Ultralytics' offline switches and a private settings folder with a local font.

    Model files load through Ultralytics' safe loader (``torch.load(weights_only=True)`` with
    an allow-list of its model classes), so a crafted ``.pt`` cannot run code in the job, unless
    the config trusts model files. Must run before ``import ultralytics``.
    """
    config_dir = Path(config_dir).resolve()
    config_dir.mkdir(parents=True, exist_ok=True)
    os.environ["YOLO_OFFLINE"] = "1"
    os.environ["YOLO_AUTOINSTALL"] = "0"
    os.environ["YOLO_CONFIG_DIR"] = str(config_dir)
    os.environ.setdefault("YOLO_VERBOSE", "False")
    os.environ["ULTRALYTICS_SAFE_LOAD"] = "0" if trust_model_files else "1"
    font = config_dir / "Arial.ttf"
    if not font.exists():
        try:
            import matplotlib

            dejavu = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
            shutil.copyfile(dejavu, font)
            shutil.copyfile(dejavu, config_dir / "Arial.Unicode.ttf")
        except (ImportError, OSError):
            # Only plotting needs the font; inference and export do not.
            pass


def checked_model_path(path: str | os.PathLike, key: str) -> str:
    """Absolute path of an existing model file; anything else would make Ultralytics download."""
    model = Path(path).expanduser()
    if not model.is_file():
        raise InputFileError(
            f"{key}: model file not found: {model}",
            "fix the path in your config (a trained Ultralytics .pt file).",
        )
    return str(model.resolve())


def load(path: str | os.PathLike, task: str, key: str):
    """Load an Ultralytics model (``.pt`` or ``.engine``) and check it does ``task``. Errors
    name ``path`` as the config gave it (a folder reached through a link is not resolved)."""
    from ultralytics import YOLO

    model_path = checked_model_path(path, key)
    try:
        model = YOLO(model_path, task=task if model_path.endswith(".engine") else None)
    except Exception as error:  # Ultralytics/torch raise many types for a bad file
        if "references types outside" in str(error):  # its safe loader's refusal
            raise InputFileError(
                f"{key}: {path} names code that an Ultralytics model does not hold; "
                "loading it could run that code, so it was not loaded.",
                "use a model trained or exported by Ultralytics; if you trust this file and its "
                "source, set `trust_model_files: true` in the config.",
            ) from None
        raise InputFileError(
            f"{key}: {path} cannot be loaded as an Ultralytics model "
            f"({type(error).__name__}: {error}).",
            "check the file is a complete Ultralytics checkpoint (re-copy it; `python -c "
            "\"from ultralytics import YOLO; YOLO('model.pt')\"` must load it).",
        ) from None
    if model.task != task:
        raise InputFileError(
            f"{key}: {path} is a {TASK_LABELS.get(model.task, model.task)} model, but "
            f"this stage needs a {TASK_LABELS[task]} model.",
            "point detection.model at your YOLO-OBB model and pose.models at your YOLO-pose model.",
        )
    return model
