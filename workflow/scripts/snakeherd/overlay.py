"""Overlay videos: a video's frames with its detections, keypoints and tracks drawn on them,
encoded as H.264 (yuv420p) so that browsers play it.

Frames stream from the source video through the drawing into ffmpeg's stdin (the ffmpeg that
``imageio-ffmpeg`` ships, built with libx264; pip's OpenCV cannot encode H.264 and its ``mp4v``
does not play in browsers): memory holds one frame and the per-frame tables, never the video.

What a frame shows: every detection's oriented box (a rotated rectangle), its keypoints and the
skeleton's edges when there are poses, the track id beside each tracked animal in the track's
colour (fixed for the whole video, :func:`track_color`), a short trail of the track's recent
positions that fades with age, a dot at the track's position, and the frame's index in the
source video. Detections no track took are drawn in grey; interpolated track positions (no
detection) get a hollow circle.
"""

from __future__ import annotations

import colorsys
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import pairwise

import numpy as np
import pandas as pd

from .errors import SnakeherdError
from .video import FrameSelection, VideoReader

UNTRACKED_COLOR = (160, 160, 160)
"""BGR of detections that belong to no track."""
GOLDEN_RATIO_CONJUGATE = 0.618033988749895


def track_color(track_id: int) -> tuple[int, int, int]:
    """The BGR colour of a track: the same id always gets the same colour, and consecutive ids
    get hues far apart (golden-ratio steps around the colour wheel)."""
    hue = (int(track_id) * GOLDEN_RATIO_CONJUGATE) % 1.0
    red, green, blue = colorsys.hsv_to_rgb(hue, 0.85, 1.0)
    return round(blue * 255), round(green * 255), round(red * 255)


@dataclass(frozen=True)
class OverlayOptions:
    """The config's ``outputs.overlay`` section (minus ``enabled``)."""

    scale: float = 1.0
    frames: str | None = None
    every: int = 1
    trail: int = 15
    crf: int = 23

    @classmethod
    def from_config(cls, section: dict | None) -> OverlayOptions:
        section = section or {}
        fields = cls.__dataclass_fields__
        return cls(**{key: value for key, value in section.items() if key in fields})


def rotated_box_corners(x, y, w, h, angle) -> np.ndarray:
    """Corners ``(n, 4, 2)`` of boxes centred at (x, y), ``w`` along ``angle`` (radians)."""
    x, y, w, h, angle = (np.asarray(v, dtype=np.float64) for v in (x, y, w, h, angle))
    cos, sin = np.cos(angle), np.sin(angle)
    half_w = np.stack([cos * w / 2, sin * w / 2], axis=-1)
    half_h = np.stack([-sin * h / 2, cos * h / 2], axis=-1)
    centre = np.stack([x, y], axis=-1)
    return np.stack(
        [
            centre - half_w - half_h,
            centre + half_w - half_h,
            centre + half_w + half_h,
            centre - half_w + half_h,
        ],
        axis=-2,
    )


class Rows:
    """Some rows of a table as column arrays (views into :class:`ByFrame`'s arrays)."""

    def __init__(self, columns: dict[str, np.ndarray], length: int):
        self._columns = columns
        self._length = length

    def __getitem__(self, name: str) -> np.ndarray:
        return self._columns[name]

    def __len__(self) -> int:
        return self._length


class ByFrame:
    """A table's rows frame by frame, for frames asked in increasing order: a frame's rows are
    one slice of each column array.

    The table comes in parts in frame order (a long video's table read in batches; or whole,
    see :func:`in_frame_order`): only the rows from the frame asked on, to the end of the part
    read, are held. Plain arrays, not a DataFrame per frame: a few bytes per row."""

    def __init__(self, parts: Iterable[pd.DataFrame], columns: list[str]):
        self._parts = iter(parts)
        self._names = list(columns)
        self._frames = np.empty(0, np.int64)
        self._columns = {name: np.empty(0) for name in columns}
        self._last = np.iinfo(np.int64).min  # the last frame read

    def _read_past(self, frame: int) -> None:
        """Read parts until one holds a frame after ``frame`` (or none are left)."""
        while self._last <= frame:
            part = next(self._parts, None)
            if part is None:
                return
            if not len(part):
                continue
            frames = part["frame"].to_numpy(np.int64)
            if frames[0] < self._last or (np.diff(frames) < 0).any():
                raise ValueError("an overlay's table parts must come in frame order")
            self._last = int(frames[-1])
            self._frames = np.concatenate([self._frames, frames])
            self._columns = {
                name: np.concatenate([self._columns[name], part[name].to_numpy()])
                if len(self._columns[name])
                else part[name].to_numpy()
                for name in self._names
            }

    def rows(self, frame: int) -> Rows:
        self._read_past(frame)
        start, stop = np.searchsorted(self._frames, [frame, frame + 1])
        here = {name: array[start:stop] for name, array in self._columns.items()}
        # Frames come in increasing order: the rows before this frame are done with.
        self._frames = self._frames[start:]
        self._columns = {name: array[start:] for name, array in self._columns.items()}
        return Rows(here, stop - start)


