"""What each job asks the scheduler for: memory, time, CPUs and GPUs, sized from its video.

Snakemake hands these numbers to the executor. On SLURM they become ``--mem``, ``--time``,
``--cpus-per-task`` and ``--gres``; a job that outgrows its request is killed there, so the
requests follow what the job processes (frames selected x frame size) instead of one constant
sized for the largest video. Locally they only matter with ``--resources mem_mb=...``.

Each rule has a :class:`Cost`: a fixed part (interpreter, libraries, Snakemake's own job process,
which SLURM counts too) plus parts that grow with the frames and the pixels processed. The numbers
were measured on the demo (2 shared cores, see ``benchmarks/``) and carry a safety margin
(``MEMORY_MARGIN``, ``TIME_MARGIN``): a request too small kills the job, one too large only
waits a little longer in the queue.

Requests grow with Snakemake's ``attempt``: when SLURM kills a job for memory or time, the retry
(``retries:`` in the profile) asks for ``retry_growth`` times more, then more again. The config's
``resources`` section scales every estimate (``memory_scale``, ``runtime_scale``) for videos that
cost more than the demo's (many animals, 4K frames).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from functools import cache

from .errors import VideoError
from .runtimes import table
from .synthetic import SceneSpec
from .video import FrameRangeError, probe

MEMORY_MARGIN = 2.0
"""Requested memory = measured peak x this."""
TIME_MARGIN = 2.0
"""Requested time = measured duration x this (nodes differ, shared file systems are slow). Not
more: a request past a partition's time limit is never scheduled, and a retry grows it anyway."""
MIN_MEM_MB = 500
MIN_RUNTIME_MINUTES = 5
"""Below a few minutes, scheduling and file-system latency dominate; short requests gain nothing."""


@dataclass(frozen=True)
class Workload:
    """What one job processes: the selected frames of one video."""

    frames: int
    width: int
    height: int

    @property
    def megapixels_per_frame(self) -> float:
        return self.width * self.height / 1e6

    @property
    def megapixels(self) -> float:
        return self.frames * self.megapixels_per_frame


UNKNOWN_WORKLOAD = Workload(frames=1000, width=640, height=480)
"""For a video the login node cannot read: its job fails fast with a clear error anyway."""


@cache
def _probe_size(path: str) -> tuple[int, int, int] | None:
    try:
        info = probe(path)
    except VideoError:
        return None
    return info.n_frames, info.width, info.height


def chunk_length(entry, chunk: int) -> int:
    """Frames of one chunk job of a video entry (:func:`snakeherd.chunks.plan`)."""
    from .chunks import plan

    selection = plan(entry)[chunk]
    if selection.is_resolved:
        return len(selection)
    return workload_of(entry).frames


def workload_of(entry) -> Workload:
    """The frames one video job processes (a :class:`snakeherd.config.VideoEntry`).

    Synthetic videos are described by their scene; real videos are probed once per process (the
    container's header, no decoding).
    """
    if entry.is_synthetic:
        spec = SceneSpec.from_config(entry.synthetic)
        n_frames, width, height = spec.n_frames, spec.width, spec.height
    elif entry.path is None:  # a track-only entry may name no video
        return UNKNOWN_WORKLOAD
    else:
        size = _probe_size(str(entry.path))
        if size is None:
            return UNKNOWN_WORKLOAD
        n_frames, width, height = size
    try:
        frames = len(entry.frames.resolve(n_frames))
    except FrameRangeError:
        frames = n_frames
    return Workload(frames=frames, width=width, height=height)


@dataclass(frozen=True)
class Cost:
    """A rule's measured cost on one core (before the safety margins).

    Memory = ``base_mem_mb`` + ``mem_mb_per_megapixel`` x one frame's megapixels (the frames a
    job holds at once) + ``mem_mb_per_frame`` x frames (tables that grow with the video).
    Time = ``base_seconds`` + ``seconds_per_frame`` x frames + ``seconds_per_megapixel`` x all
    megapixels processed.
    """

    base_mem_mb: float
    mem_mb_per_megapixel: float = 0.0
    mem_mb_per_frame: float = 0.0
    base_seconds: float = 10.0
    seconds_per_frame: float = 0.0
    seconds_per_megapixel: float = 0.0

    def memory_mb(self, workload: Workload) -> float:
        return (
            self.base_mem_mb
            + self.mem_mb_per_megapixel * workload.megapixels_per_frame
            + self.mem_mb_per_frame * workload.frames
        )

    def seconds(self, workload: Workload) -> float:
        return (
            self.base_seconds
            + self.seconds_per_frame * workload.frames
            + self.seconds_per_megapixel * workload.megapixels
        )


