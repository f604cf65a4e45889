"""SLEAP ≤ 1.4 model folders as sleap-nn checkpoints, so that ``sleap-nn export`` can export them.

Runs inside the SLEAP environment. sleap-nn predicts with a SLEAP ≤ 1.4 folder (``best_model.h5``
+ ``training_config.json``, UNet backbone) by converting it when it loads it: it maps the legacy
config to its own and builds its UNet with the Keras weights. Its exporter loads ``best.ckpt``
only. :func:`as_checkpoint` runs that same loader and writes what it loaded as a sleap-nn model
folder (``best.ckpt`` + ``training_config.yaml``), which the export rule exports and then deletes;
the parity check measures the export against the legacy folder itself, as sleap-nn predicts with
it. HDF5 weights load no code, and the checkpoint written here holds tensors only.
"""

from __future__ import annotations

from pathlib import Path

LEGACY_CHECKPOINT = "best_model.h5"
LEGACY_CONFIG = "training_config.json"


def is_legacy(folder: str | Path) -> bool:
    """A SLEAP ≤ 1.4 folder: ``best_model.h5`` and no sleap-nn checkpoint beside it."""
    folder = Path(folder)
    return (folder / LEGACY_CHECKPOINT).is_file() and not (folder / "best.ckpt").is_file()


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
