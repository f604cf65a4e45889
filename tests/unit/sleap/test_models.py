"""SLEAP model folders read in the main environment (no sleap-nn): model types, the pipelines
they form, impossible combinations named, and where their exports go."""

from __future__ import annotations

import shutil

import pytest

from snakeherd.errors import ConfigError
from snakeherd.sleap import models as sleap_models


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
