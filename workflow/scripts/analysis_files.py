"""Rule analysis_files: a video's tracks as NWB files (one per track) and as SLEAP's analysis
HDF5, for the tools that read those (movement, DANDI, MATLAB scripts)."""

import json
from pathlib import Path

from snakeherd import io, nwb, slp
from snakeherd.errors import VideoError
from snakeherd.scripting import give_back_freed_memory, give_back_large_arrays, logger, run_rule
from snakeherd.video import probe


def video_record(video_path, detection_stage: dict) -> nwb.VideoRecord | None:
    """The video's file, frame rate, length and size: probed from the file when it is on disk,
    else as the detection stage recorded them (None when neither knows the frame rate)."""
    recorded = detection_stage.get("video")
    if not video_path:  # a track-only video without a path: the one its .slp names
        video_path = recorded.get("path") if isinstance(recorded, dict) else recorded
    if video_path and Path(video_path).is_file():
        try:
            info = probe(video_path)
        except VideoError:
            info = None
        if info is not None and info.fps > 0:
            return nwb.VideoRecord(
                path=str(Path(video_path).resolve()),
                fps=info.fps,
                n_frames=info.n_frames,
                width=info.width,
                height=info.height,
            )
    if isinstance(recorded, dict) and recorded.get("fps"):
        return nwb.VideoRecord(
            path=str(recorded.get("path") or video_path),
            fps=float(recorded["fps"]),
            n_frames=int(recorded.get("n_frames") or 0),
            width=recorded.get("width"),
            height=recorded.get("height"),
        )
    return None


def write_nwb(smk, provenance: dict) -> None:
    io.check_table(smk.input.tracks, "tracks")
    no_tracks = io.count_rows(smk.input.tracks) == 0
    stage = io.read_metadata(smk.input.tracks)["stage"]
    detection_stage = provenance.get("runtime", {}).get("stages", {}).get("detections", {})
    skeleton = provenance.get("runtime", {}).get("stages", {}).get("poses", {}).get("skeleton")
    folder = Path(smk.output.nwb)
    video = video_record(smk.params.video, detection_stage)
    if video is None or no_tracks:
        why = (
            "it has no tracks (nothing was detected in its selected frames)."
            if no_tracks
            else "its frame rate is unknown: the video file is not on disk. Give the video "
            "entry a `path` to the video file."
        )
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "NO_NWB.txt").write_text(f"No NWB files for video {smk.wildcards.video}: {why}\n")
        logger.warning("no NWB files for video %s: %s", smk.wildcards.video, why)
        return
    written = nwb.write_nwb_folder(
        smk.input.tracks,
        folder,
        video_id=smk.wildcards.video,
        nodes=list(stage.get("nodes") or []),
        edges=[tuple(edge) for edge in (skeleton or {}).get("edges", [])],
        video=video,
        metadata=nwb.SessionMetadata.from_config(smk.params.nwb_metadata).for_video(
            smk.params.subject
        ),
        provenance=provenance,
        identities=stage.get("identities"),
    )
    logger.info("%d NWB files (one per track) in %s at %.3f fps", len(written), folder, video.fps)


def main(smk):
    give_back_large_arrays()  # a whole video's arrays, made and freed one after the other
    provenance = json.loads(Path(smk.input.provenance).read_text())
    if smk.output.get("nwb"):
        write_nwb(smk, provenance)
        # The NWB files' freed batches stay in the heap (~25 MB at 330,000 frames), under the
        # analysis HDF5's peak.
        give_back_freed_memory()
    if smk.output.get("analysis_h5"):
        slp.write_analysis_h5(smk.input.tracks_slp, smk.output.analysis_h5)
        logger.info("SLEAP analysis HDF5: %s", smk.output.analysis_h5)


run_rule(main, snakemake)  # noqa: F821
