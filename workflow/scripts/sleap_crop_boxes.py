"""Rule sleap_crop_boxes: the detection boxes as plain arrays for the SLEAP environment."""

from snakeherd import io
from snakeherd.scripting import logger, run_rule
from snakeherd.sleap.handover import write_crop_boxes
from snakeherd.sleap.tables import crop_boxes


def main(smk):
    boxes = crop_boxes(io.read_table(smk.input[0], "detections"))
    write_crop_boxes(boxes, smk.output[0])
    logger.info("%d boxes for pose crops", len(boxes["frame"]))


run_rule(main, snakemake)  # noqa: F821
