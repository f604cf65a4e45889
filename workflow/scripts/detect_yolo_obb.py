"""Rule detect_yolo_obb: oriented-box detections with a YOLO-OBB model on the configured runtime."""

import tempfile

from snakeherd import io, runtimes
from snakeherd.scripting import logger, run_rule
from snakeherd.video import FrameSelection


def main(smk):
    runtime = smk.params.runtime
    runtimes.prepare_process(runtime)
    with tempfile.TemporaryDirectory(prefix="snakeherd-ultralytics-") as settings_dir:
        if runtimes.get(runtime).imports_torch:
            from snakeherd.yolo import offline

            offline.configure(settings_dir, smk.params.trust_model_files)
        # After configure: the node check imports Ultralytics, which reads its safe-loading
        # switch once, at import.
        capability = runtimes.check_node(runtime, "yolo_obb")
        from snakeherd.yolo.detect import YoloRun, detect_video

        run = YoloRun.from_config(smk.params.yolo, smk.input.model, runtime, smk.threads)
        selection = FrameSelection.parse(smk.params.frames)
        table, summary = detect_video(smk.input.video, selection, run)
    if smk.wildcards.get("chunk") is not None:  # one chunk of a long video (rules/chunks.smk)
        summary["chunk"] = str(selection)
    summary["runtime"] = {**capability.as_dict(), "providers": summary["providers"]}
    table.insert(0, "video_id", smk.wildcards.video)
    io.write_table(table, smk.output[0], "detections", summary)
    logger.info("%d detections in %d frames on %s", len(table), summary["frames"], runtime)


run_rule(main, snakemake)  # noqa: F821
