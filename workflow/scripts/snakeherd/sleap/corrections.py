"""Exported SLEAP graphs made to agree with their checkpoints: geometry, peak refinement, backend.

Runs inside the SLEAP environment. sleap-nn's exported graphs skip the checkpoint path's integral
peak refinement, and its one-graph top-down bundle cuts its crops on a grid ``(W-1)/W`` too wide
yet maps keypoints back as if it were not (keypoints about half a pixel up-left).
:class:`CorrectingBackend` wraps a graph's backend and repairs its outputs before sleap-nn's layer
reads them: it maps a bundle's crop keypoints back through the crop's exact sampling grid, and,
where the export rule exposed the confidence maps (:func:`.graph.expose_confmaps`), refines every
peak with sleap-nn's own integral refinement, global peaks (single-instance, centered-instance,
multi-class top-down, top-down bundle) and local ones (bottom-up, centroid). The multi-class
bottom-up graph reads each peak's class at its grid point, so the class is read again at the
refined point from the exposed class maps, and its peaks, divided by the input scale twice (once
in the graph, once by the predictor), are scaled back once. Frames of whole-frame models are
size-matched as the checkpoint path matches them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .graph import (
    CLASS_MAPS_OUTPUT,
    CONFMAPS_OUTPUT,
    GLOBAL_PEAK_TYPES,
    LOCAL_PEAK_TYPES,
    TOPDOWN_BUNDLES,
)

INTEGRAL_PATCH_SIZE = 5  # sleap-nn predict's default
PEAK_THRESHOLD = 0.2  # sleap-nn predict's default
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
