"""Tracks as NWB files (ndx-pose) that `movement` loads with its default NWB call.

Layout: one file per track (``<results>/<video>/nwb/<track name>.nwb``). An NWB file describes one
subject (DANDI requires it), and movement's ``load_poses.from_nwb_file(path)`` reads one
``PoseEstimation`` named ``PoseEstimation`` from the ``behavior`` processing module and names the
individual after the file's ``identifier``; so each track gets a file whose identifier and
subject id are the track's name, and ``xarray.merge`` of the loaded files is the whole video.

Each file holds, in ``behavior``: ``Skeletons`` (the pose stage's nodes and edges) and
``PoseEstimation`` with one ``PoseEstimationSeries`` per node (x, y in video pixels, and the
keypoint scores as confidences). Runs without keypoints (boxes only) get one ``centroid`` node,
the box centre with the detection score, as ``tracks.slp`` does.

Time: every series has one row per video frame from frame 0 (NaN where the track is absent or
the frame was not processed), at the video's frame rate (``rate``, ``starting_time`` 0). So the
time of row ``i`` is frame ``i`` / fps in any NWB reader, and movement, which numbers rows from 0,
gets the video's real times and aligns the tracks of a video when it merges them. The all-NaN
rows cost little: datasets are gzip-compressed in chunks.
"""

from __future__ import annotations

import itertools
import json
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from importlib.metadata import version as package_version
from pathlib import Path

import numpy as np
import pandas as pd

from . import __version__, io
from .errors import ConfigError
from .slp import CENTROID_NODE

# What movement's default loader reads.
PROCESSING_MODULE = "behavior"
POSE_ESTIMATION = "PoseEstimation"
REFERENCE_FRAME = (
    "(0, 0) is the top-left corner of the video frame; x grows to the right and y downwards, in "
    "pixels of the original video"
)
CHUNK_FRAMES = 4096
# Subject fields nobody configured: sex unknown, and an age range that says only "0 days or older"
# (NWB and DANDI ask for an age; a made-up one would be worse than an open range).
SUBJECT_DEFAULTS = {"sex": "U", "age": "P0D/"}


@dataclass(frozen=True)
class VideoRecord:
    """The video the tracks come from, as NWB describes it."""

    path: str
    fps: float
    n_frames: int
    width: int | None = None
    height: int | None = None


@dataclass(frozen=True)
class SessionMetadata:
    """The config's ``outputs.nwb_metadata``: NWB file and subject fields."""

    session_description: str | None = None
    session_start_time: str | None = None
    experimenter: list[str] = field(default_factory=list)
    lab: str | None = None
    institution: str | None = None
    experiment_description: str | None = None
    keywords: list[str] = field(default_factory=list)
    subject: dict = field(default_factory=dict)

    @classmethod
    def from_config(cls, section: dict | None) -> SessionMetadata:
        section = dict(section or {})
        return cls(
            **{key: value for key, value in section.items() if key in cls.__dataclass_fields__}
        )

    def for_video(self, subject: dict | None) -> SessionMetadata:
        """These fields with one video's own subject fields (its entry's) over the config's."""
        return replace(self, subject={**(self.subject or {}), **(subject or {})})


def track_names(track_ids, identities: dict | None = None) -> dict[int, str]:
    """Each track's name: its identity class (multi-class models) or ``track_<id>``, as in
    tracks.slp."""
    identities = {int(key): str(value) for key, value in (identities or {}).items()}
    return {int(t): identities.get(int(t), f"track_{int(t)}") for t in track_ids}


def file_names(names: dict[int, str]) -> dict[int, str]:
    """A distinct, portable file name per track (``<name>.nwb``; odd characters become ``_``)."""
    taken: set[str] = set()
    result = {}
    for track_id, name in sorted(names.items()):
        stem = re.sub(r"[^A-Za-z0-9_.-]", "_", name).strip(".") or f"track_{track_id}"
        candidate, suffix = stem, 1
        while candidate.lower() in taken:
            suffix += 1
            candidate = f"{stem}_{suffix}"
        taken.add(candidate.lower())
        result[track_id] = f"{candidate}.nwb"
    return result


