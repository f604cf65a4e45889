"""SLEAP model folders: what they are, which pipeline they form, where their exports go.

Runs in the main environment (no sleap-nn): a model folder is judged from its files and its
training config alone, so a bad folder or an impossible combination is rejected while Snakemake
parses the config, before any job.

Two kinds of folder:

* a **sleap-nn** model: ``best.ckpt`` + ``training_config.yaml`` (what ``sleap-nn train`` writes);
* a **SLEAP ≤ 1.4** model (TensorFlow/Keras): ``best_model.h5`` + ``training_config.json`` with a
  UNet backbone, which sleap-nn converts to torch itself when it loads the folder (the export
  rule exports what that conversion loads: :mod:`.legacy`).

Pipelines (``pose.models`` with ``pose.method: sleap``):

* ``single_instance`` — one single-instance model, whole frames;
* ``bottomup`` / ``multi_class_bottomup`` — one bottom-up model, whole frames;
* ``topdown`` / ``multi_class_topdown`` — a centroid model and a centered-instance (or
  multi-class top-down) model, whole frames, exported as one folder holding both models'
  exports;
* ``crops`` — one centered-instance model applied to crops around the detections of the
  detection stage (``detection.method`` other than ``none``).

Exported models sit next to the source folder unless ``export_dir`` is set: ``<dir>.onnx/`` for
the ONNX runtimes, ``<dir>.tensorrt/`` for TensorRT; a top-down pair's folder is named after both
folders (``<centroid>+<instance>.onnx/``). sleap-nn freezes the input size at export, so each
folder holds one export per input size, ``<H>x<W>/`` (the video's frame size; the crop size for
a centered-instance model on crops).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError
from ..runtimes import table

CHECKPOINT = "best.ckpt"
TRAINING_CONFIGS = ("training_config.yaml", "training_config.json")
LEGACY_CHECKPOINT = "best_model.h5"
LEGACY_CONFIG = "training_config.json"
LEGACY = "SLEAP ≤ 1.4"
# SLEAP ≤ 1.4 head names, as the model types sleap-nn maps them to.
LEGACY_HEADS = {
    "single_instance": "single_instance",
    "centroid": "centroid",
    "centered_instance": "centered_instance",
    "multi_instance": "bottomup",
    "multi_class_bottomup": "multi_class_bottomup",
    "multi_class_topdown": "multi_class_topdown",
}
# sleap-nn converts SLEAP ≤ 1.4 weights into its own UNet only.
LEGACY_BACKBONES = ("unet",)

SUPPORTED_TYPES = (
    "single_instance",
    "centroid",
    "centered_instance",
    "bottomup",
    "multi_class_bottomup",
    "multi_class_topdown",
)
EXPORT_SUFFIX = {table.ONNX: ".onnx", table.TENSORRT: ".tensorrt"}


@dataclass(frozen=True)
class SleapModel:
    """One trained sleap-nn model folder."""

    path: str
    model_type: str
    training_config: str
    crop_size: int | None
    node_names: tuple[str, ...]
    class_names: tuple[str, ...] = ()
    legacy: bool = False  # a SLEAP ≤ 1.4 folder (best_model.h5 + training_config.json)

    @property
    def checkpoint(self) -> str:
        return str(Path(self.path) / (LEGACY_CHECKPOINT if self.legacy else CHECKPOINT))

    @property
    def name(self) -> str:
        return Path(self.path).name

    def files(self) -> list[str]:
        """The files whose change makes exports and predictions stale."""
        return [self.checkpoint, self.training_config]


@dataclass(frozen=True)
class SleapPipeline:
    """The model folders of ``pose.models``, ordered and classified."""

    kind: str
    models: tuple[SleapModel, ...]

    @property
    def on_crops(self) -> bool:
        return self.kind == "crops"

    @property
    def paths(self) -> list[str]:
        return [model.path for model in self.models]

    @property
    def node_names(self) -> tuple[str, ...]:
        return self.models[-1].node_names

    @property
    def legacy(self) -> bool:
        """Whether any of its models is a SLEAP ≤ 1.4 folder."""
        return any(model.legacy for model in self.models)

    def files(self) -> list[str]:
        return [file for model in self.models for file in model.files()]

    def export_name(self) -> str:
        """The export folder's stem: the model folder, or both folders of a top-down pair."""
        return "+".join(model.name for model in self.models)

    def export_root(self, runtime_family: str, export_dir: str | None) -> str:
        """``<dir>.onnx`` / ``<dir>.tensorrt`` next to the (first) model, or under export_dir."""
        parent = Path(export_dir) if export_dir else Path(self.models[0].path).parent
        return str(parent / (self.export_name() + EXPORT_SUFFIX[runtime_family]))


