"""A chunked video's SLEAP stage joined: the chunk jobs' hand-over arrays (:mod:`.handover`) and
``.slp`` files become the video's, as one unsplit job writes them.

Runs in the main environment (numpy, sleap-io), on CPU, after the chunk jobs' predictions; the
frame checks are :mod:`snakeherd.chunks`'s (no frame lost or counted twice wherever the chunks
fall).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..chunks import ChunkError, check_plan, check_rows
from ..video import FrameSelection

# The hand-over arrays with one row per instance, joined by concatenation.
INSTANCE_ARRAYS = ("frame", "det_id", "points", "point_scores", "instance_score", "identity")


def join_pose_arrays(
    parts: Sequence[tuple[dict[str, np.ndarray], dict]],
    chunks: Sequence[FrameSelection],
    selection: FrameSelection,
    names: Sequence[str],
) -> tuple[dict[str, np.ndarray], dict]:
    """The chunk jobs' ``(arrays, stage)`` (chunk ``i``'s for ``chunks[i]``, as
    :func:`~.handover.read_pose_arrays` returns them) as the arrays and stage record of the whole
    ``selection``. Raises :class:`~snakeherd.chunks.ChunkError` unless each part was made for
    its chunk, its instances lie in that chunk, and the chunks select ``selection`` frame by
    frame."""
    if len(parts) != len(chunks):
        raise ChunkError(f"{len(parts)} chunk predictions for {len(chunks)} chunks")
    check_plan(chunks, selection)
    node_names = [str(node) for node in parts[0][0]["node_names"]]
    for (arrays, stage), chunk, name in zip(parts, chunks, names, strict=True):
        if stage.get("frame_selection") != str(chunk):
            raise ChunkError(
                f"{name} was made for the frames {stage.get('frame_selection')}, and the chunk "
                f"is now {chunk}: the video or chunk_frames changed since; rerun with "
                "`--rerun-triggers mtime params` or delete the chunks folder"
            )
        if [str(node) for node in arrays["node_names"]] != node_names:
            raise ChunkError(
                f"{name} has the nodes {list(arrays['node_names'])}, and the first chunk "
                f"{node_names}: the chunks were made by different models; rerun them"
            )
        check_rows(arrays["frame"], chunk, name)
    joined = {key: np.concatenate([arrays[key] for arrays, _ in parts]) for key in INSTANCE_ARRAYS}
    joined["node_names"] = parts[0][0]["node_names"]
    stages = [stage for _, stage in parts]
    stage = dict(stages[0])
    stage["frames"] = sum(int(record.get("frames") or 0) for record in stages)
    stage["frame_selection"] = str(selection)
    stage["chunks"] = [str(chunk) for chunk in chunks]
    if "frames_at_max_instances" in stage:
        stage["frames_at_max_instances"] = sum(
            int(record.get("frames_at_max_instances") or 0) for record in stages
        )
    return joined, stage


def merge_slp(paths: Sequence[str | Path], output: str | Path) -> int:
    """The chunk jobs' ``.slp`` files (in frame order) as one, written atomically: one video, one
    skeleton, one track per identity name, as an unsplit job writes it. Returns its labelled
    frames."""
    import sleap_io as sio

    first = sio.load_slp(str(paths[0]), open_videos=False)
    video = first.videos[0]
    skeleton = first.skeletons[0] if first.skeletons else None
    tracks = {track.name: track for track in first.tracks}
    identities = {identity.name: identity for identity in first.identities}
    labeled_frames = list(first.labeled_frames)
    for path in paths[1:]:
        part = sio.load_slp(str(path), open_videos=False)
        for labeled_frame in part.labeled_frames:
            labeled_frame.video = video
            for instance in labeled_frame.instances:
                if skeleton is not None:
                    if instance.skeleton.node_names != skeleton.node_names:
                        raise ChunkError(
                            f"{path} has the skeleton {instance.skeleton.node_names}, and the "
                            f"first chunk {skeleton.node_names}: rerun the chunks"
                        )
                    instance.skeleton = skeleton
                # Each chunk has its own objects for the identity classes; keep one per name.
                if instance.track is not None:
                    instance.track = tracks.setdefault(instance.track.name, instance.track)
                if getattr(instance, "identity", None) is not None:
                    instance.identity = identities.setdefault(
                        instance.identity.name, instance.identity
                    )
            labeled_frames.append(labeled_frame)
    merged = sio.Labels(
        labeled_frames=labeled_frames,
        videos=[video],
        skeletons=[skeleton] if skeleton is not None else [],
        tracks=list(tracks.values()),
        provenance=first.provenance,
    )
    if identities:
        merged.identities = list(identities.values())
    output = Path(output)
    temporary = output.with_name(f".{output.name}.tmp.slp")
    sio.save_slp(merged, str(temporary))
    temporary.replace(output)
    return len(merged.labeled_frames)
