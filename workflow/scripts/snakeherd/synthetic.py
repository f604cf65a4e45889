"""A seeded synthetic arena: animal-like shapes that walk, pause, turn and cross each other.

It is the embedded demo's input and a test fixture: the scene is generated, never downloaded, and
comes with exact ground truth. Each animal is a dark ellipse (the body) with a darker head patch at
its front end, walking in a circular arena on a lit, textured floor. Animals ignore each other, so
they overlap and cross as flies do in top-view video. Same spec, same seed: the same frames and the
same ground truth.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

# Sub-pixel drawing: OpenCV takes fixed-point coordinates with this many fractional bits.
_SHIFT = 4
_SCALE = 1 << _SHIFT


@dataclass(frozen=True)
class SceneSpec:
    """Everything that determines a synthetic video. Lengths in pixels, speeds in px/frame."""

    n_animals: int = 8
    n_frames: int = 300
    width: int = 400
    height: int = 400
    fps: float = 25.0
    seed: int = 0
    body_length: float = 36.0
    body_width_ratio: float = 0.4
    speed: float = 2.5
    turn_noise: float = 0.06
    pause_probability: float = 0.01
    resume_probability: float = 0.05
    noise_sigma: float = 3.0

    @classmethod
    def from_config(cls, section: dict) -> SceneSpec:
        known = {key: section[key] for key in asdict(cls()) if key in section}
        return cls(**known)


def simulate(spec: SceneSpec) -> pd.DataFrame:
    """Trajectories of every animal: one row per (frame, animal) with exact body geometry.

    Columns: ``frame, track_id, x, y`` (body centre, float pixels), ``heading`` (direction of
    travel, radians in (-π, π]), ``angle`` (body axis, radians in [0, π)), ``length``, ``width``,
    ``head_x, head_y, tail_x, tail_y``, ``overlapping`` (the body touches another animal's).
    """
    rng = np.random.default_rng(spec.seed)
    n, steps = spec.n_animals, spec.n_frames
    centre = np.array([spec.width / 2.0, spec.height / 2.0])
    radius = min(spec.width, spec.height) / 2.0 - 4.0
    lengths = spec.body_length * rng.uniform(0.85, 1.15, n)
    widths = lengths * spec.body_width_ratio
    cruise = spec.speed * rng.uniform(0.6, 1.4, n)

    # Start spread out so the first frames are unambiguous; crossings come from the walk.
    positions = np.empty((n, 2))
    for i in range(n):
        for _ in range(1000):
            r = (radius - lengths[i]) * np.sqrt(rng.uniform(0.0, 1.0))
            phi = rng.uniform(-np.pi, np.pi)
            candidate = centre + r * np.array([np.cos(phi), np.sin(phi)])
            if i == 0 or np.min(np.linalg.norm(positions[:i] - candidate, axis=1)) > 1.6 * max(
                lengths
            ):
                break
        positions[i] = candidate
    heading = rng.uniform(-np.pi, np.pi, n)
    turn_rate = np.zeros(n)
    walking = np.ones(n, dtype=bool)
    speed = cruise.copy()

    frames = []
    for _ in range(steps):
        frames.append((positions.copy(), heading.copy()))
        # Turning: an Ornstein-Uhlenbeck turn rate gives smooth, wandering paths.
        turn_rate = 0.85 * turn_rate + rng.normal(0.0, spec.turn_noise, n)
        # Walls: steer towards the arena centre when the next step would leave the floor.
        offset = positions - centre
        distance = np.linalg.norm(offset, axis=1)
        near_wall = distance > radius - 1.2 * lengths
        inward = np.arctan2(-offset[:, 1], -offset[:, 0])
        steer = np.angle(np.exp(1j * (inward - heading)))
        turn_rate = np.where(near_wall, 0.25 * steer, turn_rate)
        heading = np.angle(np.exp(1j * (heading + turn_rate)))
        # Walking and pausing as a two-state Markov chain; speed eases between states.
        stops = rng.uniform(size=n) < spec.pause_probability
        starts = rng.uniform(size=n) < spec.resume_probability
        walking = np.where(walking, ~stops, starts)
        speed += 0.2 * (np.where(walking, cruise, 0.0) - speed)
        step = speed[:, None] * np.column_stack([np.cos(heading), np.sin(heading)])
        proposed = positions + step
        limit = radius - 0.5 * lengths
        outside = np.linalg.norm(proposed - centre, axis=1) > limit
        positions = np.where(outside[:, None], positions, proposed)

    rows = []
    for t, (pos, head) in enumerate(frames):
        direction = np.column_stack([np.cos(head), np.sin(head)])
        head_xy = pos + 0.5 * lengths[:, None] * direction
        tail_xy = pos - 0.5 * lengths[:, None] * direction
        overlapping = _overlaps(pos, head, lengths, widths)
        for i in range(n):
            rows.append(
                (
                    t,
                    i,
                    pos[i, 0],
                    pos[i, 1],
                    head[i],
                    np.mod(head[i], np.pi),
                    lengths[i],
                    widths[i],
                    head_xy[i, 0],
                    head_xy[i, 1],
                    tail_xy[i, 0],
                    tail_xy[i, 1],
                    overlapping[i],
                )
            )
    return pd.DataFrame(
        rows,
        columns=[
            "frame",
            "track_id",
            "x",
            "y",
            "heading",
            "angle",
            "length",
            "width",
            "head_x",
            "head_y",
            "tail_x",
            "tail_y",
            "overlapping",
        ],
    ).astype({"frame": "int64", "track_id": "int64", "overlapping": "bool"})


def _ellipse_polygon(x, y, heading, length, width) -> np.ndarray:
    t = np.linspace(0.0, 2.0 * np.pi, 24, endpoint=False)
    along, across = 0.5 * length * np.cos(t), 0.5 * width * np.sin(t)
    c, s = np.cos(heading), np.sin(heading)
    return np.column_stack([x + c * along - s * across, y + s * along + c * across]).astype(
        np.float32
    )


def _overlaps(positions, headings, lengths, widths) -> np.ndarray:
    import cv2

    n = len(positions)
    result = np.zeros(n, dtype=bool)
    polygons = [
        _ellipse_polygon(positions[i, 0], positions[i, 1], headings[i], lengths[i], widths[i])
        for i in range(n)
    ]
    for i in range(n):
        for j in range(i + 1, n):
            if np.hypot(*(positions[i] - positions[j])) > 0.5 * (lengths[i] + lengths[j]):
                continue
            area, _ = cv2.intersectConvexConvex(polygons[i], polygons[j])
            if area > 0:
                result[i] = result[j] = True
    return result


def count_crossings(ground_truth: pd.DataFrame) -> int:
    """Number of episodes in which an animal's body overlaps another's."""
    episodes = 0
    for _, track in ground_truth.sort_values("frame").groupby("track_id"):
        flags = track["overlapping"].to_numpy()
        episodes += int(np.sum(flags[1:] & ~flags[:-1]) + flags[0])
    # Each episode involves at least two animals.
    return episodes // 2


def _floor(spec: SceneSpec, rng: np.random.Generator) -> np.ndarray:
    """A lit circular arena on a darker surround, with a static speckled texture."""
    import cv2

    yy, xx = np.mgrid[0 : spec.height, 0 : spec.width].astype(np.float32)
    cx, cy = spec.width / 2.0, spec.height / 2.0
    radius = min(spec.width, spec.height) / 2.0
    distance = np.hypot(xx - cx, yy - cy)
    vignette = 200.0 - 25.0 * (distance / radius) ** 2
    texture = cv2.GaussianBlur(rng.normal(0.0, 6.0, vignette.shape).astype(np.float32), (0, 0), 2)
    floor = np.where(distance <= radius, vignette + texture, 110.0 + 0.5 * texture)
    return floor.astype(np.float32)


def render(spec: SceneSpec, ground_truth: pd.DataFrame):
    """Yield the scene's frames as BGR uint8 images (grey stored in three channels)."""
    import cv2

    rng = np.random.default_rng([spec.seed, 1])
    floor = _floor(spec, rng)
    by_frame = ground_truth.groupby("frame")
    for t in range(spec.n_frames):
        animals = by_frame.get_group(t)
        shade = np.zeros((spec.height, spec.width), dtype=np.uint8)
        head_shade = np.zeros_like(shade)
        for animal in animals.itertuples():
            degrees = np.degrees(animal.heading)
            cv2.ellipse(
                shade,
                (round(animal.x * _SCALE), round(animal.y * _SCALE)),
                (round(0.5 * animal.length * _SCALE), round(0.5 * animal.width * _SCALE)),
                degrees,
                0,
                360,
                255,
                -1,
                cv2.LINE_AA,
                _SHIFT,
            )
            head_x = animal.x + 0.3 * animal.length * np.cos(animal.heading)
            head_y = animal.y + 0.3 * animal.length * np.sin(animal.heading)
            cv2.ellipse(
                head_shade,
                (round(head_x * _SCALE), round(head_y * _SCALE)),
                (round(0.18 * animal.length * _SCALE), round(0.4 * animal.width * _SCALE)),
                degrees,
                0,
                360,
                255,
                -1,
                cv2.LINE_AA,
                _SHIFT,
            )
        cover = shade.astype(np.float32) / 255.0
        head = head_shade.astype(np.float32) / 255.0
        # Bodies at grey 60, heads at 35; anti-aliased edges blend into the floor.
        image = floor * (1.0 - cover) + 60.0 * cover
        image = image * (1.0 - head) + 35.0 * head
        flicker = 1.0 + 0.01 * np.sin(2.0 * np.pi * t / 97.0)
        image = image * flicker + np.random.default_rng([spec.seed, 2, t]).normal(
            0.0, spec.noise_sigma, image.shape
        )
        grey = np.clip(np.rint(image), 0, 255).astype(np.uint8)
        yield cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR)


def write_video(
    spec: SceneSpec, ground_truth: pd.DataFrame, path: str, fourcc: str = "mp4v"
) -> None:
    """Encode the scene; MPEG-4 Part 2 (``mp4v``) by default, which every OpenCV build writes."""
    import cv2

    writer = cv2.VideoWriter(
        path, cv2.VideoWriter_fourcc(*fourcc), spec.fps, (spec.width, spec.height), True
    )
    if not writer.isOpened():
        raise RuntimeError(f"OpenCV cannot write a {fourcc} video to {path}")
    try:
        for image in render(spec, ground_truth):
            writer.write(image)
    finally:
        writer.release()