def _read_training_config(path: Path) -> dict:
    import json

    import yaml

    text = path.read_text()
    try:
        data = yaml.safe_load(text) if path.suffix == ".yaml" else json.loads(text)
    except (yaml.YAMLError, json.JSONDecodeError) as error:
        raise ConfigError(
            f"SLEAP model {path.parent}: {path.name} cannot be parsed ({error}).",
            "restore the training_config file written by `sleap-nn train`.",
        ) from None
    if not isinstance(data, dict):
        raise ConfigError(
            f"SLEAP model {path.parent}: {path.name} is not a sleap-nn training config.",
            "restore the training_config file written by `sleap-nn train`.",
        )
    return data


def _head_type(config: dict, folder: Path, config_name: str) -> tuple[str, dict]:
    heads = ((config.get("model_config") or {}).get("head_configs")) or {}
    active = {name: head for name, head in heads.items() if head is not None}
    if len(active) != 1:
        raise ConfigError(
            f"SLEAP model {folder}: {config_name} has "
            + (f"the heads {sorted(active)}" if active else "no model head")
            + ", not one sleap-nn model type.",
            "point pose.models at a folder written by `sleap-nn train`, or at a SLEAP ≤ 1.4 "
            "folder as SLEAP wrote it (best_model.h5 and training_config.json, no best.ckpt).",
        )
    model_type, head = next(iter(active.items()))
    if model_type not in SUPPORTED_TYPES:
        raise ConfigError(
            f"SLEAP model {folder} is a '{model_type}' model; the SLEAP pose stage runs "
            f"{', '.join(SUPPORTED_TYPES)} models.",
            "use a pose model (single-instance, bottom-up, or a centroid + centered-instance "
            "pair).",
        )
    return model_type, head


def _names(items) -> tuple[str, ...]:
    names = []
    for item in items or []:
        names.append(str(item["name"]) if isinstance(item, dict) else str(item))
    return tuple(names)


def _present(folder: Path) -> str:
    return ", ".join(sorted(p.name for p in folder.iterdir())[:8]) or "nothing"


def _is_legacy_config(config: dict) -> bool:
    """A SLEAP ≤ 1.4 training config: ``model.backbone`` / ``model.heads``, no ``model_config``."""
    model = config.get("model")
    return "model_config" not in config and isinstance(model, dict) and "heads" in model


def inspect_model(path: str, key: str = "pose.models") -> SleapModel:
    """Check one model folder and read its type; raises :class:`ConfigError`."""
    folder = Path(path)
    if not folder.is_dir():
        raise ConfigError(
            f"{key}: {path} is not a folder; the SLEAP pose stage takes trained sleap-nn "
            "model folders (with best.ckpt and training_config.yaml) or SLEAP ≤ 1.4 model "
            "folders (with best_model.h5 and training_config.json).",
            "give the model folder (not a file inside it).",
        )
    configs = [folder / name for name in TRAINING_CONFIGS if (folder / name).is_file()]
    if not (folder / CHECKPOINT).is_file() and (folder / LEGACY_CONFIG).is_file():
        config = _read_training_config(folder / LEGACY_CONFIG)
        if _is_legacy_config(config):
            return inspect_legacy_model(folder, config, key)
    missing = []
    if not (folder / CHECKPOINT).is_file():
        missing.append(CHECKPOINT)
    if not configs:
        missing.append(TRAINING_CONFIGS[0])
    if missing:
        raise ConfigError(
            f"{key}: SLEAP model folder {path} lacks {' and '.join(missing)} "
            f"(it has: {_present(folder)}); it is neither a sleap-nn model folder (best.ckpt "
            f"and training_config.yaml) nor a {LEGACY} one (best_model.h5 and "
            "training_config.json).",
            "point pose.models at the folder `sleap-nn train` wrote, which holds best.ckpt "
            "and training_config.yaml, or at the folder SLEAP ≤ 1.4 trained into, which holds "
            "best_model.h5 and training_config.json.",
        )
    config = _read_training_config(configs[0])
    model_type, head = _head_type(config, folder, configs[0].name)
    preprocessing = (config.get("data_config") or {}).get("preprocessing") or {}
    crop_size = preprocessing.get("crop_size")
    skeletons = (config.get("data_config") or {}).get("skeletons") or []
    nodes = _names(skeletons[0].get("nodes")) if skeletons else ()
    confmaps = head.get("confmaps") or {}
    if not nodes:
        nodes = _names(confmaps.get("part_names"))
    return SleapModel(
        path=str(folder),
        model_type=model_type,
        training_config=str(configs[0]),
        crop_size=int(crop_size) if crop_size else None,
        node_names=nodes,
        class_names=_class_names(head),
    )