def keypoint_blocks(
    rows: Iterable[pd.DataFrame], nodes: list[str], n_frames: int, block_frames: int
) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """One track's positions ``(frames, nodes, 2)`` and confidences ``(frames, nodes)`` from
    its rows of the tracks table (in parts, in frame order), ``block_frames`` video frames at a
    time: (first frame, positions, confidences) for every block of the video in order, NaN
    where the track has no row. Without ``nodes`` the one node is the track position
    (``x, y``) with the detection score."""
    x_columns, y_columns, score_columns = _point_columns(nodes)

    def empty(start: int) -> tuple[int, np.ndarray, np.ndarray]:
        length = min(block_frames, n_frames - start)
        return (
            start,
            np.full((length, len(x_columns), 2), np.nan),
            np.full((length, len(x_columns)), np.nan),
        )

    block = empty(0)
    for part in rows:
        frames = part["frame"].to_numpy(dtype=np.int64)
        values = {
            "x": part[x_columns].to_numpy(dtype=np.float64),
            "y": part[y_columns].to_numpy(dtype=np.float64),
            "score": part[score_columns].to_numpy(dtype=np.float64),
        }
        while len(frames):
            start, positions, confidences = block
            inside = frames < start + len(positions)
            at = frames[inside] - start
            positions[at, :, 0] = values["x"][inside]
            positions[at, :, 1] = values["y"][inside]
            confidences[at] = values["score"][inside]
            if inside.all():
                break
            frames = frames[~inside]
            values = {name: column[~inside] for name, column in values.items()}
            yield block
            block = empty(start + block_frames)
    while True:
        yield block
        if block[0] + block_frames >= n_frames:
            return
        block = empty(block[0] + block_frames)


def _point_columns(nodes: list[str]) -> tuple[list[str], list[str], list[str]]:
    if not nodes:
        return ["x"], ["y"], ["score"]
    return [f"{n}.x" for n in nodes], [f"{n}.y" for n in nodes], [f"{n}.score" for n in nodes]


def _tracks_in(tracks_path: str | Path) -> tuple[list[int], int]:
    """The track ids of a tracks table, sorted, and its last frame (-1 when empty)."""
    ids: set[int] = set()
    last = -1
    for part in io.iter_table(tracks_path, "tracks", ["frame", "track_id"]):
        ids.update(part["track_id"].astype(int).tolist())
        if len(part):
            last = max(last, int(part["frame"].max()))
    return sorted(ids), last


def _rows_of(tracks_path: str | Path, track_id: int, columns: list[str]) -> Iterator[pd.DataFrame]:
    """One track's rows of a tracks table, a batch of the table at a time (never whole)."""
    for part in io.iter_table(tracks_path, "tracks", ["track_id", *columns]):
        yield part[part["track_id"] == track_id]


def session_start(metadata: SessionMetadata, video: VideoRecord) -> datetime:
    """The session's start: the configured time (ISO 8601; UTC when it names no zone), else the
    video file's modification time, else the Unix epoch."""
    if metadata.session_start_time:
        value = metadata.session_start_time
        try:
            start = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
        except ValueError:
            raise ConfigError(
                f"outputs.nwb_metadata.session_start_time '{value}' is not a date and time.",
                'write it as ISO 8601 in quotes, e.g. "2024-05-01T09:30:00+02:00".',
            ) from None
    elif Path(video.path).is_file():
        start = datetime.fromtimestamp(Path(video.path).stat().st_mtime, tz=UTC)
    else:
        start = datetime(1970, 1, 1, tzinfo=UTC)
    return start if start.tzinfo else start.replace(tzinfo=UTC)


def describe_stages(provenance: dict) -> tuple[str, str]:
    """``scorer`` (the models) and ``description`` (stages, models, runtime) of the
    PoseEstimation, from the video's provenance record."""
    stages = provenance.get("runtime", {}).get("stages", {})
    models, parts = [], []
    for table in ("detections", "poses"):
        stage = stages.get(table) or {}
        method = stage.get("method")
        if not method:
            continue
        stage_models = stage.get("models") or ([stage["model"]] if stage.get("model") else [])
        runtime = stage.get("runtime") or {}
        text = f"{table}: {method}"
        if stage_models:
            text += " with " + ", ".join(Path(str(m)).name for m in stage_models)
        if runtime.get("runtime"):
            text += f" on runtime {runtime['runtime']}"
            if runtime.get("providers"):
                text += " (" + ", ".join(runtime["providers"]) + ")"
        if stage.get("export"):
            text += f" from its export {stage['export']}"
        if stage.get("source"):
            text += f" from {stage['source']}"
        parts.append(text)
        models += [str(m) for m in stage_models if str(m) not in models]
    tracking = stages.get("tracks") or {}
    if tracking.get("method"):
        parts.append(f"tracks: snakeherd {tracking['method']}")
    scorer = ", ".join(Path(m).name for m in models) or "snakeherd"
    description = (
        "Poses and identity-preserving tracks from snakeherd "
        f"{provenance.get('snakeherd_version', __version__)}. " + "; ".join(parts) + "."
    )
    return scorer, description


