"""Chunks: a long video's selected frames split into runs of ``chunk_frames`` frames, one job
each, and the chunk jobs' tables joined back into the video's table.

A chunk is itself a :class:`~snakeherd.video.FrameSelection` (its frames are consecutive in the
video's selection, so it may span a gap of the selection: ``"90-99,150-179"``). The join checks
that the chunks' selections, in order, are the video's selection, frame for frame, and that each
chunk's rows lie in its own frames: no frame is lost or counted twice wherever the chunks fall.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

import numpy as np
import pyarrow.parquet as pq

from .errors import SnakeherdError
from .io import TableWriter, read_arrow
from .video import FrameSelection


class ChunkError(SnakeherdError):
    """Chunk tables that do not add up to their video's frames."""


def split(selection: FrameSelection, chunk_frames: int | None) -> list[FrameSelection]:
    """The chunks of a resolved selection: consecutive runs of ``chunk_frames`` selected frames
    (the last one shorter). None: one chunk, the whole selection."""
    if chunk_frames is not None and chunk_frames < 1:
        raise ValueError(f"chunk_frames must be at least 1, got {chunk_frames}")
    if not selection.is_resolved:
        raise ValueError("resolve() the selection against the video before splitting it")
    if chunk_frames is None or len(selection) <= chunk_frames:
        return [selection]
    chunks: list[FrameSelection] = []
    current: list[tuple[int, int]] = []
    room = chunk_frames
    for start, stop in selection.ranges:
        while start <= stop:
            end = min(stop, start + room - 1)
            current.append((start, end))
            room -= end - start + 1
            start = end + 1
            if room == 0:
                chunks.append(FrameSelection(tuple(current)))
                current, room = [], chunk_frames
    if current:
        chunks.append(FrameSelection(tuple(current)))
    return chunks


def join_files(
    paths: Sequence[str],
    chunks: Sequence[FrameSelection],
    selection: FrameSelection,
    table: str,
    output: str,
    stage: dict,
) -> int:
    """The chunk tables in ``paths`` (chunk ``i``'s rows for ``chunks[i]``) joined in frame order
    into the table ``table`` at ``output`` (with the stage record ``stage``), one chunk at a time,
    so memory is bounded by the largest chunk, not the video; returns its rows.

    Raises :class:`ChunkError`, writing nothing, unless the chunks, in order, select exactly the
    frames of ``selection``, every row's frame lies in its own chunk and all chunks have the same
    columns.
    """
    if len(paths) != len(chunks):
        raise ChunkError(f"{len(paths)} chunk tables for {len(chunks)} chunks")
    check_plan(chunks, selection)
    files = [pq.ParquetFile(path) for path in paths]
    schemas = [file.schema_arrow.remove_metadata() for file in files]
    for path, schema in zip(paths, schemas, strict=True):
        if schema.names != schemas[0].names:
            raise ChunkError(
                f"{path} has the columns {schema.names}, and the first chunk "
                f"{schemas[0].names}: the chunks were made by different runs; rerun them"
            )
    # An empty chunk's columns that pandas could not type are typed by a chunk with rows.
    with_rows = [
        schema for file, schema in zip(files, schemas, strict=True) if file.metadata.num_rows
    ]
    schema = with_rows[0] if with_rows else schemas[0]
    rows = 0
    with TableWriter(output, table, stage, schema) as writer:
        for path, chunk in zip(paths, chunks, strict=True):
            part = read_arrow(path, table)
            check_rows(part.column("frame").to_numpy(), chunk, path)
            writer.write(part.cast(schema) if part.schema.remove_metadata() != schema else part)
            rows += len(part)
    return rows


def check_plan(chunks: Sequence[FrameSelection], selection: FrameSelection) -> None:
    """Raises :class:`ChunkError` unless the chunks, in order, select exactly the frames of
    ``selection``, one by one."""
    planned = np.concatenate([chunk.frames() for chunk in chunks]) if chunks else np.empty(0)
    expected = selection.frames()
    if len(planned) != len(expected) or not np.array_equal(planned, expected):
        lost = np.setdiff1d(expected, planned)
        extra = planned[np.isin(planned, expected, invert=True)]
        values, counts = np.unique(planned, return_counts=True)
        twice = values[counts > 1]
        raise ChunkError(
            f"the chunks {', '.join(map(str, chunks))} do not select the frames {selection} "
            f"one by one: {_some(lost)} lost, {_some(twice)} twice, {_some(extra)} outside it"
        )


def check_rows(frames: np.ndarray, chunk: FrameSelection, name: str) -> None:
    """Raises :class:`ChunkError` unless a chunk's row ``frames`` lie in its own frames, in
    frame order."""
    outside = np.setdiff1d(frames, chunk.frames())
    if len(outside):
        raise ChunkError(f"{name} has rows for frame(s) {_some(outside)} outside its {chunk}")
    if len(frames) and np.any(np.diff(frames) < 0):
        raise ChunkError(f"{name}: rows are not in frame order")


def joined_summary(summaries: Sequence[dict], selection: FrameSelection) -> dict:
    """The stage record of a joined table: the first chunk's, with the frames of all chunks
    and the chunks named (chunk records differ only in their frames)."""
    summary = {key: value for key, value in summaries[0].items() if key != "chunk"}
    summary["frames"] = sum(int(record.get("frames") or 0) for record in summaries)
    if summary.get("frame_selection") is not None:
        summary["frame_selection"] = str(selection)
    summary["chunks"] = [record.get("chunk") for record in summaries]
    return summary


def _some(values, shown: int = 5) -> str:
    values = [int(v) for v in values]
    if not values:
        return "none"
    text = ", ".join(map(str, values[:shown]))
    return text + (f" and {len(values) - shown} more" if len(values) > shown else "")


def video_length(entry) -> int | None:
    """Frames in a video entry's video (a :class:`snakeherd.config.VideoEntry`), from its
    header or its synthetic scene; None when unknown (no video, or one that does not open: its
    job then fails alone with a clear error)."""
    from .errors import VideoError
    from .synthetic import SceneSpec
    from .video import probe

    if entry.is_synthetic:
        return SceneSpec.from_config(entry.synthetic).n_frames
    if entry.path is None:
        return None
    try:
        return probe(entry.path).n_frames
    except VideoError:
        return None


@cache
def plan(entry) -> list[FrameSelection]:
    """The chunks of a video entry's model-stage jobs. One chunk, the entry's own (unresolved)
    selection, when chunking is off, the video is short or its length is unknown."""
    if entry.chunk_frames is None:
        return [entry.frames]
    length = video_length(entry)
    if length is None:
        return [entry.frames]
    from .video import FrameRangeError

    try:
        resolved = entry.frames.resolve(length)
    except FrameRangeError:
        return [entry.frames]  # the job names the problem
    chunks = split(resolved, entry.chunk_frames)
    return chunks if len(chunks) > 1 else [entry.frames]


def resolved_selection(entry) -> FrameSelection:
    """A chunked entry's whole selection, resolved against its video (what its chunks split)."""
    return entry.frames.resolve(video_length(entry))
