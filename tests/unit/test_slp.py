"""SLEAP files in and out: predictions as detections/poses tables, tracks as a .slp."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import sleap_io as sio

from snakeherd import keypoints, slp
from snakeherd.errors import InputFileError, SnakeherdError


@pytest.fixture(scope="module")
def predictions_path(shared_data):
    return shared_data / "tracking" / "centered_pair_predictions.clean.slp"


@pytest.fixture(scope="module")
def predictions(predictions_path):
    return slp.read_predictions(str(predictions_path), "flies")


def test_predictions_become_detections_and_poses(predictions):
    detections, poses = predictions.detections, predictions.poses
    assert len(detections) == 2200 and detections["frame"].nunique() == 1100
    assert len(poses) == 2200 * 24 and predictions.nodes[:3] == ["head", "neck", "thorax"]
    assert ("thorax", "head") not in predictions.edges and ("neck", "head") in predictions.edges
    assert predictions.video_path.endswith("centered_pair_low_quality.mp4")
    assert predictions.n_frames == 1100
    # The centre is the mean of the visible keypoints; the axis follows the body.
    first = poses[(poses["frame"] == 0) & (poses["det_id"] == 0)]
    row = detections.iloc[0]
    assert row["x"] == pytest.approx(first["x"].mean()) and row["y"] == pytest.approx(
        first["y"].mean()
    )
    assert (detections["w"] >= detections["h"]).all()
    assert detections["angle"].between(0, np.pi).all()
    assert "track_id" not in detections.columns


def test_frames_select_and_errors(predictions_path, tmp_path):
    detections, poses, stage = slp.prediction_tables(
        str(predictions_path), "flies", None, "10-19,100"
    )
    assert sorted(detections["frame"].unique()) == [*range(10, 20), 100]
    assert set(poses["frame"]) == set(detections["frame"])
    assert stage["frame_selection"] == "10-19,100" and stage["n_frames"] == 1100
    assert stage["skeleton"]["nodes"][0] == "head"
    with pytest.raises(InputFileError, match="past the end"):
        slp.prediction_tables(str(predictions_path), "flies", None, "2000-")
    with pytest.raises(InputFileError, match="not found"):
        slp.read_predictions(str(tmp_path / "missing.slp"), "x")
    (tmp_path / "broken.slp").write_text("not hdf5")
    with pytest.raises(InputFileError, match="cannot be read"):
        slp.read_predictions(str(tmp_path / "broken.slp"), "x")
    import shutil

    import h5py

    damaged = tmp_path / "damaged.slp"  # its records readable, its points gone
    shutil.copy(predictions_path, damaged)
    with h5py.File(damaged, "a") as handle:
        del handle["pred_points"]
    with pytest.raises(InputFileError, match=r"damaged\.slp cannot be read"):
        slp.read_predictions(str(damaged), "x")


def test_tracks_round_trip_through_a_slp(predictions, tmp_path):
    detections = predictions.detections
    tracks = pd.DataFrame(
        {
            "frame": detections["frame"],
            "track_id": detections["det_id"],
            "x": detections["x"],
            "y": detections["y"],
            "score": detections["score"],
        }
    )
    wide = predictions.poses.pivot_table(
        index=["frame", "det_id"], columns="node", values=["x", "y", "score"], dropna=False
    )
    for node in predictions.nodes:
        for part in ("x", "y", "score"):
            tracks[f"{node}.{part}"] = wide[(part, node)].to_numpy()
    path = tmp_path / "tracks.slp"
    slp.write_tracks(
        tracks, str(path), predictions.video_path, predictions.nodes, predictions.edges, 1100
    )
    labels = sio.load_slp(str(path), open_videos=False)
    assert len(labels.labeled_frames) == 1100 and len(labels.tracks) == 2
    assert labels.skeleton.node_names == predictions.nodes
    instance = labels.labeled_frames[0].instances[0]
    assert instance.track.name == "track_0"
    original = predictions.poses[
        (predictions.poses["frame"] == 0) & (predictions.poses["det_id"] == 0)
    ]
    assert np.allclose(instance.numpy()[:, 0], original["x"], equal_nan=True)
    assert labels.video.filename == predictions.video_path


def test_tracks_without_keypoints_write_a_centroid_skeleton(tmp_path):
    tracks = pd.DataFrame(
        {
            "frame": [0, 0, 1],
            "track_id": [0, 1, 0],
            "x": [1.5, 9.25, 2.5],
            "y": [3.0, 4.0, 5.0],
            "score": [1.0, 0.5, np.nan],
        }
    )
    slp.write_tracks(tracks, str(tmp_path / "t.slp"), "video.mp4", [])
    labels = sio.load_slp(str(tmp_path / "t.slp"), open_videos=False)
    assert labels.skeleton.node_names == ["centroid"]
    assert labels.labeled_frames[0].instances[1].numpy()[0].tolist() == [9.25, 4.0]
    assert [track.name for track in labels.tracks] == ["track_0", "track_1"]


def test_identity_tracks_keep_their_class_names(tmp_path):
    tracks = pd.DataFrame(
        {"frame": [0, 0], "track_id": [0, 1], "x": [1.0, 2.0], "y": [3.0, 4.0], "score": 1.0}
    )
    slp.write_tracks(
        tracks, str(tmp_path / "t.slp"), "video.mp4", [], track_names={0: "female", 1: "male"}
    )
    labels = sio.load_slp(str(tmp_path / "t.slp"), open_videos=False)
    assert [track.name for track in labels.tracks] == ["female", "male"]


def _tracks_with_holes() -> pd.DataFrame:
    """Two tracks over every other frame, with a missing score, a missing keypoint and a
    keypoint missing only its y."""
    rng = np.random.default_rng(0)
    rows = 50
    tracks = pd.DataFrame(
        {
            "frame": np.repeat(np.arange(0, 50, 2), 2),
            "track_id": np.tile([3, 7], 25),
            "x": rng.random(rows),
            "y": rng.random(rows),
            "score": rng.random(rows),
        }
    )
    tracks.loc[5, "score"] = np.nan
    for node in ("head", "thorax", "tail"):
        for part in ("x", "y", "score"):
            tracks[f"{node}.{part}"] = rng.random(rows) * 100
    tracks.loc[3, ["head.x", "head.y", "head.score"]] = np.nan
    tracks.loc[4, "tail.y"] = np.nan
    return tracks


def _written_by_sleap_io(tracks: pd.DataFrame, path, nodes: list[str]) -> None:
    """The same tracks saved through sleap-io's objects (a PredictedInstance per row)."""
    skeleton = sio.Skeleton(nodes=list(nodes), edges=[["head", "thorax"]] if len(nodes) > 1 else [])
    video = sio.Video(
        filename="video.mp4", open_backend=False, backend_metadata={"shape": (60, 1, 1, 1)}
    )
    named = {3: sio.Track(name="a"), 7: sio.Track(name="b")}
    frames = []
    for frame, rows in tracks.groupby("frame", sort=True):
        instances = [
            sio.PredictedInstance.from_numpy(
                np.stack([[row[f"{n}.x"], row[f"{n}.y"]] for n in nodes])
                if nodes != ["centroid"]
                else np.array([[row["x"], row["y"]]]),
                skeleton=skeleton,
                point_scores=np.nan_to_num(
                    [row[f"{n}.score"] for n in nodes] if nodes != ["centroid"] else [1.0],
                    nan=0.0,
                ),
                score=float(np.nan_to_num(row["score"], nan=0.0)),
                track=named[int(row["track_id"])],
                tracking_score=1.0,
            )
            for _, row in rows.iterrows()
        ]
        frames.append(sio.LabeledFrame(video=video, frame_idx=int(frame), instances=instances))
    labels = sio.Labels(
        labeled_frames=frames,
        videos=[video],
        skeletons=[skeleton],
        tracks=list(named.values()),
        suggestions=[sio.SuggestionFrame(video=video, frame_idx=f) for f in (2, 4)],
    )
    sio.save_slp(labels, str(path), verbose=False)


