"""Rule xanylabeling_export: each suspect frame as an image with an X-AnyLabeling JSON of its
boxes and keypoints, in one folder per video."""

from snakeherd import io
from snakeherd.proofreading.xanylabeling import write_folder
from snakeherd.scripting import logger, run_rule


def main(smk):
    suspects = io.read_table(smk.input.suspects, "suspects")
    frames = suspects["frame"].tolist()
    # Every column of the suspect frames' rows only; of the whole tables, what a filled-in row's
    # box sides come from (a long video's tracks with keypoints are large).
    tracks = io.read_table(smk.input.tracks, "tracks", frames=frames)
    every_row = io.read_table(smk.input.tracks, "tracks", ["frame", "track_id", "det_id"])
    nodes = io.read_metadata(smk.input.tracks)["stage"].get("nodes") or []
    detections = io.read_table(smk.input.detections, "detections", ["frame", "det_id", "w", "h"])
    written = write_folder(
        tracks,
        detections,
        frames,
        smk.input.video,
        smk.output[0],
        smk.wildcards.video,
        nodes,
        every_row,
    )
    logger.info("%d suspect frames written for X-AnyLabeling to %s", written, smk.output[0])


run_rule(main, snakemake)  # noqa: F821
