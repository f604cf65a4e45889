"""Videos: frame selections, probing, and streaming the selected frames.

Frames are 0-based video frame indices. A frame selection is written as comma-separated inclusive
ranges, e.g. ``"0-99,200-299"`` (frames 0 to 99 and 200 to 299), ``"500-"`` (500 to the end) or
``"42"`` (one frame).
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from .errors import VideoError

_RANGE = re.compile(r"^\s*(\d+)\s*(?:(-)\s*(\d+)?)?\s*$")

# Reading forward is cheaper than a seek (which decodes from the previous keyframe) for short gaps.
_MAX_FRAMES_TO_SKIP_BY_READING = 64


class FrameRangeError(ValueError):
    """A frame selection string that does not parse or does not fit the video."""


@dataclass(frozen=True)
class FrameSelection:
    """Sorted, non-overlapping inclusive ranges ``(start, stop)``; ``stop`` None = to the end."""

    ranges: tuple[tuple[int, int | None], ...]

    @classmethod
    def parse(cls, text: str | int | None) -> FrameSelection:
        """Parse ``"0-99,200-"``; None or an empty string selects every frame.

        Overlapping or touching ranges are merged; ranges may be given in any order.
        """
        if text is None or (isinstance(text, str) and not text.strip()):
            return cls(((0, None),))
        if isinstance(text, int):
            text = str(text)
        ranges = []
        for part in str(text).split(","):
            match = _RANGE.match(part)
            if not match:
                raise FrameRangeError(
                    f"'{part.strip()}' is not a frame range; write ranges like '0-99,200-299' "
                    "(inclusive, 0-based), '500-' (to the end) or '42'"
                )
            start = int(match.group(1))
            if match.group(2) is None:
                stop = start
            elif match.group(3) is None:
                stop = None
            else:
                stop = int(match.group(3))
                if stop < start:
                    raise FrameRangeError(
                        f"'{part.strip()}' ends before it starts; write the lower frame first"
                    )
            ranges.append((start, stop))
        ranges.sort(key=lambda r: r[0])
        merged: list[tuple[int, int | None]] = []
        for start, stop in ranges:
            if merged:
                last_start, last_stop = merged[-1]
                if last_stop is None or start <= last_stop + 1:
                    new_stop = None if last_stop is None or stop is None else max(last_stop, stop)
                    merged[-1] = (last_start, new_stop)
                    continue
            merged.append((start, stop))
        return cls(tuple(merged))

    def resolve(self, n_frames: int) -> FrameSelection:
        """Close open ranges at the video's last frame; fail when a range starts past it."""
        resolved = []
        for start, stop in self.ranges:
            if start >= n_frames:
                raise FrameRangeError(
                    f"range starting at frame {start} is past the end of the video "
                    f"({n_frames} frames: 0-{n_frames - 1})"
                )
            if stop is not None and stop >= n_frames:
                raise FrameRangeError(
                    f"range {start}-{stop} runs past the end of the video "
                    f"({n_frames} frames: 0-{n_frames - 1}); end it at {n_frames - 1} or "
                    f"write '{start}-'"
                )
            resolved.append((start, n_frames - 1 if stop is None else stop))
        return FrameSelection(tuple(resolved))

    @property
    def is_resolved(self) -> bool:
        return all(stop is not None for _, stop in self.ranges)

    def __len__(self) -> int:
        if not self.is_resolved:
            raise ValueError("resolve() the selection against the video before counting frames")
        return sum(stop - start + 1 for start, stop in self.ranges)

    def frames(self) -> np.ndarray:
        """All selected frame indices, ascending (resolved selections only)."""
        if not self.is_resolved:
            raise ValueError("resolve() the selection against the video before listing frames")
        return np.concatenate(
            [np.arange(start, stop + 1, dtype=np.int64) for start, stop in self.ranges]
        )

    def evenly_spaced(self, count: int) -> np.ndarray:
        """Up to ``count`` selected frames spread evenly over the selection."""
        frames = self.frames()
        if len(frames) <= count:
            return frames
        positions = np.linspace(0, len(frames) - 1, count).round().astype(np.int64)
        return frames[np.unique(positions)]

    def __str__(self) -> str:
        return ",".join(
            f"{start}-" if stop is None else (f"{start}" if start == stop else f"{start}-{stop}")
            for start, stop in self.ranges
        )


@dataclass(frozen=True)
class VideoInfo:
    path: str
    n_frames: int
    width: int
    height: int
    fps: float


def _open(path: str | Path):
    import cv2

    path = str(path)
    if not Path(path).is_file():
        raise VideoError(
            f"video file not found: {path}",
            "check the path in your config or sample sheet (relative paths are resolved "
            "against the directory you run snakemake in).",
        )
    capture = cv2.VideoCapture(path)
    if not capture.isOpened():
        raise VideoError(
            f"cannot open video {path}: OpenCV/FFmpeg does not recognise it as a video.",
            "check that it plays (`ffprobe` it); re-encode it, e.g. `ffmpeg -i in -c:v libx264 "
            "out.mp4`, or remove it from the config.",
        )
    return capture


# Probes of unchanged files, keyed by (path, mtime in ns, size in bytes).
_PROBES: dict[tuple[str, int, int], VideoInfo] = {}
# How many probes the store file held when it was loaded (nothing new: nothing to write).
_STORED_PROBES = 0


