"""A SLEAP ≤ 1.4 folder whose Keras weights sleap-nn cannot all load fails the SLEAP jobs.

sleap-nn's legacy loader only logs a warning for a layer it cannot match and predicts with that
layer's random initial weights. A copy of the shared bottom-up folder with one layer renamed in
``best_model.h5`` (as a file saved by another model would name it) must stop the stage's predict
script (``cpu``, sleap-nn's own loader) and the export script (``onnx_cpu``, the checkpoint made
from the legacy folder) before either predicts, naming the folder and both ends of the mismatch.
"""

from __future__ import annotations

import shutil
import subprocess

import h5py
import pytest

from tests.support.sleap_commands import stage_script

pytestmark = pytest.mark.workflow

RENAMED_FROM = "stack0_enc1_conv0"
RENAMED_TO = "stack0_enc1_conv9"


@pytest.fixture(scope="module")
def corrupted_model(shared_data, tmp_path_factory):
    source = shared_data / "sleap" / "legacy_models" / "minimal_instance.UNet.bottomup"
    folder = tmp_path_factory.mktemp("legacy_weights") / "bottomup_renamed_layer"
    folder.mkdir()
    for name in ("best_model.h5", "training_config.json"):
        shutil.copy(source / name, folder / name)
    with h5py.File(folder / "best_model.h5", "r+") as weights:
        weights.move(f"model_weights/{RENAMED_FROM}", f"model_weights/{RENAMED_TO}")
    return folder


def test_predict_and_export_reject_weights_sleap_nn_cannot_map(
    corrupted_model, sleap_python, sleap_video, tmp_path
):
    predict = stage_script(
        sleap_python,
        "sleap_predict.py",
        "cpu",
        "bottomup",
        [corrupted_model],
        sleap_video,
        "--frames",
        "0-0",
        "--slp",
        tmp_path / "poses.slp",
        "--npz",
        tmp_path / "poses.npz",
        "--log",
        tmp_path / "predict.log",
    )
    export = stage_script(
        sleap_python,
        "sleap_export.py",
        "onnx_cpu",
        "bottomup",
        [corrupted_model],
        sleap_video,
        "--folder",
        tmp_path / "export" / "384x384",
        "--height",
        "384",
        "--width",
        "384",
        "--parity-frames",
        "1",
        "--tolerance",
        "0.5",
        "--log",
        tmp_path / "export.log",
    )
    processes = [
        subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for command in (predict, export)
    ]
    for process, log in zip(processes, ("predict.log", "export.log"), strict=True):
        output, _ = process.communicate(timeout=300)
        assert process.returncode == 1, output
        text = (tmp_path / log).read_text()
        assert f"cannot load all of {corrupted_model / 'best_model.h5'}" in text
        assert f".{RENAMED_FROM}.weight (24, 16, 3, 3): no Keras weight" in text
        assert f"Keras weight {RENAMED_TO}/{RENAMED_FROM}/kernel:0" in text
        assert "Traceback" not in text
    assert not (tmp_path / "poses.slp").exists()
    assert not list((tmp_path / "export").iterdir())  # no export, no converted checkpoint left
