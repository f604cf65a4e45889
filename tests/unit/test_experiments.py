"""Experiments: variants from overrides and grids, their checks, the keys that share stages, and
the comparison's figures."""

from __future__ import annotations

import itertools
import re

import numpy as np
import pandas as pd
import pytest
import yaml

from snakeherd import experiments
from snakeherd.comparison import (
    ALL_VIDEOS,
    best_per_metric,
    box_offsets,
    keypoint_offsets,
    matched_boxes,
    stage_of,
    track_agreement,
    track_quality,
)
from snakeherd.errors import ConfigError
from tests.support.configs import background_config
from tests.support.paths import REPO

SCHEMA = yaml.safe_load((REPO / "config" / "schemas" / "config.schema.yaml").read_text())
GRID = {"detection.background.threshold": [25, 30], "tracking.max_gap": [3, 10]}


def config_with(experiments_section: dict) -> dict:
    config = background_config("sweep", "cpu", "arena", 40)
    config["tracking"] = {"max_gap": 5}
    config["experiments"] = experiments_section
    return config


def expand(experiments_section: dict, **kwargs) -> list[experiments.Variant]:
    return experiments.expand(config_with(experiments_section), SCHEMA, **kwargs)


def test_a_grid_alone_gives_one_variant_per_combination_named_from_its_values():
    variants = expand({"grid": GRID})
    assert [variant.name for variant in variants] == [
        "threshold-25_max_gap-3",
        "threshold-25_max_gap-10",
        "threshold-30_max_gap-3",
        "threshold-30_max_gap-10",
    ]
    last = variants[-1].config
    assert last["detection"]["background"]["threshold"] == 30
    assert last["tracking"]["max_gap"] == 10
    assert "experiments" not in last
    # The base config is not changed by its variants.
    assert config_with({"grid": GRID})["tracking"] == {"max_gap": 5}


def test_a_grid_applies_to_each_named_variant():
    variants = expand(
        {
            "variants": {"tight": {"tracking.max_distance": 20}, "loose": {}},
            "grid": {"tracking.max_gap": [3, 10]},
        }
    )
    assert [variant.name for variant in variants] == [
        "tight_max_gap-3",
        "tight_max_gap-10",
        "loose_max_gap-3",
        "loose_max_gap-10",
    ]
    assert variants[1].overrides == {"tracking.max_distance": 20, "tracking.max_gap": 10}


def test_grid_keys_with_the_same_last_part_are_named_in_full():
    names = [
        name
        for name, _ in experiments.grid_combinations(
            {"detection.yolo.conf": [0.25], "pose.yolo.conf": [0.5]}
        )
    ]
    assert names == ["detection-yolo-conf-0.25_pose-yolo-conf-0.5"]


@pytest.mark.parametrize(
    ("section", "message"),
    [
        (
            {"variants": {"tight": {"tracking.max_distanse": 20}}},
            r"(?s)experiments\.variants\.tight: unknown key 'tracking\.max_distanse'.*max_distance",
        ),
        (
            {"grid": {"detection.background.thresh": [1, 2]}},
            r"experiments\.grid: unknown key 'detection\.background\.thresh'",
        ),
        (
            {"grid": {"tracking.max_gap.value": [1, 2]}},
            r"unknown key 'tracking\.max_gap\.value'",
        ),
        ({"grid": {}}, r"experiments\.grid is empty"),
        ({"grid": {"tracking.max_gap": []}}, r"experiments\.grid\.tracking\.max_gap: expected a "),
        ({}, r"neither `variants` nor `grid`"),
        ({"variants": {"../up": {}}}, r"'\.\./up' is not a safe folder name"),
        ({"variants": {"shared": {}}}, r"'shared' is a folder snakeherd keeps"),
        (
            {"variants": {"a": {"tracking.max_gap": 3}, "b": {"tracking.max_gap": 3}}},
            r"the variants 'a' and 'b' are the same after their overrides",
        ),
        ({"variants": {"more": {"videos": []}}}, r"a variant cannot change 'videos'"),
        (
            {"grid": {"tracking.max_gap": [1, "1"]}},
            r"more than one variant is named 'max_gap-1'",
        ),
    ],
)
def test_bad_experiments_are_rejected_with_one_message(section, message):
    with pytest.raises(ConfigError, match=message):
        expand(section)


def test_unsafe_values_become_safe_names():
    # A value with a slash becomes '-' in the name (the name is checked, not rejected).
    assert experiments.value_label("a/b c") == "a-b-c"
    assert experiments.value_label(-1) == "-1"
    assert experiments.value_label(None) == "None"


def test_each_variant_is_validated_and_a_rejection_names_it():
    def validate(name, config):
        if config["tracking"]["max_gap"] > 5:
            raise ConfigError(f"experiments variant {name!r}: tracking.max_gap too large")

    with pytest.raises(ConfigError, match="variant 'max_gap-10'"):
        expand({"grid": {"tracking.max_gap": [3, 10]}}, validate=validate)


