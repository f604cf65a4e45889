"""sleap-nn predictors on every runtime SLEAP supports, with exported models made exact.

Runs inside the SLEAP environment. Native runtimes (``cpu``, ``mps``, ``cuda``) load the
checkpoints with ``Predictor.from_model_paths``, with the same defaults as ``sleap-nn predict``.
Exported runtimes load ``Predictor.from_export_dir`` and swap its model backend for ours:

* ``onnx_*``: an ONNX Runtime session built here, with the rule's thread count, full graph
  optimisation and no spinning, on exactly the provider list of the runtime (a session that
  silently fell back to the CPU fails the job);
* ``tensorrt``: sleap-nn's TensorRT engine backend.

sleap-nn's exported graphs skip the checkpoint path's integral peak refinement, and its one-graph
top-down bundle finds its centroids unrefined and cuts its crops there with ``grid_sample`` on a
grid ``(W-1)/W`` too wide, but maps keypoints back as if it were not, which puts keypoints about
half a pixel up-left of where they belong (DESIGN.md §7: ~1.6 px median from the checkpoint on
centered_pair). A top-down pair is therefore exported one model each and composed here by
sleap-nn's own ``TopDownLayer`` (:func:`topdown_pair_predictor`): refined centroids, crops cut as
the checkpoint path cuts them, multi-class crops assigned to classes frame by frame.
:class:`CorrectingBackend` repairs each graph's outputs: it maps the crop keypoints of a bundle
exported by an earlier version back through the crop's exact sampling grid, and, where the export
rule exposed the graph's confidence maps (``confmaps`` output, added by :func:`expose_confmaps`),
refines every peak with sleap-nn's own integral refinement, as the checkpoint path does: global
peaks (single-instance, centered-instance, multi-class top-down, top-down bundle) and local ones
(bottom-up, centroid). The multi-class bottom-up graph also reads each peak's class at its grid
point, so the stage reads it again at the refined point from the exposed class maps, where the
checkpoint path reads it. Two more gaps of sleap-nn's multi-class exports are closed here: the
multi-class bottom-up graph divides its peaks by the input scale and the predictor divides them
again (a 0.375-scale model's keypoints land 2.7× too far from the origin), and the exported layers
carry no class names, so without :class:`ClassNamedLayer` their instances have no identity.
Where a model shrinks its input, :func:`antialias_input_resize` has the graph do it antialiased,
as the checkpoint path's torchvision resize does.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

from . import runtimes
from .errors import InputFileError, RuntimeUnavailableError

logger = logging.getLogger("snakeherd")

CONFMAPS_OUTPUT = "confmaps"
CLASS_MAPS_OUTPUT = "class_maps"
INTEGRAL_PATCH_SIZE = 5  # sleap-nn predict's default
PEAK_THRESHOLD = 0.2  # sleap-nn predict's default
TORCH_DEVICES = {"cpu": "cpu", "mps": "mps", "cuda": "cuda"}
# sleap-nn's one-graph top-down bundles (export_metadata model_type) and the training config of
# their instance model, copied into the bundle. The stage exports pairs one model each; bundles
# exported by earlier versions still run, with the corrections below. The multi-class bundle cuts
# and maps back its crops exactly as the plain one does, so both get the same ones.
TOPDOWN_BUNDLES = {
    "topdown": "training_config_centered_instance.yaml",
    "multi_class_topdown_combined": "training_config_multi_class_topdown.yaml",
}
# Graphs that find each keypoint with a global peak (ArgMax) or many with local peaks (TopK).
GLOBAL_PEAK_TYPES = (
    "single_instance",
    "centered_instance",
    "multi_class_topdown",  # the instance model of a multi-class pair, on crops
    *TOPDOWN_BUNDLES,
)
LOCAL_PEAK_TYPES = ("bottomup", "multi_class_bottomup", "centroid")
# A top-down pair is exported as its two models, one sleap-nn export each, in these sub-folders
# of the export folder; the stage runs them as sleap-nn's own top-down layer does.
TOPDOWN_PARTS = ("centroid", "centered_instance")
# Whole-frame models whose checkpoint path resizes and pads frames to the training config's
# max_height x max_width (sleap-nn's sizematcher) while their exported graph does not.
SIZE_MATCHED_TYPES = ("single_instance", "bottomup", "multi_class_bottomup", "centroid")


@dataclass(frozen=True)
class ExportGeometry:
    """What the correction needs to know about an exported graph."""

    model_type: str
    output_stride: float
    instance_scale: float  # input scale of the model whose peaks the graph reports
    crop_size: tuple[int, int] | None
    max_hw: tuple[int, int] | None = None
    class_maps_stride: float | None = None  # multi-class bottom-up graphs

    @classmethod
    def read(cls, folder: Path, metadata: dict) -> ExportGeometry:
        """From an export folder and its ``export_metadata.json`` (parsed)."""
        model_type = metadata["model_type"]
        scale = float(metadata.get("input_scale") or 1.0)
        if model_type in TOPDOWN_BUNDLES:
            # The bundle's input_scale is the centroid model's; crops use the instance model's.
            scale = _training_scale(folder / TOPDOWN_BUNDLES[model_type])
        crop = metadata.get("crop_size")
        max_hw = class_maps_stride = None
        if model_type in SIZE_MATCHED_TYPES:
            max_hw = training_max_hw(folder / "training_config.yaml")
        if model_type == "multi_class_bottomup":
            class_maps_stride = _class_maps_stride(folder / "training_config.yaml")
        return cls(
            model_type=model_type,
            output_stride=float(metadata["output_stride"]),
            instance_scale=scale,
            crop_size=(int(crop[0]), int(crop[1])) if crop else None,
            max_hw=max_hw,
            class_maps_stride=class_maps_stride,
        )

    def corrections(self, confmaps: bool) -> list[str]:
        """What :class:`CorrectingBackend` repairs in this export's output, for its parity record.

        ``confmaps``: the runtime gets the maps :func:`expose_confmaps` added.
        """
        repairs = []
        if self.model_type in TOPDOWN_BUNDLES:
            repairs.append("crop-grid geometry")
        if self.model_type == "multi_class_bottomup":
            repairs.append("input scale applied once")
        if confmaps and self.model_type in (*GLOBAL_PEAK_TYPES, *LOCAL_PEAK_TYPES):
            repairs.append("integral peak refinement")
        if confmaps and self.class_maps_stride:
            repairs.append("classes read at the refined peaks")
        return repairs


def _training_config(path: Path) -> dict:
    """A model's training config ({} where the export folder has none)."""
    import yaml

    return (yaml.safe_load(path.read_text()) or {}) if path.exists() else {}


