"""Result tables: core columns, schema metadata, atomic and byte-stable writes, CSV export."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from snakeherd import io


def detections(n=3):
    return pd.DataFrame(
        {
            "video_id": ["v"] * n,
            "frame": range(n),
            "det_id": [0] * n,
            "x": [1.25, 2.5, 3.75][:n],
            "y": [4.0, 5.0, 6.0][:n],
            "w": [10.0] * n,
            "h": [4.0] * n,
            "angle": [0.1] * n,
            "score": [0.9] * n,
            "class_id": [0] * n,
            "area": [30] * n,
        }
    )


def test_round_trip_with_metadata_and_core_column_order(tmp_path):
    path = tmp_path / "d.parquet"
    table = detections()[["area", *io.CORE_COLUMNS["detections"]]]
    io.write_table(table, path, "detections", {"method": "test", "runtime": "cpu"})
    schema = pq.read_schema(path)
    assert schema.names[:10] == list(io.CORE_COLUMNS["detections"])
    assert schema.names[-1] == "area"
    assert schema.field("x").type == "double" and schema.field("frame").type == "int64"
    metadata = io.read_metadata(path)
    assert metadata == {
        "schema_version": io.SCHEMA_VERSION,
        "table": "detections",
        "stage": {"method": "test", "runtime": "cpu"},
    }
    back = io.read_table(path, "detections")
    assert back["x"].tolist() == [1.25, 2.5, 3.75]  # sub-pixel, never rounded


def test_same_content_same_bytes(tmp_path):
    io.write_table(detections(), tmp_path / "a.parquet", "detections", {"k": 1})
    io.write_table(detections(), tmp_path / "b.parquet", "detections", {"k": 1})
    assert (tmp_path / "a.parquet").read_bytes() == (tmp_path / "b.parquet").read_bytes()


def test_missing_core_column_is_refused_and_nothing_is_written(tmp_path):
    with pytest.raises(io.TableSchemaError, match="angle"):
        io.write_table(detections().drop(columns="angle"), tmp_path / "x.parquet", "detections", {})
    assert list(tmp_path.iterdir()) == []


def test_reading_checks_table_name_and_version(tmp_path):
    path = tmp_path / "d.parquet"
    io.write_table(detections(), path, "detections", {})
    with pytest.raises(io.TableSchemaError, match="not 'tracks'"):
        io.read_table(path, "tracks")
    pd.DataFrame({"a": [1]}).to_parquet(tmp_path / "foreign.parquet")
    with pytest.raises(io.TableSchemaError, match="not written by snakeherd"):
        io.read_table(tmp_path / "foreign.parquet", "detections")


def test_tracks_csv_uses_the_desktop_tool_columns(tmp_path):
    tracks = pd.DataFrame(
        {
            "video_id": ["v"],
            "frame": [3],
            "track_id": [7],
            "det_id": [1],
            "x": [1.123456789],
            "y": [2.0],
            "angle": [0.5],
            "score": [0.9],
        }
    )
    io.write_tracks_csv(tracks, tmp_path / "t.csv")
    written = pd.read_csv(tmp_path / "t.csv")
    assert list(written.columns)[:6] == [
        "TrajectoryID",
        "FrameID",
        "X",
        "Y",
        "Theta",
        "DetectionConfidence",
    ]
    assert written["X"].iloc[0] == 1.123456789


def test_tracks_csv_written_in_parts_reads_back_whole(tmp_path, monkeypatch):
    """A long video's CSV is written a few rows at a time (never as one string): the parts
    join to every row once, the header once, extra columns after the desktop tool's."""
    monkeypatch.setattr(io, "CSV_ROWS", 4)
    tracks = pd.DataFrame(
        {
            "frame": np.repeat(np.arange(5), 2),
            "track_id": np.tile([0, 1], 5),
            "x": np.linspace(0, 1, 10),
            "y": 2.0,
            "head.x": [np.nan, *np.linspace(3, 4, 9)],
            "interpolated": [False] * 9 + [True],
        }
    )
    io.write_tracks_csv(tracks, tmp_path / "t.csv")
    written = pd.read_csv(tmp_path / "t.csv")
    assert list(written.columns) == ["TrajectoryID", "FrameID", "X", "Y", "Interpolated", "head.x"]
    expected = tracks.rename(columns=io.TRACKS_CSV_COLUMNS)[written.columns]
    pd.testing.assert_frame_equal(written, expected)
    io.write_tracks_csv(tracks.iloc[:0], tmp_path / "empty.csv")
    assert (tmp_path / "empty.csv").read_text().strip() == ",".join(written.columns)


