"""A SLEAP package of a video's suspect frames: their images embedded, with the tracks'
predictions and the suspect frames as labelling suggestions, so a person can proofread in the
SLEAP GUI on a laptop without the raw video."""

from __future__ import annotations

from pathlib import Path

from ..errors import InputFileError


def write_package(
    tracks_slp: str, video: str | None, path: str, recorded_source: str | None = None
) -> int:
    """Write ``path`` (a ``.pkg.slp``) from ``tracks_slp``'s suggestions (the suspect frames):
    those frames of ``video`` embedded, with the predictions on them. Returns the number of
    frames embedded. Without the video file (a track-only video given without it) the package
    holds the predictions and suggestions without images (SLEAP then asks for the video).
    ``recorded_source``: the file the package's provenance names (default ``tracks_slp``; the
    track job gives tracks.slp when ``tracks_slp`` holds only the suspect frames)."""
    import sleap_io

    # Lazily: a long video's tracks as sleap-io objects would take ~1.5 kB per instance, and
    # only the suggested frames are kept.
    everything = sleap_io.load_slp(tracks_slp, open_videos=False, lazy=True)
    if len(everything.videos) != 1:
        raise InputFileError(
            f"{tracks_slp} holds {len(everything.videos)} videos; a proofreading package is made "
            "from one video's tracks.",
            "re-run the track job of this video.",
        )
    wanted = {int(suggestion.frame_idx) for suggestion in everything.suggestions}
    labels = sleap_io.Labels(
        labeled_frames=[everything.labeled_frames[i] for i in _frames_at(tracks_slp, wanted)],
        videos=list(everything.videos),
        skeletons=list(everything.skeletons),
        tracks=list(everything.tracks),
        suggestions=list(everything.suggestions),
        provenance={**everything.provenance, "filename": recorded_source or tracks_slp},
    )
    replacement = None
    if video is not None and Path(video).is_file():
        replacement = sleap_io.Video.from_filename(str(video))
        labels.replace_videos(old_videos=[labels.videos[0]], new_videos=[replacement])
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.tmp.slp")
    try:
        embed = "suggestions" if replacement is not None and wanted else False
        sleap_io.save_slp(labels, str(temporary), embed=embed, verbose=False)
        temporary.replace(target)
    finally:
        temporary.unlink(missing_ok=True)
        if replacement is not None:
            replacement.close()
    return len(wanted) if replacement is not None else 0


def _frames_at(tracks_slp: str, frame_indices: set[int]) -> list[int]:
    """Positions, in the file's labelled frames, of the frames with these video frame indices
    (the ``frames`` array alone is read)."""
    import h5py
    import numpy as np

    with h5py.File(tracks_slp, "r") as handle:
        indices = handle["frames"]["frame_idx"]
    return np.flatnonzero(np.isin(indices, sorted(frame_indices))).tolist()
