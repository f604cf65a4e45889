"""Rule xanylabeling_export: each suspect frame as an image with an X-AnyLabeling JSON of its
boxes and keypoints, in one folder per video."""

from snakeherd import io
from snakeherd.proofreading.xanylabeling import write_folder
from snakeherd.scripting import logger, run_rule


def main(smk):
    tracks = io.read_table(smk.input.tracks, "tracks")
    nodes = io.read_metadata(smk.input.tracks)["stage"].get("nodes") or []
    detections = io.read_table(smk.input.detections, "detections")
    suspects = io.read_table(smk.input.suspects, "suspects")
    written = write_folder(
        tracks,
        detections,
        suspects["frame"].tolist(),
        smk.input.video,
        smk.output[0],
        smk.wildcards.video,
        nodes,
    )
    logger.info("%d suspect frames written for X-AnyLabeling to %s", written, smk.output[0])


run_rule(main, snakemake)  # noqa: F821
