"""Model-free detection by background subtraction, as oriented ellipses.

The background is the per-pixel median of frames spread over the selection, so animals that move
vanish from it. Each frame's difference from the background is thresholded and cleaned; connected
foreground blobs become detections. Blobs larger than one animal (animals touching or crossing) are
split into as many animals as their area suggests, by a Gaussian mixture over the blob's pixels,
initialised deterministically along the blob's long axis: same input, same output, to the byte.

Geometry follows the detection table contract: ``x, y`` the ellipse centre in video pixels (pixel
centres at integer coordinates), ``w`` the long axis, ``h`` the short axis (full lengths, so a
uniform ellipse with those axes has the blob's second moments), ``angle`` the long axis direction in
radians in [0, π) (image coordinates, y down).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from .video import FrameSelection, VideoReader


@dataclass(frozen=True)
class BackgroundParams:
    """Background-subtraction settings (the config's ``detection.background`` section)."""

    polarity: str = "dark"  # animals darker than the floor ("dark"), lighter ("bright"), "any"
    threshold: float = 30.0  # grey levels of difference from the background to count as animal
    background_frames: int = 50  # frames sampled to build the median background
    blur_sigma: float = 1.0  # Gaussian blur (px) before thresholding; 0 disables
    opening_radius: int = 1  # morphological opening (px) that removes speckle; 0 disables
    min_area: float = 30.0  # px²; smaller blobs are noise
    min_area_fraction: float = 0.25  # blobs under this fraction of one animal's area are noise
    max_area: float | None = None  # px²; larger blobs are dropped (e.g. a hand); None = no limit
    animal_area: float | None = None  # px² of one animal; None = learn it from the video
    max_animals_per_blob: int = 4  # the most animals one touching cluster is split into
    n_animals: int | None = None  # animals in the arena, if known: caps detections per frame

    @classmethod
    def from_config(cls, section: dict | None) -> BackgroundParams:
        section = section or {}
        return cls(**{key: section[key] for key in asdict(cls()) if key in section})


DETECTION_COLUMNS = [
    "frame",
    "det_id",
    "x",
    "y",
    "w",
    "h",
    "angle",
    "score",
    "class_id",
    "area",
    "blob_id",
    "blob_animals",
]
INTEGER_COLUMNS = ["frame", "det_id", "class_id", "area", "blob_id", "blob_animals"]


def _kernel(radius: int):
    import cv2

    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))


