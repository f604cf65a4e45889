"""Rule import_predictions: an existing SLEAP predictions file as detections and poses tables."""

from snakeherd import io
from snakeherd.scripting import logger, run_rule
from snakeherd.slp import prediction_tables


def main(smk):
    detections, poses, stage = prediction_tables(
        smk.input.predictions,
        smk.wildcards.video,
        video_path=smk.params.video,
        frames=smk.params.frames,
    )
    io.write_table(detections, smk.output.detections, "detections", stage)
    io.write_table(poses, smk.output.poses, "poses", stage)
    logger.info(
        "%d instances with %d keypoints each in %d frames of %s (existing tracks ignored)",
        len(detections),
        len(stage["skeleton"]["nodes"]),
        detections["frame"].nunique(),
        smk.input.predictions,
    )


run_rule(main, snakemake)  # noqa: F821
