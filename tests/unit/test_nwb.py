"""Tracks as NWB (ndx-pose) and as SLEAP's analysis HDF5, read back the way users read them:
nwbinspector, movement's default loaders, and the README's "Analyse with movement" lines."""

from __future__ import annotations

import json
import re
from importlib.metadata import version

import hdmf
import numpy as np
import pandas as pd
import pynwb
import pytest
import yaml

from snakeherd import io, nwb, slp
from snakeherd.errors import ConfigError
from tests.support.nwb import (
    INDIVIDUALS,
    KEYPOINTS,
    critical_messages,
    differences_from_tracks,
    inspector_messages,
    load_with_movement,
)
from tests.support.paths import REPO

NODES = ["head", "thorax", "tail"]
FPS = 25.0
N_FRAMES = 40
PROVENANCE = {
    "snakeherd_version": "0.1.0",
    "experiment": "unit",
    "runtime": {
        "requested": "onnx_cpu",
        "stages": {
            "detections": {
                "method": "yolo_obb",
                "model": "/models/obb.onnx",
                "runtime": {"runtime": "onnx_cpu", "providers": ["CPUExecutionProvider"]},
            },
            "poses": {
                "method": "yolo_pose",
                "model": "/models/pose.onnx",
                "runtime": {"runtime": "onnx_cpu", "providers": ["CPUExecutionProvider"]},
            },
            "tracks": {"method": "kalman_hungarian"},
        },
    },
}


def tracks_table(with_nodes: bool = True) -> pd.DataFrame:
    """Two tracks over frames 5-29 with gaps: track 1 absent in 12-15, a missing keypoint and a
    NaN score in track 0, fractional pixels everywhere."""
    rng = np.random.default_rng(3)
    rows = []
    for track_id in (0, 1):
        for frame in range(5, 30):
            if track_id == 1 and 12 <= frame <= 15:
                continue
            row = {
                "video_id": "clip",
                "frame": frame,
                "track_id": track_id,
                "det_id": track_id,
                "x": 100.25 + 3.1 * frame + 50 * track_id,
                "y": 80.5 + rng.normal(),
                "angle": 0.3,
                "score": 0.9 - 0.01 * frame,
            }
            if with_nodes:
                for k, node in enumerate(NODES):
                    row[f"{node}.x"] = row["x"] + 7.3 * k + rng.normal()
                    row[f"{node}.y"] = row["y"] - 2.1 * k + rng.normal()
                    row[f"{node}.score"] = float(rng.uniform(0.5, 1))
            rows.append(row)
    # Sorted by frame, as the tracker writes them.
    table = pd.DataFrame(rows).sort_values(["frame", "track_id"], ignore_index=True)
    if with_nodes:
        missing = (table["track_id"] == 0) & (table["frame"] == 9)
        table.loc[missing, ["tail.x", "tail.y", "tail.score"]] = np.nan
    return table


def write_results(folder, with_nodes=True, identities=None):
    """tracks.parquet and the NWB folder of one video in ``folder``, as the workflow writes
    them; returns the files written."""
    tracks = tracks_table(with_nodes)
    nodes = NODES if with_nodes else []
    (folder / "clip.mp4").write_bytes(b"")  # nwbinspector checks that the video is there
    io.write_table(
        tracks,
        folder / "tracks.parquet",
        "tracks",
        {"nodes": nodes, "identities": {str(k): v for k, v in (identities or {}).items()}},
    )
    video = nwb.VideoRecord(
        path=str(folder / "clip.mp4"), fps=FPS, n_frames=N_FRAMES, width=320, height=240
    )
    return nwb.write_nwb_folder(
        folder / "tracks.parquet",
        folder / "nwb",
        video_id="clip",
        nodes=nodes,
        edges=[("head", "thorax"), ("thorax", "tail")] if with_nodes else [],
        video=video,
        metadata=nwb.SessionMetadata.from_config(
            {"subject": {"species": "Drosophila melanogaster"}, "lab": "Fly lab"}
        ),
        provenance=PROVENANCE,
        identities=identities,
    )


@pytest.fixture(scope="module")
def pose_results(tmp_path_factory):
    folder = tmp_path_factory.mktemp("nwb_poses")
    written = write_results(folder, identities={1: "queen"})
    return folder, written


def test_one_file_per_track_named_after_it(pose_results):
    folder, written = pose_results
    assert sorted(written) == ["queen", "track_0"]
    assert sorted(p.name for p in (folder / "nwb").iterdir()) == ["queen.nwb", "track_0.nwb"]


