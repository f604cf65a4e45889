"""Reading overlay videos back: their stream, their frames, and a track's colour in a frame."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np


def stream_info(path: str | Path) -> dict:
    """Codec, pixel format, fps, size and frame count of a video, as ffmpeg reads them."""
    import imageio_ffmpeg

    reader = imageio_ffmpeg.read_frames(str(path))
    meta = next(reader)
    reader.close()
    frames, _ = imageio_ffmpeg.count_frames_and_secs(str(path))
    return {
        "codec": meta["codec"],
        "pix_fmt": meta["pix_fmt"].split("(")[0],
        "fps": meta["fps"],
        "size": tuple(meta["size"]),
        "frames": frames,
    }


def read_frames(path: str | Path, indices) -> dict[int, np.ndarray]:
    """BGR frames of a video by their position in it (0 = the first frame it holds)."""
    import cv2

    wanted = set(int(i) for i in indices)
    frames = {}
    capture = cv2.VideoCapture(str(path))
    try:
        index = 0
        while wanted - frames.keys():
            ok, image = capture.read()
            if not ok:
                break
            if index in wanted:
                frames[index] = image
            index += 1
    finally:
        capture.release()
    return frames


def hue_degrees(bgr) -> float:
    """The hue (0-360) of a BGR colour."""
    import colorsys

    blue, green, red = (float(v) / 255 for v in bgr)
    return colorsys.rgb_to_hsv(red, green, blue)[0] * 360


def hue_distance(a: float, b: float) -> float:
    difference = abs(a - b) % 360
    return min(difference, 360 - difference)


def drawn_color_near(drawn: np.ndarray, source: np.ndarray, x: float, y: float, radius: int = 4):
    """The mean colour of the pixels within ``radius`` of (x, y) that the overlay changed most
    from the source frame (the track's dot, drawn in its colour)."""
    height, width = drawn.shape[:2]
    x0, x1 = max(math.floor(x) - radius, 0), min(math.ceil(x) + radius + 1, width)
    y0, y1 = max(math.floor(y) - radius, 0), min(math.ceil(y) + radius + 1, height)
    region = drawn[y0:y1, x0:x1].astype(float)
    change = np.abs(region - source[y0:y1, x0:x1].astype(float)).sum(axis=-1)
    strongest = change >= np.quantile(change, 0.8)
    return region[strongest].mean(axis=0)