class BackgroundDetector:
    """Turns frames into oriented-ellipse detections against a fixed background."""

    def __init__(self, background: np.ndarray, params: BackgroundParams):
        self.background = background
        self.params = params
        self.animal_area = params.animal_area
        self._opening = _kernel(params.opening_radius) if params.opening_radius > 0 else None

    def difference(self, image: np.ndarray) -> np.ndarray:
        """How far each pixel departs from the background towards the animals' polarity."""
        import cv2

        frame = image.astype(np.float32)
        if self.params.polarity == "dark":
            diff = self.background - frame
        elif self.params.polarity == "bright":
            diff = frame - self.background
        else:
            diff = np.abs(frame - self.background)
        if self.params.blur_sigma > 0:
            diff = cv2.GaussianBlur(diff, (0, 0), self.params.blur_sigma)
        return diff

    def foreground(self, diff: np.ndarray) -> np.ndarray:
        import cv2

        mask = (diff > self.params.threshold).astype(np.uint8)
        if self._opening is not None:
            mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, self._opening)
        return mask

    def blobs(self, image: np.ndarray):
        """Connected foreground blobs of one frame: (pixel coordinates, weights) per blob."""
        import cv2

        diff = self.difference(image)
        mask = self.foreground(diff)
        count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
        blobs = []
        for label in range(1, count):
            area = stats[label, cv2.CC_STAT_AREA]
            if area < self.params.min_area:
                continue
            if self.params.max_area is not None and area > self.params.max_area:
                continue
            x0, y0 = stats[label, cv2.CC_STAT_LEFT], stats[label, cv2.CC_STAT_TOP]
            w, h = stats[label, cv2.CC_STAT_WIDTH], stats[label, cv2.CC_STAT_HEIGHT]
            window = labels[y0 : y0 + h, x0 : x0 + w] == label
            ys, xs = np.nonzero(window)
            points = np.column_stack([xs + x0, ys + y0]).astype(np.float64)
            weights = diff[y0 : y0 + h, x0 : x0 + w][window].astype(np.float64)
            blobs.append((points, weights))
        return blobs

    def learn_animal_area(self, images: list[np.ndarray]) -> float:
        """The area of one animal: the area-weighted median blob area over sample frames.

        Weighting by area asks "how big is the blob a typical foreground pixel belongs to?", so
        specks of noise, however many, do not drag the estimate down, while most animal pixels
        still sit in single-animal blobs.
        """
        areas = np.sort([len(points) for image in images for points, _ in self.blobs(image)])
        if len(areas) == 0:
            return float("nan")
        cumulative = np.cumsum(areas)
        self.animal_area = float(areas[np.searchsorted(cumulative, cumulative[-1] / 2.0)])
        return self.animal_area

    def animals_per_blob(self, areas: list[int]) -> list[int]:
        """How many animals each blob of a frame holds, judged by area.

        With a known number of animals, frames with too few blobs give extra animals to the blobs
        with the most area per animal, as long as each would keep at least half an animal's area.
        """
        if not self.animal_area or not math.isfinite(self.animal_area):
            return [1] * len(areas)
        cap = self.params.max_animals_per_blob
        counts = [int(np.clip(round(area / self.animal_area), 1, cap)) for area in areas]
        wanted = self.params.n_animals
        while wanted is not None and sum(counts) < wanted:
            candidates = [
                (area / count, index)
                for index, (area, count) in enumerate(zip(areas, counts, strict=True))
                if count < cap and area / (count + 1) >= 0.5 * self.animal_area
            ]
            if not candidates:
                break
            counts[max(candidates)[1]] += 1
        return counts

    def detect(self, image: np.ndarray) -> list[tuple]:
        """Detections of one frame as tuples (x, y, w, h, angle, score, area, blob_id, k)."""
        detections = []
        blobs = self.blobs(image)
        if self.animal_area and math.isfinite(self.animal_area):
            smallest = self.params.min_area_fraction * self.animal_area
            blobs = [blob for blob in blobs if len(blob[0]) >= smallest]
        counts = self.animals_per_blob([len(points) for points, _ in blobs])
        for blob_id, ((points, weights), k) in enumerate(zip(blobs, counts, strict=True)):
            if k == 1:
                groups = [np.ones(len(points), dtype=bool)]
            else:
                groups = split_blob(points, weights, k)
            for members in groups:
                if members.sum() < 3:
                    continue
                x, y, w, h, angle = ellipse_from_moments(points[members], weights[members])
                contrast = float(np.mean(weights[members]))
                score = float(np.clip(contrast / (2.0 * self.params.threshold), 0.0, 1.0))
                detections.append((x, y, w, h, angle, score, int(members.sum()), blob_id, k))
        if self.params.n_animals is not None and len(detections) > self.params.n_animals:
            # Keep the strongest evidence: score, then area.
            detections.sort(key=lambda d: (-d[5], -d[6]))
            detections = sorted(detections[: self.params.n_animals], key=lambda d: d[7])
        return detections


def ellipse_from_moments(points: np.ndarray, weights: np.ndarray):
    """Centre, full axis lengths and long-axis angle in [0, π) of a weighted point cloud."""
    total = weights.sum()
    if total <= 0:
        weights = np.ones(len(points))
        total = float(len(points))
    centre = (weights[:, None] * points).sum(axis=0) / total
    offset = points - centre
    covariance = (weights[:, None, None] * offset[:, :, None] * offset[:, None, :]).sum(
        axis=0
    ) / total
    eigenvalues, eigenvectors = np.linalg.eigh(covariance)
    # A uniform ellipse with semi-axis a has variance a²/4 along that axis; +1/12 per pixel
    # accounts for each pixel's own extent.
    long_axis = 4.0 * math.sqrt(max(eigenvalues[1], 0.0) + 1.0 / 12.0)
    short_axis = 4.0 * math.sqrt(max(eigenvalues[0], 0.0) + 1.0 / 12.0)
    vx, vy = eigenvectors[:, 1]
    angle = math.atan2(vy, vx) % math.pi
    if angle >= math.pi:  # atan2 of a float can land exactly on π after the modulo
        angle = 0.0
    return float(centre[0]), float(centre[1]), long_axis, short_axis, angle


