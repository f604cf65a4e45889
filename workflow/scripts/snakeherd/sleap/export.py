"""Exporting SLEAP models (ONNX / TensorRT) and checking the export against its checkpoint.

Runs inside the SLEAP environment. ``sleap-nn export`` writes the artifact at the video's frame
size (sleap-nn freezes the size at export; a centered-instance model is exported at its crop
size); a SLEAP ≤ 1.4 folder is exported from the checkpoint sleap-nn's own legacy loader makes of
it (:mod:`.legacy`). A top-down pair, plain or multi-class, is exported one model each, into the
sub-folders ``TOPDOWN_PARTS`` names, which the stage composes as the checkpoint path composes
the pair.
:func:`.graph.expose_confmaps` lets the stage refine the peaks; then
the parity check runs the checkpoint and the export on a few real frames and measures how far
their keypoints are apart, both for sleap-nn's exported output as is ("raw") and for what this
stage produces from it ("corrected"). The numbers are written beside the artifact
(``parity.json``); a corrected median distance over the tolerance fails the export with the
numbers, and no artifact is left behind.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
import warnings
from pathlib import Path

from ..errors import SnakeherdError
from ..runtimes import table
from ..video import FrameSelection, probe
from . import graph, legacy
from .checkpoints import require_safe
from .corrections import SIZE_MATCHED_TYPES, ExportGeometry, training_max_hw
from .parity import parity_check
from .predictors import TOPDOWN_PARTS

logger = logging.getLogger("snakeherd")


class ExportError(SnakeherdError):
    """sleap-nn could not export the model, or the export disagrees with its checkpoint."""


# Labels `sleap-nn train` saves in the model folder: labels_train_gt_0.slp and
# labels_val_gt_0.slp before sleap-nn 0.3, labels_gt.train.0.slp and labels_gt.val.0.slp since.
TRAINING_LABELS = "labels*gt*.slp"
# `sleap-nn export --max-instances` default.
SLEAP_NN_MAX_INSTANCES = 20


def default_max_instances(model_paths: list[str]) -> tuple[int, str]:
    """Instance slots of an export when pose.max_instances is null, and why that many.

    An exported top-down graph runs its instance model on every slot, found or not: sleap-nn's
    20 slots cost ten times the instance work two animals need. Twice the most animals one
    frame of the model's training labels shows leaves room, and a frame that fills every slot
    says the limit may have cut animals (the stage counts and warns).
    """
    import sleap_io

    folder = Path(model_paths[0])
    counts = [
        len(frame.user_instances or frame.instances)
        for labels in sorted(folder.glob(TRAINING_LABELS))
        for frame in sleap_io.load_slp(str(labels), open_videos=False).labeled_frames
    ]
    most = max(counts, default=0)
    if not most:
        return SLEAP_NN_MAX_INSTANCES, "sleap-nn's default (no training labels beside the model)"
    return 2 * most, f"twice the most animals in a training frame of {folder.name}"


def run_sleap_nn_export(
    model_paths: list[str],
    out: Path,
    fmt: str,
    height: int | None,
    width: int | None,
    max_instances: int | None = None,
) -> None:
    """``sleap-nn export`` through its own command, in this process."""
    import click
    from sleap_nn.export.cli import export as export_command

    args = [*map(str, model_paths), "--output", str(out), "--format", fmt]
    if height is not None and width is not None:
        args += ["--input-height", str(int(height)), "--input-width", str(int(width))]
    if max_instances is not None:
        args += ["--max-instances", str(int(max_instances))]
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            export_command.main(args=args, standalone_mode=False)
    except click.ClickException as error:
        raise ExportError(
            f"sleap-nn export of {', '.join(map(str, model_paths))} failed: "
            f"{error.format_message()}",
            "check that the model folders are sleap-nn models of a supported type; the log has "
            "sleap-nn's full output.",
        ) from None
    _log_tracing_warnings(caught)


# What torch says while tracing sleap-nn's model code at every shape-dependent line, tensor
# constant and slice; the parity check, not these, tells whether the export is right.
TRACING_NOISE = ("Constant folding", "To copy construct from a tensor")


def _is_tracing_noise(warning: warnings.WarningMessage) -> bool:
    return warning.category.__name__ == "TracerWarning" or any(
        text in str(warning.message) for text in TRACING_NOISE
    )


def _log_tracing_warnings(caught: list[warnings.WarningMessage]) -> None:
    """One line for the tracer's routine warnings; any other warning goes to the log as it is."""
    noise = [warning for warning in caught if _is_tracing_noise(warning)]
    if noise:
        logger.info(
            "torch.onnx raised %d routine tracing warnings on sleap-nn's model code (shapes "
            "frozen at the export size); the parity check measures the export itself",
            len(noise),
        )
    others = {
        (str(warning.message), warning.category, warning.filename, warning.lineno): warning
        for warning in caught
        if not _is_tracing_noise(warning)
    }
    for warning in others.values():
        warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)