def probe(path: str | Path) -> VideoInfo:
    """Frame count, size and frame rate from the container, without decoding the video.

    Answers are remembered for an unchanged file: parsing a config of many videos asks about
    each video more than once (frame ranges, job sizes), and with a probe store (see
    :func:`load_probe_store`) so do later Snakemake processes, e.g. every cluster job.
    """
    try:
        stat = Path(path).stat()
    except OSError:
        return _probe(str(path))
    key = (str(path), stat.st_mtime_ns, stat.st_size)
    info = _PROBES.get(key)
    if info is None:
        info = _PROBES[key] = _probe(str(path))
    return info


def load_probe_store(store: str | Path) -> None:
    """Remember the probes a previous process saved with :func:`save_probe_store`.

    Every Snakemake process parses the whole config, so on a cluster each job would otherwise
    open every video of the sample sheet again. A missing or unreadable store is ignored.
    """
    global _STORED_PROBES
    try:
        records = json.loads(Path(store).read_text())["probes"]
        loaded = {
            (record["path"], record["mtime_ns"], record["size"]): VideoInfo(**record["info"])
            for record in records
        }
    except (OSError, ValueError, KeyError, TypeError):
        return
    _PROBES.update(loaded)
    _STORED_PROBES = len(loaded)


def save_probe_store(store: str | Path) -> None:
    """Write this process's probes to ``store`` (atomically), when it learned new ones."""
    if len(_PROBES) <= _STORED_PROBES:
        return
    from .io import write_text_atomic

    records = [
        {"path": path, "mtime_ns": mtime_ns, "size": size, "info": asdict(info)}
        for (path, mtime_ns, size), info in _PROBES.items()
    ]
    # Concurrent writers each replace the whole file; a lost update is only probed again.
    with contextlib.suppress(OSError):
        write_text_atomic(store, json.dumps({"probes": records}))


def _probe(path: str) -> VideoInfo:
    import cv2

    capture = _open(path)
    try:
        info = VideoInfo(
            path=str(path),
            n_frames=int(capture.get(cv2.CAP_PROP_FRAME_COUNT)),
            width=int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)),
            height=int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)),
            fps=float(capture.get(cv2.CAP_PROP_FPS) or 0.0),
        )
    finally:
        capture.release()
    if info.n_frames <= 0 or info.width <= 0 or info.height <= 0:
        raise VideoError(
            f"video {path} reports {info.n_frames} frames of {info.width}x{info.height}: it is "
            "empty, truncated or not a video.",
            "re-encode or replace the file, or remove it from the config.",
        )
    return info


class VideoReader:
    """Streams selected frames of one video; memory holds one frame at a time.

    Gaps between selected frames are skipped by reading forward when short and by seeking when
    long. A frame that fails to decode raises :class:`VideoError` naming the frame.
    """

    def __init__(self, path: str | Path, grayscale: bool = True):
        self.path = str(path)
        self.info = probe(path)
        self.grayscale = grayscale
        self._capture = None
        self._next = 0

    def __enter__(self) -> VideoReader:
        self._capture = _open(self.path)
        self._next = 0
        return self

    def __exit__(self, *exc) -> None:
        if self._capture is not None:
            self._capture.release()
            self._capture = None

    def _convert(self, frame: np.ndarray) -> np.ndarray:
        import cv2

        if self.grayscale and frame.ndim == 3:
            return cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
        return frame

    def read(self, frame_index: int) -> np.ndarray:
        """Decode one frame (forward reads are cheap; backward reads seek)."""
        import cv2

        if self._capture is None:
            raise RuntimeError("use VideoReader as a context manager")
        gap = frame_index - self._next
        if gap < 0 or gap > _MAX_FRAMES_TO_SKIP_BY_READING:
            self._capture.set(cv2.CAP_PROP_POS_FRAMES, frame_index)
            # A seek past what decodes lands on the last frame that does, without an error: the
            # position says where it really is.
            self._require_position(frame_index, frame_index)
            self._next = frame_index
        while self._next < frame_index:
            if not self._capture.grab():
                self._fail(self._next)
            self._next += 1
        ok, frame = self._capture.read()
        if not ok or frame is None:
            self._fail(frame_index)
        self._require_position(frame_index + 1, frame_index)
        self._next = frame_index + 1
        return self._convert(frame)

    def _require_position(self, expected: int, frame_index: int) -> None:
        """Fail on ``frame_index`` unless the decoder stands at ``expected`` (the next frame it
        would read)."""
        import cv2

        position = round(self._capture.get(cv2.CAP_PROP_POS_FRAMES))
        if position != expected:
            self._fail(frame_index, landed=position)

    def _fail(self, frame_index: int, landed: int | None = None) -> None:
        where = f"; the decoder got no further than frame {landed}" if landed is not None else ""
        raise VideoError(
            f"video {self.path}: frame {frame_index} cannot be decoded (the container says it "
            f"has {self.info.n_frames} frames{where}); the file is truncated or corrupt.",
            "re-encode the video (`ffmpeg -i in.mp4 -c:v libx264 out.mp4`), limit `frames:` to "
            "the part that decodes, or remove the video from the config.",
        )

    def iter_frames(self, frames: np.ndarray) -> Iterator[tuple[int, np.ndarray]]:
        """Yield ``(frame_index, image)`` for ascending frame indices."""
        for frame_index in frames:
            yield int(frame_index), self.read(int(frame_index))


def require_frame(path: str | Path, frame_index: int) -> None:
    """Raise :class:`VideoError` unless frame ``frame_index`` of the video really decodes.

    For readers that do not check where a seek landed (sleap-nn's): a video truncated before the
    last selected frame then stops the job instead of giving the last frame that decodes again.
    """
    with VideoReader(path, grayscale=False) as reader:
        reader.read(int(frame_index))
