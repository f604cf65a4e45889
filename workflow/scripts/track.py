"""Rule track: link detections into tracks; write them as Parquet and as the desktop tool's CSV."""

from snakeherd import io
from snakeherd.scripting import logger, run_rule
from snakeherd.tracking import TrackerParams, track_detections


def main(smk):
    detections = io.read_table(smk.input[0], "detections")
    params = TrackerParams.from_config(smk.params.tracking)
    tracks = track_detections(detections, params)
    tracks.insert(0, "video_id", smk.wildcards.video)
    detection_stage = io.read_metadata(smk.input[0])["stage"]
    io.write_table(
        tracks,
        smk.output.table,
        "tracks",
        {
            "method": "hungarian",
            "params": params.__dict__,
            "frame_selection": detection_stage.get("frame_selection"),
        },
    )
    io.write_tracks_csv(tracks, smk.output.csv)
    logger.info("%d tracks over %d rows", tracks["track_id"].nunique(), len(tracks))


run_rule(main, snakemake)  # noqa: F821