def _class_names(head: dict) -> tuple[str, ...]:
    class_names: tuple[str, ...] = ()
    for part in ("class_vectors", "class_maps"):
        classes = (head.get(part) or {}).get("classes")
        if classes:
            class_names = _names(classes)
    return class_names


def _legacy_node_names(config: dict, head: dict) -> tuple[str, ...]:
    """The skeleton's nodes, as sleap-nn decodes them (its part order), else the head's parts."""
    from sleap_io.io.skeleton import decode_training_config

    try:
        skeletons = decode_training_config(config)
    except (ValueError, KeyError, TypeError, IndexError):
        skeletons = []
    if not isinstance(skeletons, list):
        skeletons = [skeletons]
    if skeletons:
        return tuple(skeletons[0].node_names)
    return _names(head.get("part_names") or (head.get("confmaps") or {}).get("part_names"))


def inspect_legacy_model(folder: Path, config: dict, key: str = "pose.models") -> SleapModel:
    """A SLEAP ≤ 1.4 folder: UNet backbone, one head sleap-nn maps, ``best_model.h5`` beside it."""
    where = f"{key}: {LEGACY} model folder {folder}"
    model = config["model"]
    backbones = sorted(
        name for name, value in (model.get("backbone") or {}).items() if value is not None
    )
    if backbones != list(LEGACY_BACKBONES):
        raise ConfigError(
            f"{where} has the backbone {', '.join(backbones) or 'none'} in "
            f"{LEGACY_CONFIG}; sleap-nn converts {LEGACY} models with a UNet backbone only.",
            "retrain the model with a UNet backbone (in SLEAP ≤ 1.4, or with `sleap-nn "
            "train`), or run those videos in SLEAP ≤ 1.4 and give the predictions (.slp) "
            "instead.",
        )
    heads = {name: head for name, head in (model.get("heads") or {}).items() if head is not None}
    if len(heads) != 1 or next(iter(heads)) not in LEGACY_HEADS:
        raise ConfigError(
            f"{where} has "
            + (f"the heads {sorted(heads)}" if heads else "no model head")
            + f" in {LEGACY_CONFIG}; sleap-nn runs {LEGACY} models with one of the heads "
            f"{', '.join(LEGACY_HEADS)}.",
            "point pose.models at a pose model folder (single-instance, bottom-up, or a "
            "centroid + centered-instance pair).",
        )
    if not (folder / LEGACY_CHECKPOINT).is_file():
        raise ConfigError(
            f"{where} has {LEGACY_CONFIG} but no {LEGACY_CHECKPOINT}, the model's weights "
            f"(it has: {_present(folder)}).",
            f"copy {LEGACY_CHECKPOINT} from the folder SLEAP trained the model into, or point "
            "pose.models at that folder.",
        )
    head_name, head = next(iter(heads.items()))
    crop_size = ((config.get("data") or {}).get("instance_cropping") or {}).get("crop_size")
    return SleapModel(
        path=str(folder),
        model_type=LEGACY_HEADS[head_name],
        training_config=str(folder / LEGACY_CONFIG),
        crop_size=int(crop_size) if crop_size else None,
        node_names=_legacy_node_names(config, head),
        class_names=_class_names(head),
        legacy=True,
    )


