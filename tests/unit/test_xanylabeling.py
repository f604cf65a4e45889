"""Suspect frames for X-AnyLabeling, on the real fly clip: images and the tool's JSONs, read
back to the same boxes and keypoints."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from snakeherd.errors import InputFileError
from snakeherd.proofreading import xanylabeling
from tests.support.proofreading import FLY_TRACKS, fly_tracks

VIDEO = "tracking/centered_pair_low_quality.mp4"
FRAMES = [3, 250, 1099]


@pytest.fixture(scope="module")
def exported(shared_data, tmp_path_factory):
    tracks, detections = fly_tracks(shared_data / FLY_TRACKS)
    nodes = [c[: -len(".x")] for c in tracks.columns if c.endswith(".x")]
    folder = tmp_path_factory.mktemp("xal") / "flies"
    written = xanylabeling.write_folder(
        tracks, detections, FRAMES, str(shared_data / VIDEO), str(folder), "flies", nodes
    )
    assert written == len(FRAMES)
    return folder, xanylabeling.box_sides(tracks, detections), nodes


def test_each_frame_is_an_image_and_a_document_in_the_tools_format(exported):
    folder, _, nodes = exported
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        f"flies-{f}.{ext}" for f in FRAMES for ext in ("json", "png")
    )
    image = cv2.imread(str(folder / "flies-250.png"))
    assert image.shape == (384, 384, 3)
    document = json.loads((folder / "flies-250.json").read_text())
    assert document["imagePath"] == "flies-250.png" and document["imageData"] is None
    assert (document["imageWidth"], document["imageHeight"]) == (384, 384)
    boxes = [s for s in document["shapes"] if s["shape_type"] == "rotation"]
    points = [s for s in document["shapes"] if s["shape_type"] == "point"]
    assert sorted(b["group_id"] for b in boxes) == [0, 1]
    assert all(len(b["points"]) == 4 and 0 <= b["direction"] < 2 * np.pi for b in boxes)
    # X-AnyLabeling's direction: the angle of the first edge, as its converter computes it.
    for box in boxes:
        (x0, y0), (x1, y1) = box["points"][:2]
        assert np.mod(np.arctan2(y1 - y0, x1 - x0), 2 * np.pi) == pytest.approx(box["direction"])
    assert {p["label"] for p in points} <= set(nodes) and len(points) > 20
    assert all(isinstance(p["score"], float) for p in document["shapes"])


def test_the_documents_read_back_to_the_same_boxes_and_keypoints(exported):
    folder, tracks, nodes = exported
    read = xanylabeling.read_folder(str(folder), "flies")
    expected = tracks[tracks["frame"].isin(FRAMES)].reset_index(drop=True)
    assert read[["frame", "track_id"]].values.tolist() == (
        expected[["frame", "track_id"]].values.tolist()
    )
    for column in ("x", "y", "w", "h"):
        np.testing.assert_allclose(read[column], expected[column], atol=1e-3)
    # The box keeps its axis; its direction points to the head end when that is known.
    assert np.abs(np.angle(np.exp(2j * (read["angle"] - expected["angle"])))).max() < 1e-6
    known = np.isfinite(expected["heading"]).to_numpy()
    assert 0 < known.sum() < len(known)  # heads found on most rows, not on every one
    assert (np.cos(read["heading"] - expected["heading"])[known] > 0).all()
    np.testing.assert_array_equal(read["score"], expected["score"])
    for node in nodes:
        visible = np.isfinite(expected[f"{node}.x"]).to_numpy()
        for part in ("x", "y", "score"):
            got = read[f"{node}.{part}"].to_numpy()[visible] if visible.any() else []
            np.testing.assert_array_equal(got, expected[f"{node}.{part}"].to_numpy()[visible])


def test_a_folder_without_documents_or_with_an_ungrouped_shape_is_refused(exported, tmp_path):
    with pytest.raises(InputFileError, match="holds no X-AnyLabeling JSON files"):
        xanylabeling.read_folder(str(tmp_path), "flies")
    folder, _, _ = exported
    document = json.loads((folder / "flies-3.json").read_text())
    document["shapes"][0]["group_id"] = None
    (tmp_path / "flies-3.json").write_text(json.dumps(document))
    with pytest.raises(InputFileError, match="no group id"):
        xanylabeling.read_folder(str(tmp_path), "flies")


def test_the_suspect_frames_rows_alone_give_the_same_documents(shared_data, tmp_path):
    """The export job reads every column of the suspect frames' rows only (a long video's
    tracks with keypoints are large) and the whole table's light columns: a filled-in row's box
    still gets its track's median over the whole video."""
    tracks, detections = fly_tracks(shared_data / FLY_TRACKS)
    nodes = [c[: -len(".x")] for c in tracks.columns if c.endswith(".x")]
    tracks = tracks.copy()
    filled = tracks.index[tracks["frame"] == 250][0]
    tracks.loc[filled, "det_id"] = -1  # as an interpolated row: no box of its own
    video = str(shared_data / VIDEO)
    whole, alone = tmp_path / "whole", tmp_path / "alone"
    xanylabeling.write_folder(tracks, detections, FRAMES, video, str(whole), "flies", nodes)
    rows = tracks[tracks["frame"].isin(FRAMES)]
    every_row = tracks[["frame", "track_id", "det_id"]]
    xanylabeling.write_folder(
        rows, detections, FRAMES, video, str(alone), "flies", nodes, every_row=every_row
    )
    for frame in FRAMES:
        name = f"flies-{frame}.json"
        assert (alone / name).read_text() == (whole / name).read_text()
    # The median is the whole video's: not the sides of the three frames' boxes.
    sides = xanylabeling.box_sides(rows, detections, every_row)
    own = xanylabeling.box_sides(rows, detections)
    assert sides.loc[sides["det_id"] < 0, "w"].iloc[0] != own.loc[own["det_id"] < 0, "w"].iloc[0]
