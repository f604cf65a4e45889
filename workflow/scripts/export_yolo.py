"""Rule export_yolo_*: export a YOLO .pt to ONNX or TensorRT and check it against its source."""

import tempfile

from snakeherd import runtimes
from snakeherd.scripting import logger, run_rule
from snakeherd.yolo import offline


def main(smk):
    settings = smk.params.settings
    artifact = smk.output.artifact
    stage = "yolo_obb" if settings["task"] == "obb" else "yolo_pose"
    # TensorRT engines are built on the GPU they run on; ONNX exports need no accelerator.
    engine = runtimes.get(smk.params.runtime).family == runtimes.table.TENSORRT
    with tempfile.TemporaryDirectory(prefix="snakeherd-ultralytics-") as settings_dir:
        # Before anything imports Ultralytics, which reads its safe-loading switch at import.
        offline.configure(settings_dir, smk.params.trust_model_files)
        if engine:
            runtimes.check_node(smk.params.runtime, stage)
        from snakeherd.yolo.export import (
            ParityError,
            ParityTolerance,
            check_parity,
            export_artifact,
            model_record,
            parity_frames,
            write_sidecar,
        )

        model = offline.load(smk.input.model, settings["task"], settings["key"])
        size = settings["imgsz"] or int(model.model.args.get("imgsz", 640))
        device = "cuda:0" if engine else "cpu"
        export_artifact(model, artifact, size, settings["batch"], device)
        tolerance = ParityTolerance(**smk.params.tolerance)
        video, frames = parity_frames(smk.params.videos, smk.params.frames, tolerance.frames)
        parity = check_parity(
            model, artifact, settings["task"], frames, size, settings["batch"], tolerance, device
        )
        parity["video"] = video
        write_sidecar(
            artifact,
            {
                "model": model_record(
                    model, settings["task"], size, settings["batch"], smk.input.model
                ),
                "parity": parity,
            },
        )
    logger.info("parity of %s against %s: %s", artifact, smk.input.model, parity)
    if not parity["passed"]:
        raise ParityError(
            f"the export {artifact} disagrees with {smk.input.model} on {parity['frames']} "
            f"frames of {video}: " + "; ".join(parity["over_tolerance"]) + ".",
            "this usually means an exporter or runtime bug: try another onnx/onnxruntime "
            "version, or raise the tolerance in the config's `export:` section if the "
            "difference is acceptable for you.",
        )


run_rule(main, snakemake)  # noqa: F821
