"""Rule overlay: the video's frames with its detections, keypoints and tracks drawn on them, as
an H.264 MP4 that browsers play."""

from snakeherd import io
from snakeherd.overlay import (
    BOX_COLUMNS,
    KEYPOINT_COLUMNS,
    TRACK_COLUMNS,
    OverlayData,
    OverlayOptions,
    frame_selection_of,
    render_overlay,
)
from snakeherd.scripting import give_back_large_arrays, logger, run_rule
from snakeherd.video import probe


def main(smk):
    give_back_large_arrays()  # each batch of the tables, freed once its frames are drawn
    # The tables are read in batches as the frames are drawn (they are in frame order): a long
    # video's are never held whole.
    detections = io.iter_table(smk.input.detections, "detections", BOX_COLUMNS)
    detection_stage = io.read_metadata(smk.input.detections)["stage"]
    poses, edges = None, []
    if smk.input.get("poses"):
        poses = io.iter_table(smk.input.poses, "poses", KEYPOINT_COLUMNS)
        skeleton = io.read_metadata(smk.input.poses)["stage"].get("skeleton") or {}
        edges = [tuple(edge) for edge in skeleton.get("edges") or []]
    tracks = None
    if smk.input.get("tracks"):
        tracks = io.iter_table(smk.input.tracks, "tracks", TRACK_COLUMNS)
    selection = frame_selection_of(detection_stage, probe(smk.input.video).n_frames)
    summary = render_overlay(
        smk.input.video,
        OverlayData(detections, poses, tracks, edges),
        selection,
        smk.output.video,
        OverlayOptions.from_config(smk.params.options),
        threads=smk.threads,
    )
    logger.info("overlay: %s", summary.as_dict())


run_rule(main, snakemake)  # noqa: F821