JOB_PROCESS_MB = 350
"""Snakemake's own processes inside a cluster job, which SLURM counts against the job's memory:
the job's (~180 MB) and the step's that runs the rule (~150 MB; measured on the test cluster)."""
PYTHON_STACK_MB = 300
"""numpy, pandas, pyarrow, OpenCV imported by a rule script (~250 MB measured)."""


TRACK_MB_PER_INSTANCE_FRAME = 0.0005
IMPORT_MB_PER_INSTANCE_FRAME = 0.0003
ASSUMED_ANIMALS = 10
"""The animals a track job is sized for when ``tracking.max_tracks`` does not say (``auto``,
``null``): more than most arenas hold; a job killed for memory is retried with more anyway."""


def expected_animals(config: dict) -> int:
    """The animals per frame a job is sized for: ``tracking.max_tracks`` when it is a number."""
    max_tracks = (config.get("tracking") or {}).get("max_tracks")
    return max_tracks if isinstance(max_tracks, int) else ASSUMED_ANIMALS


def _cpu_rule_cost(**parts) -> Cost:
    return Cost(base_mem_mb=JOB_PROCESS_MB + PYTHON_STACK_MB, **parts)


def _model_cost(stage: str, runtime: str, batch: int) -> Cost:
    # First estimates from measured throughput (yolo11n at 640: ~14-29 frames/s on one CPU core;
    # SLEAP top-down at 384²: ~12-18 frames/s); GPUs are taken as 5x faster. A batch holds `batch`
    # network inputs (640² x 3 float32 ~ 5 MB each) plus activations, budgeted at 60 MB each.
    framework_mb = {"yolo_obb": 1500, "yolo_pose": 1500, "sleap": 2500}[stage]
    if not table.get(runtime).imports_torch:
        framework_mb = 600  # ONNX Runtime without torch
    frames_per_second = {"yolo_obb": 10.0, "yolo_pose": 8.0, "sleap": 8.0}[stage]
    if table.needs_gpu(runtime):
        frames_per_second *= 5
    return Cost(
        base_mem_mb=JOB_PROCESS_MB + framework_mb + 60 * batch,
        mem_mb_per_frame=0.01,  # the output tables
        base_seconds=60,  # loading the model, warming up the device
        seconds_per_frame=1.0 / frames_per_second,
    )


