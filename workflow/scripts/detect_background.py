"""Rule detect_background: oriented-ellipse detections by background subtraction."""

from snakeherd import io
from snakeherd.detection import BackgroundModel, BackgroundParams, detect_video
from snakeherd.scripting import logger, run_rule
from snakeherd.video import FrameSelection


def main(smk):
    import cv2

    cv2.setNumThreads(smk.threads)
    params = BackgroundParams.from_config(smk.params.background)
    # A chunk of a long video detects against its video's background model (rule
    # background_model); a whole video learns its own.
    background = smk.input.get("background")
    model = BackgroundModel.load(background) if background else None
    selection = FrameSelection.parse(smk.params.frames)
    table, summary = detect_video(smk.input.video, selection, params, model)
    if smk.wildcards.get("chunk") is not None:
        summary["chunk"] = str(selection)
    table.insert(0, "video_id", smk.wildcards.video)
    io.write_table(table, smk.output[0], "detections", summary)
    area = summary["animal_area_px"]
    logger.info(
        "%d detections in %d frames (animal area %s)",
        len(table),
        summary["frames"],
        f"{area:.0f} px²" if area is not None else "not learnt: too few frames",
    )


run_rule(main, snakemake)  # noqa: F821