def training_max_hw(path: Path) -> tuple[int, int] | None:
    """The frame size a whole-frame model resizes and pads every frame to (None: as is)."""
    config = _training_config(path)
    preprocessing = (config.get("data_config") or {}).get("preprocessing") or {}
    height, width = preprocessing.get("max_height"), preprocessing.get("max_width")
    if height is None or width is None:
        return None
    return int(height), int(width)


def _training_scale(path: Path) -> float:
    config = _training_config(path)
    preprocessing = (config.get("data_config") or {}).get("preprocessing") or {}
    return float(preprocessing.get("scale") or 1.0)


def _class_maps_stride(path: Path) -> float | None:
    """The class-map head's output stride (the export metadata has the confidence maps' only)."""
    config = _training_config(path)
    heads = (config.get("model_config") or {}).get("head_configs") or {}
    class_maps = (heads.get("multi_class_bottomup") or {}).get("class_maps") or {}
    stride = class_maps.get("output_stride")
    return float(stride) if stride else None


def crop_grid_to_image(points, centroids, crop_size, image_hw):
    """Exact image coordinates of crop-tensor points of sleap-nn's top-down bundle.

    The bundle samples crop pixel ``p`` (0..c-1) at ``cx + (-1 + 2p/(c-1)) · c(W-1)/(2W)``
    (``grid_sample`` with ``align_corners=True``), yet adds back ``cx - c/2``. ``points`` holds
    what the graph reported (``p + cx - c/2``); the result is where ``p`` really was sampled.
    """
    import torch

    crop_h, crop_w = crop_size
    height, width = image_hw
    half = points.new_tensor([crop_w / 2.0, crop_h / 2.0])
    size = points.new_tensor([float(crop_w), float(crop_h)])
    extent = points.new_tensor([width, height], dtype=points.dtype)
    crop_points = points - centroids.unsqueeze(-2) + half
    span = size * (extent - 1) / (2 * extent)
    unit = -1 + 2 * crop_points / (size - 1)
    return torch.as_tensor(centroids.unsqueeze(-2) + unit * span)


