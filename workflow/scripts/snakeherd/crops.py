"""The crop convention shared by every pose stage that runs on detection crops.

A crop is an axis-aligned square centred on the detection's box centre, with side
``scale × the box's long side`` (``w``), resampled to ``size × size`` pixels; pixels outside the
frame are zero. This is the convention the shared YOLO-pose fixture was trained with
(``../shared/data/yolo/README.md``), and SLEAP's centered-instance models on crops use it too.

Keypoints map back with the exact inverse of the sampling transform, so coordinates stay
sub-pixel in video pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Crop:
    """Where one crop came from: its square's top-left corner and side, in video pixels."""

    left: float
    top: float
    side: float
    size: int

    @classmethod
    def around(cls, x: float, y: float, long_side: float, scale: float, size: int) -> Crop:
        side = max(float(long_side) * scale, 1.0)
        return cls(left=x - side / 2.0, top=y - side / 2.0, side=side, size=size)

    @property
    def pixels_per_video_pixel(self) -> float:
        return self.size / self.side

    def matrix(self) -> np.ndarray:
        """The 2×3 affine map from video pixels to crop pixels (for ``cv2.warpAffine``)."""
        s = self.pixels_per_video_pixel
        return np.array([[s, 0.0, -self.left * s], [0.0, s, -self.top * s]], dtype=np.float64)

    def to_video(self, points: np.ndarray) -> np.ndarray:
        """Crop-pixel coordinates (…, 2) back to video pixels."""
        return np.asarray(points, dtype=np.float64) / self.pixels_per_video_pixel + [
            self.left,
            self.top,
        ]

    def to_crop(self, points: np.ndarray) -> np.ndarray:
        """Video-pixel coordinates (…, 2) to crop pixels."""
        return (np.asarray(points, dtype=np.float64) - [self.left, self.top]) * (
            self.pixels_per_video_pixel
        )


def extract(image: np.ndarray, crop: Crop) -> np.ndarray:
    """Resample one crop from a frame: bilinear, zero outside the frame."""
    import cv2

    return cv2.warpAffine(
        image,
        crop.matrix(),
        (crop.size, crop.size),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=0,
    )