def test_a_table_written_in_parts_takes_its_schema_from_the_first(tmp_path):
    """The import writes its tables a part at a time, the schema from the first part; a writer
    that got no part, or whose block failed, leaves no file."""
    path = tmp_path / "d.parquet"
    whole = detections()
    with io.TableWriter(path, "detections", {"method": "parts"}) as writer:
        writer.write_frame(whole.iloc[:1])
        writer.write_frame(whole.iloc[1:])
    assert writer.rows == len(whole)
    io.write_table(whole, tmp_path / "at_once.parquet", "detections", {"method": "parts"})
    at_once = io.read_table(tmp_path / "at_once.parquet", "detections")
    pd.testing.assert_frame_equal(io.read_table(path, "detections"), at_once)
    assert io.read_metadata(path)["stage"] == {"method": "parts"}
    with (
        pytest.raises(ValueError, match="no part written"),
        io.TableWriter(tmp_path / "none.parquet", "detections", {}),
    ):
        pass
    with (
        pytest.raises(RuntimeError, match="stopped"),
        io.TableWriter(tmp_path / "failed.parquet", "detections", {}) as writer,
    ):
        writer.write_frame(whole)
        raise RuntimeError("stopped")
    assert not (tmp_path / "none.parquet").exists() and not (tmp_path / "failed.parquet").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["at_once.parquet", "d.parquet"]


def test_tables_are_written_in_row_groups_a_batch_reader_can_take_one_at_a_time(
    tmp_path, monkeypatch
):
    """A Parquet reader decodes a whole row group to give any batch of it: tables are written
    in groups of ROW_GROUP_ROWS rows, so reading a long table in batches never decodes it whole."""
    monkeypatch.setattr(io, "ROW_GROUP_ROWS", 2)
    io.write_table(detections(), tmp_path / "whole.parquet", "detections", {})
    with io.TableWriter(tmp_path / "parts.parquet", "detections", {}) as writer:
        writer.write_frame(detections())
    for name in ("whole.parquet", "parts.parquet"):
        assert pq.ParquetFile(tmp_path / name).metadata.num_row_groups == 2
        batches = list(io.iter_table(tmp_path / name, "detections", ["frame"], batch_rows=2))
        assert [len(b) for b in batches] == [2, 1]
        assert pd.concat(batches)["frame"].tolist() == [0, 1, 2]


def test_tracks_csv_from_parts_is_the_csv_of_the_whole(tmp_path):
    """The track job gives the CSV writer its table in parts (keypoint columns made a block at
    a time): byte for byte the file of the whole table."""
    tracks = pd.DataFrame(
        {
            "frame": np.repeat(np.arange(5), 2),
            "track_id": np.tile([0, 1], 5),
            "x": np.linspace(0, 1, 10),
            "y": 2.0,
            "interpolated": [False] * 9 + [True],
            "head.x": [np.nan, *np.linspace(3, 4, 9)],
        }
    )
    io.write_tracks_csv(tracks, tmp_path / "whole.csv")
    io.write_tracks_csv((tracks.iloc[i : i + 3] for i in range(0, 10, 3)), tmp_path / "parts.csv")
    assert (tmp_path / "parts.csv").read_bytes() == (tmp_path / "whole.csv").read_bytes()