def _export_part(
    model_paths: list[str],
    out: Path,
    fmt: str,
    frame_hw: tuple[int, int] | None,
    max_instances: int | None,
    model_type: str,
) -> dict:
    """One ``sleap-nn export`` into ``out``, with the maps the stage refines from exposed.

    ``frame_hw`` None: sleap-nn's own input size (a centered-instance model's crop size).
    """
    input_hw = frame_hw or (None, None)
    max_hw = training_max_hw(Path(model_paths[0]) / "training_config.yaml")
    if model_type in SIZE_MATCHED_TYPES and max_hw is not None:
        # The stage resizes frames to the size the model was trained at, as the checkpoint path
        # does; the graph takes that size.
        input_hw = max_hw
    run_sleap_nn_export(model_paths, out, fmt, *input_hw, max_instances)
    for path in out.iterdir():  # sleap-nn copies read-only training configs as is
        path.chmod(path.stat().st_mode | 0o200)
    metadata = json.loads((out / "export_metadata.json").read_text())
    exposed = graph.expose_confmaps(out / "model.onnx", metadata["model_type"])
    geometry = ExportGeometry.read(out, metadata)
    return {
        "input_hw": input_hw,
        "exposed": exposed,
        # TensorRT engines are built from sleap-nn's graph, before the maps were exposed.
        "corrections": geometry.corrections(confmaps=exposed and fmt != table.TENSORRT),
    }