def object_names(names: list[str]) -> list[str]:
    """NWB object names for keypoint names: NWB forbids '/' and ':' in a name, so they become
    '_' (the keypoint's own name stays in its series' description); clashes get a suffix."""
    result: list[str] = []
    for name in names:
        candidate = re.sub(r"[/:]", "_", name)
        base, number = candidate, 2
        while candidate in result:
            candidate, number = f"{base}_{number}", number + 1
        result.append(candidate)
    return result


def _empty_dataset(shape: tuple[int, ...]):
    """A compressed float dataset written empty with the file, filled a block at a time after
    (:func:`keypoint_blocks`): a long video's track is never held whole."""
    from hdmf.backends.hdf5 import H5DataIO

    chunks = (max(1, min(shape[0], CHUNK_FRAMES)), *shape[1:])
    return H5DataIO(
        shape=shape, dtype=np.float64, compression="gzip", compression_opts=4, chunks=chunks
    )


def writer_versions() -> dict[str, str]:
    """The NWB libraries writing the file, for whoever reads it with other versions."""
    return {package: package_version(package) for package in ("pynwb", "hdmf", "ndx-pose")}


def build_nwbfile(
    name: str,
    n_frames: int,
    *,
    nodes: list[str],
    edges: list[tuple[str, str]],
    video: VideoRecord,
    video_id: str,
    metadata: SessionMetadata,
    provenance: dict,
    nwb_path: str | Path,
):
    """The NWB file of one track (an in-memory ``pynwb.NWBFile``) that will be written to
    ``nwb_path`` (the video is referenced relative to it), and each node's position and
    confidence datasets: written empty (``n_frames`` long), to be filled once the file is
    (:func:`fill_series`)."""
    from ndx_pose import PoseEstimation, PoseEstimationSeries, Skeleton, Skeletons
    from pynwb import NWBFile
    from pynwb.file import Subject
    from pynwb.image import ImageSeries

    subject_fields = {**SUBJECT_DEFAULTS, **(metadata.subject or {})}
    subject_fields = {key: value for key, value in subject_fields.items() if value is not None}
    subject = Subject(
        subject_id=name,
        description=subject_fields.pop(
            "description", f"the animal snakeherd tracked as '{name}' in video {video_id}"
        ),
        **subject_fields,
    )
    nwbfile = NWBFile(
        session_description=metadata.session_description or f"snakeherd tracks of video {video_id}",
        identifier=name,
        session_start_time=session_start(metadata, video),
        session_id=video_id,
        experimenter=list(metadata.experimenter) or None,
        lab=metadata.lab,
        institution=metadata.institution,
        experiment_description=metadata.experiment_description,
        keywords=list(metadata.keywords) or None,
        subject=subject,
        notes=json.dumps(
            {
                "software": f"snakeherd {provenance.get('snakeherd_version', __version__)}",
                "experiment": provenance.get("experiment"),
                "video_id": video_id,
                "workflow": provenance.get("workflow"),
                "runtime_requested": provenance.get("runtime", {}).get("requested"),
                "written_with": writer_versions(),
            },
            default=str,
        ),
    )
    original_names = list(nodes) or [CENTROID_NODE]
    node_names = object_names(original_names)
    index = {node: i for i, node in enumerate(original_names)}
    edge_array = np.array(
        [[index[a], index[b]] for a, b in (edges or []) if a in index and b in index],
        dtype=np.uint8,
    ).reshape(-1, 2)
    skeleton = Skeleton(name="skeleton", nodes=node_names, edges=edge_array, subject=subject)
    confidence_definition = (
        "the pose model's score of the keypoint"
        if nodes
        else "the detection score of the box whose centre is the position"
    )
    datasets = [(_empty_dataset((n_frames, 2)), _empty_dataset((n_frames,))) for _ in node_names]
    series = [
        PoseEstimationSeries(
            name=node,
            description=(
                f"position of {original_names[i]}" if nodes else "centre of the animal's box"
            ),
            data=datasets[i][0],
            unit="pixels",
            reference_frame=REFERENCE_FRAME,
            confidence=datasets[i][1],
            confidence_definition=confidence_definition,
            rate=float(video.fps),
            starting_time=0.0,
        )
        for i, node in enumerate(node_names)
    ]
    scorer, description = describe_stages(provenance)
    # The video, referenced (never copied) as an external-file ImageSeries that the
    # PoseEstimation names as its source. NWB wants the path relative to the NWB file (DANDI
    # keeps videos beside it); the absolute one is in the description.
    source_video = ImageSeries(
        name="video",
        description=f"the video snakeherd tracked ({video_id}): {video.path}",
        external_file=[os.path.relpath(video.path, Path(nwb_path).parent)],
        format="external",
        starting_frame=[0],
        num_samples=int(n_frames),
        rate=float(video.fps),
        unit="n.a.",
        dimension=[int(video.width), int(video.height)] if video.width and video.height else None,
    )
    nwbfile.add_acquisition(source_video)
    pose_estimation = PoseEstimation(
        name=POSE_ESTIMATION,
        pose_estimation_series=series,
        description=description,
        source_video=source_video,
        scorer=scorer,
        source_software="snakeherd",
        source_software_version=str(provenance.get("snakeherd_version", __version__)),
        skeleton=skeleton,
    )
    module = nwbfile.create_processing_module(
        name=PROCESSING_MODULE, description="pose estimation and tracking by snakeherd"
    )
    module.add(Skeletons(skeletons=[skeleton]))
    module.add(pose_estimation)
    return nwbfile, datasets


