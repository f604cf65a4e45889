"""A long video's tracks without their keypoints in memory: the keypoints stored in a temporary
file (StoredRows) and the tracks table whose keypoint columns are made a block at a time
(TrackTable) give what the in-memory arrays and the whole table give."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from snakeherd import io, keypoints, slp
from snakeherd import stored as stored_module
from snakeherd.stored import StoredColumns, StoredRows
from snakeherd.tracking import TrackerParams, TrackTable, keypoint_columns, track, track_table
from snakeherd.tracking.instances import from_tables, node_order


@pytest.fixture
def stored(monkeypatch):
    """Rows of a (1000, 3, 2) array stored, read ahead 16 rows at a time."""
    monkeypatch.setattr(stored_module, "READ_AHEAD_ROWS", 16)
    values = np.random.default_rng(0).normal(size=(1000, 3, 2))
    rows = StoredRows(len(values), (3, 2))
    for start in range(0, len(values), 300):
        rows.write(start, values[start : start + 300])
    return values, rows


def test_stored_rows_read_what_was_written(stored):
    values, rows = stored
    assert rows.shape == values.shape and len(rows) == 1000
    np.testing.assert_array_equal(np.asarray(rows), values)
    np.testing.assert_array_equal(rows[5:9], values[5:9])  # within one read-ahead
    np.testing.assert_array_equal(rows[990:], values[990:])  # past the end of a read-ahead
    np.testing.assert_array_equal(rows[np.array([7, 7, 3])], values[[7, 7, 3]])  # repeated
    far_apart = np.array([999, 0, 500, 501, 580, 0, 998])  # runs read apart, in any order
    np.testing.assert_array_equal(rows[far_apart], values[far_apart])
    np.testing.assert_array_equal(rows[-1], values[-1])
    mask = np.zeros(1000, dtype=bool)
    mask[[2, 600]] = True
    np.testing.assert_array_equal(rows[mask], values[mask])
    assert rows[np.zeros(0, dtype=np.int64)].shape == (0, 3, 2)
    # What is read is the caller's to change.
    read = rows[5:9]
    read[:] = 0
    np.testing.assert_array_equal(rows[5:9], values[5:9])


def test_stored_rows_grow_as_rows_are_appended(stored):
    values, _ = stored
    grown = StoredRows(0, (3, 2))
    assert grown.shape == (0, 3, 2)
    for start in range(0, len(values), 300):
        grown.append(values[start : start + 300])
        assert len(grown) == min(start + 300, len(values))
        np.testing.assert_array_equal(grown[start:], values[start : start + 300])
    np.testing.assert_array_equal(np.asarray(grown), values)
    with pytest.raises(ValueError, match="cannot grow"):
        grown.subset(np.array([1, 2])).append(values[:1])


def test_stored_rows_pass_over_in_blocks(stored):
    values, rows = stored
    blocks = list(rows.blocks(300))
    assert [len(block) for block in blocks] == [300, 300, 300, 100]
    np.testing.assert_array_equal(np.concatenate(blocks), values)
    chosen = np.array([999, 3, 3, 500])
    np.testing.assert_array_equal(
        np.concatenate(list(rows.subset(chosen).blocks(3))), values[chosen]
    )
    assert list(StoredRows(0, ()).blocks(10)) == []


def test_a_table_stored_a_column_at_a_time_reads_what_was_written():
    rng = np.random.default_rng(1)
    expected = pd.DataFrame(
        {
            "frame": np.arange(50, dtype=np.int64),
            "x": rng.normal(size=50),
            "interpolated": rng.uniform(size=50) < 0.3,
        }
    )
    table = StoredColumns(50)
    for name in expected.columns:
        table[name] = expected[name].to_numpy()
    assert len(table) == 50 and table.columns == ["frame", "x", "interpolated"]
    assert "x" in table and "y" not in table
    np.testing.assert_array_equal(table["x"], expected["x"])
    assert table["interpolated"].dtype == bool
    # A column of one value is not stored; it takes its place among the others.
    table.insert(0, "video_id", "flies")
    expected.insert(0, "video_id", "flies")
    pd.testing.assert_frame_equal(table.frame(), expected)
    pd.testing.assert_frame_equal(
        table.take(slice(10, 13)), expected.iloc[10:13].reset_index(drop=True)
    )
    rows = np.array([49, 3, 3])
    pd.testing.assert_frame_equal(
        table.take(rows, ["x", "video_id"]),
        expected.iloc[rows][["x", "video_id"]].reset_index(drop=True),
    )
    # A column replaced keeps its place.
    table["x"] = np.zeros(50)
    assert table.columns == ["video_id", "frame", "x", "interpolated"] and not table["x"].any()
    with pytest.raises(ValueError, match="49 rows"):
        table["y"] = np.zeros(49)


def test_a_table_stored_as_its_parts_are_read_reads_them_one_after_another():
    """A proofread .slp's instances are stored a block at a time, their number unknown before."""
    rng = np.random.default_rng(2)
    expected = pd.DataFrame(
        {"frame": np.arange(40, dtype=np.int64), "user": rng.uniform(size=40) < 0.5}
    )
    table = StoredColumns(0)
    for start, stop in ((0, 0), (0, 7), (7, 8), (8, 40)):
        table.append(expected.iloc[start:stop])
    assert len(table) == 40 and table.columns == ["frame", "user"]
    assert table["user"].dtype == bool
    pd.testing.assert_frame_equal(table.frame(), expected)
    pd.testing.assert_frame_equal(
        table.take(slice(5, 9)), expected.iloc[5:9].reset_index(drop=True)
    )