@pytest.mark.parametrize(
    "block_rows", [65536, 7, 1], ids=["one block", "blocks of 7 rows", "a frame over blocks"]
)
@pytest.mark.parametrize("nodes", [["head", "thorax", "tail"], []], ids=["keypoints", "boxes"])
def test_tracks_slp_holds_what_sleap_io_writes_from_its_objects(
    tmp_path, monkeypatch, nodes, block_rows
):
    """The instance arrays are built from the table's columns, not through sleap-io's objects
    (a long video's memory), the points and frames a block of rows at a time (a frame's rows
    split between blocks): the file must hold the very arrays sleap-io's writer gives."""
    import h5py

    monkeypatch.setattr(keypoints, "BLOCK_POINTS", block_rows * max(len(nodes), 1))
    tracks = _tracks_with_holes()
    ours, theirs = tmp_path / "ours.slp", tmp_path / "theirs.slp"
    slp.write_tracks(
        tracks,
        str(ours),
        "video.mp4",
        nodes,
        [("head", "thorax")] if nodes else None,
        60,
        {3: "a", 7: "b"},
        [4, 2, 4],
    )
    _written_by_sleap_io(tracks, theirs, nodes or ["centroid"])
    with h5py.File(ours) as mine, h5py.File(theirs) as reference:
        assert set(mine) == set(reference)
        for name in ("frames", "instances", "pred_points", "points"):
            assert mine[name].dtype == reference[name].dtype, name
            assert mine[name][()].tobytes() == reference[name][()].tobytes(), name  # NaN too
        for name in ("tracks_json", "suggestions_json", "videos_json"):
            assert mine[name][()].tolist() == reference[name][()].tolist(), name
        assert dict(mine["metadata"].attrs) == dict(reference["metadata"].attrs)
    loaded = sio.load_slp(str(ours), open_videos=False)
    assert len(loaded.labeled_frames) == 25 and [t.name for t in loaded.tracks] == ["a", "b"]
    assert [s.frame_idx for s in loaded.suggestions] == [2, 4]


