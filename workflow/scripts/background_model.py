"""Rule background_model: the background of a chunked video, learnt once from its whole frame
selection, which every chunk's detection job uses."""

from snakeherd.detection import BackgroundParams, video_background
from snakeherd.scripting import logger, run_rule
from snakeherd.video import FrameSelection


def main(smk):
    import cv2

    cv2.setNumThreads(smk.threads)
    params = BackgroundParams.from_config(smk.params.background)
    model = video_background(smk.input.video, FrameSelection.parse(smk.params.frames), params)
    model.save(smk.output[0])
    logger.info(
        "background of %d frames (animal area %s)",
        model.sample_frames,
        f"{model.animal_area:.0f} px²" if model.animal_area is not None else "from the config",
    )


run_rule(main, snakemake)  # noqa: F821
