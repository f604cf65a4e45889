"""Frame selections and streaming frames from real (generated) videos."""

from __future__ import annotations

import json

import numpy as np
import pytest

from snakeherd.errors import VideoError
from snakeherd.video import FrameRangeError, FrameSelection, VideoReader, probe, require_frame


@pytest.mark.parametrize(
    ("text", "ranges"),
    [
        (None, ((0, None),)),
        ("", ((0, None),)),
        ("0-99,200-299", ((0, 99), (200, 299))),
        ("200-299, 0-99", ((0, 99), (200, 299))),
        ("5", ((5, 5),)),
        (7, ((7, 7),)),
        ("500-", ((500, None),)),
        ("0-10,5-20", ((0, 20),)),
        ("0-10,11-20", ((0, 20),)),
        ("0-10,8-", ((0, None),)),
    ],
)
def test_parse(text, ranges):
    assert FrameSelection.parse(text).ranges == ranges


@pytest.mark.parametrize("text", ["a-b", "10-5", "1--2", "-5", "1,,2", "3.5"])
def test_parse_rejects(text):
    with pytest.raises(FrameRangeError):
        FrameSelection.parse(text)


def test_resolve_closes_open_ranges_and_rejects_out_of_video():
    assert FrameSelection.parse("10-").resolve(20).ranges == ((10, 19),)
    with pytest.raises(FrameRangeError, match="past the end of the video"):
        FrameSelection.parse("0-20").resolve(20)
    with pytest.raises(FrameRangeError, match="starting at frame 25"):
        FrameSelection.parse("25-").resolve(20)


def test_frames_count_and_spacing():
    selection = FrameSelection.parse("0-9,20-29").resolve(100)
    assert len(selection) == 20
    assert selection.frames().tolist() == list(range(10)) + list(range(20, 30))
    spread = selection.evenly_spaced(5)
    assert spread[0] == 0 and spread[-1] == 29 and len(spread) == 5
    assert str(selection) == "0-9,20-29"
    with pytest.raises(ValueError):
        len(FrameSelection.parse("5-"))


def test_reader_returns_the_same_frame_by_seek_and_by_stream(small_videos):
    path = small_videos["small_a"]
    info = probe(path)
    assert (info.n_frames, info.width, info.height) == (60, 256, 256)
    with VideoReader(path) as reader:
        streamed = {index: image for index, image in reader.iter_frames(np.arange(60))}
    with VideoReader(path) as reader:
        # backwards forces a seek
        for index in (50, 3, 41):
            assert np.array_equal(reader.read(index), streamed[index])
    assert streamed[0].shape == (256, 256)


def test_missing_and_corrupt_videos_name_the_file_and_fix(tmp_path, small_videos):
    with pytest.raises(VideoError, match="video file not found") as caught:
        probe(tmp_path / "nope.mp4")
    assert "Fix:" in str(caught.value)

    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(b"this is not a video" * 100)
    with pytest.raises(VideoError) as caught:
        probe(garbage)
    assert str(garbage) in str(caught.value)
    assert "Fix:" in str(caught.value)


def test_truncated_mp4_cannot_be_opened(tmp_path, small_videos):
    data = small_videos["small_a"].read_bytes()
    truncated = tmp_path / "truncated.mp4"
    # OpenCV writes the index (moov atom) last: cutting the file loses it.
    truncated.write_bytes(data[: len(data) // 3])
    with pytest.raises(VideoError, match="cannot open video") as caught:
        probe(truncated)
    assert str(truncated) in str(caught.value)


def test_a_seek_past_what_decodes_is_an_error_not_another_frame(shared_data, tmp_path):
    # An mp4 whose index is at the front, cut short: the header still says 1,100 frames, 89
    # decode. A seek to frame 500 lands on the last frame that decodes, without an error.
    whole = shared_data / "tracking" / "centered_pair_low_quality.mp4"
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(whole.read_bytes()[:95_675])
    assert probe(truncated).n_frames == 1100
    with VideoReader(truncated) as reader, pytest.raises(VideoError) as caught:
        reader.read(500)
    message = str(caught.value)
    assert "frame 500 cannot be decoded" in message and "no further than frame 89" in message
    assert str(truncated) in message and "Fix:" in message
    with VideoReader(truncated) as reader, pytest.raises(VideoError, match="frame 89 cannot"):
        list(reader.iter_frames(np.arange(80, 96)))
    with pytest.raises(VideoError, match="frame 500 cannot be decoded"):
        require_frame(truncated, 500)
    # What does decode still reads, and the whole file reads everywhere.
    with VideoReader(truncated) as reader:
        assert [index for index, _ in reader.iter_frames(np.arange(0, 6))] == list(range(6))
    require_frame(whole, 1099)


def test_truncated_avi_fails_at_the_first_frame_it_cannot_decode(tmp_path):
    from snakeherd.synthetic import SceneSpec, simulate, write_video

    spec = SceneSpec(n_animals=3, n_frames=60, width=128, height=128, seed=5)
    whole = tmp_path / "whole.avi"
    write_video(spec, simulate(spec), str(whole), fourcc="MJPG")
    data = whole.read_bytes()
    truncated = tmp_path / "truncated.avi"
    # AVI's header keeps claiming 60 frames; the frame data ends a third of the way in.
    truncated.write_bytes(data[: len(data) // 3])
    assert probe(truncated).n_frames == 60
    decoded = []
    with (
        pytest.raises(VideoError, match=r"frame \d+ cannot be decoded") as caught,
        VideoReader(truncated) as reader,
    ):
        for index, _ in reader.iter_frames(np.arange(60)):
            decoded.append(index)
    assert 5 < len(decoded) < 40
    assert str(truncated) in str(caught.value) and "Fix:" in str(caught.value)


def test_probe_store_answers_for_unchanged_videos_only(tmp_path, small_videos, monkeypatch):
    from snakeherd import video

    store = tmp_path / "store" / "probes.json"
    path = small_videos["small_a"]
    first = video.probe(path)
    video.save_probe_store(store)
    assert json.loads(store.read_text())["probes"]

    # A later process: nothing remembered but the store; opening a video would fail.
    monkeypatch.setattr(video, "_PROBES", {})
    monkeypatch.setattr(video, "_STORED_PROBES", 0)
    video.load_probe_store(store)
    monkeypatch.setattr(video, "_probe", lambda p: pytest.fail(f"{p} was opened again"))
    assert video.probe(path) == first

    # A file rewritten in place is probed afresh.
    monkeypatch.undo()
    from snakeherd.synthetic import SceneSpec, simulate, write_video

    rewritten = tmp_path / "rewritten.mp4"
    rewritten.write_bytes(path.read_bytes())
    assert video.probe(rewritten).n_frames == 60
    spec = SceneSpec(n_animals=2, n_frames=30, width=128, height=128, seed=1)
    write_video(spec, simulate(spec), str(rewritten))
    assert (video.probe(rewritten).n_frames, video.probe(rewritten).width) == (30, 128)


def test_unreadable_probe_store_is_ignored(tmp_path, small_videos):
    from snakeherd import video

    store = tmp_path / "probes.json"
    store.write_text("{not json")
    video.load_probe_store(store)
    assert video.probe(small_videos["small_a"]).n_frames == 60
