"""Rule sleap_tables: the SLEAP stage's arrays as poses.parquet (and detections.parquet)."""

from snakeherd import io
from snakeherd.scripting import logger, run_rule
from snakeherd.sleap.handover import read_pose_arrays
from snakeherd.sleap.tables import detections_table, poses_table


def main(smk):
    arrays, stage = read_pose_arrays(smk.input.npz)
    video_id = smk.wildcards.video
    poses = poses_table(arrays, video_id)
    io.write_table(poses, smk.output.poses, "poses", stage)
    if hasattr(smk.output, "detections"):
        detections = detections_table(arrays, video_id)
        io.write_table(detections, smk.output.detections, "detections", stage)
        logger.info("%d animals found by SLEAP in %d frames", len(detections), stage["frames"])
    logger.info("%d keypoints of %d instances", len(poses), len(arrays["frame"]))


run_rule(main, snakemake)  # noqa: F821
