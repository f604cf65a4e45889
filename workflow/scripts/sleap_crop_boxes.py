"""Rule sleap_crop_boxes: the detection boxes as plain arrays for the SLEAP environment."""

import numpy as np

from snakeherd import io
from snakeherd.pose_tables import crop_boxes
from snakeherd.scripting import logger, run_rule


def main(smk):
    detections = io.read_table(smk.input[0], "detections")
    boxes = crop_boxes(detections)
    np.savez(smk.output[0], **boxes)
    logger.info("%d boxes for pose crops", len(boxes["frame"]))


run_rule(main, snakemake)  # noqa: F821