def test_variants_differing_downstream_share_the_upstream_key():
    variants = {variant.name: variant for variant in expand({"grid": GRID})}
    keys = {name: variant.upstream_key for name, variant in variants.items()}
    assert keys["threshold-25_max_gap-3"] == keys["threshold-25_max_gap-10"]
    assert keys["threshold-30_max_gap-3"] == keys["threshold-30_max_gap-10"]
    assert keys["threshold-25_max_gap-3"] != keys["threshold-30_max_gap-3"]
    assert len({variant.settings_hash for variant in variants.values()}) == 4


def test_the_upstream_key_follows_runtime_and_models_not_videos_or_tracking():
    config = background_config("sweep", "cpu", "arena", 40)
    key = experiments.upstream_key(config)
    assert experiments.upstream_key({**config, "tracking": {"max_gap": 1}}) == key
    assert experiments.upstream_key({**config, "videos": [*config["videos"], {"id": "b"}]}) == key
    assert experiments.upstream_key({**config, "runtime": "onnx_cpu"}) != key
    assert experiments.upstream_key({**config, "detection": {"model": "other.pt"}}) != key
    # Stable: the same settings in another order give the same key.
    assert experiments.upstream_key(dict(reversed(list(config.items())))) == key


def test_no_stage_before_tracking_reads_a_downstream_section():
    """What makes sharing by the upstream key safe: the rule files of the stages before tracking
    never read the sections left out of the key."""
    sections = "|".join(experiments.DOWNSTREAM_SECTIONS)
    pattern = re.compile(rf"""config\[["']({sections})["']\]|\bTRACKING\b""")
    for name in ("export", "detect", "predictions", "pose", "sleap", "sleap_common"):
        text = (REPO / "workflow" / "rules" / f"{name}.smk").read_text()
        assert not pattern.search(text), name


def test_module_names_are_python_names_and_distinct():
    taken = set()
    first = experiments.module_name("a-b", taken)
    taken.add(first)
    assert first == "v_a_b"
    assert experiments.module_name("a.b", taken) == "v_a_b_2"


def test_track_quality_counts_fragments_and_frames_with_the_expected_count():
    tracks = pd.DataFrame(
        {
            "track_id": [1, 1, 1, 1, 2, 2],
            # Track 1 has a gap after frame 1: two fragments.
            "frame": [0, 1, 3, 4, 0, 1],
        }
    )
    quality = track_quality(tracks, expected_count=2)
    assert quality["tracks"] == 2
    assert quality["fragments"] == 3
    assert quality["mean track length (frames)"] == 3.0
    # Frames 0 and 1 hold both tracks; 3 and 4 one.
    assert quality["frames with expected count (share)"] == 0.5


def test_track_quality_in_parts_counts_what_the_whole_table_holds():
    """A long video's tracks come a batch at a time, cut anywhere (here inside frames and
    inside a track's duplicate rows of one frame); without an expected count, the median of
    the animals per frame is taken (2.5 -> 2)."""
    tracks = pd.DataFrame(
        {
            "frame": [0, 1, 1, 2, 2, 2, 3, 3, 3, 3, 5, 5],
            "track_id": [1, 1, 2, 1, 2, 3, 1, 2, 3, 3, 1, 3],
        }
    )
    whole = track_quality(tracks, expected_count=None)
    for cut in ([3], [1, 4, 8], [9], list(range(1, 12))):
        parts = [tracks.iloc[a:b] for a, b in itertools.pairwise([0, *cut, len(tracks)])]
        assert track_quality(parts, expected_count=None) == whole
    assert whole["tracks"] == 3 and whole["frames"] == 5
    # Track 1 holes at frame 4; track 3 has a hole at frames 4 too (3 -> 5); track 2 none.
    assert whole["fragments"] == 5
    assert whole["mean track length (frames)"] == pytest.approx((5 + 3 + 3) / 3)
    assert whole["track frames"] == 11  # track 3's two rows of frame 3 count once
    # Animals per frame 1, 2, 3, 4, 2: median 2, held by two frames in five.
    assert whole["frames with expected count (share)"] == 0.4


def test_the_best_variant_per_metric_is_marked_on_its_all_videos_row():
    table = pd.DataFrame(
        {
            "variant": ["a", "a", "b", "b"],
            "video": ["v", ALL_VIDEOS, "v", ALL_VIDEOS],
            "MOTA": [0.9, 0.9, 0.8, 0.8],
            "id_switches": [4, 4, 1, 1],
            "track CPU seconds": [1.0, 1.0, 1.0, 1.0],
            "frames/s": [np.nan, 10.0, np.nan, 20.0],
        }
    )
    marks = best_per_metric(table)
    assert marks[1] == "MOTA"
    assert marks[3] == "id_switches, frames/s"
    assert marks[0] == marks[2] == ""


def test_benchmark_rules_are_grouped_into_stages():
    assert stage_of("detect_background") == "detect"
    assert stage_of("pose_yolo_crops") == "pose"
    assert stage_of("sleap_predict") == "pose"
    assert stage_of("track") == "track"
    assert stage_of("evaluate") == "other"


