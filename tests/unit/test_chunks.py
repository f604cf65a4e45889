"""Chunks of a video's selected frames: splitting, joining, plans of config entries."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from snakeherd import chunks, io
from snakeherd.config import VideoEntry
from snakeherd.detection import BackgroundModel
from snakeherd.video import FrameSelection


def selection(text: str, n_frames: int = 1000) -> FrameSelection:
    return FrameSelection.parse(text).resolve(n_frames)


def test_chunks_hold_n_selected_frames_and_span_gaps():
    parts = chunks.split(selection("0-49,100-129,200-259"), 40)
    assert [str(part) for part in parts] == ["0-39", "40-49,100-129", "200-239", "240-259"]
    assert [len(part) for part in parts] == [40, 40, 40, 20]
    joined = np.concatenate([part.frames() for part in parts])
    assert np.array_equal(joined, selection("0-49,100-129,200-259").frames())


@pytest.mark.parametrize("size", [1, 3, 7, 10, 11, 64])
def test_every_selected_frame_is_in_exactly_one_chunk(size):
    whole = selection("5-14,20,30-40,990-")
    parts = chunks.split(whole, size)
    assert all(len(part) == size for part in parts[:-1]) and 0 < len(parts[-1]) <= size
    assert np.array_equal(np.concatenate([part.frames() for part in parts]), whole.frames())
    # Each chunk is a selection its job takes, as text and back.
    assert all(FrameSelection.parse(str(part)) == part for part in parts)


def test_a_short_selection_or_no_chunk_size_is_one_chunk():
    whole = selection("0-99")
    assert chunks.split(whole, 100) == [whole]
    assert chunks.split(whole, None) == [whole]
    with pytest.raises(ValueError, match="at least 1"):
        chunks.split(whole, 0)


def table(frames):
    return pd.DataFrame(
        {"frame": np.asarray(frames, dtype=np.int64), "x": np.arange(len(frames), dtype=float)}
    )


def test_joined_summary_counts_every_chunk():
    whole = selection("0-19")
    records = [
        {"method": "yolo_obb", "frames": 10, "frame_selection": "0-9", "chunk": "0-9"},
        {"method": "yolo_obb", "frames": 10, "frame_selection": "10-19", "chunk": "10-19"},
    ]
    summary = chunks.joined_summary(records, whole)
    assert summary == {
        "method": "yolo_obb",
        "frames": 20,
        "frame_selection": "0-19",
        "chunks": ["0-9", "10-19"],
    }


def test_plans_follow_the_entry_and_its_video_length():
    scene = {"n_frames": 250}
    long = VideoEntry("a", None, FrameSelection.parse(None), synthetic=scene, chunk_frames=100)
    assert [str(part) for part in chunks.plan(long)] == ["0-99", "100-199", "200-249"]
    off = VideoEntry("b", None, FrameSelection.parse("0-9"), synthetic=scene, chunk_frames=None)
    assert chunks.plan(off) == [off.frames]
    short = VideoEntry("c", None, FrameSelection.parse("0-"), synthetic=scene, chunk_frames=250)
    assert chunks.plan(short) == [short.frames]  # one chunk: the video's own job
    unknown = VideoEntry("d", "/no/such.mp4", FrameSelection.parse(None), chunk_frames=10)
    assert chunks.plan(unknown) == [unknown.frames]


def test_background_model_round_trips(tmp_path):
    for area in (123.5, None):
        model = BackgroundModel(np.arange(12, dtype=np.float32).reshape(3, 4), area, 7)
        model.save(tmp_path / "background.npz")
        loaded = BackgroundModel.load(tmp_path / "background.npz")
        assert np.array_equal(loaded.background, model.background)
        assert loaded.animal_area == area and loaded.sample_frames == 7


def test_the_last_chunk_of_a_video_shorter_than_its_header_names_the_frame(tmp_path):
    from snakeherd.detection import BackgroundParams, detect_video
    from snakeherd.errors import VideoError
    from snakeherd.synthetic import SceneSpec, simulate, write_video

    spec = SceneSpec(n_animals=3, n_frames=60, width=128, height=128, seed=9)
    whole = tmp_path / "whole.avi"
    write_video(spec, simulate(spec), str(whole), fourcc="MJPG")
    truncated = tmp_path / "truncated.avi"
    truncated.write_bytes(whole.read_bytes()[: whole.stat().st_size * 3 // 4])
    model = BackgroundModel(np.full((128, 128), 200, dtype=np.float32), 100.0, 1)
    first, *_, last = chunks.split(selection("0-", 60), 20)
    table, _ = detect_video(str(truncated), first, BackgroundParams(), model)
    assert table["frame"].max() <= 19
    with pytest.raises(VideoError, match=r"frame \d+ cannot be decoded .* has 60 frames"):
        detect_video(str(truncated), last, BackgroundParams(), model)


def chunk_files(tmp_path, frames_per_chunk, extra=None):
    paths = []
    for index, frames in enumerate(frames_per_chunk):
        rows = table(frames).assign(track_id=0, y=2.0, label=["animal"] * len(frames))
        if extra is not None and index == 1:
            rows = rows.assign(**extra)
        path = tmp_path / f"chunk.{index}.parquet"
        io.write_table(rows, path, "ground_truth", {"chunk": index})
        paths.append(str(path))
    return paths


def test_join_files_writes_the_joined_table_chunk_by_chunk(tmp_path):
    whole = selection("0-9,20-29")
    parts = chunks.split(whole, 6)
    frames = [[1, 1, 5], [], [22, 23], [29]]
    paths = chunk_files(tmp_path, frames)
    output = tmp_path / "joined.parquet"
    rows = chunks.join_files(paths, parts, whole, "ground_truth", str(output), {"n": 4})
    joined = io.read_table(output, "ground_truth")
    assert joined["frame"].tolist() == [1, 1, 5, 22, 23, 29]
    assert joined["frame"].dtype == np.int64
    assert joined["x"].tolist() == [0.0, 1.0, 2.0, 0.0, 1.0, 0.0]  # each chunk's rows, in order
    assert rows == 6 and joined["label"].tolist() == ["animal"] * 6
    assert io.read_metadata(output)["stage"] == {"n": 4}
    # Written one chunk at a time: a row group per chunk.
    assert pq.ParquetFile(output).metadata.num_row_groups == 4


def test_join_files_leaves_no_table_when_a_chunk_is_wrong(tmp_path):
    whole = selection("0-19")
    parts = chunks.split(whole, 10)
    output = tmp_path / "joined.parquet"
    empty = chunk_files(tmp_path, [[], []])
    with pytest.raises(chunks.ChunkError, match="lost"):
        chunks.join_files(empty[:1], parts[:1], whole, "ground_truth", str(output), {})
    with pytest.raises(chunks.ChunkError, match=r"9 twice"):
        overlapping = [selection("0-9"), selection("9-19")]
        chunks.join_files(empty, overlapping, whole, "ground_truth", str(output), {})
    paths = chunk_files(tmp_path, [[12], []])
    with pytest.raises(
        chunks.ChunkError, match=r"chunk\.0\.parquet has rows for frame\(s\) 12 outside its 0-9"
    ):
        chunks.join_files(paths, parts, whole, "ground_truth", str(output), {})
    paths = chunk_files(tmp_path, [[1], [3]])
    with pytest.raises(chunks.ChunkError, match=r"chunk\.1\.parquet has rows for frame\(s\) 3"):
        chunks.join_files(paths, parts, whole, "ground_truth", str(output), {})
    paths = chunk_files(tmp_path, [[1], [13]], extra={"z": 1.0})
    with pytest.raises(chunks.ChunkError, match="different runs"):
        chunks.join_files(paths, parts, whole, "ground_truth", str(output), {})
    assert list(tmp_path.glob("joined*")) == [] and list(tmp_path.glob(".joined*")) == []
