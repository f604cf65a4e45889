"""Rule track: link detections (and keypoints) into tracks; write Parquet, CSV and SLEAP files,
and the video's provenance record (this is its last production job)."""

from pathlib import Path

import numpy as np

from snakeherd import io, slp
from snakeherd.proofreading import corrections, package
from snakeherd.proofreading import suspects as suspect_frames
from snakeherd.provenance import write_video_provenance
from snakeherd.scripting import (
    give_back_freed_memory,
    give_back_large_arrays,
    logger,
    run_rule,
)
from snakeherd.tracking import TrackerParams, identity_names, track_table
from snakeherd.tracking.instances import INSTANCE_COLUMNS, node_order
from snakeherd.video import FrameSelection

POSE_COLUMNS = ["frame", "det_id", "node", "x", "y", "score"]
IDENTITY_COLUMNS = ["identity_id", "identity"]
# What the suspect checks read of the detections (the animals' size, the processed frames).
CHECKED_COLUMNS = ["frame", "w", "h"]
# What a .slp of some of the tracks' rows is made of besides their keypoints (the position:
# without keypoints).
SLP_COLUMNS = ["frame", "track_id", "score", "x", "y"]


def main(smk):
    give_back_large_arrays()  # a whole video's arrays, made and freed one after the other
    detection_stage = io.read_metadata(smk.input.detections)["stage"]
    poses, skeleton, nodes = None, {}, []
    if smk.input.get("poses"):
        skeleton = io.read_metadata(smk.input.poses)["stage"].get("skeleton") or {}
        nodes = skeleton.get("nodes") or node_order(
            io.iter_table(smk.input.poses, "poses", ["node"])
        )
        if io.count_rows(smk.input.poses):
            # Read in parts, in frame order: a long video's poses table (a row per keypoint)
            # is never held whole, only the tracker's arrays.
            poses = io.iter_table(smk.input.poses, "poses", POSE_COLUMNS)
    params = TrackerParams.from_config(smk.params.tracking)
    selection = detection_stage.get("frame_selection")
    frames = FrameSelection.parse(selection).frames() if selection else None
    # The tracks' keypoint columns are made a block of rows at a time as each output is
    # written: with them, a long video's table would be most of the job's memory.
    by_class = params.identity_classes and has_identity_classes(smk.input.detections)
    tracks = track_table(
        tracked_detections(smk.input.detections, by_class), poses, params, frames, nodes
    )
    give_back_freed_memory()  # the linking's
    count = tracks.animal_count
    if count is not None:
        (logger.warning if count.count is None else logger.info)(
            "tracking.max_tracks auto: %s", count.describe()
        )
    proofread = smk.params.sources["inputs"]["proofread"]
    fixes = None
    if proofread:
        tracks, fixes = apply_corrections(smk, tracks, nodes, detection_stage, params, frames)
    tracks.light.insert(0, "video_id", smk.wildcards.video)
    named = None
    if by_class:
        named = identity_names(
            io.read_columns(smk.input.detections, "detections", IDENTITY_COLUMNS)
        )
    with io.TableWriter(
        smk.output.table,
        "tracks",
        {
            "method": "kalman_" + params.matching,
            "params": params.as_dict(),
            "frame_selection": selection,
            "nodes": nodes,
            "identities": {str(number): name for number, name in (named or {}).items()},
            "animal_count": count.as_dict() if count is not None else None,
            "proofread": proofread or None,
            "proofread_sha256": fixes.checksum if fixes is not None else None,
        },
    ) as table:
        for part in tracks.parts():
            table.write_frame(part)
    io.write_tracks_csv(tracks.parts(io.CSV_ROWS), smk.output.csv)
    sources = smk.params.sources
    # A track-only video without a path: the video its predictions file names.
    video = sources["inputs"]["video"] or detection_stage.get("video") or ""
    if video and Path(video).exists():
        video = str(Path(video).resolve())
    suggestions, suspect_results = None, {}
    if smk.output.get("suspects"):
        suggestions = write_suspects(smk, tracks, detection_stage, frames, video)
        give_back_freed_memory()  # the checks' many small arrays: under tracks.slp's peak
        suspect_results = {"suspects": smk.output.suspects, "suspects_csv": smk.output.suspects_csv}
    track_ids = np.unique(tracks.column("track_id"))

    def write_slp(path: str, rows: np.ndarray | None = None) -> None:
        """The tracks (``rows`` of them: all when None) as a SLEAP file."""
        light = tracks.light if rows is None else tracks.select(SLP_COLUMNS, rows)
        points_of = None
        if tracks.nodes:
            points_of = tracks.points if rows is None else lambda part: tracks.points(rows[part])
        slp.write_tracks(
            light,
            path,
            video_path=video,
            nodes=nodes,
            edges=[tuple(e) for e in skeleton.get("edges", [])],
            n_frames=detection_stage.get("n_frames"),
            track_names=named,
            suggestions=suggestions,
            points_of=points_of,
            track_ids=track_ids,
        )

    write_slp(smk.output.slp)
    if smk.output.get("package"):
        embedded = write_package(smk, tracks, video, suggestions, write_slp)
        suspect_results["proofread_package"] = smk.output.package
        (logger.info if embedded or not suggestions else logger.warning)(
            "proofread.pkg.slp: %d suspect frames embedded%s",
            embedded,
            "" if embedded or not suggestions else " (the video file is not here: no images)",
        )
    logger.info(
        "%d tracks over %d rows (%d interpolated)",
        len(track_ids),
        len(tracks),
        int(tracks.column("interpolated").sum()),
    )
    write_video_provenance(
        smk.output.provenance,
        config=smk.config,
        video_id=smk.wildcards.video,
        **sources,
        results={
            # The tables it read (the video and the proofread file are inputs, recorded above).
            **{
                name: path
                for name, path in smk.input.items()
                if name not in ("video", "proofread") and isinstance(path, str)
            },
            "tracks": smk.output.table,
            "tracks_csv": smk.output.csv,
            "tracks_slp": smk.output.slp,
            **suspect_results,
        },
        workflow_dir=smk.params.workflow_dir,
    )