def fill_series(datasets, blocks: Iterable[tuple[int, np.ndarray, np.ndarray]]) -> None:
    """Write :func:`keypoint_blocks` into the datasets :func:`build_nwbfile` gave, once its
    file is written (and still open)."""
    for start, positions, confidences in blocks:
        stop = start + len(positions)
        for i, (data, confidence) in enumerate(datasets):
            data.dataset[start:stop] = positions[:, i, :]
            confidence.dataset[start:stop] = confidences[:, i]


def write_nwb_folder(
    tracks_path: str | Path,
    folder: str | Path,
    *,
    video_id: str,
    nodes: list[str],
    edges: list[tuple[str, str]],
    video: VideoRecord,
    metadata: SessionMetadata,
    provenance: dict,
    identities: dict | None = None,
) -> dict[str, str]:
    """One NWB file per track of the tracks table at ``tracks_path`` in ``folder`` (replaced
    whole); returns track name -> file. The table is read one track at a time, and each file's
    arrays written a block of :data:`CHUNK_FRAMES` frames at a time."""
    from pynwb import NWBHDF5IO

    folder = Path(folder)
    track_ids, last_frame = _tracks_in(tracks_path)
    n_frames = max(int(video.n_frames), last_frame + 1)
    names = track_names(track_ids, identities)
    files = file_names(names)
    columns = ["frame", *itertools.chain(*_point_columns(nodes))]
    temporary = folder.with_name(f".{folder.name}.tmp")
    if temporary.exists():
        for stale in temporary.iterdir():
            stale.unlink()
    temporary.mkdir(parents=True, exist_ok=True)
    written = {}
    for track_id in track_ids:
        nwbfile, datasets = build_nwbfile(
            names[track_id],
            n_frames,
            nodes=nodes,
            edges=edges,
            video=video,
            video_id=video_id,
            metadata=metadata,
            provenance=provenance,
            nwb_path=folder / files[track_id],
        )
        handle = io.hdf5_written_in_chunks(temporary / files[track_id])
        with handle, NWBHDF5IO(file=handle, mode="w") as writer:
            writer.write(nwbfile)
            rows = _rows_of(tracks_path, track_id, columns)
            fill_series(datasets, keypoint_blocks(rows, nodes, n_frames, CHUNK_FRAMES))
        written[names[track_id]] = str(folder / files[track_id])
    if folder.exists():
        for old in folder.iterdir():
            old.unlink()
        folder.rmdir()
    temporary.rename(folder)
    return written