def refined_local_peaks(confmaps, peaks, valid, output_stride: float):
    """The graph's local peaks refined as sleap-nn's ``find_local_peaks`` refines its own.

    ``peaks``: ``(n, nodes, k, 2)`` in pixels of the model's input (grid points × stride);
    ``valid``: ``(n, nodes, k)``, the slots holding a peak. The graph's points are the checkpoint
    path's rough peaks, so the same patch around each, integrated, gives the same offset.
    """
    import torch
    from sleap_nn.inference.ops.crops import crop_bboxes, make_centered_bboxes
    from sleap_nn.inference.ops.peaks import integral_regression

    samples, channels = confmaps.shape[:2]
    sample_inds, channel_inds, slot_inds = valid.nonzero(as_tuple=True)
    if sample_inds.numel() == 0:
        return peaks
    # Grid points come back through a float multiply (and, for multi-class graphs, a divide by
    # the input scale): a point on x = 3 may read 2.9999998, which must not floor to 2.
    anchors = torch.floor(peaks[sample_inds, channel_inds, slot_inds] / output_stride + 1e-4)
    boxes = make_centered_bboxes(
        anchors, box_height=INTEGRAL_PATCH_SIZE, box_width=INTEGRAL_PATCH_SIZE
    )
    maps = confmaps.reshape(samples * channels, 1, *confmaps.shape[2:])
    patches = crop_bboxes(maps, boxes, sample_inds=sample_inds * channels + channel_inds)
    grid = torch.arange(INTEGRAL_PATCH_SIZE, dtype=torch.float32) - (INTEGRAL_PATCH_SIZE - 1) / 2
    dx, dy = integral_regression(patches, xv=grid, yv=grid)
    refined = peaks.clone()
    refined[sample_inds, channel_inds, slot_inds] = (
        anchors + torch.cat([dx, dy], dim=1)
    ) * output_stride
    return refined


def class_probs_at_peaks(class_maps, peaks, valid, class_maps_stride: float):
    """Class-map values at each valid peak, read as sleap-nn's checkpoint path reads them.

    The checkpoint path reads the nearest class-map pixel of each refined peak; the multi-class
    graph interpolates at its unrefined one. On a weakly trained model the two can tip the
    assignment of a peak to a class, which moves a keypoint to another animal.
    """
    import torch

    _, classes, height, width = class_maps.shape
    sample_inds, node_inds, slot_inds = valid.nonzero(as_tuple=True)
    pixels = torch.round(peaks[sample_inds, node_inds, slot_inds] / class_maps_stride).long()
    columns = pixels[:, 0].clamp(0, width - 1)
    rows = pixels[:, 1].clamp(0, height - 1)
    probs = torch.zeros(*valid.shape, classes, dtype=class_maps.dtype)
    probs[sample_inds, node_inds, slot_inds] = class_maps[sample_inds, :, rows, columns]
    return probs


def refined_global_peaks(confmaps, threshold: float = PEAK_THRESHOLD):
    """Peaks of ``(n, channels, h, w)`` maps with sleap-nn's integral refinement (grid units)."""
    from sleap_nn.inference.ops.peaks import find_global_peaks

    return find_global_peaks(
        confmaps,
        threshold=threshold,
        refinement="integral",
        integral_patch_size=INTEGRAL_PATCH_SIZE,
    )


