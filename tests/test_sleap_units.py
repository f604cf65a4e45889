"""The SLEAP stage's main-environment side: model folders, pipelines, environments, tables."""

from __future__ import annotations

import os
import shutil
import sys

import numpy as np
import pytest

from snakeherd.errors import ConfigError
from snakeherd.sleap import env as sleap_env
from snakeherd.sleap import models as sleap_models
from snakeherd.sleap import preflight as sleap_preflight
from snakeherd.sleap import tables as pose_tables


@pytest.fixture(scope="module")
def models(shared_data):
    return shared_data / "sleap" / "models"


def test_model_folders_are_read_without_sleap_nn(models):
    centroid = sleap_models.inspect_model(str(models / "minimal_instance_centroid"))
    instance = sleap_models.inspect_model(str(models / "minimal_instance_centered_instance"))
    assert centroid.model_type == "centroid"
    assert instance.model_type == "centered_instance"
    assert instance.crop_size == 96
    assert instance.node_names == ("A", "B")
    assert instance.files()[0].endswith("best.ckpt")
    assert instance.files()[1].endswith("training_config.yaml")


@pytest.mark.parametrize(
    ("names", "detection", "kind"),
    [
        (["minimal_instance_centroid", "minimal_instance_centered_instance"], "none", "topdown"),
        (["minimal_instance_centered_instance", "minimal_instance_centroid"], "none", "topdown"),
        (["minimal_instance_bottomup"], "none", "bottomup"),
        (["minimal_instance_single_instance"], "none", "single_instance"),
        (["minimal_instance_centered_instance"], "background", "crops"),
    ],
)
def test_pipelines(models, names, detection, kind):
    pipeline = sleap_models.resolve_pipeline([str(models / n) for n in names], detection)
    assert pipeline.kind == kind
    if kind == "topdown":
        assert [m.model_type for m in pipeline.models] == ["centroid", "centered_instance"]


@pytest.mark.parametrize(
    ("names", "detection", "expected"),
    [
        (
            ["minimal_instance_centroid", "minimal_instance_centroid"],
            "none",
            "both models are centroid models",
        ),
        (["minimal_instance_centroid"], "none", "add its centered-instance model"),
        (["minimal_instance_centered_instance"], "none", "needs the animals found first"),
        (["minimal_instance_bottomup"], "background", "runs one centered-instance model"),
        (
            ["minimal_instance_bottomup", "minimal_instance_single_instance"],
            "none",
            "do not form a top-down pair",
        ),
    ],
)
def test_impossible_combinations_are_named(models, names, detection, expected):
    with pytest.raises(ConfigError) as caught:
        sleap_models.resolve_pipeline([str(models / n) for n in names], detection)
    assert expected in str(caught.value)
    assert "Fix:" in str(caught.value)


@pytest.mark.parametrize("missing", ["best.ckpt", "training_config.yaml"])
def test_folder_without_model_files(models, tmp_path, missing):
    folder = tmp_path / "model"
    shutil.copytree(models / "minimal_instance_bottomup", folder)
    (folder / missing).unlink()
    with pytest.raises(ConfigError) as caught:
        sleap_models.inspect_model(str(folder))
    message = str(caught.value)
    assert f"lacks {missing}" in message
    assert str(folder) in message


def test_export_folders_follow_the_contract(models, tmp_path):
    pair = sleap_models.resolve_pipeline(
        [
            str(models / "minimal_instance_centroid"),
            str(models / "minimal_instance_centered_instance"),
        ],
        "none",
    )
    assert sleap_models.export_folder(pair, "cpu", None, 384, 384) is None
    assert (
        sleap_models.export_folder(pair, "onnx_cpu", None, 384, 512)
        == str(models / "minimal_instance_centroid+minimal_instance_centered_instance.onnx")
        + "/384x512"
    )
    assert (
        sleap_models.export_folder(pair, "tensorrt", str(tmp_path), 384, 384)
        == str(tmp_path / "minimal_instance_centroid+minimal_instance_centered_instance.tensorrt")
        + "/384x384"
    )
    crops = sleap_models.resolve_pipeline(
        [str(models / "minimal_instance_centered_instance")], "yolo_obb"
    )
    # On crops the network's input is the crop, whatever the frame size.
    assert sleap_models.export_folder(crops, "onnx_cuda", None, 1080, 1920).endswith(
        "minimal_instance_centered_instance.onnx/96x96"
    )


def test_env_as_interpreter_path(tmp_path):
    assert sleap_env.resolve_env(sys.executable) == os.path.abspath(sys.executable)
    assert sleap_env.resolve_env(None) is None
    with pytest.raises(ConfigError, match="does not exist"):
        sleap_env.resolve_env(str(tmp_path / "nope" / "bin" / "python"))
    with pytest.raises(ConfigError, match="not a Python environment"):
        sleap_env.resolve_env(str(tmp_path))


def test_env_name_that_does_not_exist():
    with pytest.raises(ConfigError) as caught:
        sleap_env.resolve_env("no-such-sleap-env")
    message = str(caught.value)
    assert "no-such-sleap-env" in message
    if not any(shutil.which(name) for name in sleap_env.CONDA_FRONTENDS):
        assert "no conda is on PATH" in message
    else:
        assert "there is no conda environment named" in message


def test_env_files_follow_the_runtime():
    assert sleap_env.conda_env_file("onnx_cpu") == "envs/sleap-cpu.yaml"
    assert sleap_env.conda_env_file("onnx_cuda") == "envs/sleap-gpu.yaml"
    assert sleap_env.conda_env_file("tensorrt") == "envs/sleap-tensorrt.yaml"


