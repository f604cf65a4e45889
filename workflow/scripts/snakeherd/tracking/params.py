"""The tracker's settings: the config's ``tracking`` section, with units.

Distances are video pixels (px), times are video frames, angles radians. Every parameter has a
default that suits top-view videos of walking animals a few tens of pixels long; the ones users
change most are ``max_tracks`` (the number of animals, when known), ``max_distance`` and
``max_gap``. The sleap-nn names (``candidates``, ``window``, ``features``, ``scoring``,
``scoring_reduction``, ``matching``, ``max_tracks``, ``min_new_track_points``,
``min_match_points``) mean what they mean in ``sleap-nn track``; config/README.md says how each
maps onto this tracker.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields

CANDIDATES = ("fixed_window", "local_queues")
FEATURES = ("auto", "keypoints", "centroids", "bboxes", "none")
SCORING = ("oks", "iou", "euclidean_dist", "cosine_sim")
REDUCTIONS = ("mean", "max", "robust_quantile")
MATCHING = ("hungarian", "greedy")
HEADING = ("auto", "keypoints", "motion", "none")


@dataclass(frozen=True)
class StitchParams:
    """Relinking track fragments after online tracking (``tracking.stitch``)."""

    enabled: bool = True
    max_gap: int = 25  # frames: the longest hole between a fragment's end and the next's start
    max_speed: float = 8.0  # px/frame: fastest plausible travel across the hole
    max_cost: float = 6.0  # link cost (about -log likelihood) above which fragments stay apart


@dataclass(frozen=True)
class LinkParams:
    """Whole-video linking of tracklets into ``max_tracks`` identities (``tracking.link``)."""

    enabled: bool = True
    max_gap: int = 60  # frames: the longest hole one identity may jump between two tracklets
    max_speed: float = 8.0  # px/frame: fastest plausible travel across a hole
    detection_reward: float = 1.0  # gain per detection a track takes (a link costs ~ -log p)
    birth_cost: float = 20.0  # cost of a track starting after the first frame or ending early
    motion_outlier_cost: float = 8.0  # the most a link's motion disagreement costs
    meeting_distance: float = 20.0  # px: a tracklet ending this near another cuts it there
    fill_in_margin: float = 1.5  # a left-out tracklet joins an identity this many times nearer


# max_tracks: estimate the number of animals from the predictions.
AUTO = "auto"


@dataclass(frozen=True)
class TrackerParams:
    """Everything that determines the tracks. See config/README.md for the full description."""

    # Identity and lifetime
    identity_classes: bool = True  # a multi-class pose model's identities are the tracks
    # Animals in the video: never more tracks. "auto": estimated from the predictions
    # (:mod:`.animal_count`); None: no limit, tracks end after max_gap.
    max_tracks: int | str | None = AUTO
    max_distance: float = 40.0  # px: farthest a detection may be from a track's prediction
    max_gap: int = 5  # frames a track may go unmatched (occlusion) before it ends
    min_length: int = 1  # frames: shorter final tracks are dropped
    min_new_track_score: float = 0.0  # detections scoring below this never start a track
    min_new_track_points: int = 0  # keypoints: fewer visible never start a track
    min_match_points: int = 0  # keypoints: fewer visible are never matched (left untracked)
    # Motion model: constant velocity, Kalman filtered
    position_noise: float = 4.0  # px: standard deviation of a detection's centre
    acceleration_noise: float = 1.0  # px/frame²: how fast an animal's velocity can change
    angle_noise: float = 0.15  # rad: standard deviation of a detection's body angle
    turn_noise: float = 0.15  # rad/frame²: how fast the turning rate can change
    gate: float = 4.0  # standard deviations: farthest match from the predicted position
    # Appearance terms of the assignment cost
    size_noise: float = 0.25  # standard deviation of log(box area) between frames
    similarity_weight: float = 4.0  # cost of a similarity of 0 relative to one of 1
    # sleap-nn's options (what the similarity term compares)
    candidates: str = "fixed_window"
    window: int = 5  # frames (fixed_window) or instances per track (local_queues)
    features: str = "auto"  # auto: keypoints when the poses table has them, else none
    scoring: str = "oks"
    scoring_reduction: str = "mean"
    robust_quantile: float = 0.95  # quantile used by scoring_reduction robust_quantile
    oks_sigma: float = 0.05  # OKS keypoint standard deviation, as a fraction of animal size
    matching: str = "hungarian"
    # Post-processing
    stitch: StitchParams = field(default_factory=StitchParams)
    link: LinkParams = field(default_factory=LinkParams)
    interpolate_max_gap: int = 5  # frames: holes up to this long are filled by interpolation
    heading: str = "auto"  # how the head end of the body axis is found
    head_node: str | None = None  # keypoint at the front; None = guess from the node names
    tail_node: str | None = None  # keypoint at the back; None = guess from the node names

    def __post_init__(self) -> None:
        for name, allowed in (
            ("candidates", CANDIDATES),
            ("features", FEATURES),
            ("scoring", SCORING),
            ("scoring_reduction", REDUCTIONS),
            ("matching", MATCHING),
            ("heading", HEADING),
        ):
            if getattr(self, name) not in allowed:
                raise ValueError(f"tracking.{name}: {getattr(self, name)!r} not in {allowed}")
        if isinstance(self.max_tracks, str) and self.max_tracks != AUTO:
            raise ValueError(f"tracking.max_tracks: {self.max_tracks!r} is not a number or 'auto'")

    @classmethod
    def from_config(cls, section: dict | None) -> TrackerParams:
        """Parameters from the config's ``tracking`` section (unknown keys are ignored)."""
        section = dict(section or {})
        names = {f.name for f in fields(cls)}
        values = {key: value for key, value in section.items() if key in names}
        for name, nested in (("stitch", StitchParams), ("link", LinkParams)):
            if isinstance(values.get(name), dict):
                nested_names = {f.name for f in fields(nested)}
                values[name] = nested(
                    **{k: v for k, v in values[name].items() if k in nested_names}
                )
        return cls(**values)

    def as_dict(self) -> dict:
        return asdict(self)