def export_and_check(
    *,
    kind: str,
    model_paths: list[str],
    folder: str,
    runtime: str,
    height: int,
    width: int,
    video: str,
    parity_frames: int,
    tolerance_px: float,
    node_names: list[str],
    crop_size: int | None,
    threads: int,
    max_instances: int | None = None,
    trust_model_files: bool = False,
) -> dict:
    """Export into ``folder`` (replaced atomically); return the parity report."""
    require_safe(model_paths, trust_model_files)
    folder = Path(folder)
    temporary = folder.with_name(f".{folder.name}.tmp-{os.getpid()}")
    converted = folder.with_name(f".{folder.name}.legacy-{os.getpid()}")
    shutil.rmtree(temporary, ignore_errors=True)
    temporary.parent.mkdir(parents=True, exist_ok=True)
    fmt = table.get(runtime).family  # sleap-nn export names its formats as the families
    limit_source = "pose.max_instances" if max_instances is not None else None
    if max_instances is None and kind != "crops":  # a crop holds one animal
        max_instances, limit_source = default_max_instances(model_paths)
        logger.info("export with %d instance slots (%s)", max_instances, limit_source)
    started = time.perf_counter()
    try:
        legacy_paths = [str(path) for path in model_paths if legacy.is_legacy(path)]
        # sleap-nn exports checkpoints only; the parity check still runs the legacy folders.
        export_paths = [
            str(legacy.as_checkpoint(path, converted / Path(path).name))
            if str(path) in legacy_paths
            else path
            for path in model_paths
        ]
        on_crops = kind == "crops"
        if kind in ("topdown", "multi_class_topdown"):
            # One export per model, composed by the stage as the checkpoint path composes them.
            centroid, instance = export_paths
            centroid_part, instance_part = TOPDOWN_PARTS
            instance_type = "centered_instance" if kind == "topdown" else kind
            parts = [
                ("centroid", temporary / centroid_part, [centroid], (height, width), max_instances),
                (instance_type, temporary / instance_part, [instance], None, None),
            ]
        else:
            frame_hw = None if on_crops else (height, width)
            parts = [(kind, temporary, export_paths, frame_hw, max_instances)]
        exported = [
            _export_part(paths, out, fmt, frame_hw, slots, part_type)
            for part_type, out, paths, frame_hw, slots in parts
        ]
        input_hw = exported[0]["input_hw"]
        exposed = all(part["exposed"] for part in exported)
        corrections = list(dict.fromkeys(c for part in exported for c in part["corrections"]))
        if len(parts) == 2:
            corrections.append("crops cut as the checkpoint cuts them")

        def antialias_inputs():
            # After the raw measurement, which is sleap-nn's graph as it exported it. TensorRT
            # engines were built from that graph already.
            if fmt == table.TENSORRT:
                return
            changed = [graph.antialias_input_resize(out / "model.onnx") for _, out, *_ in parts]
            if any(changed):
                corrections.append("input resized as the checkpoint resizes it")

        export_s = time.perf_counter() - started
        frames = (
            FrameSelection.parse(None).resolve(probe(video).n_frames).evenly_spaced(parity_frames)
        )
        results = parity_check(
            kind=kind,
            model_paths=model_paths,
            folder=temporary,
            runtime=runtime,
            video=video,
            frames=frames,
            node_names=node_names,
            crop_size=crop_size,
            threads=threads,
            max_instances=max_instances,
            before_corrected=antialias_inputs,
        )
        corrected = results["corrected"]
        report = {
            "models": list(map(str, model_paths)),
            "pipeline": kind,
            "runtime": runtime,
            "format": fmt,
            "frame_size": [height, width],
            "input_size": [int(crop_size), int(crop_size)] if on_crops else list(input_hw),
            "parity_video": str(video),
            "parity_frames": [int(f) for f in frames],
            "max_instances": max_instances,
            "max_instances_from": limit_source,
            "legacy_models": legacy_paths,  # SLEAP ≤ 1.4 folders, exported as sleap-nn loads them
            "reference": "checkpoint on cpu (sleap-nn predict defaults)",
            "measure": "distance (px) between matched keypoints, checkpoint vs export",
            "tolerance_px": tolerance_px,
            "tolerance_applies_to": "corrected median_px",
            "confmaps_exposed": exposed,
            "corrections": corrections,
            "raw": results["raw"],
            "corrected": corrected,
            "export_s": round(export_s, 2),
        }
        median = corrected["median_px"]
        report["passed"] = median is not None and median <= tolerance_px
        (temporary / "parity.json").write_text(json.dumps(report, indent=2) + "\n")
        logger.info("parity: %s", json.dumps(report))
        if not report["passed"]:
            raise ExportError(
                f"the {fmt} export of {', '.join(map(str, model_paths))} disagrees with its "
                f"checkpoint on {len(frames)} frames of {video}: median keypoint distance "
                f"{median} px (tolerance {tolerance_px} px; p90 {corrected['p90_px']} px, max "
                f"{corrected['max_px']} px, {corrected['unmatched_instances']} unmatched "
                f"instances; sleap-nn's raw export: median {results['raw']['median_px']} px).",
                "run on a torch runtime ("
                + ", ".join(table.names(table.TORCH))
                + ") for checkpoint-exact keypoints, or "
                "raise pose.export_tolerance_px if this difference is acceptable for your "
                "analysis.",
            )
        if folder.exists():
            shutil.rmtree(folder)
        temporary.replace(folder)
        return report
    finally:
        shutil.rmtree(temporary, ignore_errors=True)
        shutil.rmtree(converted, ignore_errors=True)
