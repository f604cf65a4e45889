"""The shared crop convention: square around the box centre, zero padding, exact inverse, and
the convention the fly YOLO pose model was trained with."""

from __future__ import annotations

import numpy as np

from snakeherd.crops import Crop, extract


def test_round_trip_is_exact():
    crop = Crop.around(100.3, 57.9, long_side=40.0, scale=1.5, size=128)
    assert crop.side == 60.0
    points = np.array([[90.25, 60.5], [120.0, 30.0]])
    assert np.allclose(crop.to_video(crop.to_crop(points)), points, atol=1e-12)
    # the box centre lands in the middle of the crop
    assert np.allclose(crop.to_crop([[100.3, 57.9]]), [[64.0, 64.0]])


def test_extract_samples_the_right_pixels_and_pads_with_zero():
    image = np.full((100, 100), 200, np.uint8)
    image[40, 30] = 0
    crop = Crop.around(30.0, 40.0, long_side=20.0, scale=1.0, size=20)  # 1 video px = 1 crop px
    patch = extract(image, crop)
    assert patch.shape == (20, 20)
    assert patch[10, 10] == 0 and patch[0, 0] == 200
    corner = extract(image, Crop.around(0.0, 0.0, long_side=20.0, scale=1.0, size=20))
    assert corner[0, 0] == 0 and corner[15, 15] == 200


def test_crop_convention_matches_the_models_readme(clip):
    """README: M = [[s, 0, -(cx - side/2) s], [0, s, -(cy - side/2) s]], s = 128/side,
    side = 1.5 L, warpAffine INTER_LINEAR with zero border."""
    import cv2

    cx, cy, length = 150.25, 300.5, 40.0
    side = 1.5 * length
    s = 128 / side
    readme = np.array([[s, 0, -(cx - side / 2) * s], [0, s, -(cy - side / 2) * s]])
    crop = Crop.around(cx, cy, length, 1.5, 128)
    assert np.allclose(crop.matrix(), readme)
    image = cv2.VideoCapture(clip).read()[1]
    expected = cv2.warpAffine(
        image,
        readme,
        (128, 128),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=0,
    )
    assert np.array_equal(extract(image, crop), expected)