def rule_cost(rule: str, config: dict, runtime: str | None = None, batch: int = 1) -> Cost:
    """The cost model of a rule (or of a model stage: ``yolo_obb``, ``yolo_pose``, ``sleap``)."""
    if rule in ("yolo_obb", "yolo_pose", "sleap"):
        return _model_cost(rule, runtime or config["runtime"], batch)
    if rule == "export":
        # Loading the source model, tracing it and checking the export on a few frames.
        return Cost(base_mem_mb=JOB_PROCESS_MB + 4000, base_seconds=600)
    if rule == "synthetic_video":
        # Measured: 48 megapixels in ~15 s, peak RSS 170 MB.
        return _cpu_rule_cost(mem_mb_per_megapixel=20, seconds_per_megapixel=0.35)
    if rule == "detect_background":
        # The background model stacks `background_frames` grayscale frames and takes their
        # median (about three copies); detection works on a few float images per frame.
        # Detections accumulate per frame. Time goes mostly to each frame's blobs (splitting
        # touching animals), little to its pixels. Measured with 8 animals on the shared
        # machine: 77-116 ms per frame at 400x400, +5 ms per extra megapixel; peak RSS 250 MB.
        background_frames = config["detection"]["background"]["background_frames"]
        return _cpu_rule_cost(
            mem_mb_per_megapixel=3 * background_frames + 30,
            mem_mb_per_frame=0.005,
            seconds_per_frame=0.08,
            seconds_per_megapixel=0.01,
        )
    if rule == "background_model":
        # A chunked video's background: the median of `background_frames` grey frames (about
        # three copies), decoded with seeks spread over the video.
        background_frames = config["detection"]["background"]["background_frames"]
        return _cpu_rule_cost(
            mem_mb_per_megapixel=3 * background_frames + 30,
            base_seconds=30,
            seconds_per_megapixel=0.0,
        )
    if rule == "join_chunks":
        # Writes the chunk tables into one a chunk at a time: memory is the largest chunk's.
        # Measured (long_video.py --rss-scaling): 156 MB at 10,000 frames, 170 MB at 100,000.
        return _cpu_rule_cost(mem_mb_per_frame=0.0002, seconds_per_frame=0.0005)
    if rule == "import_predictions":
        # Reading a SLEAP predictions file into the detection and the long pose tables, a
        # part of 2^17 pose rows at a time. Measured (long_video.py --track-rss, 2 flies, 24
        # nodes): 225 MB at 22,000 instance-frames, 230 MB at 220,000, 234 MB at 660,000, the
        # file's labelled-frame records read a window at a time where in frame order (229, 237
        # and 255 MB holding them whole); whole tables had taken 319 and 1,148 MB, through
        # sleap-io's objects 358 and 1,504 MB.
        return _cpu_rule_cost(
            mem_mb_per_frame=IMPORT_MB_PER_INSTANCE_FRAME * expected_animals(config),
            seconds_per_frame=0.01,
        )
    if rule == "track":
        # Measured: 300 frames of 8 animals in ~5 s, peak RSS 180 MB; then the provenance
        # record's checksums of the video and the results (~300 MB/s). The suspect frames
        # (proofreading: at most 200 decoded and PNG-encoded, ~0.04 s each) fit in the margins.
        # Memory grows with the instances, not the frames (the tracker links the whole video at
        # once), by their frames, positions and track numbers; their keypoints, other columns and
        # the tracks' columns are kept in temporary files and the outputs written a block of rows or
        # a column at a time, so the skeleton does not add to it. Measured as each job logs its
        # peak: ~0.05 KB an instance-frame (long_video.py --track-rss, 2 flies with 24 keypoints:
        # 247 MB at 22,000 instance-frames, 256 MB at 220,000, 285 MB at 660,000, where the
        # proofreading package opens the video (FFmpeg reads an MP4's index of every frame); 253,
        # 265 and 286 MB with the suspect checks' columns read whole; 255, 291 and 389 MB with
        # the instances' and tracks' columns in memory; --rss-scaling --tiled, 4 animals, no
        # keypoints: 247 MB at 10,000 frames, 253 MB at 100,000). A video with a proofread file has
        # its corrections applied where the tracks are kept, a column at a time, the person's
        # instances and keypoints kept in temporary files and read a part of whole frames at a
        # time (only the frames the person changed are held): 273 MB at 220,000 and 294 MB at
        # 660,000 with a whole-video proofread .slp (321 MB at 660,000 with the suspect checks'
        # columns read whole; 282 and 333 MB holding the person's frames, tracks and flags; 318
        # and 500 MB applied in memory); 0.5 KB asked for it, doubled by the margin.
        return _cpu_rule_cost(
            mem_mb_per_frame=TRACK_MB_PER_INSTANCE_FRAME * expected_animals(config),
            seconds_per_frame=0.02,
            seconds_per_megapixel=0.002,
        )
    if rule == "evaluate":
        # The tracks read a batch at a time and scored as they come (CLEAR-MOT and IDF1 as
        # running tallies), the ground truth a block of labelled frames at a time; HOTA's inputs
        # (~40 bytes an instance-frame), the OKS matches of the predictions (12 bytes, ranked by
        # an external merge sort) and each labelled keypoint's error (8 bytes a keypoint) are
        # kept in temporary files. Measured: 300 frames in ~9 s, peak RSS 185 MB; a whole
        # video's ground truth (long_video.py --track-rss, 2 flies, 24 nodes): 262 MB at 11,000
        # frames, 268 MB at 110,000, 275 MB at 330,000 (283 and 315 MB at the last two holding
        # HOTA's inputs and the OKS matches; 288 and 337 MB holding the ground truth's
        # positions; 318 and 365 MB before it gave freed arrays back; 429 and 780 MB with the
        # errors in memory; 3,193 and 8,641 MB when py-motmetrics kept its events and
        # pycocotools a dict per instance). 0.05 KB an instance-frame asked (a frame's number,
        # and room for the id pairs TrackEval counts), doubled by the margin.
        return _cpu_rule_cost(
            mem_mb_per_frame=0.00005 * expected_animals(config), seconds_per_frame=0.04
        )
    if rule == "provenance":
        # Without tracking: checksums of the video and the results, ~300 MB/s.
        return _cpu_rule_cost(seconds_per_megapixel=0.002)
    if rule == "overlay":
        # Decoding, drawing and encoding (libx264, veryfast) every drawn frame; one BGR frame in
        # memory at a time, and the tables read in batches as the frames are drawn. Measured on
        # the demo (400x400, 8 animals): ~60 frames/s, peak RSS ~190 MB; on the fly predictions
        # repeated (2 flies, 24 nodes, 64x64 frames): 230 MB at 11,000 frames, 271 MB at
        # 110,000 (379 and 1,777 MB when the tables were read whole).
        return _cpu_rule_cost(
            mem_mb_per_megapixel=60,
            mem_mb_per_frame=0.001,
            seconds_per_frame=0.01,
            seconds_per_megapixel=0.06,
        )
    if rule == "plots":
        # matplotlib (~60 MB more than the stack) and one decoded frame; the tables are read a
        # batch at a time, each batch's paths drawn onto the canvas and let go, the timeline
        # one bar per run of frames, a long step series reduced to 2,000 columns. Measured on
        # the demo: ~4 s, peak RSS ~250 MB; on the fly predictions repeated (2 flies, 24
        # nodes, a whole-video ground truth's errors panel, read a block of labelled frames at a
        # time, a long step series reduced a chunk of vertices at a time): 276 MB at 11,000
        # frames, 284 MB at 110,000, 297 MB at 330,000 (322 MB at the last reducing every
        # vertex at once; 292 and 344 MB at the last two holding the ground truth; 270, 313
        # and 416 MB with the tables and the figures' lines whole; 272, 337 and 484 MB before
        # the tracks were drawn from one by-track copy and each figure collected before the
        # next).
        return Cost(
            base_mem_mb=JOB_PROCESS_MB + PYTHON_STACK_MB + 100,
            mem_mb_per_megapixel=10,
            mem_mb_per_frame=0.01,
            seconds_per_frame=0.002,
        )
    if rule == "analysis_files":
        # pynwb and sleap-io imports (~4 s), then one NWB file per track and the analysis HDF5,
        # each written empty and filled a block of frames at a time. Measured on the fly clip
        # (1100 frames, 2 tracks, 6 nodes): ~6 s, peak RSS ~250 MB; its clean predictions
        # repeated (long_video.py --track-rss, 24 nodes): 255 MB at 11,000 frames, 264 MB at
        # 110,000, 275 MB at 330,000 (297 MB at the last reading a block's points at once, 306
        # MB holding tracks.slp's frame records;
        # 369 MB at 110,000 before it gave freed arrays back, 583 MB when each NWB file's
        # arrays were built whole).
        return _cpu_rule_cost(mem_mb_per_frame=0.002, base_seconds=30, seconds_per_frame=0.002)
    if rule == "xanylabeling_export":
        # One decoded frame at a time, written as PNG with a small JSON (at most
        # proofreading.max_per_video frames), and the tables.
        return _cpu_rule_cost(base_seconds=60, mem_mb_per_frame=0.02, mem_mb_per_megapixel=20)
    if rule == "batch_summary":
        # Reads every video's tables once (one at a time) and the benchmark files.
        return _cpu_rule_cost(base_seconds=30, mem_mb_per_frame=0.01)
    if rule == "evaluation_summary":
        return _cpu_rule_cost(base_seconds=30)
    if rule == "sleap_preflight":
        # Importing torch and sleap-nn, and checking the runtime's device.
        return Cost(base_mem_mb=2048, base_seconds=450)
    if rule == "sleap_crop_boxes":
        # Reading the detections table into the boxes a crop run needs.
        return Cost(base_mem_mb=512, base_seconds=300)
    if rule == "sleap_join_chunks":
        # Reads every chunk's arrays and .slp (sleap-io) and writes them as one.
        return _cpu_rule_cost(mem_mb_per_frame=0.05, seconds_per_frame=0.002)
    if rule == "sleap_tables":
        # The same work as reading a predictions file into the two tables.
        return rule_cost("import_predictions", config)
    if rule == "sleap_evaluate":
        # sleap-nn's evaluator over the ground truth's labelled frames.
        return Cost(base_mem_mb=2048, base_seconds=900)
    raise KeyError(f"no cost model for rule '{rule}'; add one to snakeherd.resources.rule_cost")


