"""Rule import_predictions: an existing SLEAP predictions file as detections and poses tables."""

from snakeherd import io, slp
from snakeherd.scripting import give_back_large_arrays, logger, run_rule


def main(smk):
    give_back_large_arrays()  # a whole video's arrays, made and freed one after the other
    video_id = smk.wildcards.video
    source, stage, wanted = slp.import_predictions(
        smk.input.predictions, video_id, video_path=smk.params.video, frames=smk.params.frames
    )
    # Written a part at a time: a long video's poses table (a row per keypoint) is several
    # times its predictions file.
    frames = 0
    with (
        io.TableWriter(smk.output.detections, "detections", stage) as detections,
        io.TableWriter(smk.output.poses, "poses", stage) as poses,
    ):
        for detection_part, pose_part in slp.iter_prediction_tables(source, video_id, wanted):
            detections.write_frame(detection_part)
            poses.write_frame(pose_part)
            frames += detection_part["frame"].nunique()
        if not detections.rows:
            raise slp.no_selected_instances(source, video_id, stage)
    logger.info(
        "%d instances with %d keypoints each in %d frames of %s (existing tracks ignored)",
        detections.rows,
        len(source.nodes),
        frames,
        smk.input.predictions,
    )


run_rule(main, snakemake)  # noqa: F821
