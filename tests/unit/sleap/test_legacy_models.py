"""SLEAP ≤ 1.4 model folders (best_model.h5 + training_config.json) read in the main environment:
the kind each is, the pipelines they form, and the folders sleap-nn cannot run named with what
was found and what is needed."""

from __future__ import annotations

import json
import shutil

import pytest

from snakeherd.errors import ConfigError
from snakeherd.sleap import models as sleap_models

CENTROID = "minimal_instance.UNet.centroid"
INSTANCE = "minimal_instance.UNet.centered_instance"
BOTTOMUP = "minimal_instance.UNet.bottomup"


@pytest.fixture(scope="module")
def legacy(shared_data):
    return shared_data / "sleap" / "legacy_models"


def edited_copy(legacy, tmp_path, name, edit=None, remove=()):
    """A writable copy of a legacy folder, its training_config.json changed by ``edit``."""
    folder = tmp_path / name
    shutil.copytree(legacy / name, folder)
    for path in folder.iterdir():
        path.chmod(0o644)
    for file in remove:
        (folder / file).unlink()
    if edit:
        config_path = folder / "training_config.json"
        config = json.loads(config_path.read_text())
        edit(config)
        config_path.write_text(json.dumps(config))
    return folder


@pytest.mark.parametrize(
    ("name", "model_type", "crop_size"),
    [
        (CENTROID, "centroid", None),
        (INSTANCE, "centered_instance", 96),
        (BOTTOMUP, "bottomup", None),
    ],
)
def test_legacy_folders_are_read_with_their_kind(legacy, name, model_type, crop_size):
    model = sleap_models.inspect_model(str(legacy / name))
    assert model.legacy
    assert model.model_type == model_type
    assert model.crop_size == crop_size
    # Decoded from the jsonpickle skeleton, in sleap-nn's order.
    assert model.node_names == ("A", "B")
    assert [file.rsplit("/", 1)[1] for file in model.files()] == [
        "best_model.h5",
        "training_config.json",
    ]


@pytest.mark.parametrize(
    ("names", "detection", "kind"),
    [
        ([CENTROID, INSTANCE], "none", "topdown"),
        ([INSTANCE, CENTROID], "none", "topdown"),
        ([BOTTOMUP], "none", "bottomup"),
        ([INSTANCE], "background", "crops"),
    ],
)
def test_legacy_pipelines(legacy, names, detection, kind):
    pipeline = sleap_models.resolve_pipeline([str(legacy / n) for n in names], detection)
    assert pipeline.kind == kind
    assert pipeline.legacy
    assert pipeline.node_names == ("A", "B")
    if kind == "topdown":
        assert [m.model_type for m in pipeline.models] == ["centroid", "centered_instance"]


def test_legacy_and_sleap_nn_folders_pair(legacy, shared_data):
    pipeline = sleap_models.resolve_pipeline(
        [
            str(legacy / CENTROID),
            str(shared_data / "sleap/models/minimal_instance_centered_instance"),
        ],
        "none",
    )
    assert pipeline.kind == "topdown"
    assert [m.legacy for m in pipeline.models] == [True, False]


def _single_instance(config):
    heads = config["model"]["heads"]
    heads["single_instance"] = {"part_names": ["A", "B"], "sigma": 1.5, "output_stride": 2}
    heads["multi_instance"] = None


def _multi_class_bottomup(config):
    heads = config["model"]["heads"]
    confmaps = heads.pop("multi_instance")["confmaps"]
    heads["multi_class_bottomup"] = {
        "confmaps": confmaps,
        "class_maps": {"classes": ["female", "male"], "sigma": 5.0, "output_stride": 2},
    }


def _multi_class_topdown(config):
    heads = config["model"]["heads"]
    confmaps = heads.pop("centered_instance")
    heads["multi_class_topdown"] = {
        "confmaps": confmaps,
        "class_vectors": {"classes": ["female", "male"], "num_fc_layers": 1},
    }


@pytest.mark.parametrize(
    ("name", "edit", "model_type"),
    [
        (BOTTOMUP, _single_instance, "single_instance"),
        (BOTTOMUP, _multi_class_bottomup, "multi_class_bottomup"),
    ],
)
def test_every_legacy_pose_head_sleap_nn_maps(legacy, tmp_path, name, edit, model_type):
    folder = edited_copy(legacy, tmp_path, name, edit)
    pipeline = sleap_models.resolve_pipeline([str(folder)], "none")
    assert pipeline.kind == model_type
    if model_type == "multi_class_bottomup":
        assert pipeline.models[0].class_names == ("female", "male")


def test_legacy_multi_class_top_down_pair(legacy, tmp_path):
    instance = edited_copy(legacy, tmp_path, INSTANCE, _multi_class_topdown)
    pipeline = sleap_models.resolve_pipeline([str(legacy / CENTROID), str(instance)], "none")
    assert pipeline.kind == "multi_class_topdown"
    assert pipeline.models[1].class_names == ("female", "male")
    assert pipeline.models[1].crop_size == 96


def test_legacy_centroid_alone_is_refused(legacy):
    with pytest.raises(ConfigError) as caught:
        sleap_models.resolve_pipeline([str(legacy / CENTROID)], "none")
    message = str(caught.value)
    assert f"{legacy / CENTROID} is a SLEAP ≤ 1.4 centroid model" in message
    assert "Fix: add its centered-instance model" in message


def test_legacy_folder_without_weights(legacy, tmp_path):
    folder = edited_copy(legacy, tmp_path, INSTANCE, remove=["best_model.h5"])
    with pytest.raises(ConfigError) as caught:
        sleap_models.inspect_model(str(folder), "pose.models[1]")
    message = str(caught.value)
    assert f"pose.models[1]: SLEAP ≤ 1.4 model folder {folder}" in message
    assert "has training_config.json but no best_model.h5" in message
    assert "initial_config.json" in message  # what the folder has
    assert "Fix: copy best_model.h5" in message


def _resnet(config):
    backbone = config["model"]["backbone"]
    backbone["unet"] = None
    backbone["resnet"] = {"version": "ResNet50", "max_stride": 32, "output_stride": 4}


def test_legacy_non_unet_backbone(legacy, tmp_path):
    folder = edited_copy(legacy, tmp_path, BOTTOMUP, _resnet)
    with pytest.raises(ConfigError) as caught:
        sleap_models.inspect_model(str(folder))
    message = str(caught.value)
    assert str(folder) in message
    assert "has the backbone resnet" in message
    assert "with a UNet backbone only" in message
    assert "Fix:" in message


def test_legacy_folder_without_a_pose_head(legacy, tmp_path):
    def no_heads(config):
        config["model"]["heads"] = {key: None for key in config["model"]["heads"]}

    folder = edited_copy(legacy, tmp_path, BOTTOMUP, no_heads)
    with pytest.raises(ConfigError) as caught:
        sleap_models.inspect_model(str(folder))
    assert "has no model head in training_config.json" in str(caught.value)


def test_folder_of_neither_kind(legacy, tmp_path):
    folder = edited_copy(
        legacy, tmp_path, BOTTOMUP, remove=["best_model.h5", "training_config.json"]
    )
    with pytest.raises(ConfigError) as caught:
        sleap_models.inspect_model(str(folder))
    message = str(caught.value)
    assert f"{folder} lacks best.ckpt and training_config.yaml (it has: initial_config.json" in (
        message
    )
    assert "neither a sleap-nn model folder" in message
    assert "nor a SLEAP ≤ 1.4 one (best_model.h5 and training_config.json)" in message