def test_files_pass_nwbinspector(pose_results):
    folder, _ = pose_results
    assert critical_messages(folder / "nwb") == []
    # With species and lab given, what is left are suggestions (experimenter, keywords, ...).
    remaining = {m.importance.name for m in inspector_messages(folder / "nwb" / "queen.nwb")}
    assert remaining <= {"BEST_PRACTICE_SUGGESTION"}, remaining


def test_movement_loads_every_track_with_equal_positions(pose_results):
    folder, _ = pose_results
    dataset = load_with_movement(folder / "nwb")
    numbers = differences_from_tracks(dataset, folder / "tracks.parquet")
    assert numbers["individuals"] == ["queen", "track_0"]
    assert numbers["position_px"] == 0 and numbers["confidence"] == 0
    assert numbers["fps"] == FPS
    # Row i is frame i: the time axis is the video's, from frame 0 to its end.
    assert dataset.sizes["time"] == N_FRAMES
    assert dataset.time.values[12] == pytest.approx(12 / FPS)
    assert sorted(map(str, dataset[KEYPOINTS].values)) == sorted(NODES)
    absent = dataset.position.sel(**{INDIVIDUALS: "queen"}).isel(time=13)
    assert np.isnan(absent.values).all()


def test_metadata_names_the_video_models_runtime_and_skeleton(pose_results):
    from pynwb import NWBHDF5IO

    folder, _ = pose_results
    with NWBHDF5IO(str(folder / "nwb" / "queen.nwb"), mode="r") as handle:
        nwbfile = handle.read()
        assert nwbfile.identifier == "queen" and nwbfile.subject.subject_id == "queen"
        assert nwbfile.subject.species == "Drosophila melanogaster"
        assert nwbfile.subject.sex == "U" and nwbfile.subject.age == "P0D/"
        assert nwbfile.session_id == "clip" and nwbfile.lab == "Fly lab"
        notes = json.loads(nwbfile.notes)
        assert notes["written_with"] == {
            "pynwb": pynwb.__version__,
            "hdmf": hdmf.__version__,
            "ndx-pose": version("ndx-pose"),
        }
        behavior = nwbfile.processing["behavior"]
        pose = behavior["PoseEstimation"]
        assert list(pose.source_video.external_file) == ["../clip.mp4"]  # from nwb/
        assert pose.source_video.dimension[:].tolist() == [320, 240]
        assert pose.source_video.rate == FPS
        assert pose.scorer == "obb.onnx, pose.onnx"
        assert "on runtime onnx_cpu (CPUExecutionProvider)" in pose.description
        assert pose.source_software == "snakeherd"
        skeleton = behavior["Skeletons"]["skeleton"]
        assert list(skeleton.nodes) == NODES
        assert skeleton.edges[:].tolist() == [[0, 1], [1, 2]]
        assert pose.skeleton is skeleton
        series = pose.pose_estimation_series["head"]
        assert series.rate == FPS and series.starting_time == 0.0
        assert series.unit == "pixels" and series.data.shape == (N_FRAMES, 2)


def test_a_video_entry_subject_overrides_the_config_fields_it_sets():
    config = nwb.SessionMetadata.from_config(
        {"lab": "Fly lab", "subject": {"species": "Drosophila melanogaster", "sex": "U"}}
    )
    video = config.for_video({"sex": "F", "genotype": "w1118"})
    assert video.subject == {"species": "Drosophila melanogaster", "sex": "F", "genotype": "w1118"}
    assert video.lab == "Fly lab" and config.subject["sex"] == "U"
    assert config.for_video({}) == config


def test_boxes_only_tracks_get_one_centroid_keypoint(tmp_path):
    write_results(tmp_path, with_nodes=False)
    assert critical_messages(tmp_path / "nwb") == []
    dataset = load_with_movement(tmp_path / "nwb")
    assert list(map(str, dataset[KEYPOINTS].values)) == ["centroid"]
    numbers = differences_from_tracks(dataset, tmp_path / "tracks.parquet")
    assert numbers["position_px"] == 0 and numbers["confidence"] == 0


def test_file_names_are_portable_and_distinct():
    names = nwb.file_names({0: "a/b", 1: "a:b", 2: "..", 3: "Queen", 4: "queen"})
    assert names == {
        0: "a_b.nwb",
        1: "a_b_2.nwb",
        2: "track_2.nwb",
        3: "Queen.nwb",
        4: "queen_2.nwb",
    }


