"""One box per keypoint set, the same on the SLEAP-stage, track-only and tracking paths."""

import math

import numpy as np
import pytest

from snakeherd.keypoints import keypoint_boxes


def box(points):
    centre, long_side, short_side, angle = keypoint_boxes(np.array([points], dtype=float))
    return (*centre[0], long_side[0], short_side[0], angle[0])


def test_one_keypoint_is_a_box_of_no_extent_at_that_point():
    # The detections contract keeps angles in [0, π): a point's box has sides 0 and angle 0.
    assert box([[1.0, 2.0], [np.nan, np.nan]]) == (1.0, 2.0, 0.0, 0.0, 0.0)


def test_no_keypoint_has_nothing():
    assert all(math.isnan(value) for value in box([[np.nan, np.nan]] * 2))


def test_two_keypoints_span_the_long_side_along_their_direction():
    x, y, w, h, angle = box([[0.0, 0.0], [10.0, 10.0]])
    assert (x, y) == (5.0, 5.0)
    assert w == pytest.approx(math.hypot(10, 10)) and h == pytest.approx(0.0, abs=1e-9)
    assert angle == pytest.approx(math.pi / 4)
    # A direction down-left is the same undirected axis, in [0, π).
    assert 0 <= box([[0.0, 0.0], [-3.0, 1.0]])[4] < math.pi


def test_a_line_of_keypoints_ignores_missing_ones():
    x, y, w, h, angle = box([[0.0, 0.0], [10.0, 10.0], [20.0, 20.0], [np.nan, np.nan]])
    assert (x, y) == (10.0, 10.0)
    assert w == pytest.approx(math.hypot(20, 20)) and h == pytest.approx(0.0, abs=1e-9)
    assert angle == pytest.approx(math.pi / 4)


def test_a_wide_animal_keeps_the_long_side_first():
    # A body along x (11 keypoints, 10 px) with two leg tips 7 px either side: the principal axis
    # is x, but the extent across it (14) is larger than along it (10). The long side is still
    # w, and the angle follows it.
    body = [[x, 0.0] for x in range(-5, 6)]
    *_, w, h, angle = box([*body, [0.0, 7.0], [0.0, -7.0]])
    assert (w, h) == (pytest.approx(14), pytest.approx(10))
    assert angle == pytest.approx(math.pi / 2)


def test_many_instances_at_once():
    points = np.array([[[0, 0], [4, 0]], [[1, 1], [np.nan, np.nan]], [[0, 0], [0, 2]]], float)
    centre, long_side, _, angle = keypoint_boxes(points)
    np.testing.assert_allclose(centre, [[2, 0], [1, 1], [0, 1]])
    np.testing.assert_allclose(long_side, [4, 0, 2])
    np.testing.assert_allclose(angle, [0, 0, math.pi / 2])
    assert keypoint_boxes(np.zeros((0, 3, 2)))[0].shape == (0, 2)


def test_many_instances_are_measured_in_blocks_with_the_same_result(monkeypatch):
    from snakeherd import keypoints
    from snakeherd.tracking import similarity

    rng = np.random.default_rng(1)
    points = rng.random((1000, 5, 2)) * 100
    points[rng.random(points.shape[:2]) < 0.3] = np.nan
    points[7] = np.nan  # an instance with no keypoint
    whole = keypoint_boxes(points), similarity.bounding_boxes(points)
    monkeypatch.setattr(keypoints, "BLOCK_ROWS", 64)
    monkeypatch.setattr(similarity, "BLOCK_ROWS", 64)
    blocked = keypoint_boxes(points), similarity.bounding_boxes(points)
    for expected, got in zip([*whole[0], whole[1]], [*blocked[0], blocked[1]], strict=True):
        assert got.shape == expected.shape
        assert np.array_equal(got, expected, equal_nan=True)