def tracked_detections(path: str, by_class: bool):
    """The detections as the tracker reads them: in parts, so that it keeps only what it links
    by in memory and the rest in temporary files; ``by_class``: whole, with a multi-class
    model's identity classes, the tracks (not kept here: the tracker frees the table once it
    has its arrays)."""
    if by_class:
        return io.read_columns(path, "detections", [*INSTANCE_COLUMNS, *IDENTITY_COLUMNS])
    return io.iter_columns(path, "detections", INSTANCE_COLUMNS)


def has_identity_classes(path: str) -> bool:
    """Did a multi-class model name every detection (see ``identity_names``)?"""
    identity = io.read_columns(path, "detections", ["identity_id"]).get("identity_id")
    return identity is not None and len(identity) > 0 and bool((identity >= 0).all())


def write_package(smk, tracks, video, suggestions, write_slp) -> int:
    """proofread.pkg.slp, from a .slp of the suspect frames' tracks alone: sleap-io reads all of
    a file's instances even when loading lazily, so the whole tracks.slp would cost the memory
    of every instance of the video. Returns the number of frames embedded."""
    frames = tracks.column("frame")
    rows = np.flatnonzero(np.isin(frames, np.asarray(suggestions or [], dtype=np.int64)))
    target = Path(smk.output.package)
    suspect_tracks = target.with_name(f".{target.name}.suspects.slp")
    try:
        write_slp(str(suspect_tracks), rows)
        return package.write_package(
            str(suspect_tracks), video or None, str(target), recorded_source=smk.output.slp
        )
    finally:
        suspect_tracks.unlink(missing_ok=True)


def apply_corrections(smk, tracks, nodes, detection_stage, params, frames):
    """The tracks of record (a TrackTable, like ``tracks``) from the video's proofread .slp or
    X-AnyLabeling folder (see snakeherd.proofreading.corrections), and the corrections;
    ``frames``: the processed frames (None: every frame)."""
    proofread = smk.params.sources["inputs"]["proofread"]
    video = smk.params.sources["inputs"]["video"] or detection_stage.get("video")
    n_frames = detection_stage.get("n_frames")
    if not n_frames:
        detected = io.read_columns(smk.input.detections, "detections", ["frame"])["frame"]
        n_frames = int(detected.max()) + 1
    fixes = corrections.read(proofread, nodes, n_frames, video, smk.wildcards.video)
    fixed, corrected = corrections.apply_table(tracks, fixes, params.max_distance, frames)
    logger.info(
        "proofread %s: %d corrected frames (%d instances placed by a person)",
        proofread,
        len(corrected),
        fixes.placed_by_a_person(),
    )
    return fixed, fixes


def write_suspects(smk, tracks, detection_stage, frames, video) -> list[int]:
    """The video's suspect stretches as tables; their representative frames (for tracks.slp's
    labelling suggestions)."""
    tracks_stage = io.read_metadata(smk.output.table)["stage"]

    def detections():  # read for the video's context alone, a batch at a time
        return io.iter_columns(smk.input.detections, "detections", CHECKED_COLUMNS)

    if frames is None:
        frames = io.distinct_frames(detections())
    context = suspect_frames.context_for(detections, frames, tracks_stage, detection_stage, video)
    params = suspect_frames.SuspectParams.from_config(smk.params.proofreading)
    found = suspect_frames.find(
        tracks.light,
        context,
        params,
        smk.wildcards.video,
        # Made a block at a time as the checks store it beside the tracks.
        tracks.keypoint_score_mean if tracks.nodes else None,
    )
    io.write_table(
        found,
        smk.output.suspects,
        "suspects",
        {
            "method": "suspects",
            "params": params.as_dict(),
            "body_length_px": context.body_length,
            "expected_count": context.expected_count,
            "frame_size": context.frame_size,
            "identity_classes": context.identity_classes,
        },
    )
    io.write_csv(found, smk.output.suspects_csv)
    logger.info(
        "%d suspect stretches (%d of %d frames flagged); by reason: %s",
        len(found),
        len(suspect_frames.flagged_frames(found)),
        len(frames),
        found["reason"].value_counts().to_dict(),
    )
    return found["frame"].tolist()


run_rule(main, snakemake)  # noqa: F821
