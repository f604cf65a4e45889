"""SLEAP ≤ 1.4 model folders as sleap-nn checkpoints, so that ``sleap-nn export`` can export them.

Runs inside the SLEAP environment. sleap-nn predicts with a SLEAP ≤ 1.4 folder (``best_model.h5``
+ ``training_config.json``, UNet backbone) by converting it when it loads it: it maps the legacy
config to its own and builds its UNet with the Keras weights. Its exporter loads ``best.ckpt``
only. :func:`as_checkpoint` runs that same loader and writes what it loaded as a sleap-nn model
folder (``best.ckpt`` + ``training_config.yaml``), which the export rule exports and then deletes;
the parity check measures the export against the legacy folder itself, as sleap-nn predicts with
it. HDF5 weights load no code, and the checkpoint written here holds tensors only.

sleap-nn matches the Keras layers to its UNet's parameters by name and shape, and a layer it cannot
match only logs a warning: the parameter keeps its random initial values and the model predicts
noise. :func:`require_complete_weights` runs that same matching before either loader and fails
naming the folder and the layers.
"""

from __future__ import annotations

import collections
from pathlib import Path

from ..errors import InputFileError

LEGACY_CHECKPOINT = "best_model.h5"
LEGACY_CONFIG = "training_config.json"
# sleap-nn refines peaks by integral regression instead of SLEAP's offset refinement heads, so
# their weights have nothing to load into.
UNUSED_LEGACY_LAYERS = ("OffsetRefinementHead",)


def is_legacy(folder: str | Path) -> bool:
    """A SLEAP ≤ 1.4 folder: ``best_model.h5`` and no sleap-nn checkpoint beside it."""
    folder = Path(folder)
    return (folder / LEGACY_CHECKPOINT).is_file() and not (folder / "best.ckpt").is_file()


def weight_mapping_problems(folder: str | Path) -> list[str]:
    """How sleap-nn's legacy loader would fail to fill the model ``folder`` describes: PyTorch
    parameters no Keras weight fills, Keras weights that fill nothing, parameters filled twice."""
    from sleap_nn.legacy_models import (
        create_model_from_legacy_config,
        load_keras_weights,
        map_legacy_to_pytorch_layers,
    )

    folder = Path(folder)
    model = create_model_from_legacy_config(str(folder))
    weights = load_keras_weights(str(folder / LEGACY_CHECKPOINT))
    mapping = map_legacy_to_pytorch_layers(weights, model)
    filled = collections.Counter(mapping.values())
    problems = [
        f"parameter {name} {tuple(parameter.shape)}: no Keras weight of that layer and shape"
        for name, parameter in model.named_parameters()
        if name not in filled
    ]
    problems += [
        f"parameter {name}: filled by {count} Keras weights"
        for name, count in filled.items()
        if count > 1
    ]
    problems += [
        f"Keras weight {path.removeprefix('model_weights/')} {weights[path].shape}: "
        "no parameter of that name and shape"
        for path in weights
        if path not in mapping and not any(layer in path for layer in UNUSED_LEGACY_LAYERS)
    ]
    return problems


def require_complete_weights(folder: str | Path) -> None:
    """Fail unless sleap-nn fills every parameter of the legacy ``folder`` from its weights."""
    problems = weight_mapping_problems(folder)
    if problems:
        raise InputFileError(
            f"pose.models: sleap-nn cannot load all of {Path(folder) / LEGACY_CHECKPOINT} into "
            f"the UNet its {LEGACY_CONFIG} describes, and would predict with random weights "
            "where it fails:\n  " + "\n  ".join(problems),
            f"check that {LEGACY_CHECKPOINT} is the file SLEAP saved with this "
            f"{LEGACY_CONFIG} (same backbone, filters and heads), or export the model again "
            "from SLEAP ≤ 1.4.",
        )


def _lightning_class(model_type: str):
    from sleap_nn.training import lightning_modules as modules

    return {
        "single_instance": modules.SingleInstanceLightningModule,
        "centroid": modules.CentroidLightningModule,
        "centered_instance": modules.TopDownCenteredInstanceLightningModule,
        "bottomup": modules.BottomUpLightningModule,
        "multi_class_topdown": modules.TopDownCenteredInstanceMultiClassLightningModule,
        "multi_class_bottomup": modules.BottomUpMultiClassLightningModule,
    }[model_type]


def as_checkpoint(folder: str | Path, out: str | Path) -> Path:
    """Write the legacy ``folder`` as a sleap-nn model folder ``out``; returns ``out``."""
    import lightning
    import torch
    from omegaconf import OmegaConf
    from sleap_nn.config.utils import get_model_type_from_cfg
    from sleap_nn.inference.loaders import _load_lightning_module, _load_training_config
    from sleap_nn.legacy_models import get_keras_first_layer_channels

    folder, out = Path(folder), Path(out)
    require_complete_weights(folder)
    config, _ = _load_training_config(str(folder))
    model_type = get_model_type_from_cfg(config=config)
    module, config, backbone_type = _load_lightning_module(
        _lightning_class(model_type), str(folder), model_type=model_type, device="cpu"
    )
    # sleap-nn builds the converted UNet for the channels of the Keras weights, which the legacy
    # config may not record; the exporter rebuilds it from the config.
    channels = get_keras_first_layer_channels(str(folder / LEGACY_CHECKPOINT))
    if channels is not None:
        config.model_config.backbone_config[backbone_type].in_channels = channels
    # A legacy base_checkpoint names weights the model was fine-tuned from: already in these.
    config.model_config.pretrained_backbone_weights = None
    config.model_config.pretrained_head_weights = None
    out.mkdir(parents=True, exist_ok=True)
    torch.save(
        {"state_dict": module.state_dict(), "pytorch-lightning_version": lightning.__version__},
        out / "best.ckpt",
    )
    OmegaConf.save(config, out / "training_config.yaml")
    return out