def test_box_offsets_match_centres_per_frame_one_to_one():
    reference = pd.DataFrame({"frame": [0, 0, 1], "x": [0.0, 10.0, 5.0], "y": [0.0, 0.0, 5.0]})
    moved = pd.DataFrame(
        {"frame": [0, 0, 1, 1], "x": [10.5, 0.0, 5.0, 50.0], "y": [0.0] * 2 + [8.0, 50.0]}
    )
    offsets = box_offsets(*matched_boxes(moved, reference))
    assert offsets["boxes vs first: max offset (px)"] == 3.0
    assert offsets["boxes vs first: mean offset (px)"] == pytest.approx(3.5 / 3)
    assert offsets["boxes vs first: unmatched"] == 1


def test_keypoint_offsets_compare_the_nodes_of_matched_boxes():
    """Boxes pair by their centres, not their det_ids: each side numbers its own detections."""
    reference = pd.DataFrame({"frame": [0, 0], "det_id": [0, 1], "x": [0.0, 100.0], "y": 0.0})
    ours = pd.DataFrame({"frame": [0, 0], "det_id": [0, 1], "x": [100.0, 0.0], "y": 0.0})

    def poses(det_ids, head_x):
        return pd.DataFrame(
            {
                "frame": 0,
                "det_id": np.repeat(det_ids, 2),
                "node": ["head", "tail"] * len(det_ids),
                "x": np.ravel([[x, x - 5.0] for x in head_x]),
                "y": [0.0, np.nan] * len(det_ids),
            }
        )

    pairs, _ = matched_boxes(ours, reference)
    offsets = keypoint_offsets(
        pairs, ours, reference, poses([1, 0], [0.0, 103.0]), poses([0, 1], [0, 100])
    )
    assert offsets["keypoints vs first: max offset (px)"] == 3.0  # tails (no y) left out
    assert offsets["keypoints vs first: mean offset (px)"] == 1.5
    # A long video's poses tables come a batch at a time: a row each here.
    ours_poses, their_poses = poses([1, 0], [0.0, 103.0]), poses([0, 1], [0, 100])
    in_parts = keypoint_offsets(
        pairs,
        ours,
        reference,
        (ours_poses.iloc[[row]] for row in range(len(ours_poses))),
        (their_poses.iloc[[row]] for row in range(len(their_poses))),
    )
    assert in_parts == offsets


def test_track_agreement_scores_identities_against_the_first_variants():
    frames = np.arange(6)
    reference = pd.DataFrame(
        {
            "frame": np.tile(frames, 2),
            "track_id": np.repeat([1, 2], 6),
            "x": np.repeat([0.0, 50.0], 6),
            "y": 0.0,
        }
    )
    renamed = reference.assign(track_id=reference["track_id"] + 10)
    same = track_agreement(renamed, reference, match_distance=10)
    assert same == {"tracks vs first: IDF1": 1.0, "tracks vs first: ID switches": 0}
    # From frame 3 on, the two identities are swapped.
    swapped = renamed.copy()
    late = swapped["frame"] >= 3
    swapped.loc[late, "track_id"] = 23 - swapped.loc[late, "track_id"]
    differ = track_agreement(swapped, reference, match_distance=10)
    assert differ["tracks vs first: ID switches"] == 2
    assert differ["tracks vs first: IDF1"] < 1.0


def test_the_comparison_counts_suspect_frames_where_proofreading_wrote_them(tmp_path):
    from snakeherd.comparison import VariantResults, compare
    from snakeherd.io import write_table

    folder = tmp_path / "variant" / "v"
    folder.mkdir(parents=True)
    tracks = pd.DataFrame(  # sorted by frame, then track, as the track rule writes them
        {
            "video_id": "v",
            "frame": [0, 0, 1, 1, 2, 2],
            "track_id": [1, 2, 1, 2, 1, 2],
            "det_id": range(6),
            "x": 0.0,
            "y": 0.0,
            "angle": 0.0,
            "score": 1.0,
        }
    )
    write_table(tracks, folder / "tracks.parquet", "tracks", {})
    write_table(
        tracks[["video_id", "frame", "det_id", "x", "y", "score"]].assign(
            w=1.0, h=1.0, angle=0.0, class_id=0
        ),
        tmp_path / "variant" / "v" / "detections.parquet",
        "detections",
        {},
    )
    variant = VariantResults("a", tmp_path / "variant", tmp_path / "variant", [], ["v"])
    table = compare([variant])
    assert "suspect frames" not in table
    assert list(table["tracks"]) == [2, 2]
    suspects = pd.DataFrame(
        {
            "video_id": ["v"],
            "frame": [0],
            "start_frame": [0],
            "end_frame": [1],
            "track_ids": ["1"],
            "reason": ["count"],
            "severity": [1.0],
            "rank": [1],
            "detail": [""],
        }
    )
    write_table(suspects, folder / "suspects.parquet", "suspects", {})
    assert list(compare([variant])["suspect frames"]) == [2, 2]