@dataclass(frozen=True)
class Scaling:
    """The config's ``resources`` section."""

    memory_scale: float = 1.0
    runtime_scale: float = 1.0
    retry_growth: float = 2.0

    @classmethod
    def from_config(cls, section: dict | None) -> Scaling:
        section = section or {}
        fields = cls.__dataclass_fields__
        return cls(**{key: float(value) for key, value in section.items() if key in fields})

    def growth(self, attempt: int) -> float:
        """Factor for attempt 1, 2, ... (a retry follows a kill for memory or time)."""
        return self.retry_growth ** (max(attempt, 1) - 1)


def memory_request_mb(cost: Cost, workload: Workload, scaling: Scaling, attempt: int = 1) -> int:
    """``mem_mb`` for a job: estimate x margin, at least MIN_MEM_MB, scaled, grown per retry."""
    estimate = max(cost.memory_mb(workload) * MEMORY_MARGIN, MIN_MEM_MB)
    return math.ceil(estimate * scaling.memory_scale * scaling.growth(attempt))


def runtime_request_minutes(
    cost: Cost, workload: Workload, scaling: Scaling, attempt: int = 1
) -> int:
    """``runtime`` (minutes) for a job: estimate x margin, at least MIN_RUNTIME_MINUTES, scaled,
    grown per retry."""
    minutes = max(cost.seconds(workload) * TIME_MARGIN / 60, MIN_RUNTIME_MINUTES)
    return math.ceil(minutes * scaling.runtime_scale * scaling.growth(attempt))