def _describe(models) -> str:
    return ", ".join(f"{m.path} ({LEGACY + ' ' if m.legacy else ''}{m.model_type})" for m in models)


def resolve_pipeline(paths: list[str], detection_method: str) -> SleapPipeline:
    """Classify ``pose.models`` into one pipeline; raises :class:`ConfigError` when impossible."""
    models = [inspect_model(p, f"pose.models[{i}]") for i, p in enumerate(paths)]
    types = sorted(m.model_type for m in models)
    detect = detection_method != "none"

    if detect:
        if types != ["centered_instance"]:
            raise ConfigError(
                f"pose.models: on detection crops (detection.method: {detection_method}) the "
                "SLEAP stage runs one centered-instance model, but pose.models has "
                f"{_describe(models)}.",
                "list one centered-instance model folder; or set detection.method: none so "
                "SLEAP finds the animals itself (single-instance, bottom-up or a centroid + "
                "centered-instance pair).",
            )
        if models[0].crop_size is None:
            raise ConfigError(
                f"pose.models: centered-instance model {models[0].path} has no crop_size in "
                "its training config.",
                "use a centered-instance model whose training config records its crop size "
                "(sleap-nn: data_config.preprocessing.crop_size; SLEAP ≤ 1.4: "
                "data.instance_cropping.crop_size).",
            )
        return SleapPipeline("crops", tuple(models))

    if len(models) == 1:
        (model,) = models
        if model.model_type in ("single_instance", "bottomup", "multi_class_bottomup"):
            return SleapPipeline(model.model_type, (model,))
        if model.model_type == "centroid":
            raise ConfigError(
                f"pose.models: {model.path} is a {LEGACY + ' ' if model.legacy else ''}"
                "centroid model, which finds animals but "
                "not their keypoints.",
                "add its centered-instance model to pose.models (a top-down pair).",
            )
        raise ConfigError(
            f"pose.models: {model.path} is a {model.model_type} model, which needs the "
            "animals found first.",
            "add the centroid model of the pair to pose.models, or run it on detection crops "
            "(detection.method: background or yolo_obb).",
        )
    if len(models) == 2:
        if types == ["centroid", "centroid"]:
            raise ConfigError(
                f"pose.models: both models are centroid models ({_describe(models)}); a "
                "top-down pair is one centroid model and one centered-instance model.",
                "replace one of them with the centered-instance model trained for the pair.",
            )
        if "centroid" in types:
            other = next(m for m in models if m.model_type != "centroid")
            if other.model_type in ("centered_instance", "multi_class_topdown"):
                centroid = next(m for m in models if m.model_type == "centroid")
                kind = (
                    "topdown"
                    if other.model_type == "centered_instance"
                    else ("multi_class_topdown")
                )
                if other.crop_size is None:
                    raise ConfigError(
                        f"pose.models: {other.path} has no crop_size in its training config.",
                        "use a centered-instance model whose training config records its crop "
                        "size (as sleap-nn and SLEAP ≤ 1.4 write it after training).",
                    )
                return SleapPipeline(kind, (centroid, other))
        raise ConfigError(
            f"pose.models: {_describe(models)} do not form a top-down pair.",
            "give one centroid model and one centered-instance (or multi-class top-down) "
            "model, or a single single-instance / bottom-up model.",
        )
    raise ConfigError(
        f"pose.models: {len(models)} SLEAP models given; the SLEAP stage takes one model or "
        "a top-down pair.",
        "list one single-instance / bottom-up model, or a centroid + centered-instance pair.",
    )


def runtime_family(runtime: str) -> str | None:
    """``onnx`` / ``tensorrt`` for runtimes that run an exported model, else None."""
    family = table.get(runtime).family
    return family if family in EXPORT_SUFFIX else None


def export_folder(
    pipeline: SleapPipeline, runtime: str, export_dir: str | None, height: int, width: int
) -> str | None:
    """Where the export for ``runtime`` at this frame size lives (None for native runtimes)."""
    family = runtime_family(runtime)
    if family is None:
        return None
    if pipeline.on_crops:
        height = width = int(pipeline.models[0].crop_size)
    return f"{pipeline.export_root(family, export_dir)}/{int(height)}x{int(width)}"
