"""The shared test data (``../shared/data`` beside the repository): where it is, what its fly
clip and models are, and writable copies of the models (exports are written next to them)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from tests.support.paths import REPO

SHARED_DATA = Path(os.environ.get("SNAKEHERD_SHARED_DATA", REPO.parent / "shared" / "data"))
# Frames of the fly clip (tracking/centered_pair_low_quality.mp4) the YOLO models in yolo/ did
# not train on (they trained on frames 0-799).
FLY_HELD_OUT_FRAMES = "900-1099"
# The nodes of the YOLO pose model yolo/fly_pose_crops_yolo11n.pt, in its order.
FLY_NODES = ("head", "neck", "thorax", "abdomen", "wingL", "wingR")
YOLO_MODELS = ("fly_obb_yolo11n.pt", "fly_pose_crops_yolo11n.pt")
# The SLEAP top-down pair in sleap/models/ (two nodes, A and B, on centered_pair_small.mp4).
SLEAP_PAIR = ("minimal_instance_centroid", "minimal_instance_centered_instance")


def copy_yolo_models(data: Path, folder: Path) -> Path:
    """Copies of both fly YOLO models in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in YOLO_MODELS:
        shutil.copyfile(data / "yolo" / name, folder / name)
    return folder


def copy_sleap_models(data: Path, folder: Path, names: tuple[str, ...] | None = None) -> Path:
    """Writable copies of the shared SLEAP model folders (all of them, or ``names``) in
    ``folder``; the shared files are read-only."""
    folder.mkdir(parents=True, exist_ok=True)
    models = data / "sleap" / "models"
    sources = [models / name for name in names] if names else sorted(models.iterdir())
    for source in sources:
        shutil.copytree(source, folder / source.name)
        for path in (folder / source.name).iterdir():
            path.chmod(0o644)
    return folder
