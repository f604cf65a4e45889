"""Rule sleap_join_chunks: a chunked video's SLEAP chunk predictions joined into the hand-over
arrays and poses.slp an unsplit sleap_predict writes (snakeherd.sleap.chunks)."""

from snakeherd.scripting import logger, run_rule
from snakeherd.sleap.chunks import join_pose_arrays, merge_slp
from snakeherd.sleap.handover import read_pose_arrays, write_pose_arrays
from snakeherd.video import FrameSelection


def main(smk):
    npz_paths = list(smk.input.npz)
    planned = [FrameSelection.parse(text) for text in smk.params.plan["chunks"]]
    selection = FrameSelection.parse(smk.params.plan["selection"])
    parts = [read_pose_arrays(path) for path in npz_paths]
    arrays, stage = join_pose_arrays(parts, planned, selection, npz_paths)
    labelled_frames = merge_slp(list(smk.input.slp), smk.output.slp)
    write_pose_arrays(arrays, stage, smk.output.npz)
    logger.info(
        "%d instances in %d labelled frames from %d chunks",
        len(arrays["frame"]),
        labelled_frames,
        len(npz_paths),
    )


run_rule(main, snakemake)  # noqa: F821