class CorrectingBackend:
    """Wraps an exported-model backend; repairs its peaks before sleap-nn's layer reads them."""

    does_baked_postproc = True

    def __init__(self, inner, geometry: ExportGeometry, correct: bool = True):
        self.inner = inner
        self.geometry = geometry
        self.correct = correct  # False: the graph's output as sleap-nn's own layer would read it

    def warmup(self, input_shape) -> None:
        if hasattr(self.inner, "warmup"):
            self.inner.warmup(input_shape)

    def _size_match(self, x):
        """Frames resized and padded as the checkpoint path does; None when no resize is due."""
        import torch
        from sleap_nn.data.resizing import apply_sizematcher

        max_hw = self.geometry.max_hw
        if max_hw is None or tuple(x.shape[-2:]) == max_hw:
            return x, None
        frames, scales = [], []
        for frame in x.float():
            resized, scale = apply_sizematcher(frame, *max_hw)
            frames.append(resized)
            scales.append(float(scale))
        matched = torch.stack(frames).round().clamp(0, 255).to(x.dtype)
        return matched, torch.tensor(scales, dtype=torch.float32)

    def __call__(self, x):
        x, eff_scale = self._size_match(x)
        raw = self._corrected(x)
        if eff_scale is not None:
            points = "centroids" if self.geometry.model_type == "centroid" else "peaks"
            shape = (-1,) + (1,) * (raw[points].ndim - 1)
            raw[points] = raw[points] / eff_scale.view(shape)
        return raw

    def _corrected(self, x):
        raw = dict(self.inner(x))
        confmaps = raw.pop(CONFMAPS_OUTPUT, None)
        class_maps = raw.pop(CLASS_MAPS_OUTPUT, None)
        geometry = self.geometry
        if not self.correct:
            return raw
        if geometry.model_type == "multi_class_bottomup":
            # sleap-nn's multi-class bottom-up graph divides its peaks by the input scale, and
            # its predictor, which expects scaled-input pixels, divides them again.
            raw["peaks"] = raw["peaks"] * geometry.instance_scale
        if geometry.model_type == "centroid":
            if confmaps is not None:
                # Centroids come in frame pixels, one slot per instance: one channel's peaks.
                raw["centroids"] = refined_local_peaks(
                    confmaps.float(),
                    raw["centroids"].unsqueeze(1),
                    raw["instance_valid"].bool().unsqueeze(1),
                    geometry.output_stride / geometry.instance_scale,
                )[:, 0]
            return raw
        if geometry.model_type in LOCAL_PEAK_TYPES:
            if confmaps is not None:
                valid = raw["peak_mask"].bool()
                raw["peaks"] = refined_local_peaks(
                    confmaps.float(), raw["peaks"], valid, geometry.output_stride
                )
                if class_maps is not None and geometry.class_maps_stride:
                    raw["class_probs"] = class_probs_at_peaks(
                        class_maps.float(), raw["peaks"], valid, geometry.class_maps_stride
                    )
            return raw
        if geometry.model_type not in GLOBAL_PEAK_TYPES:
            return raw
        peaks = raw["peaks"]
        if confmaps is not None:
            refined, _ = refined_global_peaks(confmaps.float())
            scale = geometry.output_stride / geometry.instance_scale
            refined = refined * scale
            if geometry.model_type in TOPDOWN_BUNDLES:
                batch, instances = raw["centroids"].shape[:2]
                refined = refined.reshape(batch, instances, -1, 2)
                centroids = raw["centroids"]
                crop_h, crop_w = geometry.crop_size
                offset = centroids.unsqueeze(-2) - peaks.new_tensor([crop_w / 2.0, crop_h / 2.0])
                refined = refined + offset
            else:
                refined = refined.reshape(peaks.shape)
            # Keep the graph's own below-threshold decisions (NaN or zero-masked slots).
            keep = ~torch_isnan(peaks).any(-1, keepdim=True)
            peaks = refined.where(keep, peaks)
        if geometry.model_type in TOPDOWN_BUNDLES:
            peaks = crop_grid_to_image(
                peaks, raw["centroids"], geometry.crop_size, tuple(x.shape[-2:])
            )
        raw["peaks"] = peaks
        return raw


def torch_isnan(tensor):
    import torch

    return torch.isnan(tensor)


class OrtSessionBackend:
    """An ONNX Runtime session on exactly the runtime's providers (sleap-nn backend protocol)."""

    does_baked_postproc = True

    def __init__(self, model_path: str, runtime: str, threads: int):
        import numpy as np

        self.session = runtimes.open_onnxruntime_session(model_path, runtime, threads)
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


def expose_confmaps(model_path: str | Path, model_type: str) -> bool:
    """Add the confidence maps behind the graph's peak finder as output ``confmaps``.

    sleap-nn's single-instance, centered-instance and top-down graphs find each keypoint with an
    ArgMax over the instance model's maps (Reshape → ArgMax); its bottom-up graphs find all peaks
    with one TopK over the maps masked to their local maxima (Reshape → Where → TopK), and so
    does a centroid graph (its single-channel maps reshaped twice). Exposing the maps lets the
    stage refine peaks as the checkpoint path does. A multi-class bottom-up graph also gets its
    class maps (what its one GridSample reads) as output ``class_maps``, to read classes at the
    refined peaks. Returns False (graph unchanged) for other model types (a top-down bundle's
    centroids), for a graph that already exposes the maps, and for one laid out otherwise.
    """
    import onnx
    from onnx import helper

    model_path = Path(model_path)
    model = onnx.load(str(model_path))
    graph = model.graph
    if any(output.name == CONFMAPS_OUTPUT for output in graph.output):
        return False
    if model_type not in (*GLOBAL_PEAK_TYPES, *LOCAL_PEAK_TYPES):
        return False
    producers = {out: node for node in graph.node for out in node.output}

    def only(op_type):
        nodes = [node for node in graph.node if node.op_type == op_type]
        return nodes[0] if len(nodes) == 1 else None

    finder = only("ArgMax" if model_type in GLOBAL_PEAK_TYPES else "TopK")
    if finder is None:
        return False
    maps_input = finder.input[0]
    if finder.op_type == "TopK":
        mask = producers.get(maps_input)
        if mask is None or mask.op_type != "Where":
            return False
        maps_input = mask.input[1]
    reshape = producers.get(maps_input)
    if reshape is None or reshape.op_type != "Reshape":
        return False
    while (earlier := producers.get(reshape.input[0])) is not None and earlier.op_type == "Reshape":
        reshape = earlier
    exposed = {CONFMAPS_OUTPUT: reshape.input[0]}
    if model_type == "multi_class_bottomup":
        sampler = only("GridSample")
        if sampler is None:
            return False
        exposed[CLASS_MAPS_OUTPUT] = sampler.input[0]
    for name, tensor in exposed.items():
        graph.node.append(helper.make_node("Identity", [tensor], [name]))
        graph.output.append(
            helper.make_tensor_value_info(
                name, onnx.TensorProto.FLOAT, ["n", "channels", "height", "width"]
            )
        )
    _save_graph(model, model_path)
    return True