def split_blob(points: np.ndarray, weights: np.ndarray, k: int) -> list[np.ndarray]:
    """Split a blob of ``k`` touching animals into ``k`` pixel groups.

    A full-covariance Gaussian mixture models elongated, crossing bodies better than k-means'
    straight cuts. It starts from ``k`` points spread along the blob's long axis, so the result
    depends on the pixels alone.
    """
    from sklearn.mixture import GaussianMixture

    centre = np.average(points, axis=0, weights=weights)
    offset = points - centre
    covariance = np.cov(offset.T, aweights=weights)
    variances, vectors = np.linalg.eigh(covariance)
    axis = vectors[:, 1]
    projection = offset @ axis
    quantiles = np.quantile(projection, (np.arange(k) + 0.5) / k)
    means = centre + quantiles[:, None] * axis[None, :]
    # Each start covers 1/k of the blob's length and its full width.
    start_covariance = vectors @ np.diag([variances[0], variances[1] / k**2]) @ vectors.T
    mixture = GaussianMixture(
        n_components=k,
        covariance_type="full",
        weights_init=np.full(k, 1.0 / k),
        means_init=means,
        precisions_init=np.repeat(np.linalg.inv(start_covariance)[None], k, axis=0),
        # Every start is given, so the initialiser only has to be cheap; with a fixed
        # random_state it is deterministic either way.
        init_params="random_from_data",
        random_state=0,
        max_iter=100,
        reg_covar=1.0,
    )
    labels = mixture.fit(points).predict(points)
    return [labels == component for component in range(k)]


@dataclass(frozen=True)
class BackgroundModel:
    """What detection needs from the whole video: the median background of frames spread over
    the selection and one animal's area. Learnt once per video; every chunk of the video
    detects against the same model, so chunked and unsplit runs find the same animals."""

    background: np.ndarray
    animal_area: float | None
    sample_frames: int

    def save(self, path) -> None:
        from pathlib import Path

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.tmp.npz")
        np.savez(
            temporary,
            background=self.background,
            animal_area=np.nan if self.animal_area is None else self.animal_area,
            learnt_area=self.animal_area is not None,
            sample_frames=self.sample_frames,
        )
        temporary.replace(path)

    @classmethod
    def load(cls, path) -> BackgroundModel:
        with np.load(path) as stored:
            return cls(
                background=stored["background"].astype(np.float32),
                animal_area=float(stored["animal_area"]) if stored["learnt_area"] else None,
                sample_frames=int(stored["sample_frames"]),
            )


def learn_background(
    reader: VideoReader, selection: FrameSelection, params: BackgroundParams
) -> BackgroundModel:
    """The background model of a video's resolved ``selection``."""
    sample_frames = selection.evenly_spaced(params.background_frames)
    samples = [image for _, image in reader.iter_frames(sample_frames)]
    background = np.median(np.stack(samples), axis=0).astype(np.float32)
    detector = BackgroundDetector(background, params)
    if detector.animal_area is None:
        detector.learn_animal_area(samples)
    return BackgroundModel(background, detector.animal_area, len(sample_frames))


def video_background(
    video_path: str, selection: FrameSelection, params: BackgroundParams
) -> BackgroundModel:
    """The background model of the selected frames of one video."""
    with VideoReader(video_path) as reader:
        return learn_background(reader, selection.resolve(reader.info.n_frames), params)


def detect_video(
    video_path: str,
    selection: FrameSelection,
    params: BackgroundParams,
    model: BackgroundModel | None = None,
) -> tuple[pd.DataFrame, dict]:
    """Detect animals in the selected frames of one video, against ``model`` (a chunk of the
    video: the whole video's model) or a model learnt from ``selection``.

    Returns the detection table (without ``video_id``) and a summary for provenance.
    """
    with VideoReader(video_path) as reader:
        resolved = selection.resolve(reader.info.n_frames)
        if model is None:
            model = learn_background(reader, resolved, params)
        detector = BackgroundDetector(model.background, params)
        detector.animal_area = model.animal_area
        # One small array per frame, concatenated once: memory grows by the detections' own
        # size, not by per-value Python objects.
        per_frame = []
        for frame_index, image in reader.iter_frames(resolved.frames()):
            found = detector.detect(image)
            if not found:
                continue
            values = np.asarray(found, dtype=np.float64)
            per_frame.append(
                np.column_stack(
                    [
                        np.full(len(found), frame_index),
                        np.arange(len(found)),
                        values[:, :6],
                        np.zeros(len(found)),
                        values[:, 6:],
                    ]
                )
            )
    table = pd.DataFrame(
        np.concatenate(per_frame) if per_frame else np.empty((0, len(DETECTION_COLUMNS))),
        columns=DETECTION_COLUMNS,
    ).astype({name: "int64" for name in INTEGER_COLUMNS})
    summary = {
        "method": "background",
        "params": asdict(params),
        "animal_area_px": detector.animal_area,
        "background_frames": model.sample_frames,
        "frames": len(resolved),
        "frame_selection": str(resolved),
        "video": asdict(reader.info),
    }
    return table, summary