def test_session_start_defaults_to_the_video_file_time(tmp_path):
    video = tmp_path / "clip.mp4"
    video.write_bytes(b"")
    record = nwb.VideoRecord(path=str(video), fps=FPS, n_frames=1)
    start = nwb.session_start(nwb.SessionMetadata(), record)
    assert start.tzinfo is not None and abs(start.timestamp() - video.stat().st_mtime) < 1
    given = nwb.SessionMetadata(session_start_time="2024-05-01T09:30:00")
    assert nwb.session_start(given, record).isoformat() == "2024-05-01T09:30:00+00:00"
    with pytest.raises(ConfigError, match="session_start_time '2024-13-45'"):
        nwb.session_start(nwb.SessionMetadata(session_start_time="2024-13-45"), record)


@pytest.fixture(scope="module")
def analysis_h5(tmp_path_factory):
    """tracks.slp and its analysis HDF5, written as the workflow writes them."""
    folder = tmp_path_factory.mktemp("analysis_h5")
    tracks = tracks_table()
    slp.write_tracks(tracks, str(folder / "tracks.slp"), "clip.mp4", NODES, n_frames=N_FRAMES)
    slp.write_analysis_h5(str(folder / "tracks.slp"), str(folder / "tracks.analysis.h5"))
    return folder / "tracks.analysis.h5", tracks


def test_analysis_h5_loads_in_movement_with_the_tracks(analysis_h5):
    from movement.io import load_poses

    path, tracks = analysis_h5
    dataset = load_poses.from_sleap_file(path, fps=FPS)
    assert sorted(map(str, dataset[INDIVIDUALS].values)) == ["track_0", "track_1"]
    for track_id, rows in tracks.groupby("track_id"):
        for node in NODES:
            got = dataset.position.sel(
                **{INDIVIDUALS: f"track_{track_id}", KEYPOINTS: node}
            ).values[rows["frame"].to_numpy()]
            expected = rows[[f"{node}.x", f"{node}.y"]].to_numpy()
            assert (np.isnan(got) == np.isnan(expected)).all()
            # SLEAP's analysis format stores float32.
            assert np.nanmax(np.abs(got - expected)) < 1e-4


@pytest.mark.parametrize("repeats", [1, 200], ids=["40 frames", "8,000 frames in blocks"])
def test_analysis_h5_is_what_sleap_io_writes_from_the_whole_tracks(tmp_path, monkeypatch, repeats):
    """The per-frame arrays are filled from tracks.slp's instances a block of frames at a time
    (through sleap-io's objects a long video took ~3 KB per instance-frame): every dataset,
    its chunks, compression and attributes, and the file's attributes, are those sleap-io
    writes from the whole tracks; also when a long video's arrays are filled a chunk of
    frames at a time (2,000 frames here), its labelled-frame records read 7 at a time and its
    points 3 instances at a time."""
    import h5py
    import sleap_io as sio

    monkeypatch.setattr(slp, "ANALYSIS_BLOCK_VALUES", 1)
    monkeypatch.setattr(slp, "FRAME_RECORDS", 7)
    monkeypatch.setattr(slp, "ANALYSIS_POINT_ROWS", 3 * len(NODES) + 1)
    once = tracks_table()
    tracks = pd.concat(
        [once.assign(frame=once["frame"] + N_FRAMES * i) for i in range(repeats)],
        ignore_index=True,
    )
    tracks_slp = str(tmp_path / "tracks.slp")
    slp.write_tracks(tracks, tracks_slp, "clip.mp4", NODES, n_frames=N_FRAMES * repeats)
    ours, theirs = tmp_path / "ours.h5", tmp_path / "theirs.h5"
    slp.write_analysis_h5(tracks_slp, str(ours))
    whole = sio.load_slp(tracks_slp, open_videos=False)
    sio.save_analysis_h5(whole, str(theirs), labels_path=tracks_slp)
    with h5py.File(ours) as mine, h5py.File(theirs) as reference:
        assert set(mine) == set(reference) and dict(mine.attrs) == dict(reference.attrs)
        for name in reference:
            got, expected = mine[name], reference[name]
            assert (got.shape, got.dtype) == (expected.shape, expected.dtype), name
            assert (got.chunks, got.compression) == (expected.chunks, expected.compression)
            assert dict(got.attrs) == dict(expected.attrs), name
            if got.shape:
                assert got[()].tobytes() == expected[()].tobytes(), name
            else:
                assert got[()] == expected[()], name
        assert mine["tracks"].shape[-1] == N_FRAMES * repeats
        assert mine["track_occupancy"][()].sum() == len(tracks)
        assert repeats == 1 or mine["tracks"].chunks[-1] < N_FRAMES * repeats


