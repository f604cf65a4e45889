"""Rule evaluate: score one video's tracks against its ground truth."""

from snakeherd import io
from snakeherd.evaluation import evaluate_tracks, load_ground_truth
from snakeherd.scripting import logger, run_rule
from snakeherd.video import FrameSelection


def main(smk):
    tracks = io.read_table(smk.input.tracks, "tracks")
    frames = FrameSelection.parse(
        io.read_metadata(smk.input.detections)["stage"]["frame_selection"]
    ).frames()
    ground_truth = load_ground_truth(smk.input.ground_truth)
    match_distance = smk.params.evaluation["match_distance"]
    metrics = evaluate_tracks(tracks, ground_truth, frames, match_distance)
    metrics.insert(0, "video_id", smk.wildcards.video)
    metrics["match_distance_px"] = match_distance
    io.write_table(metrics, smk.output.table, "evaluation", {"method": "motmetrics"})
    io.write_csv(metrics, smk.output.csv)
    logger.info("%s", metrics.iloc[0].to_dict())


run_rule(main, snakemake)  # noqa: F821
