"""Overlay videos: colours, box geometry, frame choice, and a real render of a generated video
(browser-playable H.264, fixed track colours, drawing only where the animals are)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
import yaml

from snakeherd.errors import SnakeherdError
from snakeherd.overlay import (
    ByFrame,
    OverlayData,
    OverlayOptions,
    output_size,
    overlay_frames,
    render_overlay,
    rotated_box_corners,
    track_color,
)
from snakeherd.synthetic import SceneSpec, simulate, write_video
from snakeherd.video import FrameSelection
from tests.support.overlays import (
    drawn_color_near,
    hue_degrees,
    hue_distance,
    read_frames,
    stream_info,
)
from tests.support.paths import REPO

SCENE = SceneSpec(n_animals=3, n_frames=80, width=256, height=192, seed=1, fps=30, body_length=20)


def test_track_colors_are_fixed_and_distinct():
    assert track_color(3) == track_color(3)
    hues = [hue_degrees(track_color(track_id)) for track_id in range(8)]
    closest = min(hue_distance(a, b) for i, a in enumerate(hues) for b in hues[i + 1 :])
    assert closest > 15


def test_rotated_box_corners():
    flat = rotated_box_corners([10.0], [20.0], [8.0], [4.0], [0.0])[0]
    np.testing.assert_allclose(flat, [[6, 18], [14, 18], [14, 22], [6, 22]])
    upright = rotated_box_corners([10.0], [20.0], [8.0], [4.0], [np.pi / 2])[0]
    np.testing.assert_allclose(upright, [[12, 16], [12, 24], [8, 24], [8, 16]], atol=1e-9)


def test_output_size_is_even():
    assert output_size(161, 120, 1.0) == (162, 120)  # padded, never scaled
    assert output_size(1001, 999, 0.5) == (500, 500)


def test_overlay_frames_narrow_the_processed_frames():
    selection = FrameSelection.parse("0-9,20-29").resolve(40)
    assert list(overlay_frames(selection, OverlayOptions(), 40)) == [
        *range(10),
        *range(20, 30),
    ]
    narrowed = overlay_frames(selection, OverlayOptions(frames="5-24", every=2), 40)
    assert list(narrowed) == [5, 7, 9, 21, 23]
    with pytest.raises(SnakeherdError, match="selects none"):
        overlay_frames(selection, OverlayOptions(frames="12-15"), 40)


def test_schema_defaults_match_the_options():
    schema = yaml.safe_load((REPO / "config" / "schemas" / "config.schema.yaml").read_text())
    overlay = schema["properties"]["outputs"]["properties"]["overlay"]["properties"]
    for field in dataclasses.fields(OverlayOptions):
        assert overlay[field.name]["default"] == field.default, field.name
    assert overlay["enabled"]["default"] is False


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    """A generated video, its ground truth drawn as detections and tracks."""
    folder = tmp_path_factory.mktemp("overlay")
    truth = simulate(SCENE)
    source = folder / "source.mp4"
    write_video(SCENE, truth, str(source))
    detections = truth.assign(
        det_id=truth["track_id"], w=truth["length"], h=truth["width"], score=1.0
    )
    tracks = truth.assign(det_id=truth["track_id"], interpolated=False)
    selection = FrameSelection.parse("0-79").resolve(SCENE.n_frames)
    output = folder / "overlay.mp4"
    summary = render_overlay(str(source), OverlayData(detections, None, tracks), selection, output)
    return source, output, truth, summary


def test_overlay_is_browser_playable_h264_of_every_frame(rendered):
    _, output, _, summary = rendered
    info = stream_info(output)
    assert info["codec"].startswith("h264")
    assert info["pix_fmt"] == "yuv420p"
    assert info["frames"] == summary.frames == SCENE.n_frames
    assert info["fps"] == pytest.approx(SCENE.fps)
    assert info["size"] == (SCENE.width, SCENE.height)  # the original size


def isolated_frame(truth: pd.DataFrame, track_id: int, frames) -> int:
    """The first of ``frames`` where the animal is > 20 px from every other (its dot alone)."""
    for frame in frames:
        here = truth[truth["frame"] == frame]
        mine = here[here["track_id"] == track_id][["x", "y"]].to_numpy()
        others = here[here["track_id"] != track_id][["x", "y"]].to_numpy()
        if np.linalg.norm(others - mine, axis=1).min() > 20:
            return frame
    raise AssertionError(f"track {track_id} is never alone in frames {frames}")


def test_a_track_keeps_its_colour_and_only_animals_are_drawn(rendered):
    source, output, truth, _ = rendered
    chosen = {
        track_id: (isolated_frame(truth, track_id, range(0, 30)),
                   isolated_frame(truth, track_id, range(50, 80)))
        for track_id in range(SCENE.n_animals)
    }  # fmt: skip
    frames = {frame for pair in chosen.values() for frame in pair}
    drawn = read_frames(output, frames)
    originals = read_frames(source, frames)
    for track_id, far_apart in chosen.items():
        hues = []
        for frame in far_apart:
            row = truth[(truth["frame"] == frame) & (truth["track_id"] == track_id)].iloc[0]
            at_animal = drawn[frame][round(row["y"]), round(row["x"])].astype(int)
            before = originals[frame][round(row["y"]), round(row["x"])].astype(int)
            assert np.abs(at_animal - before).sum() > 60, (track_id, frame)
            color = drawn_color_near(drawn[frame], originals[frame], row["x"], row["y"])
            hues.append(hue_degrees(color))
        assert hue_distance(*hues) < 12, (track_id, hues)
        assert hue_distance(hues[0], hue_degrees(track_color(track_id))) < 20
    # A pixel far from every animal (and from the frame number in the top-left corner) is the
    # source's, up to the two encodings.
    for frame in frames:
        animals = truth[truth["frame"] == frame][["x", "y"]].to_numpy()
        ys, xs = np.mgrid[40:192:4, 0:256:4]
        grid = np.stack([xs.ravel(), ys.ravel()], axis=1)
        distance = np.min(np.linalg.norm(grid[:, None] - animals[None], axis=-1), axis=1)
        x, y = grid[np.argmax(distance)]
        assert distance.max() > 40
        difference = np.abs(drawn[frame][y, x].astype(int) - originals[frame][y, x].astype(int))
        assert difference.max() <= 12, (x, y, difference)


def test_downscaled_every_other_frame(tmp_path, rendered):
    source, _, truth, _ = rendered
    detections = truth.assign(det_id=truth["track_id"], w=10.0, h=4.0, score=1.0)
    selection = FrameSelection.parse("10-49").resolve(SCENE.n_frames)
    output = tmp_path / "small.mp4"
    options = OverlayOptions(scale=0.5, every=2)
    summary = render_overlay(str(source), OverlayData(detections), selection, output, options)
    info = stream_info(output)
    assert info["frames"] == summary.frames == 20
    assert info["size"] == (128, 96)
    assert info["fps"] == pytest.approx(SCENE.fps / 2)


def test_no_detections_still_renders_the_frames(tmp_path, rendered):
    source = rendered[0]
    empty = pd.DataFrame(columns=["frame", "det_id", "x", "y", "w", "h", "angle", "score"]).astype(
        {"frame": int, "det_id": int}
    )
    selection = FrameSelection.parse("0-9").resolve(SCENE.n_frames)
    summary = render_overlay(str(source), OverlayData(empty), selection, tmp_path / "empty.mp4")
    assert summary.frames == 10


def test_keypoints_and_skeleton_edges_are_drawn(tmp_path, rendered):
    source, _, truth, _ = rendered
    first = truth[truth["frame"] < 5].assign(det_id=lambda t: t["track_id"])
    detections = first.assign(w=first["length"], h=first["width"], score=1.0)
    poses = pd.concat(
        [
            first[["frame", "det_id"]].assign(node="head", x=first["head_x"], y=first["head_y"]),
            first[["frame", "det_id"]].assign(node="tail", x=first["tail_x"], y=first["tail_y"]),
        ]
    ).assign(score=0.9)
    selection = FrameSelection.parse("0-4").resolve(SCENE.n_frames)
    with_poses = render_overlay(
        str(source),
        OverlayData(detections, poses, None, [("head", "tail")]),
        selection,
        tmp_path / "poses.mp4",
    )
    assert with_poses.frames == 5
    drawn = read_frames(tmp_path / "poses.mp4", [2])[2]
    original = read_frames(source, [2])[2]
    row = first[(first["frame"] == 2)].iloc[0]
    head = drawn[round(row["head_y"]), round(row["head_x"])].astype(int)
    assert np.abs(head - original[round(row["head_y"]), round(row["head_x"])]).sum() > 60


def test_tables_read_in_parts_give_each_frame_its_rows():
    """A long video's tables are read in batches as the frames are drawn: a frame split across
    two parts, parts skipped by the frames drawn and an empty part still give each frame all its
    rows, and each box the track that took its detection."""
    detections = pd.DataFrame(
        {
            "frame": [0, 0, 3, 3, 3, 7, 9],
            "det_id": [0, 1, 0, 1, 2, 0, 0],
            "x": np.arange(7.0),
            "y": 1.0,
            "w": 4.0,
            "h": 2.0,
            "angle": 0.0,
        }
    )
    tracks = pd.DataFrame(
        {
            "frame": [0, 3, 3, 9],
            "track_id": [5, 5, 6, 6],
            "det_id": [1, 2, -1, 0],
            "x": [1.0, 4.0, 2.5, 6.0],
            "y": 1.0,
            "interpolated": [False, False, True, False],
        }
    )
    parts = [detections.iloc[:3], detections.iloc[3:3], detections.iloc[3:6], detections.iloc[6:]]
    data = OverlayData(iter(parts), None, iter([tracks.iloc[:2], tracks.iloc[2:]]))
    whole = OverlayData(detections, None, tracks)
    for frame in (0, 3, 8, 9):
        streamed, expected = data.frame(frame), whole.frame(frame)
        for name in ("det_id", "x", "track_id"):
            np.testing.assert_array_equal(streamed.boxes[name], expected.boxes[name])
        np.testing.assert_array_equal(streamed.tracks["track_id"], expected.tracks["track_id"])
        if frame == 3:
            assert streamed.boxes["track_id"].tolist() == [-1, -1, 5]
            assert len(streamed.tracks) == 2
    with pytest.raises(ValueError, match="frame order"):
        ByFrame(iter([detections.iloc[3:], detections.iloc[:3]]), ["x"]).rows(9)