# Resize learned antialiasing at this ONNX opset.
ANTIALIAS_OPSET = 18


def antialias_input_resize(model_path: str | Path) -> bool:
    """Make the graph scale its input as the checkpoint path does: antialiased.

    A model trained at an input scale below 1 sees its frames (or crops) shrunk first. sleap-nn's
    graphs shrink them with ``interpolate`` (bilinear, no antialiasing); the checkpoint path
    resizes with torchvision, which antialiases. That alone kept the multi-class bottom-up test
    model (scale 0.375) 0.08 px median and 7 px at worst from its checkpoint; ONNX's antialiased
    Resize brings it to 0.006 px and 0.05 px. Returns False (graph unchanged) when the graph does
    not resize its input.
    """
    import onnx
    from onnx import helper, version_converter

    model_path = Path(model_path)
    model = onnx.load(str(model_path))

    def input_resizes(graph):
        """The Resize nodes fed by the graph input through elementwise steps (normalisation)."""
        producers = {out: node for node in graph.node for out in node.output}
        source = graph.input[0].name

        def from_input(tensor):
            while tensor != source:
                node = producers.get(tensor)
                if node is None or node.op_type not in ("Cast", "Div", "Mul", "Sub", "Identity"):
                    return False
                tensor = node.input[0]
            return True

        resizes = [node for node in graph.node if node.op_type == "Resize"]
        return [node for node in resizes if from_input(node.input[0])]

    if not input_resizes(model.graph):
        return False
    opset = next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))
    if opset < ANTIALIAS_OPSET:
        model = version_converter.convert_version(model, ANTIALIAS_OPSET)
    for node in input_resizes(model.graph):
        kept = [a for a in node.attribute if a.name != "antialias"]
        del node.attribute[:]
        node.attribute.extend([*kept, helper.make_attribute("antialias", 1)])
    _save_graph(model, model_path)
    return True


def _save_graph(model, model_path: Path) -> None:
    """Check and write a changed graph, its weights in the external file if it had one."""
    import onnx

    onnx.checker.check_model(model)
    external = model_path.with_name(model_path.name + ".data")
    if external.exists():
        onnx.save(
            model,
            str(model_path),
            save_as_external_data=True,
            all_tensors_to_one_file=True,
            location=external.name,
        )
    else:
        onnx.save(model, str(model_path))


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

    set_torch_threads(threads)
    return Predictor.from_model_paths(
        list(model_paths),
        device=TORCH_DEVICES[runtime],
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
    if runtime == "tensorrt":
        predictor = Predictor.from_export_dir(
            folder,
            runtime="tensorrt",
            device="cuda",
            batch_size=batch_size,
            max_instances=max_instances,
        )
        inner = predictor.layer.backend
    else:
        predictor = Predictor.from_export_dir(
            folder, runtime="onnx", device="cpu", batch_size=batch_size, max_instances=max_instances
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
    if runtime in TORCH_DEVICES:
        return native_predictor(model_paths, runtime, batch_size, threads, max_instances)
    if runtime in ("onnx_cpu", "onnx_cuda", "tensorrt"):
        if export_folder is None:
            raise RuntimeUnavailableError(
                f"runtime '{runtime}' runs an exported model, and no export folder was given.",
                "run through the workflow, whose export rule writes it.",
            )
        return exported_predictor(
            export_folder, runtime, batch_size, threads, correct, max_instances
        )
    raise RuntimeUnavailableError(
        f"the SLEAP stage does not support runtime '{runtime}'.",
        "use one of "
        + ", ".join(r for r in runtimes.RUNTIMES if r in runtimes.MODEL_STAGES["sleap"].runtimes)
        + ".",
    )