def in_frame_order(
    table: pd.DataFrame | Iterable[pd.DataFrame] | None,
) -> Iterable[pd.DataFrame]:
    """A table's parts in frame order: a whole table sorted by frame, parts as they come (none
    for None)."""
    if table is None:
        return []
    if isinstance(table, pd.DataFrame):
        return [table.sort_values("frame", kind="stable")]
    return table


@dataclass
class FrameContent:
    """What one frame shows, in source-video pixels."""

    boxes: Rows  # det_id, x, y, w, h, angle, track_id (-1: untracked)
    keypoints: Rows  # det_id, node, x, y
    tracks: Rows  # track_id, x, y, interpolated


BOX_COLUMNS = ["frame", "det_id", "x", "y", "w", "h", "angle"]
KEYPOINT_COLUMNS = ["frame", "det_id", "node", "x", "y"]
TRACK_COLUMNS = ["frame", "track_id", "det_id", "x", "y", "interpolated"]
"""What an overlay reads of the detections, poses and tracks tables."""


@dataclass
class OverlayData:
    """A video's tables (whole, or in parts in frame order: :func:`snakeherd.io.iter_table`
    with :data:`BOX_COLUMNS`, :data:`KEYPOINT_COLUMNS`, :data:`TRACK_COLUMNS`), read frame by
    frame for drawing, frames in increasing order."""

    detections: pd.DataFrame | Iterable[pd.DataFrame]
    poses: pd.DataFrame | Iterable[pd.DataFrame] | None = None
    tracks: pd.DataFrame | Iterable[pd.DataFrame] | None = None
    edges: list[tuple[str, str]] = field(default_factory=list)

    def __post_init__(self):
        self._boxes = ByFrame(in_frame_order(self.detections), BOX_COLUMNS[1:])
        visible = (part.dropna(subset=["x", "y"]) for part in in_frame_order(self.poses))
        self._keypoints = ByFrame(visible, KEYPOINT_COLUMNS[1:])
        with_flag = (
            part if "interpolated" in part else part.assign(interpolated=False)
            for part in in_frame_order(self.tracks)
        )
        self._tracks = ByFrame(with_flag, TRACK_COLUMNS[1:])

    def frame(self, index: int) -> FrameContent:
        boxes = self._boxes.rows(index)
        tracks = self._tracks.rows(index)
        # Each box's track: the track row of the frame that took its detection.
        tracked = tracks["det_id"] >= 0
        detection_ids = tracks["det_id"][tracked].tolist()
        track_of = dict(zip(detection_ids, tracks["track_id"][tracked].tolist(), strict=True))
        box_tracks = np.array([track_of.get(d, -1) for d in boxes["det_id"].tolist()], np.int64)
        columns = {name: boxes[name] for name in BOX_COLUMNS[1:]}
        return FrameContent(
            boxes=Rows({**columns, "track_id": box_tracks}, len(boxes)),
            keypoints=self._keypoints.rows(index),
            tracks=tracks,
        )


def overlay_frames(selection: FrameSelection, options: OverlayOptions, n_frames: int) -> np.ndarray:
    """The frames an overlay shows: the processed ``selection`` (resolved), narrowed to
    ``options.frames`` when given, then every ``options.every``-th of them."""
    frames = selection.frames()
    if options.frames not in (None, ""):
        wanted = FrameSelection.parse(options.frames).resolve(n_frames).frames()
        frames = frames[np.isin(frames, wanted)]
        if not len(frames):
            raise SnakeherdError(
                f"outputs.overlay.frames '{options.frames}' selects none of the frames this "
                f"video's results cover ({selection}).",
                "choose frames inside the video's `frames:` selection, or set it to null.",
            )
    return frames[:: max(int(options.every), 1)]