def rule_resources(
    rule: str, config: dict, videos: dict, batch: int = 1, gpu: bool = False
) -> dict:
    """The ``resources:`` of a rule, sized from the video of each job.

    ``resources: **rule_resources("track", config, VIDEOS)`` in a rule. ``mem_mb`` and
    ``runtime`` (minutes) follow the frames and frame size the job processes (:func:`rule_cost`
    has each rule's cost model; a model stage passes its stage name, ``yolo_obb``, ``yolo_pose``
    or ``sleap``, and its ``batch``; a job with a ``chunk`` wildcard is sized by that chunk's
    frames) and grow with each retry after SLURM kills a job for memory
    or time. ``gpu``: the job runs on the runtime's accelerator, so it asks for a GPU when the
    runtime needs one (:func:`gpu_request`). CPUs are the rule's ``threads:`` (the SLURM plugin
    asks for ``--cpus-per-task=threads``; a ``cpus_per_task`` resource would only add DAG time).
    ``videos`` maps video ids to their :class:`snakeherd.config.VideoEntry`; jobs without a
    video get a fixed guess.
    """
    cost = rule_cost(rule, config, batch=batch)
    scaling = Scaling.from_config(config.get("resources"))

    def workload(wildcards) -> Workload:
        video = wildcards.get("video")
        if video is None:
            return UNKNOWN_WORKLOAD
        whole = workload_of(videos[video])
        chunk = wildcards.get("chunk")
        if chunk is None:
            return whole
        # A chunk job of a long video: sized by its own frames, not the video's.
        return replace(whole, frames=chunk_length(videos[video], int(chunk)))

    def mem_mb(wildcards, attempt):
        return memory_request_mb(cost, workload(wildcards), scaling, attempt)

    def runtime(wildcards, attempt):
        return runtime_request_minutes(cost, workload(wildcards), scaling, attempt)

    return {
        "mem_mb": mem_mb,
        "runtime": runtime,
        **(gpu_request(config["runtime"]) if gpu else {}),
    }


def gpu_request(runtime: str, gpus: int = 1) -> dict[str, str]:
    """The scheduler resources a model job needs for its runtime: a GPU or nothing.

    ``gres`` becomes ``sbatch --gres=gpu:N``; a profile can replace it per rule (e.g.
    ``set-resources: {<rule>: {gres: "gpu:a100:1"}}``) or add ``slurm_extra``.
    """
    return {"gres": f"gpu:{gpus}"} if table.needs_gpu(runtime) else {}
