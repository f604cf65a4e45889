"""sleap-nn predictors on every runtime SLEAP supports, with exported models made exact.

Runs inside the SLEAP environment. Native runtimes (``cpu``, ``mps``, ``cuda``) load the
checkpoints with ``Predictor.from_model_paths``, with the same defaults as ``sleap-nn predict``.
Exported runtimes load ``Predictor.from_export_dir`` and swap its model backend for ours, wrapped
in :class:`.corrections.CorrectingBackend`:

* ``onnx_*``: an ONNX Runtime session built here, with the rule's thread count, full graph
  optimisation and no spinning, on exactly the provider list of the runtime (a session that
  silently fell back to the CPU fails the job);
* ``tensorrt``: sleap-nn's TensorRT engine backend.

A top-down pair is exported one model each and composed here by sleap-nn's own ``TopDownLayer``
(:func:`topdown_pair_predictor`): refined centroids, crops cut as the checkpoint path cuts them,
multi-class crops assigned to classes frame by frame. The exported layers carry no class names,
so without :class:`ClassNamedLayer` their instances would have no identity.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import InputFileError, RuntimeUnavailableError
from ..runtimes import onnx_sessions, table
from . import legacy
from .corrections import (
    INTEGRAL_PATCH_SIZE,
    PEAK_THRESHOLD,
    CorrectingBackend,
    ExportGeometry,
)

# A top-down pair is exported as its two models, one sleap-nn export each, in these sub-folders
# of the export folder; the stage runs them as sleap-nn's own top-down layer does.
TOPDOWN_PARTS = ("centroid", "centered_instance")


class OrtSessionBackend:
    """An ONNX Runtime session on exactly the runtime's providers (sleap-nn backend protocol)."""

    does_baked_postproc = True

    def __init__(self, model_path: str, runtime: str, threads: int):
        import numpy as np

        self.session = onnx_sessions.open_onnxruntime_session(model_path, runtime, threads)
        self.providers = self.session.get_providers()
        inputs = self.session.get_inputs()[0]
        self.input_name = inputs.name
        self.input_dtype = np.uint8 if inputs.type == "tensor(uint8)" else np.float32
        channels = inputs.shape[1] if len(inputs.shape) == 4 else None
        self.channels = channels if isinstance(channels, int) else None
        self.output_names = [output.name for output in self.session.get_outputs()]

    def warmup(self, input_shape) -> None:
        import numpy as np

        self.session.run(None, {self.input_name: np.zeros(input_shape, self.input_dtype)})

    def __call__(self, x):
        import numpy as np
        import torch

        x = match_channels(x, self.channels)
        array = x.detach().cpu().numpy() if hasattr(x, "detach") else np.asarray(x)
        if array.dtype != self.input_dtype:
            array = array.astype(self.input_dtype)
        outputs = self.session.run(None, {self.input_name: array})
        return {
            name: torch.from_numpy(np.asarray(value))
            for name, value in zip(self.output_names, outputs, strict=True)
        }


def match_channels(x, channels: int | None):
    """Grey frames for an RGB-trained graph (or the reverse), as the checkpoint path converts.

    The checkpoint path coerces channels to what the model was trained on; the exported graph
    takes its input as is, so a grey video fails on an RGB-trained export without this.
    """
    if channels is None or x.shape[-3] == channels:
        return x
    from sleap_nn.data.normalization import convert_to_grayscale, convert_to_rgb

    return convert_to_rgb(x) if channels == 3 else convert_to_grayscale(x)


def set_torch_threads(threads: int) -> None:
    import torch

    torch.set_num_threads(max(1, int(threads)))


def native_predictor(
    model_paths: list[str],
    runtime: str,
    batch_size: int,
    threads: int,
    max_instances: int | None = None,
):
    """A checkpoint predictor with ``sleap-nn predict``'s defaults."""
    from sleap_nn.inference.predictor import Predictor

    for path in model_paths:
        if legacy.is_legacy(path):
            legacy.require_complete_weights(path)
    set_torch_threads(threads)
    return Predictor.from_model_paths(
        list(model_paths),
        device=table.get(runtime).torch_device,
        batch_size=batch_size,
        peak_threshold=PEAK_THRESHOLD,
        integral_refinement="integral",
        integral_patch_size=INTEGRAL_PATCH_SIZE,
        max_instances=max_instances,
    )