def test_a_sleap_io_with_another_layout_is_refused_by_name(tmp_path, monkeypatch):
    changed = np.dtype([*slp.PREDICTED_POINT_DTYPE.descr[:4], ("score", "f4")])
    monkeypatch.setattr(slp, "PREDICTED_POINT_DTYPE", changed)
    tracks = pd.DataFrame({"frame": [0], "track_id": [0], "x": [1.0], "y": [2.0], "score": 1.0})
    with pytest.raises(SnakeherdError, match=r"(?s)pred_points of a \.slp.*requirements/demo\.txt"):
        slp.write_tracks(tracks, str(tmp_path / "t.slp"), "video.mp4", [])
    assert not list(tmp_path.iterdir())  # nothing half-written


def _read_through_sleap_io_objects(path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(frame, det_id, score) per instance and its points, as sleap-io's objects give them."""
    labels = sio.load_slp(str(path), open_videos=False)
    skeleton = labels.skeletons[0]
    rows, points = [], []
    for labeled in labels.labeled_frames:
        det_id = 0
        for instance in labeled.instances:
            xy = instance.numpy()[:, :2]
            if instance.skeleton is not skeleton or not np.isfinite(xy).all(axis=1).any():
                continue
            score = getattr(instance, "score", None)
            point_score = (
                instance.points["score"]
                if "score" in (instance.points.dtype.names or ())
                else np.ones(len(xy))
            )
            rows.append((labeled.frame_idx, det_id, 1.0 if score is None else float(score)))
            points.append(np.column_stack([xy, point_score]))
            det_id += 1
    instances = pd.DataFrame(rows, columns=["frame", "det_id", "score"])
    order = instances.sort_values(["frame", "det_id"], kind="stable").index
    return instances.loc[order].reset_index(drop=True), np.stack(points)[order]


@pytest.mark.parametrize(
    "name",
    [
        "tracking/centered_pair_predictions.clean.slp",
        "tracking/sleap_clip/clip.slp",
        "sleap/minimal_instance.pkg.slp",
        "sleap/legacy_models/minimal_instance.UNet.centroid/labels_gt.val.slp",
        "sleap/legacy_models/minimal_instance.UNet.bottomup/labels_pr.train.slp",
    ],
)
def test_predictions_are_read_as_sleap_io_reads_them(shared_data, name):
    """The instances are read as arrays from the file (a long video's predictions as sleap-io
    objects took ~6 KB an instance): the same rows and points as sleap-io's objects give, for
    predicted and user instances, packages and SLEAP 1.x files."""
    path = shared_data / name
    found = slp.read_predictions(str(path), "v")
    instances, points = _read_through_sleap_io_objects(path)
    assert found.detections[["frame", "det_id"]].to_numpy().tolist() == (
        instances[["frame", "det_id"]].to_numpy().tolist()
    )
    assert np.array_equal(found.detections["score"], instances["score"])
    k = len(found.nodes)
    poses = found.poses[["x", "y", "score"]].to_numpy().reshape(-1, k, 3)
    assert np.array_equal(poses, points, equal_nan=True)


def test_predictions_read_in_blocks_and_out_of_order_are_the_same(
    shared_data, predictions_path, tmp_path, monkeypatch
):
    """The instances are read a block of labelled frames at a time, in frame order whatever the
    file's order: blocks of ~7 instances give the tables one block gives, and a file whose
    labelled frames are stored backwards reads as the one stored forwards."""
    courtship = shared_data / "tracking" / "sleap_clip" / "clip.predictions.slp"
    whole = {path: slp.read_predictions(str(path), "v") for path in (predictions_path, courtship)}
    backwards = tmp_path / "backwards.slp"
    labels = sio.load_slp(str(predictions_path), open_videos=False)
    labels.labeled_frames = labels.labeled_frames[::-1]
    sio.save_slp(labels, str(backwards), verbose=False)
    monkeypatch.setattr(slp, "POSE_ROWS", 7 * 24)  # 7 instances of 24 nodes
    for path, expected in whole.items():
        found = slp.read_predictions(str(path), "v")
        pd.testing.assert_frame_equal(found.detections, expected.detections)
        pd.testing.assert_frame_equal(found.poses, expected.poses)
    reversed_found = slp.read_predictions(str(backwards), "v")
    pd.testing.assert_frame_equal(reversed_found.detections, whole[predictions_path].detections)
    pd.testing.assert_frame_equal(reversed_found.poses, whole[predictions_path].poses)
    parts = list(slp.iter_prediction_tables(slp.open_predictions(str(predictions_path)), "v"))
    assert len(parts) > 300 and all(len(d) <= 8 for d, _ in parts)
    firsts = [int(d["frame"].iloc[0]) for d, _ in parts]
    assert firsts == sorted(firsts) and sum(len(d) for d, _ in parts) == 2200


@pytest.mark.parametrize("frame_records", [1, 5, 2**16])
def test_labelled_frames_read_a_window_at_a_time_give_the_same_blocks(
    shared_data, predictions_path, tmp_path, monkeypatch, frame_records
):
    """A long video's labelled-frame records are read a window at a time where the file keeps
    them in frame order: the same blocks (each the same instances) as the records read whole,
    a block going on over windows; with frames chosen too; a file stored backwards (read whole
    and sorted) the same as forwards."""
    backwards = tmp_path / "backwards.slp"
    labels = sio.load_slp(str(predictions_path), open_videos=False)
    labels.labeled_frames = labels.labeled_frames[::-1]
    sio.save_slp(labels, str(backwards), verbose=False)
    courtship = shared_data / "tracking" / "sleap_clip" / "clip.predictions.slp"
    cases = [(predictions_path, None), (courtship, None), (courtship, np.arange(3, 900, 4))]

    def blocks(path, wanted):
        n_nodes = len(slp.read_records(str(path))[1][0].nodes)
        monkeypatch.setattr(slp, "POSE_ROWS", 5 * n_nodes)  # blocks of 2-3 frames' instances
        return [
            (block.frame_idx, block.det_ids, block.points, block.track)
            for block in slp.iter_instances(str(path), n_nodes, wanted=wanted)
        ]

    expected = {}
    for path, wanted in cases:
        monkeypatch.setattr(slp, "FRAME_RECORDS", 2**20)
        expected[path, wanted is None] = blocks(path, wanted)
        monkeypatch.setattr(slp, "FRAME_RECORDS", frame_records)
        found = blocks(path, wanted)
        assert len(found) == len(expected[path, wanted is None]) > 50
        for ours, theirs in zip(found, expected[path, wanted is None], strict=True):
            for a, b in zip(ours, theirs, strict=True):
                np.testing.assert_array_equal(a, b)
    for ours, theirs in zip(blocks(backwards, None), expected[predictions_path, True], strict=True):
        np.testing.assert_array_equal(ours[0], theirs[0])
        np.testing.assert_array_equal(ours[2], theirs[2])


def test_some_rows_of_the_tracks_as_a_slp_keep_every_track(tmp_path):
    """The proofreading package is made from the suspect frames' rows alone, their keypoints
    from elsewhere (points_of): the file still lists every track, in the same order."""
    tracks = _tracks_with_holes()
    nodes = ["head", "thorax", "tail"]
    rows = np.flatnonzero(tracks["frame"].isin([10, 20]) & (tracks["track_id"] == 7))
    xs, ys = ([f"{n}.{part}" for n in nodes] for part in ("x", "y"))
    points = np.stack([tracks[xs].to_numpy(), tracks[ys].to_numpy()], axis=2)
    scores = tracks[[f"{n}.score" for n in nodes]].to_numpy()
    path = tmp_path / "some.slp"
    slp.write_tracks(
        tracks.iloc[rows][["frame", "track_id", "x", "y", "score"]],
        str(path),
        "video.mp4",
        nodes,
        n_frames=60,
        points_of=lambda part: (points[rows[part]], scores[rows[part]]),
        track_ids=[3, 7],
    )
    labels = sio.load_slp(str(path), open_videos=False)
    assert [track.name for track in labels.tracks] == ["track_3", "track_7"]
    assert [frame.frame_idx for frame in labels.labeled_frames] == [10, 20]
    for frame, row in zip(labels.labeled_frames, rows, strict=True):
        (instance,) = frame.instances
        assert instance.track.name == "track_7"
        np.testing.assert_array_equal(instance.numpy(), points[row])