def test_columns_read_a_batch_at_a_time_equal_a_whole_read(tmp_path, monkeypatch):
    """The track job reads its detections a batch at a time into one array per column (a whole
    read holds the table twice): the same table, names of a multi-class model included."""
    table = detections().assign(identity_id=[0, 1, 0], identity=["female", "male", "female"])
    io.write_table(table, tmp_path / "d.parquet", "detections", {})
    monkeypatch.setattr(io, "BATCH_VALUES", 4)  # batches of one row
    wanted = ["frame", "det_id", "x", "score", "identity_id", "identity", "not_there"]
    read = io.read_columns(tmp_path / "d.parquet", "detections", wanted)
    pd.testing.assert_frame_equal(read, io.read_table(tmp_path / "d.parquet", "detections", wanted))
    assert list(read.columns) == wanted[:-1] and read["identity"].tolist()[1] == "male"
    io.write_table(table.iloc[:0], tmp_path / "empty.parquet", "detections", {})
    empty = io.read_columns(tmp_path / "empty.parquet", "detections", wanted)
    pd.testing.assert_frame_equal(
        empty, io.read_table(tmp_path / "empty.parquet", "detections", wanted)
    )


def test_hdf5_written_in_chunks_keeps_no_chunk_cache_and_reads_back(tmp_path):
    """A long video's NWB and analysis files are written a chunk at a time: HDF5's chunk cache
    would keep up to 1 MiB of every dataset until the file closes."""
    import h5py

    path = tmp_path / "series.h5"
    with io.hdf5_written_in_chunks(path) as handle:
        assert handle.id.get_access_plist().get_cache()[2] == 0
        series = handle.create_dataset("series", shape=(10_000, 2), chunks=(1_000, 2), dtype="f4")
        series.attrs["unit"] = "px"
        for start in range(0, 10_000, 1_000):
            series[start : start + 1_000] = np.arange(start * 2, (start + 1_000) * 2).reshape(-1, 2)
    with io.hdf5_written_in_chunks(path, "a") as handle:  # a partial chunk, read and rewritten
        handle["series"][500:1_500, 0] = -1
    with h5py.File(path, "r") as handle:
        expected = np.arange(20_000, dtype=float).reshape(-1, 2)
        expected[500:1_500, 0] = -1
        np.testing.assert_array_equal(handle["series"][()], expected)
        assert handle["series"].attrs["unit"] == "px"


def test_frame_aligned_gives_the_same_frames_of_every_table_each_step():
    """Two tables read in parts cut at different rows (frames split between parts, frames one
    table lacks, one table empty): every step holds the same frames' rows of each, each
    frame's rows in one step, every row once and in order."""
    rng = np.random.default_rng(0)
    first = pd.DataFrame({"frame": np.sort(rng.integers(0, 60, 300)), "row": np.arange(300)})
    second = pd.DataFrame({"frame": np.sort(rng.integers(10, 80, 120)), "row": np.arange(120)})

    def parts(table, size):
        return (table.iloc[start : start + size] for start in range(0, len(table), size))

    for sizes in [(7, 13), (1, 1000), (1000, 3), (50, 50)]:
        steps = list(io.frame_aligned(parts(first, sizes[0]), parts(second, sizes[1])))
        assert len(steps) > 1 or sizes == (1000, 1000)
        seen_last = -1
        for ours, theirs in steps:
            frames = np.union1d(ours["frame"], theirs["frame"])
            assert frames.min() > seen_last  # no frame in two steps
            seen_last = frames.max()
        for index, table in enumerate((first, second)):
            joined = pd.concat([step[index] for step in steps], ignore_index=True)
            pd.testing.assert_frame_equal(joined, table)
    empty = pd.DataFrame({"frame": np.zeros(0, int), "row": np.zeros(0, int)})
    steps = list(io.frame_aligned(parts(first, 9), parts(empty, 9)))
    pd.testing.assert_frame_equal(pd.concat([ours for ours, _ in steps], ignore_index=True), first)
    assert all(theirs.empty for _, theirs in steps)
    # Rows that go back in frame, across parts or inside one, are refused, not misaligned.
    for shuffled in ([first.iloc[150:], first.iloc[:150]], [first.iloc[::-1]]):
        with pytest.raises(ValueError, match="sorted by frame"):
            list(io.frame_aligned(shuffled, parts(second, 50)))
