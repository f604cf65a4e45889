"""Rule evaluate: score one video's tracks (and keypoints) against its ground truth."""

from snakeherd import io
from snakeherd.evaluation import evaluate_tracks, ground_truth_parts
from snakeherd.pose_evaluation import evaluate_poses
from snakeherd.scripting import give_back_large_arrays, logger, run_rule
from snakeherd.video import FrameSelection


def main(smk):
    give_back_large_arrays()  # a whole video's tables, read in batches
    # Identities are scored on every frame and keypoints on the ground truth's, the tracks and
    # the ground truth read a batch at a time (both sorted by frame): the tracks' positions,
    # then the keypoint columns of the nodes the ground truth shares.
    tracks = io.iter_table(smk.input.tracks, "tracks", ["frame", "track_id", "x", "y"])
    frames = FrameSelection.parse(
        io.read_metadata(smk.input.detections)["stage"]["frame_selection"]
    ).frames()
    settings = smk.params.evaluation
    ground_truth = ground_truth_parts(smk.input.ground_truth)
    match_distance = settings["match_distance"]
    metrics = evaluate_tracks(tracks, ground_truth(), frames, match_distance)
    metrics.insert(0, "video_id", smk.wildcards.video)
    metrics["match_distance_px"] = match_distance
    nodes = io.read_metadata(smk.input.tracks)["stage"].get("nodes") or []
    poses = evaluate_poses(
        lambda columns: io.iter_table(smk.input.tracks, "tracks", columns),
        nodes,
        smk.input.ground_truth,
        frames,
        sigma=settings["oks_sigma"],
        pck_thresholds=settings["pck_thresholds"],
    )
    if poses is not None:
        for name, value in poses.items():
            metrics[name] = value
    else:
        logger.info("no keypoint scores: the tracks or the ground truth have no matching keypoints")
    io.write_table(metrics, smk.output.table, "evaluation", {"method": "motmetrics+trackeval"})
    io.write_csv(metrics, smk.output.csv)
    logger.info("%s", metrics.iloc[0].to_dict())


run_rule(main, snakemake)  # noqa: F821