def test_a_subset_of_stored_rows_reads_its_own_rows(stored):
    values, rows = stored
    chosen = np.array([3, 10, 400, 401, 999])
    subset = rows.subset(chosen)
    assert len(subset) == 5
    np.testing.assert_array_equal(subset[1:4], values[chosen[1:4]])
    np.testing.assert_array_equal(subset[np.array([4, 0])], values[chosen[[4, 0]]])
    np.testing.assert_array_equal(subset.subset(np.array([2, 4]))[:], values[[400, 999]])


def _clip(shared_data, frames: int = 300):
    predictions = slp.read_predictions(
        str(shared_data / "tracking" / "sleap_clip" / "clip.predictions.slp"), "clip"
    )
    detections = predictions.detections.query(f"frame < {frames}")
    poses = predictions.poses.query(f"frame < {frames}").reset_index(drop=True)
    return detections, poses


def test_keypoints_stored_from_parts_are_the_ones_in_memory(shared_data, tmp_path):
    detections, poses = _clip(shared_data)
    nodes = node_order(poses)
    parts = [poses.iloc[start : start + 50] for start in range(0, len(poses), 50)]
    whole = from_tables(detections, poses, nodes)
    stored = from_tables(detections, iter(parts), nodes)
    assert isinstance(stored.keypoints, StoredRows) and isinstance(whole.keypoints, np.ndarray)
    np.testing.assert_array_equal(np.asarray(stored.keypoints), whole.keypoints)
    np.testing.assert_array_equal(np.asarray(stored.keypoint_score), whole.keypoint_score)
    for measured in ("visible_points", "keypoint_box", "keypoint_extent", "scale"):
        np.testing.assert_array_equal(getattr(stored, measured), getattr(whole, measured))
    backwards = [poses.iloc[200:], poses.iloc[:200]]
    with pytest.raises(ValueError, match="frame order"):
        from_tables(detections, iter(backwards), nodes)


def test_tracks_made_in_blocks_are_the_whole_table(shared_data, tmp_path, monkeypatch):
    """Keypoints stored, the table's keypoint columns made 100 keypoints at a time, holes
    interpolated between instances read from the file: the same table as in memory."""
    monkeypatch.setattr(keypoints, "BLOCK_POINTS", 100)
    detections, poses = _clip(shared_data)
    # Holes to fill: every 7th instance gone.
    detections = detections.iloc[np.arange(len(detections)) % 7 != 3]
    nodes = node_order(poses)
    path = tmp_path / "poses.parquet"
    io.write_table(poses, path, "poses", {})
    columns = ["frame", "det_id", "node", "x", "y", "score"]
    params = TrackerParams(interpolate_max_gap=3)
    expected = track(detections, poses, params, nodes=nodes)
    assert expected["interpolated"].sum() > 20
    table = track_table(detections, io.iter_table(path, "poses", columns, 333), params, nodes=nodes)
    assert len(table.light) == len(expected) and table.columns == list(expected.columns)
    # The light columns are stored too; in memory when asked, or some of them.
    assert isinstance(table.light, StoredColumns)
    light = [name for name in expected.columns if name not in keypoint_columns(nodes)]
    pd.testing.assert_frame_equal(table.in_memory().light[light], expected[light])
    rows = np.array([7, 3, len(expected) - 1])
    pd.testing.assert_frame_equal(
        table.select(["x", "frame", "absent"], rows),
        expected.iloc[rows][["x", "frame"]].reset_index(drop=True),
    )
    assert len(list(table.parts())) == -(-len(expected) // (100 // len(nodes)))
    pd.testing.assert_frame_equal(table.whole(), expected)
    with warnings.catch_warnings():  # rows without keypoint scores: NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        mean = np.nanmean(expected[[f"{n}.score" for n in nodes]].to_numpy(), axis=1)
    np.testing.assert_array_equal(table.keypoint_score_mean(), mean)
    for rows in (slice(3, 40), slice(len(expected) - 5, None), slice(0, 0)):  # over blocks too
        np.testing.assert_array_equal(table.keypoint_score_mean(rows), mean[rows])
    # An interpolated row's keypoints lie between its neighbours'.
    filled = np.flatnonzero(expected["interpolated"].to_numpy())[:3]
    points, _ = table.points(filled)
    np.testing.assert_array_equal(
        points[..., 0], expected.iloc[filled][[f"{n}.x" for n in nodes]].to_numpy()
    )


def test_a_whole_table_as_a_track_table_gives_itself_back(shared_data):
    detections, poses = _clip(shared_data, 100)
    nodes = node_order(poses)
    tracks = track(detections, poses, TrackerParams(), nodes=nodes)
    again = TrackTable.from_frame(tracks, nodes)
    assert list(again.light.columns[: len(tracks.columns) - 3 * len(nodes)]) == [
        c for c in tracks.columns if c not in keypoint_columns(nodes)
    ]
    pd.testing.assert_frame_equal(pd.concat(list(again.parts(17)), ignore_index=True), tracks)
