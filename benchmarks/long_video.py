"""Long videos in chunks (issue 22): jobs and dry-run time for a 1-hour video, what chunking
costs in CPU, memory and wall time, and what a whole pipeline costs next to its models.

Each part runs on request; with none named, --dry-run and --overhead (~10 minutes on an idle
2-core machine: ~500 CPU-seconds). --rss-scaling detects 110,000 frames (~800 CPU-seconds) and
--pipeline runs the YOLO models over 1,100 frames twice (~250 CPU-seconds).

--dry-run: a 108,000-frame video (1 hour at 30 fps: a grey 64x64 clip from FFmpeg, since a dry
run reads only its header) through `snakemake -n` with background detection and tracking,
unsplit and with the default chunk_frames: wall seconds of the dry run and the jobs per rule.

--overhead: a generated video (4 animals, 128x128: a 2,000-frame scene looped to --frames, by
default 36,000 so the default chunk_frames of 18,000 splits it in two) run for real, background
detection then tracking, unsplit and in chunks (--chunk, default: the default chunk_frames):
wall seconds, CPU-seconds of the whole run (every job's process, Snakemake's own included) and
per rule, with each rule's peak RSS, as each job logs them (see rule_costs). The chunks run
twice: one after the other (`--cores 1`: the work chunking adds; goal: at most 5 % more CPU than
unsplit) and side by side (`--cores 2`: the wall time; two busy processes on two cores also take
more CPU-seconds for the same work, as they share the machine's caches and memory bandwidth).

--rss-scaling: the same at --rss-frames (10,000 and 100,000) frames, both in chunks of
--rss-chunk frames: each kind of job's peak RSS side by side. Goal: a job's peak RSS is bounded
by its chunk, not the video. With --tiled, only the first length is detected (~80 CPU-seconds);
the longer ones get its chunk tables repeated in frame order (the looped scene repeats every
2,000 frames, so these are the detections the longer video gives) and run only join_chunks and
track: the whole-video jobs, where a length's memory would show.

--track-rss: a track-only run with keypoints, where the whole-video jobs' memory grows most: the
fly clip's clean predictions (2 flies, 24 nodes, 1,100 frames) repeated --track-times over (10
and 100: 22,000 and 220,000 instance-frames), with a blank video of that length for the NWB
files, every output on (import, track, plots, NWB and analysis HDF5, summaries) and the
predictions' own tracks as a whole-video ground truth (evaluate); each job's peak RSS. Then,
at each length, the track job again with the run's tracks.slp back in as a whole-video
proofread file (two tracks swapped on one frame), and an experiment comparison's work for the
video (its detections, poses and tracks against themselves).

--pipeline: the real fly clip (1,100 frames; YOLO-OBB detection and YOLO-pose on crops on
onnx_cpu, tracks and the default outputs) through Snakemake, in CPU-seconds per frame as the
jobs log them, next to the model sessions alone on the same frames and crops (the CPU
time inside ONNX Runtime's session.run while the library's detection and pose stages run in
one process). The models' export (once per model, not per frame) is shown apart. Goal: the
pipeline costs at most 1.2x its models. --pipeline-loops N plays the clip N times over (stream
copy) so the fixed costs of the jobs after the models weigh as on a longer video.

The CPU-seconds and peak RSS are what to compare: on a shared machine wall times follow the
load.

    .venv/bin/python benchmarks/long_video.py [--dry-run] [--overhead] [--rss-scaling [--tiled]] \
        [--track-rss] [--pipeline] [--long-frames 108000] [--frames 36000] [--chunk 18000] \
        [--rss-frames 10000 100000] [--rss-chunk 5000] [--track-times 10 100] [--pipeline-loops 1]
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "workflow" / "scripts"))
sys.path.insert(0, str(REPO))

from dry_run import run_snakemake  # noqa: E402  (benchmarks/, this script's folder)

SCENE_FRAMES = 2000  # the generated scene that longer videos loop
JOB_LOGGED = re.compile(r"done: peak memory (\d+) MB, ([\d.]+) CPU s")  # scripting.footprint


def ffmpeg() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def make_video(folder: Path, n_frames: int, size: int = 128) -> Path:
    """A generated scene of 4 animals, looped (stream copy) to ``n_frames`` frames: rendering
    100,000 frames would take longer than detecting them."""
    from snakeherd.synthetic import SceneSpec, simulate, write_video

    scene = folder / f"scene_{size}.mp4"
    if not scene.exists():
        spec = SceneSpec(
            n_animals=4, n_frames=SCENE_FRAMES, width=size, height=size, seed=3, body_length=14
        )
        write_video(spec, simulate(spec), str(scene))
    path = folder / f"scene_{size}_{n_frames}.mp4"
    loops = math.ceil(n_frames / SCENE_FRAMES) - 1
    command = [ffmpeg(), "-loglevel", "error", "-y", "-stream_loop", str(loops), "-i", str(scene)]
    command += ["-c", "copy", "-frames:v", str(n_frames), str(path)]
    subprocess.run(command, check=True)
    return path


def make_blank_video(path: Path, n_frames: int, size: int, fps: int = 30) -> None:
    command = [ffmpeg(), "-loglevel", "error", "-f", "lavfi"]
    command += ["-i", f"color=c=gray:s={size}x{size}:r={fps}", "-frames:v", str(n_frames)]
    command += ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(path)]
    subprocess.run(command, check=True)


def default_chunk_frames() -> int:
    schema = yaml.safe_load((REPO / "config" / "schemas" / "config.schema.yaml").read_text())
    return schema["properties"]["chunk_frames"]["default"]


def snakemake(folder: Path, config: dict, *args: str) -> tuple[float, float, str]:
    """Run the workflow in ``folder``: wall seconds, CPU seconds of every process, output."""
    config_path = folder / f"{config['experiment']}.yaml"
    config_path.write_text(yaml.safe_dump(config))
    return run_snakemake(REPO / "Snakefile", folder, config_path, *args)


def config_for(experiment: str, video: Path, chunk_frames: int | None) -> dict:
    return {
        "experiment": experiment,
        "runtime": "cpu",
        "chunk_frames": chunk_frames,
        "videos": [{"id": "long", "path": str(video)}],
        "detection": {"method": "background", "background": {"n_animals": 4}},
        "pose": {"method": "none"},
        "outputs": {"plots": False, "nwb": False, "analysis_h5": False},
    }


def job_counts(output: str) -> dict[str, int]:
    stats = output[output.index("Job stats:") :]
    return {name: int(n) for name, n in re.findall(r"^(\w+)\s+(\d+)$", stats, re.M)}


def rule_costs(benchmarks: Path) -> dict[str, tuple[int, float, float]]:
    """Per rule (chunk jobs under their rule's name): jobs, CPU-seconds, largest peak RSS.

    Both as each job logs them at its end (``done: peak memory N MB, S CPU s``, measured by the
    job itself: exact). A benchmark file samples its job every 30 s once it has run 15 s, so it
    can miss the peak and the last half minute's CPU time; its ``cpu_time`` and ``max_rss`` are
    used only for a job that logged neither.
    """
    logs = benchmarks.parent / "logs"
    costs: dict[str, list[float]] = defaultdict(lambda: [0, 0.0, 0.0])
    for path in benchmarks.rglob("*.tsv"):
        name = path.name.split(".")[0]
        if path.parent.name == "chunks":
            name += " (chunk)"
        with path.open() as handle:
            row = next(csv.DictReader(handle, delimiter="\t"))
        log = (logs / path.relative_to(benchmarks)).with_suffix(".log")
        logged = JOB_LOGGED.findall(log.read_text()) if log.is_file() else []
        peak, cpu = logged[-1] if logged else (row["max_rss"], row["cpu_time"])
        cost = costs[name]
        cost[0] += 1
        cost[1] += float(cpu)
        cost[2] = max(cost[2], float(peak))
    return {name: tuple(cost) for name, cost in sorted(costs.items())}


def run_tracks(
    folder: Path, video: Path, experiment: str, chunk_frames: int | None, *args: str, cores=2
):
    """Background detection and tracking of ``video``: wall s, CPU s, per-rule costs."""
    config = config_for(experiment, video, chunk_frames)
    target = f"results/{experiment}/long/tracks.parquet"
    wall, cpu, _ = snakemake(folder, config, "--cores", str(cores), *args, target)
    return wall, cpu, rule_costs(folder / "results" / experiment / "benchmarks")


def dry_run_part(folder: Path, long_frames: int) -> None:
    long_video = folder / "hour.mp4"
    started = time.perf_counter()
    make_blank_video(long_video, long_frames, 64)
    print(f"generated {long_frames} frames in {time.perf_counter() - started:.0f} s")
    print(f"\nsnakemake -n, {long_frames} frames")
    default = default_chunk_frames()
    for label, chunk_frames in (("unsplit", None), ("default chunk_frames", default)):
        config = config_for(f"dry_{chunk_frames}", long_video, chunk_frames)
        snakemake(folder, config, "-n")  # the first run probes the video
        wall, _, output = snakemake(folder, config, "-n")
        counts = job_counts(output)
        shown = ", ".join(f"{name} {n}" for name, n in counts.items() if name != "total")
        print(f"  {label:<22} {wall:6.2f} s, {counts['total']} jobs: {shown}", flush=True)


def overhead_part(folder: Path, frames: int, chunk: int) -> None:
    video = make_video(folder, frames)
    print(f"\n{frames} frames (128x128, 4 animals) detected and tracked")
    print(f"  {'run':<30}{'wall s':>8}{'CPU s':>8}{'jobs CPU s':>12}")
    runs = {}
    for label, chunk_frames, cores in (
        ("unsplit, --cores 2", None, 2),
        (f"chunks of {chunk}, --cores 1", chunk, 1),
        (f"chunks of {chunk}, --cores 2", chunk, 2),
    ):
        experiment = f"run_{chunk_frames}_{cores}"
        wall, cpu, costs = run_tracks(folder, video, experiment, chunk_frames, cores=cores)
        jobs_cpu = sum(rule_cpu for _, rule_cpu, _ in costs.values())
        runs[label] = (cpu, jobs_cpu)
        print(f"  {label:<30}{wall:>8.1f}{cpu:>8.1f}{jobs_cpu:>12.1f}")
        for rule, (jobs, rule_cpu, rss) in costs.items():
            print(f"    {rule:<30} {jobs:>3} jobs {rule_cpu:>7.1f} CPU s  peak {rss:>5.0f} MB")
    (unsplit, unsplit_jobs), *chunked_runs = runs.values()
    for label, (chunked, chunked_jobs) in zip(list(runs)[1:], chunked_runs, strict=True):
        print(
            f"  {label} / unsplit CPU-seconds: {chunked / unsplit:.3f} (whole run), "
            f"{chunked_jobs / unsplit_jobs:.3f} (jobs alone)",
            flush=True,
        )


def tile_chunks(source: Path, target: Path, source_frames: int, frames: int, chunk: int) -> None:
    """The chunk tables of a ``frames``-long run from those of a ``source_frames``-long one, in
    ``source``: repeated in frame order, each with its own chunk's frames, and the background
    model copied. Written after the video, so Snakemake (mtime triggers) keeps them."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from snakeherd import io
    from snakeherd.video import FrameSelection

    if source_frames % SCENE_FRAMES or source_frames % chunk or frames % source_frames:
        raise SystemExit(
            "--tiled needs lengths that are multiples of the first, the chunk and 2000"
        )
    target.mkdir(parents=True, exist_ok=True)
    (target / "background.npz").write_bytes((source / "background.npz").read_bytes())
    per_source = source_frames // chunk
    for number in range(frames // chunk):
        path = source / f"detections.{number % per_source}.parquet"
        table = pq.read_table(path)
        column = table.schema.get_field_index("frame")
        offset = source_frames * (number // per_source)
        shifted = pc.add(table.column(column), offset).cast(table.schema.field(column).type)
        stage = io.read_metadata(path)["stage"]
        stage["chunk"] = str(FrameSelection(((number * chunk, (number + 1) * chunk - 1),)))
        table = table.set_column(column, "frame", shifted)
        with io.TableWriter(
            target / f"detections.{number}.parquet", "detections", stage, table.schema
        ) as writer:
            writer.write(table)


def rss_scaling_part(folder: Path, lengths: list[int], chunk: int, tiled: bool = False) -> None:
    print(f"\npeak RSS (MB) of each kind of job, chunks of {chunk} frames, --cores 2")
    if tiled:
        print(f"  beyond {lengths[0]} frames: its chunk tables repeated; join and track alone")
    table = {}
    for frames in lengths:
        video = make_video(folder, frames)
        args: tuple[str, ...] = ("--notemp",) if tiled else ()
        if tiled and frames != lengths[0]:
            source = folder / "results" / f"rss_{lengths[0]}" / "long" / "chunks"
            target = folder / "results" / f"rss_{frames}" / "long" / "chunks"
            tile_chunks(source, target, lengths[0], frames, chunk)
            args = ("--rerun-triggers=mtime",)
        wall, cpu, costs = run_tracks(folder, video, f"rss_{frames}", chunk, *args)
        table[frames] = costs
        print(f"  {frames} frames: {wall:.0f} s wall, {cpu:.0f} CPU s", flush=True)
    print_peaks({f"{frames} frames": table[frames] for frames in lengths})


def print_peaks(runs: dict[str, dict[str, tuple[int, float, float]]]) -> None:
    """Each kind of job's peak RSS (MB) and job count: a row per rule, a column per run."""
    rules = sorted({rule for costs in runs.values() for rule in costs})
    print(f"  {'job':<30}" + "".join(f"{label:>16}" for label in runs))
    for rule in rules:
        cells = []
        for costs in runs.values():
            jobs, _, rss = costs.get(rule, (0, 0.0, float("nan")))
            cells.append(f"{rss:>8.0f} ({jobs:>2} job{'s' if jobs != 1 else ' '})")
        print(f"  {rule:<30}" + "".join(f"{cell:>16}" for cell in cells))


def repeated_predictions(folder: Path, source: Path, times: int) -> Path:
    """The predictions ``source`` holds, repeated ``times`` over in frame order (as a
    ``times``-fold longer video would give them), as a SLEAP file."""
    import pandas as pd

    from snakeherd import slp

    path = folder / f"{source.stem}_x{times}.slp"
    if path.exists():
        return path
    found = slp.read_predictions(str(source), "flies")
    length = found.n_frames or int(found.detections["frame"].max()) + 1
    wide = found.poses.pivot_table(
        index=["frame", "det_id"], columns="node", values=["x", "y", "score"], dropna=False
    )
    once = pd.DataFrame(
        {
            "frame": wide.index.get_level_values("frame"),
            "track_id": wide.index.get_level_values("det_id"),
            "x": 0.0,
            "y": 0.0,
            "score": found.detections.set_index(["frame", "det_id"]).loc[wide.index, "score"],
        }
    )
    for node in found.nodes:
        for part in ("x", "y", "score"):
            once[f"{node}.{part}"] = wide[(part, node)].to_numpy()
    tracks = pd.concat(
        [once.assign(frame=once["frame"] + length * i) for i in range(times)], ignore_index=True
    )
    # A video that is not there: the run then takes the length the file records, not the clip's.
    video = str(folder / f"{source.stem}_x{times}.mp4")
    slp.write_tracks(tracks, str(path), video, found.nodes, found.edges, length * times)
    return path


def track_rss_part(folder: Path, times: list[int]) -> None:
    """A track-only run with keypoints: the clip's clean predictions (2 flies, 24 nodes)
    repeated, with a blank video of that length beside them (for the NWB files' frame rate),
    every output on and the predictions' tracks as the ground truth, at each length."""
    from snakeherd import slp
    from tests.support.data import SHARED_DATA

    source = SHARED_DATA / "tracking" / "centered_pair_predictions.clean.slp"
    clip = slp.read_predictions(str(source), "flies")
    per_clip = len(clip.detections)
    print("\npeak RSS (MB) of a track-only run's jobs, the fly predictions repeated (24 nodes)")
    table = {}
    for count in times:
        predictions = repeated_predictions(folder, source, count)
        video = folder / f"{source.stem}_x{count}.mp4"
        if not video.exists():
            make_blank_video(video, clip.n_frames * count, 64)
        config = {
            "experiment": f"track_x{count}",
            "runtime": "cpu",
            "videos": [
                {
                    "id": "flies",
                    "predictions": str(predictions),
                    "path": str(video),
                    # A whole video's ground truth (the file's own tracks), as a person would
                    # proofread one: the evaluate job and the plots' errors panel read it.
                    "ground_truth": str(predictions),
                }
            ],
            "detection": {"method": "none"},
            "pose": {"method": "none"},
            "tracking": {"max_tracks": "auto"},
            "outputs": {"plots": True, "nwb": True, "analysis_h5": True},
        }
        wall, cpu, _ = snakemake(folder, config, "--cores", "2")
        results = folder / "results" / f"track_x{count}"
        table[count] = rule_costs(results / "benchmarks")
        instance_frames = per_clip * count
        print(f"  x{count} ({instance_frames} instance-frames): {wall:.0f} s wall, {cpu:.0f} CPU s")
        # The loop's last step: the run's tracks.slp, two tracks swapped on one frame, back in
        # as the video's proofread file (SLEAP saves every frame).
        proofread = folder / f"proofread_x{count}.slp"
        middle = int(clip.detections["frame"].max()) // 2
        swapped_in_sleap(results / "flies" / "tracks.slp", proofread, frame=middle)
        config = {**config, "experiment": f"track_x{count}_proofread"}
        config["videos"] = [{**config["videos"][0], "proofread": str(proofread)}]
        snakemake(folder, config, "--cores", "2", "--until", "track")
        fixed = rule_costs(folder / "results" / config["experiment"] / "benchmarks")["track"]
        table[count]["track (proofread .slp)"] = fixed
        table[count]["comparison (vs first)"] = comparison_cost(results / "flies")
    print_peaks({f"x{count}": table[count] for count in times})
    print(
        "  (comparison: an experiment's comparison of a variant's detections, poses and tracks"
        " with the first's, here the run's with itself, in a process of its own)"
    )


def swapped_in_sleap(tracks_slp: Path, path: Path, frame: int) -> None:
    """``tracks_slp`` with the tracks of ``frame``'s first two instances swapped, saved as a
    person would after an identity fix in SLEAP."""
    import sleap_io

    labels = sleap_io.load_slp(str(tracks_slp), open_videos=False)
    (labelled,) = [f for f in labels.labeled_frames if f.frame_idx == frame]
    first, second = labelled.instances[:2]
    first.track, second.track = second.track, first.track
    sleap_io.save_slp(labels, str(path), verbose=False)


# Measured as the jobs measure themselves (scripting.footprint: the process's own address
# space's high-water mark; ru_maxrss would keep the forking benchmark process's).
VERSUS_FIRST = r"""
import json, sys
from pathlib import Path
sys.path.insert(0, {scripts!r})
from snakeherd.comparison import VariantResults, versus_first
from snakeherd.scripting import footprint, give_back_large_arrays

give_back_large_arrays()  # as the comparison job does
folder = Path({folder!r})
variants = [VariantResults(name, folder.parent, folder.parent, [], [folder.name]) for name in "ab"]
figures = versus_first(variants[1], variants[0], folder.name)
peak, cpu = footprint()
print(json.dumps({{"cpu": cpu, "peak": peak}}))
"""


def comparison_cost(video_folder: Path) -> tuple[int, float, float]:
    """The comparison job's work for one video (``versus_first``) in a process of its own: (1,
    CPU-seconds, peak RSS in MB) as :func:`rule_costs` gives them."""
    script = VERSUS_FIRST.format(
        scripts=str(REPO / "workflow" / "scripts"), folder=str(video_folder)
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    measured = json.loads(done.stdout)
    return 1, measured["cpu"], measured["peak"]


MODELS_ALONE = r"""
import json, sys, time
sys.path.insert(0, {scripts!r})
import pandas as pd
from snakeherd import io
from snakeherd.video import FrameSelection
from snakeherd.yolo import backends
from snakeherd.yolo.decode import Filters
from snakeherd.yolo.detect import YoloRun, detect_video
from snakeherd.yolo.pose import PoseRun, pose_on_crops

inside = {{"seconds": 0.0, "calls": 0}}
session_run = backends.OnnxRuntimeModel.run


def timed_run(self, batch):
    # The calling thread's CPU: ONNX Runtime on one intra-op thread runs the graph on it.
    started = time.thread_time()
    try:
        return session_run(self, batch)
    finally:
        inside["seconds"] += time.thread_time() - started
        inside["calls"] += 1


backends.OnnxRuntimeModel.run = timed_run
started = time.process_time()
detect_video({video!r}, FrameSelection.parse(None),
             YoloRun(model={obb!r}, runtime="onnx_cpu", filters=Filters()))
detect_stage, detect_sessions, detect_calls = (
    time.process_time() - started, inside["seconds"], inside["calls"])
# Pose on the crops of the pipeline's own detections: the same crops as its pose job.
detections = io.read_table({detections!r}, "detections").drop(columns="video_id")
started = time.process_time()
pose_on_crops({video!r}, detections, PoseRun(yolo=YoloRun(model={pose!r}, runtime="onnx_cpu",
                                                           filters=Filters())))
print(json.dumps({{
    "detect_stage": detect_stage, "detect_sessions": detect_sessions,
    "detect_calls": detect_calls, "pose_stage": time.process_time() - started,
    "pose_sessions": inside["seconds"] - detect_sessions,
    "pose_calls": inside["calls"] - detect_calls}}))
"""


def looped(source: Path, folder: Path, loops: int) -> Path:
    """``source`` played ``loops`` times over, by stream copy (no re-encoding)."""
    if loops == 1:
        return source
    path = folder / f"{source.stem}_x{loops}.mp4"
    command = [ffmpeg(), "-loglevel", "error", "-y", "-stream_loop", str(loops - 1)]
    command += ["-i", str(source), "-c", "copy", str(path)]
    subprocess.run(command, check=True)
    return path


def pipeline_part(folder: Path, loops: int = 1) -> None:
    from tests.support.data import FLY_NODES, SHARED_DATA, copy_yolo_models

    models = copy_yolo_models(SHARED_DATA, folder / "models")
    video = looped(SHARED_DATA / "tracking" / "centered_pair_low_quality.mp4", folder, loops)
    config = {
        "experiment": "pipeline",
        "runtime": "onnx_cpu",
        "videos": [{"id": "pair", "path": str(video)}],
        "detection": {"method": "yolo_obb", "model": str(models / "fly_obb_yolo11n.pt")},
        "pose": {
            "method": "yolo_pose",
            "models": [str(models / "fly_pose_crops_yolo11n.pt")],
            "node_names": list(FLY_NODES),
            "edges": [["head", "thorax"], ["thorax", "abdomen"]],
        },
    }
    wall, cpu, _ = snakemake(folder, config, "--cores", "2")
    results = folder / "results" / "pipeline"
    costs = rule_costs(results / "benchmarks")
    from snakeherd import io

    n_frames = int(io.read_metadata(results / "pair" / "detections.parquet")["stage"]["frames"])
    once = {rule: cost for rule, cost in costs.items() if rule.startswith("export_")}
    per_video = {rule: cost for rule, cost in costs.items() if rule not in once}
    pipeline = sum(rule_cpu for _, rule_cpu, _ in per_video.values())
    print(
        f"\nthe fly clip x{loops}, {n_frames} frames, YOLO-OBB + YOLO-pose on crops, onnx_cpu, "
        "--cores 2"
    )
    print(f"  whole run: {wall:.0f} s wall, {cpu:.1f} CPU s (Snakemake's own process included)")
    for rule, (jobs, rule_cpu, rss) in costs.items():
        kind = "  (once per model)" if rule in once else ""
        print(
            f"    {rule:<26} {jobs:>2} job(s) {rule_cpu:>7.1f} CPU s "
            f"{1000 * rule_cpu / n_frames:>7.1f} ms/frame  peak {rss:>5.0f} MB{kind}"
        )
    alone = json.loads(
        subprocess.run(
            [
                sys.executable,
                "-c",
                MODELS_ALONE.format(
                    scripts=str(REPO / "workflow" / "scripts"),
                    video=str(video),
                    obb=str(models / "fly_obb_yolo11n.onnx"),
                    pose=str(models / "fly_pose_crops_yolo11n.onnx"),
                    detections=str(results / "pair" / "detections.parquet"),
                ),
            ],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"},
        ).stdout
    )
    sessions = alone["detect_sessions"] + alone["pose_sessions"]
    stages = alone["detect_stage"] + alone["pose_stage"]
    print("  in one process, on the same frames and crops:")
    for label, seconds in (
        (f"detection sessions ({alone['detect_calls']} runs)", alone["detect_sessions"]),
        (f"pose sessions ({alone['pose_calls']} runs)", alone["pose_sessions"]),
        ("models alone", sessions),
        ("detection and pose stages (library)", stages),
        ("pipeline jobs, export excluded", pipeline),
    ):
        print(f"    {label:<40} {seconds:>7.1f} CPU s {1000 * seconds / n_frames:>7.1f} ms/frame")
    print(
        f"  pipeline / models alone: {pipeline / sessions:.2f} "
        f"(the stages in one process: {stages / sessions:.2f})",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dry-run", action="store_true", help="job counts of a long video")
    parser.add_argument("--overhead", action="store_true", help="chunked vs unsplit CPU")
    parser.add_argument("--rss-scaling", action="store_true", help="peak RSS at two lengths")
    parser.add_argument("--pipeline", action="store_true", help="fly pipeline vs its models")
    parser.add_argument("--track-rss", action="store_true", help="track job with keypoints")
    parser.add_argument("--track-times", type=int, nargs="+", default=[10, 100])
    parser.add_argument("--long-frames", type=int, default=108_000, help="of --dry-run")
    parser.add_argument("--frames", type=int, default=36_000, help="of --overhead")
    parser.add_argument("--chunk", type=int, default=None, help="of --overhead (default: config)")
    parser.add_argument("--rss-frames", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--rss-chunk", type=int, default=5000)
    parser.add_argument("--pipeline-loops", type=int, default=1, help="of --pipeline")
    parser.add_argument("--folder", type=Path, help="work here and keep it (default: a temp dir)")
    parser.add_argument("--tiled", action="store_true", help="of --rss-scaling: see above")
    args = parser.parse_args()
    if not (args.dry_run or args.overhead or args.rss_scaling or args.pipeline or args.track_rss):
        args.dry_run = args.overhead = True
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.folder.resolve() if args.folder else Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        if args.dry_run:
            dry_run_part(folder, args.long_frames)
        if args.overhead:
            overhead_part(folder, args.frames, args.chunk or default_chunk_frames())
        if args.rss_scaling:
            rss_scaling_part(folder, args.rss_frames, args.rss_chunk, args.tiled)
        if args.pipeline:
            pipeline_part(folder, args.pipeline_loops)
        if args.track_rss:
            track_rss_part(folder, args.track_times)


if __name__ == "__main__":
    main()