def exported_predictor(
    export_folder: str,
    runtime: str,
    batch_size: int,
    threads: int,
    correct: bool = True,
    max_instances: int | None = None,
):
    """A predictor on an exported model folder, with our backend and (optionally) corrections."""
    from sleap_nn.inference.predictor import Predictor

    folder = Path(export_folder)
    if all((folder / part).is_dir() for part in TOPDOWN_PARTS):
        return topdown_pair_predictor(folder, runtime, batch_size, threads, correct, max_instances)
    if not (folder / "export_metadata.json").exists():
        raise InputFileError(
            f"exported SLEAP model {folder} has no export_metadata.json.",
            "delete the folder and re-run: the export rule writes it again.",
        )
    set_torch_threads(threads)
    row = table.get(runtime)
    if row.family == table.TENSORRT:
        predictor = Predictor.from_export_dir(
            folder,
            runtime=row.family,
            device=row.torch_device,
            batch_size=batch_size,
            max_instances=max_instances,
        )
        inner = predictor.layer.backend
    else:
        predictor = Predictor.from_export_dir(
            folder,
            runtime=row.family,
            device="cpu",
            batch_size=batch_size,
            max_instances=max_instances,
        )
        # from_export_dir opened a default session; ours replaces it (threads, providers).
        inner = OrtSessionBackend(str(folder / "model.onnx"), runtime, threads)
    metadata = json.loads((folder / "export_metadata.json").read_text())
    geometry = ExportGeometry.read(folder, metadata)
    predictor.layer.backend = CorrectingBackend(inner, geometry, correct)
    class_names = metadata.get("class_names")
    if class_names and hasattr(predictor.layer, "n_classes"):
        predictor.layer = ClassNamedLayer(predictor.layer, class_names)
    return predictor


def topdown_pair_predictor(
    folder: Path, runtime: str, batch_size: int, threads: int, correct: bool, max_instances
):
    """A top-down pair's two exports, composed by sleap-nn's own top-down layer.

    sleap-nn's one-graph top-down bundle finds its centroids on the centroid model's grid and
    samples its crops there, inside the graph; the checkpoint path refines the centroids first and
    cuts whole-pixel crops around them. Exported one model each, the stage refines the centroids
    from the centroid graph's maps, and sleap-nn's ``TopDownLayer`` cuts the crops exactly as it
    does for the checkpoints before the centered-instance graph runs on them.
    """
    from sleap_nn.inference.layers.topdown import TopDownLayer
    from sleap_nn.inference.predictor import Predictor

    instance_part = TOPDOWN_PARTS[1]
    centroid, instance = (
        exported_predictor(folder / part, runtime, batch_size, threads, correct, max_instances)
        for part in TOPDOWN_PARTS
    )
    metadata = json.loads((folder / instance_part / "export_metadata.json").read_text())
    n_nodes = int(metadata["n_nodes"])

    class ExportedPairLayer(TopDownLayer):
        def _infer_n_nodes(self) -> int:  # sleap-nn's reads it off a torch model
            return n_nodes

    layer = ExportedPairLayer(
        centroid_layer=CentroidStage(centroid.layer),
        centered_instance_layer=CenteredInstanceStage(
            instance.layer,
            int(metadata.get("max_batch_size") or 0),
            class_vectors=metadata["model_type"] == "multi_class_topdown",
        ),
        crop_size=tuple(int(side) for side in metadata["crop_size"]),
        # Crops come from frames size-matched as the centroid model's were (None: as they are).
        crop_max_hw=centroid.layer.backend.geometry.max_hw or (None, None),
    )
    # A multi-class pair: the layer assigns each frame's crops to classes; tracks take the names.
    layer.class_names = metadata.get("class_names")
    layer.class_output = "track"
    return Predictor(
        layer=layer,
        skeleton=instance.skeleton,
        batch_size=batch_size,
        model_paths=[str(folder)],
        device=instance.device,
    )


