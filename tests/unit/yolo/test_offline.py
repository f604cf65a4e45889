"""Loading Ultralytics models offline: a model of the wrong task, a corrupt one and a missing one
are named, and nothing is downloaded in their place."""

from __future__ import annotations

import subprocess
import sys

import pytest

from snakeherd.errors import InputFileError
from snakeherd.yolo import offline
from tests.support.paths import SCRIPTS


def test_wrong_task_and_corrupt_models_are_named(shared_data, tmp_path):
    with pytest.raises(
        InputFileError, match=r"is a YOLO-pose \(keypoints\) model, but this stage needs a YOLO-OBB"
    ):
        offline.load(shared_data / "yolo" / "fly_pose_crops_yolo11n.pt", "obb", "detection.model")
    corrupt = tmp_path / "broken.pt"
    corrupt.write_bytes((shared_data / "yolo" / "fly_obb_yolo11n.pt").read_bytes()[:4000])
    with pytest.raises(InputFileError, match="cannot be loaded as an Ultralytics model") as caught:
        offline.load(corrupt, "obb", "detection.model")
    assert str(corrupt) in str(caught.value) and "Fix:" in str(caught.value)
    with pytest.raises(InputFileError, match="model file not found"):
        offline.load(tmp_path / "yolo11n-obb.pt", "obb", "detection.model")
    assert not (tmp_path / "yolo11n-obb.pt").exists()  # nothing was downloaded in its place


# In a fresh process, as in a job: offline.configure runs before Ultralytics is imported.
LOAD_IN_A_JOB = """
import sys, tempfile
sys.path.insert(0, sys.argv[1])
from snakeherd.errors import InputFileError
from snakeherd.yolo import offline

offline.configure(tempfile.mkdtemp(), trust_model_files=sys.argv[3] == "trusted")
try:
    offline.load(sys.argv[2], "obb", "detection.model")
except InputFileError as error:
    print(error)
"""

PAYLOAD = """
import os, sys
import torch

class Payload:
    def __reduce__(self):
        return (os.system, (f"touch {sys.argv[2]}",))

torch.save({"model": Payload(), "epoch": 1}, sys.argv[1])
"""


def test_a_pt_file_that_would_run_code_is_refused_unless_trusted(shared_data, tmp_path):
    marker = tmp_path / "pwned"
    crafted = tmp_path / "crafted.pt"
    subprocess.run([sys.executable, "-c", PAYLOAD, str(crafted), str(marker)], check=True)

    def load(path, trust):
        command = [sys.executable, "-c", LOAD_IN_A_JOB, str(SCRIPTS), str(path), trust]
        return subprocess.run(command, capture_output=True, text=True, check=True).stdout

    refused = load(crafted, "untrusted")
    assert "names code that an Ultralytics model does not hold" in refused
    assert "trust_model_files: true" in refused
    assert not marker.exists()
    # The real models load with safe loading on.
    assert load(shared_data / "yolo" / "fly_obb_yolo11n.pt", "untrusted") == ""
    # Trusting the file loads it as Ultralytics always did: the payload runs.
    load(crafted, "trusted")
    assert marker.exists()