def test_readme_movement_lines_run(analysis_h5):
    """The README's "Analyse with movement" code, on an analysis file."""
    path, _ = analysis_h5
    readme = (REPO / "README.md").read_text()
    section = readme.split("## Analyse with movement", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    assert len([line for line in code.splitlines() if line.strip()]) == 3
    namespace = {}
    exec(code.replace("results/demo/arena_a/tracks.analysis.h5", str(path)), namespace)
    speed = namespace["speed"]
    assert sorted(map(str, speed[INDIVIDUALS].values)) == ["track_0", "track_1"]
    # The animals' x grows 3.1 px a frame: about 78 px/s at 25 fps, plus the noise.
    assert 60 < float(speed.sel(**{INDIVIDUALS: "track_0", KEYPOINTS: "thorax"})) < 200


def test_schema_defaults_match_the_library_defaults():
    schema = yaml.safe_load((REPO / "config" / "schemas" / "config.schema.yaml").read_text())
    section = schema["properties"]["outputs"]["properties"]["nwb_metadata"]["properties"]
    fields = nwb.SessionMetadata.__dataclass_fields__
    assert set(section) == set(fields)
    defaults = nwb.SessionMetadata()
    for name in fields:
        if name != "subject":
            assert section[name]["default"] == getattr(defaults, name), name
    subject = section["subject"]["properties"]
    for name, value in nwb.SUBJECT_DEFAULTS.items():
        assert subject[name]["default"] == value, name


def test_tracks_without_instances_still_get_an_analysis_file(tmp_path):
    import h5py

    empty = tracks_table().iloc[:0]
    slp.write_tracks(empty, str(tmp_path / "tracks.slp"), "clip.mp4", NODES, n_frames=N_FRAMES)
    slp.write_analysis_h5(str(tmp_path / "tracks.slp"), str(tmp_path / "tracks.analysis.h5"))
    with h5py.File(tmp_path / "tracks.analysis.h5") as handle:
        assert handle["tracks"].shape == (0, 2, len(NODES), N_FRAMES)
        assert [name.decode() for name in handle["node_names"]] == NODES


def test_keypoint_names_nwb_forbids_become_distinct_object_names():
    names = nwb.object_names(["head", "A$(touch /tmp/x)", "l:wing", "l_wing", "left wing"])
    assert names == ["head", "A$(touch _tmp_x)", "l_wing", "l_wing_2", "left wing"]


@pytest.mark.parametrize("window", [1, 3, 7, 65536])
@pytest.mark.parametrize("frames_asked", [1, 5, 13])
def test_analysis_instances_read_a_window_of_frame_records_at_a_time(
    tmp_path, monkeypatch, window, frames_asked
):
    """The instance records of each range of frames, asked for in order, are those the whole
    frames dataset names, whatever window of its records is read at a time."""
    import h5py

    monkeypatch.setattr(slp, "FRAME_RECORDS", window)
    tracks = tracks_table()
    tracks = tracks[tracks["frame"] % 4 != 1]  # frames without instances
    tracks_slp = str(tmp_path / "tracks.slp")
    slp.write_tracks(tracks, tracks_slp, "clip.mp4", NODES, n_frames=N_FRAMES)
    with h5py.File(tracks_slp) as handle:
        frames = handle["frames"][()]
        instances = handle["instances"][()]
    with slp._InstanceRecords(tracks_slp) as records:
        assert records.n_instances == len(tracks) == len(instances)
        assert records.last_frame == tracks["frame"].max()
        for first in range(0, N_FRAMES + frames_asked, frames_asked):
            got, got_frames = records.instances_of(first, first + frames_asked)
            asked = (frames["frame_idx"] >= first) & (frames["frame_idx"] < first + frames_asked)
            starts, ends = (
                frames[name][asked].astype(int) for name in ("instance_id_start", "instance_id_end")
            )
            rows = np.concatenate([np.zeros(0, dtype=int)] + [
                np.arange(start, end) for start, end in zip(starts, ends, strict=True)
            ])  # fmt: skip
            assert got.tobytes() == instances[rows].tobytes()
            assert (got_frames == np.repeat(frames["frame_idx"][asked], ends - starts)).all()
