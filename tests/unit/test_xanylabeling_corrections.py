"""Corrections back in from X-AnyLabeling, on the real fly clip: the suspect frames exported, one
JSON edited as a person would (two animals' group ids swapped, a box or a keypoint moved) and
read back; the tracks of record carry the fix. Bad folders are refused, each naming the file."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from snakeherd.config import check_config
from snakeherd.errors import ConfigError, InputFileError
from snakeherd.proofreading import corrections, xanylabeling
from snakeherd.proofreading.suspects import SuspectParams, VideoContext, body_length, find
from tests.support.configs import background_config
from tests.support.proofreading import FLY_TRACKS, fly_tracks, inject_errors

VIDEO = "tracking/centered_pair_low_quality.mp4"
SWAP = 200
LAST = 400  # frames 0-399: enough for a swap and its suspects, and quick


@pytest.fixture(scope="module")
def exported(shared_data, tmp_path_factory):
    """The clean tracks, the tracks with a swap from frame SWAP on, their suspects' folder and
    the suspect frame a person opens to fix the swap (the one of the stretch covering it)."""
    clean, detections = fly_tracks(shared_data / FLY_TRACKS)
    clean = clean[clean["frame"] < LAST].reset_index(drop=True)
    detections = detections[detections["frame"] < LAST]
    nodes = [c[: -len(".x")] for c in clean.columns if c.endswith(".x")]
    swapped, _ = inject_errors(clean, swaps=[SWAP], drops=[], low_scores=[])
    context = VideoContext(np.arange(LAST), body_length(detections), 2, (384, 384))
    suspects = find(swapped, context, SuspectParams(), "flies")
    (fix_frame,) = suspects.loc[
        (suspects["start_frame"] <= SWAP) & (suspects["end_frame"] >= SWAP), "frame"
    ].unique()[:1]
    folder = tmp_path_factory.mktemp("xal") / "flies"
    video = str(shared_data / VIDEO)
    xanylabeling.write_folder(
        swapped, detections, suspects["frame"].tolist(), video, str(folder), "flies", nodes
    )
    boxes = tmp_path_factory.mktemp("xal") / "flies"  # the same frames of a box-only run
    box_tracks = swapped.drop(columns=[c for c in swapped if "." in c])
    xanylabeling.write_folder(
        box_tracks, detections, suspects["frame"].tolist(), video, str(boxes), "flies", []
    )
    return clean, swapped, box_tracks, nodes, folder, boxes, int(fix_frame), suspects


def copy_of(folder, tmp_path):
    target = tmp_path / "flies"
    shutil.copytree(folder, target)
    return target


def edit(folder, frame, change):
    path = folder / f"flies-{frame}.json"
    document = json.loads(path.read_text())
    change(document)
    path.write_text(json.dumps(document))


def test_the_untouched_export_changes_nothing(exported):
    _, swapped, box_tracks, nodes, folder, boxes, _, _ = exported
    fixes = corrections.read(str(folder), nodes, 1100, video_id="flies")
    assert len(fixes.checksum) == 64
    kept = corrections.apply(swapped, fixes, max_distance=40.0)
    assert kept.attrs["corrected_frames"] == []
    kept_boxes = corrections.apply(
        box_tracks, corrections.read(str(boxes), [], 1100, video_id="flies"), 40.0
    )
    assert kept_boxes.attrs["corrected_frames"] == []


def test_swapped_group_ids_fix_the_rest_of_the_track(exported, tmp_path):
    clean, swapped, _, nodes, folder, _, fix_frame, _ = exported
    assert SWAP <= fix_frame <= SWAP + 5  # the suspect stretch points at the swap
    folder = copy_of(folder, tmp_path)
    before = corrections.read(str(folder), nodes, 1100, video_id="flies").checksum

    def swap_ids(document):
        for shape in document["shapes"]:
            shape["group_id"] = 1 - shape["group_id"]

    edit(folder, fix_frame, swap_ids)
    fixes = corrections.read(str(folder), nodes, 1100, video_id="flies")
    assert fixes.checksum != before  # provenance tells the corrected folder from the export
    fixed = corrections.apply(swapped, fixes, max_distance=40.0)
    assert fixed.attrs["corrected_frames"] == [fix_frame]
    assert len(fixed) == len(clean)
    from_fix = (fixed["frame"] >= fix_frame).to_numpy()
    np.testing.assert_array_equal(fixed["track_id"][from_fix], clean["track_id"][from_fix])
    np.testing.assert_allclose(fixed["x"][from_fix], clean["x"][from_fix], atol=1e-3)
    # Before the fix the tracker's (wrong) identities stay: the person corrected from here on.
    before_fix = (fixed["frame"] < fix_frame).to_numpy()
    np.testing.assert_array_equal(fixed["track_id"][before_fix], swapped["track_id"][before_fix])


def test_a_moved_box_in_a_box_only_run_and_a_moved_keypoint(exported, tmp_path):
    _, swapped, box_tracks, nodes, folder, boxes, fix_frame, suspects = exported
    frame = int(suspects.loc[suspects["frame"] != fix_frame, "frame"].iloc[0])
    boxes = copy_of(boxes, tmp_path)

    def move_box(document):
        (box,) = [s for s in document["shapes"] if s["group_id"] == 1]
        box["points"] = [[x + 6.0, y - 4.0] for x, y in box["points"]]

    edit(boxes, frame, move_box)
    fixed = corrections.apply(
        box_tracks, corrections.read(str(boxes), [], 1100, video_id="flies"), 40.0
    )
    assert fixed.attrs["corrected_frames"] == [frame]
    assert list(fixed.columns) == list(box_tracks.columns) and len(fixed) == len(box_tracks)
    moved = fixed[(fixed["frame"] == frame) & (fixed["track_id"] == 1)].iloc[0]
    was = box_tracks[(box_tracks["frame"] == frame) & (box_tracks["track_id"] == 1)].iloc[0]
    assert (moved["x"], moved["y"]) == pytest.approx((was["x"] + 6, was["y"] - 4), abs=1e-3)
    assert moved["det_id"] == -1 and moved["angle"] == pytest.approx(was["angle"], abs=1e-6)
    elsewhere = fixed["frame"] != frame
    np.testing.assert_array_equal(
        fixed.loc[elsewhere, "x"], box_tracks.loc[box_tracks["frame"] != frame, "x"]
    )

    points = copy_of(folder, tmp_path / "points")

    def move_head(document):
        (head,) = [s for s in document["shapes"] if s["label"] == "head" and s["group_id"] == 0]
        head["points"] = [[head["points"][0][0] + 3.0, head["points"][0][1]]]

    edit(points, frame, move_head)
    fixed = corrections.apply(
        swapped, corrections.read(str(points), nodes, 1100, video_id="flies"), 40.0
    )
    assert fixed.attrs["corrected_frames"] == [frame]
    row = fixed[(fixed["frame"] == frame) & (fixed["track_id"] == 0)].iloc[0]
    was = swapped[(swapped["frame"] == frame) & (swapped["track_id"] == 0)].iloc[0]
    assert row["head.x"] == pytest.approx(was["head.x"] + 3, abs=1e-9)
    assert row["thorax.x"] == pytest.approx(was["thorax.x"], abs=1e-9)


def test_bad_folders_are_refused_naming_the_file_and_the_fix(exported, tmp_path):
    _, _, _, nodes, folder, _, fix_frame, _ = exported

    def refused(target, match, n_frames=1100):
        with pytest.raises(InputFileError, match=match) as error:
            corrections.read(str(target), nodes, n_frames, video_id="flies")
        assert "Fix:" in str(error.value)
        return str(error.value)

    empty = tmp_path / "empty"
    empty.mkdir()
    refused(empty, "empty holds no X-AnyLabeling JSON files")
    other = copy_of(folder, tmp_path / "other")
    shutil.copy(other / f"flies-{fix_frame}.json", other / "arena2-5.json")
    assert "arena2-5.json is not a frame of video flies" in refused(other, "not a frame")
    renamed = copy_of(folder, tmp_path / "renamed")
    (renamed / f"flies-{fix_frame}.json").rename(renamed / "flies-999.json")
    refused(renamed, rf"flies-999\.json labels the image 'flies-{fix_frame}\.png'")
    refused(folder, rf"flies-{fix_frame}\.json is frame {fix_frame}; video flies has frames 0-99",
            n_frames=100)  # fmt: skip
    wing = copy_of(folder, tmp_path / "wing")
    edit(wing, fix_frame, lambda d: d["shapes"][1].update(label="wing"))
    refused(wing, rf"flies-{fix_frame}\.json: the point 'wing' is not a keypoint")
    with pytest.raises(InputFileError, match=r"the point 'head' is not a keypoint .*boxes only"):
        corrections.read(str(folder), [], 1100, video_id="flies")
    broken = copy_of(folder, tmp_path / "broken")
    (broken / f"flies-{fix_frame}.json").write_text('{"shapes": [')
    refused(broken, rf"flies-{fix_frame}\.json cannot be read as an X-AnyLabeling file")
    twice = copy_of(folder, tmp_path / "twice")

    def one_group(document):
        for shape in document["shapes"]:
            shape["group_id"] = 0

    edit(twice, fix_frame, one_group)
    refused(twice, rf"flies-{fix_frame}\.json: group 0 has two boxes")
    drawn = copy_of(folder, tmp_path / "drawn")
    edit(drawn, fix_frame, lambda d: d["shapes"][0].update(shape_type="rectangle"))
    refused(drawn, "is a rectangle; boxes are read as rotation shapes")


def test_the_config_checks_the_folders_names(exported, shared_data, tmp_path, monkeypatch):
    _, _, _, _, folder, _, _, _ = exported
    video = {"id": "flies", "path": str(shared_data / VIDEO), "proofread": str(folder)}
    config = background_config("t", "cpu", "flies", 1, videos=[video])
    (entry,) = check_config(config)
    assert entry.proofread == str(folder)
    with pytest.raises(ConfigError, match=r"videos\[0\]\.proofread \(id arena\): .*flies-\d+"):
        check_config({**config, "videos": [{**video, "id": "arena"}]})
    with pytest.raises(ConfigError, match="holds no X-AnyLabeling JSON files"):
        check_config({**config, "videos": [{**video, "proofread": str(tmp_path)}]})
    # The export itself, corrected in place: the track job would remake what it reads.
    monkeypatch.chdir(tmp_path)
    shutil.copytree(folder, tmp_path / "results/t/flies/xanylabeling")
    in_place = {**video, "proofread": "results/t/flies/xanylabeling"}
    with pytest.raises(ConfigError, match=r"inside results/t/flies/, which this run writes"):
        check_config({**config, "videos": [in_place]})
