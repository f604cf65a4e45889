"""The SLEAP export's instance slots, from the training labels beside a model."""

from __future__ import annotations

import shutil


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