class Painter:
    """Draws a frame's content on an image (scaled by ``scale`` from source pixels)."""

    def __init__(self, scale: float, trail: int, edges: Iterable[tuple[str, str]]):
        self.scale = scale
        self.trail_length = trail
        self.edges = list(edges)
        self.trails: dict[int, deque] = {}
        # Lines and text in proportion to the output, readable at 400 px and at 2000 px.
        self.thickness = 1 if scale < 0.75 else 2
        self.font_scale = 0.45 if scale < 0.75 else 0.55

    def _points(self, xy: np.ndarray) -> np.ndarray:
        # OpenCV draws with integer coordinates; 4 bits of sub-pixel shift keep the drawing at
        # the sub-pixel positions the tables hold.
        return np.round(np.asarray(xy, dtype=np.float64) * self.scale * 16).astype(np.int32)

    def draw(self, image: np.ndarray, frame_index: int, content: FrameContent) -> np.ndarray:
        import cv2

        self._draw_trails(image, content.tracks)
        boxes = content.boxes
        colors = {}
        if len(boxes):
            corners = rotated_box_corners(
                boxes["x"], boxes["y"], boxes["w"], boxes["h"], boxes["angle"]
            )
            for box_corners, track_id, det_id in zip(
                corners, boxes["track_id"], boxes["det_id"], strict=True
            ):
                color = track_color(track_id) if track_id >= 0 else UNTRACKED_COLOR
                colors[int(det_id)] = color
                cv2.polylines(
                    image, [self._points(box_corners)], True, color, self.thickness, cv2.LINE_AA, 4
                )
        self._draw_keypoints(image, content.keypoints, colors)
        self._draw_labels(image, content.tracks)
        self._draw_frame_number(image, frame_index)
        return image

    def _draw_trails(self, image: np.ndarray, tracks: pd.DataFrame) -> None:
        seen = set()
        for track_id, x, y in zip(tracks["track_id"], tracks["x"], tracks["y"], strict=True):
            trail = self.trails.setdefault(int(track_id), deque(maxlen=self.trail_length))
            trail.append((x, y))
            seen.add(int(track_id))
        for track_id in list(self.trails):
            if track_id not in seen:  # a track that ended (or paused) leaves its trail behind
                del self.trails[track_id]
        if self.trail_length < 2:
            return
        for track_id, trail in self.trails.items():
            if len(trail) < 2:
                continue
            points = self._points(np.array(trail))
            color = np.array(track_color(track_id), dtype=np.float64)
            for age, (start, end) in enumerate(pairwise(points)):
                # Older segments fade towards the frame beneath them (blended in their own
                # small region, so the cost follows the trail, not the image).
                opacity = (age + 1) / (len(points) - 1)
                self._blend_line(image, start, end, color, opacity)

    def _blend_line(self, image, start, end, color, opacity) -> None:
        import cv2

        margin = 2 * self.thickness + 1
        low = np.minimum(start, end) // 16 - margin
        high = np.maximum(start, end) // 16 + margin + 1
        x0, y0 = max(int(low[0]), 0), max(int(low[1]), 0)
        x1, y1 = min(int(high[0]), image.shape[1]), min(int(high[1]), image.shape[0])
        if x1 <= x0 or y1 <= y0:
            return
        region = image[y0:y1, x0:x1]
        drawn = region.copy()
        offset = np.array([x0 * 16, y0 * 16], dtype=np.int32)
        cv2.line(
            drawn, tuple(start - offset), tuple(end - offset), color.tolist(), self.thickness,
            cv2.LINE_AA, 4,
        )  # fmt: skip
        cv2.addWeighted(drawn, opacity, region, 1 - opacity, 0, dst=region)

    def _draw_keypoints(self, image, keypoints: pd.DataFrame, colors: dict) -> None:
        import cv2

        if not len(keypoints):
            return
        radius = (2 if self.thickness == 1 else 3) * 16
        det_ids, nodes = keypoints["det_id"], keypoints["node"]
        points = self._points(np.stack([keypoints["x"], keypoints["y"]], axis=-1))
        for det_id in np.unique(det_ids):
            color = colors.get(int(det_id), UNTRACKED_COLOR)
            mine = det_ids == det_id
            positions = dict(zip(nodes[mine], points[mine], strict=True))
            for source, destination in self.edges:
                if source in positions and destination in positions:
                    cv2.line(
                        image, tuple(positions[source]), tuple(positions[destination]), color,
                        self.thickness, cv2.LINE_AA, 4,
                    )  # fmt: skip
            for point in positions.values():
                cv2.circle(image, tuple(point), radius, color, -1, cv2.LINE_AA, 4)

    def _draw_labels(self, image, tracks: pd.DataFrame) -> None:
        import cv2

        if not len(tracks):
            return
        for track_id, x, y, interpolated in zip(
            tracks["track_id"], tracks["x"], tracks["y"], tracks["interpolated"], strict=True
        ):
            color = track_color(track_id)
            centre = self._points([x, y])
            # A dot marks the animal's position as the track holds it (the box's centre, or
            # the keypoints' robust centre with poses).
            cv2.circle(image, tuple(centre), 3 * 16, color, -1, cv2.LINE_AA, 4)
            if interpolated:
                cv2.circle(image, tuple(centre), 6 * 16, color, self.thickness, cv2.LINE_AA, 4)
            label_at = (int(centre[0] // 16) + 6, int(centre[1] // 16) - 6)
            self._text(image, str(int(track_id)), label_at, color)

    def _draw_frame_number(self, image, frame_index: int) -> None:
        self._text(
            image, f"frame {frame_index}", (6, 6 + int(22 * self.font_scale)), (255, 255, 255)
        )

    def _text(self, image, text: str, origin: tuple[int, int], color) -> None:
        import cv2

        # A dark outline keeps the text readable on light and dark backgrounds alike.
        font = cv2.FONT_HERSHEY_SIMPLEX
        cv2.putText(
            image, text, origin, font, self.font_scale, (0, 0, 0), self.thickness + 2, cv2.LINE_AA
        )
        cv2.putText(image, text, origin, font, self.font_scale, color, self.thickness, cv2.LINE_AA)


def output_size(width: int, height: int, scale: float) -> tuple[int, int]:
    """Width and height of the encoded frames: scaled, then rounded up to even numbers
    (yuv420p halves the colour planes; the extra row or column is black padding)."""
    scaled_width = max(round(width * scale), 2)
    scaled_height = max(round(height * scale), 2)
    return scaled_width + scaled_width % 2, scaled_height + scaled_height % 2


@dataclass(frozen=True)
class OverlaySummary:
    frames: int
    fps: float
    width: int
    height: int

    def as_dict(self) -> dict:
        return {"frames": self.frames, "fps": self.fps, "width": self.width, "height": self.height}


def render_overlay(
    video_path: str,
    data: OverlayData,
    selection: FrameSelection,
    output_path: str,
    options: OverlayOptions | None = None,
    threads: int = 1,
) -> OverlaySummary:
    """Draw ``data`` on the ``selection`` of ``video_path`` and encode it to ``output_path``."""
    import cv2

    options = options or OverlayOptions()
    with VideoReader(video_path, grayscale=False) as reader:
        info = reader.info
        frames = overlay_frames(selection, options, info.n_frames)
        fps = (info.fps or 25.0) / max(int(options.every), 1)
        width, height = output_size(info.width, info.height, options.scale)
        painter = Painter(options.scale, options.trail, data.edges)

        def drawn() -> Iterator[np.ndarray]:
            for frame_index, image in reader.iter_frames(frames):
                if options.scale != 1.0:
                    image = cv2.resize(
                        image,
                        (round(info.width * options.scale), round(info.height * options.scale)),
                        interpolation=cv2.INTER_AREA,
                    )
                if image.shape[1] != width or image.shape[0] != height:
                    image = cv2.copyMakeBorder(
                        image, 0, height - image.shape[0], 0, width - image.shape[1],
                        cv2.BORDER_CONSTANT, value=(0, 0, 0),
                    )  # fmt: skip
                yield painter.draw(
                    np.ascontiguousarray(image), frame_index, data.frame(frame_index)
                )

        count = encode_h264(drawn(), output_path, (width, height), fps, options.crf, threads)
    return OverlaySummary(frames=count, fps=fps, width=width, height=height)


def encode_h264(
    images: Iterable[np.ndarray],
    path: str,
    size: tuple[int, int],
    fps: float,
    crf: int = 23,
    threads: int = 1,
) -> int:
    """Pipe BGR images of ``size`` (even width and height) to ffmpeg's libx264; the number of
    frames written. Nothing time- or host-dependent goes into the file (no creation time), so
    the same frames give the same bytes."""
    import imageio_ffmpeg

    writer = imageio_ffmpeg.write_frames(
        path,
        size,
        pix_fmt_in="bgr24",
        pix_fmt_out="yuv420p",
        fps=fps,
        codec="libx264",
        quality=None,
        macro_block_size=1,  # sizes are already even; never let it rescale
        output_params=[
            "-crf", str(crf), "-preset", "veryfast", "-threads", str(threads),
            "-movflags", "+faststart", "-map_metadata", "-1", "-fflags", "+bitexact",
        ],
    )  # fmt: skip
    writer.send(None)  # start ffmpeg
    count = 0
    try:
        for image in images:
            writer.send(image)
            count += 1
    finally:
        writer.close()
    return count


def frame_selection_of(detection_stage: dict, n_frames: int) -> FrameSelection:
    """The frames a video's results cover, from its detection stage's record."""
    return FrameSelection.parse(detection_stage.get("frame_selection")).resolve(n_frames)
