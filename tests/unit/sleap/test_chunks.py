"""A chunked video's SLEAP chunk predictions joined: hand-over arrays and .slp files."""

from __future__ import annotations

import numpy as np
import pytest
import sleap_io as sio

from snakeherd.chunks import ChunkError
from snakeherd.sleap.chunks import join_pose_arrays, merge_slp
from snakeherd.sleap.handover import PoseArrays, read_pose_arrays, write_pose_arrays
from snakeherd.video import FrameSelection

CHUNKS = [FrameSelection.parse("0-3,10-11"), FrameSelection.parse("12-15")]
SELECTION = FrameSelection.parse("0-3,10-15")


def part(frames, chunk, nodes=("head", "tail"), limited=0):
    """A chunk job's hand-over: one instance per frame, through the .npz round trip's types."""
    arrays = PoseArrays(node_names=list(nodes))
    for frame in frames:
        arrays.add(frame, 0, np.full((len(nodes), 2), frame), np.ones(len(nodes)), 0.9, "f")
    stage = {"method": "sleap", "frame_selection": chunk, "frames": 6, "pipeline": "topdown"}
    if limited is not None:
        stage["frames_at_max_instances"] = limited
    return arrays.arrays(), stage


def test_chunk_arrays_join_in_frame_order_with_the_whole_stage_record(tmp_path):
    parts = [part([0, 3, 11], "0-3,10-11", limited=1), part([12, 15], "12-15", limited=2)]
    parts[1][1]["frames"] = 4
    arrays, stage = join_pose_arrays(parts, CHUNKS, SELECTION, ["a.npz", "b.npz"])
    assert arrays["frame"].tolist() == [0, 3, 11, 12, 15]
    assert arrays["points"].shape == (5, 2, 2) and arrays["points"][3, 0, 0] == 12
    assert arrays["identity"].tolist() == ["f"] * 5
    assert stage["frames"] == 10 and stage["frames_at_max_instances"] == 3
    assert stage["frame_selection"] == "0-3,10-15"
    assert stage["chunks"] == ["0-3,10-11", "12-15"]
    # It goes back through the hand-over file as a whole-video job's arrays do.
    write_pose_arrays(arrays, stage, tmp_path / "poses.npz")
    again, record = read_pose_arrays(tmp_path / "poses.npz")
    assert again["frame"].tolist() == [0, 3, 11, 12, 15] and record == stage


def test_a_chunk_with_no_instances_joins(tmp_path):
    parts = [part([], "0-3,10-11", limited=None), part([13], "12-15", limited=None)]
    arrays, stage = join_pose_arrays(parts, CHUNKS, SELECTION, ["a.npz", "b.npz"])
    assert arrays["frame"].tolist() == [13] and arrays["points"].shape == (1, 2, 2)
    assert "frames_at_max_instances" not in stage


@pytest.mark.parametrize(
    ("parts", "chunks", "message"),
    [
        (
            [part([0], "0-3,10-11"), part([12], "12-16")],
            CHUNKS,
            "was made for the frames 12-16, and the chunk is now 12-15",
        ),
        ([part([0], "0-3,10-11"), part([9], "12-15")], CHUNKS, "b.npz has rows for frame(s) 9"),
        (
            [part([0], "0-3,10-11"), part([12], "12-15", nodes=("head", "abdomen"))],
            CHUNKS,
            "different models",
        ),
        (
            [part([0], "0-3,10-11"), part([12], "13-15")],
            [CHUNKS[0], FrameSelection.parse("13-15")],
            "12 lost",
        ),
        ([part([3, 0], "0-3,10-11"), part([12], "12-15")], CHUNKS, "not in frame order"),
    ],
)
def test_chunks_that_do_not_add_up_are_refused(parts, chunks, message):
    with pytest.raises(ChunkError, match=message.replace("(", r"\(").replace(")", r"\)")):
        join_pose_arrays(parts, chunks, SELECTION, ["a.npz", "b.npz"])


def chunk_slp(path, video_path, frames, identities=("female", "male")):
    """A chunk job's .slp: its own video, skeleton and track objects, as sleap-nn writes one."""
    video = sio.Video(filename=str(video_path), open_backend=False)
    skeleton = sio.Skeleton(["head", "tail"])
    tracks = [sio.Track(name=name) for name in identities]
    labeled_frames = [
        sio.LabeledFrame(
            video=video,
            frame_idx=frame,
            instances=[
                sio.PredictedInstance.from_numpy(
                    np.array([[frame, index], [frame + 1, index]], float),
                    skeleton=skeleton,
                    point_scores=np.array([0.5, 0.6]),
                    score=0.7,
                    track=track,
                )
                for index, track in enumerate(tracks)
            ],
        )
        for frame in frames
    ]
    labels = sio.Labels(
        labeled_frames=labeled_frames, videos=[video], skeletons=[skeleton], tracks=tracks
    )
    sio.save_slp(labels, str(path))
    return path


def test_chunk_slp_files_merge_into_one_video_skeleton_and_track_set(tmp_path):
    video_path = tmp_path / "clip.mp4"
    paths = [
        chunk_slp(tmp_path / "0.slp", video_path, [0, 3, 11]),
        chunk_slp(tmp_path / "1.slp", video_path, [12, 15], identities=("male", "female")),
    ]
    assert merge_slp(paths, tmp_path / "poses.slp") == 5
    merged = sio.load_slp(str(tmp_path / "poses.slp"), open_videos=False)
    assert len(merged.videos) == len(merged.skeletons) == 1
    assert merged.videos[0].filename == str(video_path)
    assert sorted(track.name for track in merged.tracks) == ["female", "male"]
    assert [lf.frame_idx for lf in merged.labeled_frames] == [0, 3, 11, 12, 15]
    last = merged.labeled_frames[-1]
    assert [instance.track.name for instance in last.instances] == ["male", "female"]
    np.testing.assert_array_equal(last.instances[1].numpy(), [[15, 1], [16, 1]])
    assert not list(tmp_path.glob(".*.tmp.slp"))