class CentroidStage:
    """An exported centroid layer in the place sleap-nn's top-down layer has its own."""

    use_gt_centroids = False

    def __init__(self, layer):
        self.layer = layer

    @staticmethod
    def _to_4d_tensor(image):
        from sleap_nn.inference.layers.exported import _to_4d_tensor_for_export

        return _to_4d_tensor_for_export(image)

    def predict(self, image, **_kwargs):
        return self.layer.predict(image)


class CenteredInstanceStage:
    """An exported centered-instance layer in the place sleap-nn's top-down layer has its own.

    The top-down layer hands it every crop of a batch of frames at once; an engine built for at
    most ``max_batch`` inputs gets them in runs of that many. With ``class_vectors`` (the
    instance model of a multi-class pair), each crop's class vector goes back with its keypoints,
    as sleap-nn's multi-class instance layer returns it, for the top-down layer to assign the
    classes frame by frame.
    """

    use_gt_peaks = False

    def __init__(self, layer, max_batch: int, class_vectors: bool = False):
        self.layer = layer
        self.max_batch = max_batch
        self.class_vectors = class_vectors

    def predict(self, crops, **_kwargs):
        import torch
        from sleap_nn.inference.outputs import Outputs

        step = self.max_batch or len(crops)
        runs = [self._run(crops[start : start + step]) for start in range(0, len(crops), step)]
        if len(runs) == 1:
            return runs[0]
        fields = ("pred_keypoints", "pred_peak_values", "pred_class_probs")
        return Outputs(
            **{
                field: torch.cat([getattr(run, field) for run in runs])
                for field in fields
                if getattr(runs[0], field) is not None
            }
        )

    def _run(self, crops):
        if not self.class_vectors:
            return self.layer.predict(crops)
        from sleap_nn.inference.layers.exported import _raw_to_cpu, _to_4d_tensor_for_export
        from sleap_nn.inference.outputs import Outputs

        raw = _raw_to_cpu(self.layer.backend(_to_4d_tensor_for_export(crops)))
        return Outputs(
            pred_keypoints=raw["peaks"].unsqueeze(1),
            pred_peak_values=raw["peak_vals"].unsqueeze(1),
            pred_class_probs=raw["class_logits"].unsqueeze(1),
        )


class ClassNamedLayer:
    """sleap-nn's exported multi-class layer with the class names the predictor asks it for.

    The exported layers know no class names (their attrs classes have no such slot), so their
    instances would come out without identities; the export metadata lists the names in class
    order, as the checkpoint's training config does.
    """

    def __init__(self, layer, class_names):
        self._layer = layer
        self.class_names = [str(name) for name in class_names]

    def __getattr__(self, name):
        return getattr(self._layer, name)


def build_predictor(
    model_paths: list[str],
    runtime: str,
    export_folder: str | None,
    batch_size: int = 4,
    threads: int = 1,
    correct: bool = True,
    max_instances: int | None = None,
):
    """The predictor for ``runtime``: checkpoints on native runtimes, the export otherwise."""
    stage = table.MODEL_STAGES["sleap"]
    if runtime not in stage.runtimes:
        raise RuntimeUnavailableError(
            f"the SLEAP stage does not support runtime '{runtime}'.",
            f"use one of {', '.join(stage.supported())}.",
        )
    if not table.get(runtime).exports:
        return native_predictor(model_paths, runtime, batch_size, threads, max_instances)
    if export_folder is None:
        raise RuntimeUnavailableError(
            f"runtime '{runtime}' runs an exported model, and no export folder was given.",
            "run through the workflow, whose export rule writes it.",
        )
    return exported_predictor(export_folder, runtime, batch_size, threads, correct, max_instances)