def test_env_files_pin_the_install_profiles():
    import yaml
    from conftest import REPO

    for name, extra in (
        ("sleap-cpu", "sleap-nn[export]==0.3.5"),
        ("sleap-gpu", "sleap-nn[export-gpu]==0.3.5"),
        ("sleap-tensorrt", "sleap-nn[export-gpu,tensorrt]==0.3.5"),
    ):
        spec = yaml.safe_load((REPO / "envs" / f"{name}.yaml").read_text())
        pip = next(d["pip"] for d in spec["dependencies"] if isinstance(d, dict))
        assert extra in pip
        assert "torch==2.14.1" in pip and "torchvision==0.29.1" in pip
        assert any(str(d).startswith("python =3.1") for d in spec["dependencies"])


@pytest.mark.parametrize(
    ("module", "error", "expected"),
    [
        (
            "torchvision",
            "RuntimeError: operator torchvision::nms does not exist",
            "reinstall torch and torchvision together",
        ),
        (
            "torch",
            "ImportError: /x/libtorch_cuda.so: undefined symbol: ncclAlltoAll",
            "LD_LIBRARY_PATH",
        ),
        ("onnx", "ModuleNotFoundError: No module named 'onnx'", "sleap-nn[export]"),
        ("tensorrt", "ModuleNotFoundError: No module named 'tensorrt'", "tensorrt"),
        ("sleap_nn", "ModuleNotFoundError: No module named 'sleap_nn'", "pose.env"),
        (
            # As an H200 node without libEGL printed it, importing sleap-nn's predictor.
            "sleap_nn.inference.predictor",
            "ImportError: libEGL.so.1: cannot open shared object file: No such file or directory",
            "apt-get install libegl1",
        ),
        (
            "sleap_nn.inference.predictor",
            "ImportError: libfoo.so.3: cannot open shared object file: No such file or directory",
            "install libfoo.so.3",
        ),
    ],
)
def test_preflight_remedies(module, error, expected):
    diagnosis = sleap_preflight.diagnose(module, error, "onnx_cpu", "/env/bin/python")
    assert expected in diagnosis.fix or expected in diagnosis.problem


def test_missing_system_library_explains_skia_only_for_its_libraries():
    error = "ImportError: {}: cannot open shared object file: No such file or directory"
    egl = sleap_preflight.diagnose(
        "sleap_nn.inference.predictor", error.format("libEGL.so.1"), "cpu", "py"
    )
    other = sleap_preflight.diagnose(
        "sleap_nn.inference.predictor", error.format("libfoo.so"), "cpu", "py"
    )
    assert "libEGL.so.1" in egl.problem and "skia-python" in egl.problem
    assert "dnf install libglvnd-egl" in egl.fix
    assert "libfoo.so" in other.problem and "skia" not in other.problem


def test_preflight_asks_for_the_gpu_extras_on_gpu_runtimes():
    diagnosis = sleap_preflight.diagnose(
        "onnxruntime", "ModuleNotFoundError: No module named 'onnxruntime'", "onnx_cuda", "py"
    )
    assert "sleap-nn[export-gpu]" in diagnosis.fix
    assert sleap_preflight.required_modules("cpu") == sleap_preflight.CORE_MODULES
    assert "tensorrt" in sleap_preflight.required_modules("tensorrt")


def test_tables_from_pose_arrays():
    arrays = {
        "frame": np.array([3, 3, 4]),
        "det_id": np.array([0, 1, 0]),
        "points": np.array(
            [[[0, 0], [4, 0]], [[10, 10], [np.nan, np.nan]], [[np.nan, np.nan]] * 2], float
        ),
        "point_scores": np.array([[0.9, 0.8], [0.7, np.nan], [np.nan, np.nan]]),
        "instance_score": np.array([1.7, 0.7, 0.0]),
        "identity": np.array(["female", "", ""]),
        "node_names": np.array(["head", "tail"]),
    }
    poses = pose_tables.poses_table(arrays, "v")
    assert len(poses) == 6
    assert poses["node"].tolist() == ["head", "tail"] * 3
    assert poses.loc[3, ["x", "y"]].isna().all()
    detections = pose_tables.detections_table(arrays, "v")
    assert detections[["frame", "det_id"]].values.tolist() == [[3, 0], [3, 1]]
    assert detections.loc[0, "x"] == 2 and detections.loc[0, "w"] == 4
    assert detections["identity_id"].tolist() == [0, -1]


def test_frames_at_limit_counts_frames_that_fill_every_slot():
    from snakeherd.sleap.handover import PoseArrays
    from snakeherd.sleap.inference import frames_at_limit

    arrays = PoseArrays(node_names=["A", "B"])
    for frame, count in ((0, 2), (1, 4), (2, 3), (5, 4)):
        for det_id in range(count):
            arrays.add(frame, det_id, np.zeros((2, 2)), np.ones(2), 1.0)
    assert frames_at_limit(arrays, 4) == 2
    assert frames_at_limit(arrays, 3) == 3
    assert frames_at_limit(PoseArrays(node_names=["A"]), 4) == 0


def test_export_slots_follow_the_training_labels(shared_data, tmp_path):
    from snakeherd.sleap.export import default_max_instances

    slots, why = default_max_instances(
        [str(shared_data / "sleap/models/minimal_instance_centroid")]
    )
    assert slots == 4 and "minimal_instance_centroid" in why  # the labelled frame has 2 flies
    model = tmp_path / "copied_model"
    model.mkdir()
    shutil.copy(shared_data / "sleap/models/minimal_instance_centroid/best.ckpt", model)
    assert default_max_instances([str(model)]) == (
        20,
        "sleap-nn's default (no training labels beside the model)",
    )
