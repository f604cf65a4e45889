"""Rule plots: one video's trajectories, track timeline, animals per frame and score
distributions, as PNG files, and its provenance record as an HTML page (for the report)."""

from pathlib import Path

import numpy as np

from snakeherd import io, plots
from snakeherd.evaluation import frame_errors, ground_truth_parts
from snakeherd.overlay import frame_selection_of
from snakeherd.proofreading.suspects import expected_count
from snakeherd.report import write_provenance_page
from snakeherd.scripting import give_back_large_arrays, logger, run_rule
from snakeherd.video import VideoReader, probe

# What the plots draw of the tracks (and the errors panel scores): not their boxes' angles,
# scores or headings, nor their keypoints.
PLOTTED_COLUMNS = ["frame", "track_id", "x", "y", "interpolated"]


def main(smk):
    give_back_large_arrays()  # a whole video's arrays, made and freed one after the other
    # The tables are read a batch at a time by each plot (the tracks' in frame order): a long
    # video's columns are never held whole, and its keypoint columns stay unread.
    detection_stage = io.read_metadata(smk.input.detections)["stage"]
    tracks_stage = io.read_metadata(smk.input.tracks)["stage"]

    def detections():
        return io.iter_columns(smk.input.detections, "detections", ["frame", "score"])

    tracks = io.in_frame_order(smk.input.tracks, "tracks", PLOTTED_COLUMNS)
    detection_scores = plots.ScoreHistogram.of(
        lambda: (part["score"].to_numpy(float) for part in detections())
    )
    keypoint_scores = None
    if smk.input.get("poses"):
        keypoint_scores = plots.ScoreHistogram.of(
            lambda: (
                part["score"].to_numpy(float)
                for part in io.iter_table(smk.input.poses, "poses", ["score"])
            )
        )
    video = smk.input.get("video")
    background, size = None, (0, 0)
    if video and Path(video).is_file():
        info = probe(video)
        selection = frame_selection_of(detection_stage, info.n_frames)
        frames = selection.frames()
        with VideoReader(video, grayscale=True) as reader:
            background = reader.read(int(frames[0]))
        size = (info.width, info.height)
    else:
        # A track-only video given without its file: the extent of the positions instead.
        frames = io.distinct_frames(detections())
        largest = np.ones(2)
        for part in tracks():
            if len(part):
                largest = np.fmax(largest, part[["x", "y"]].max().to_numpy(float))
        size = (int(largest[0]) + 1, int(largest[1]) + 1)
    n_tracks = plots.trajectories(tracks, background, size, smk.output.trajectories)
    errors = None
    if smk.input.get("ground_truth"):
        ground_truth = ground_truth_parts(smk.input.ground_truth)
        errors = frame_errors(tracks(), ground_truth(), frames, smk.params.match_distance)
    suspects = io.read_table(smk.input.suspects, "suspects") if smk.input.get("suspects") else None
    plots.timeline(tracks, frames, smk.output.timeline, errors, suspects)
    expected = expected_count(tracks_stage, detection_stage)
    plots.animal_counts(detections, tracks, frames, expected, smk.output.counts)
    plots.score_distributions(detection_scores, keypoint_scores, smk.output.scores)
    write_provenance_page(smk.input.provenance, smk.output.provenance)
    logger.info(
        "plots of %d tracks over %d frames (expected animals: %s)", n_tracks, len(frames), expected
    )


run_rule(main, snakemake)  # noqa: F821
