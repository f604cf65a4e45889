"""Long videos in chunks (issue 22): jobs and dry-run time for a 1-hour video, and what chunking
costs on a shorter one.

Part 1: a 108,000-frame video (1 hour at 30 fps: a grey 64x64 clip from FFmpeg, since a dry run
reads only its header) through `snakemake -n` with background detection and tracking, unsplit
and with the default chunk_frames: wall seconds of the dry run and the jobs per rule.

Part 2: a shorter generated video run for real (background detection, then tracking), unsplit
and in chunks: CPU-seconds of the whole run (every job's process, Snakemake's own included) and
per rule from the jobs' benchmark files, with each rule's peak RSS. Goals: the chunked run costs
at most 5 % more CPU than the unsplit one; a chunk job's peak RSS does not grow with the video.

    .venv/bin/python benchmarks/long_video.py [--long-frames 108000] [--frames 2000] \
        [--chunk 500]
"""

from __future__ import annotations

import argparse
import csv
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

from dry_run import run_snakemake  # noqa: E402  (benchmarks/, this script's folder)


def make_video(path: Path, n_frames: int, size: int) -> None:
    from snakeherd.synthetic import SceneSpec, simulate, write_video

    spec = SceneSpec(n_animals=4, n_frames=n_frames, width=size, height=size, seed=3)
    write_video(spec, simulate(spec), str(path))


def make_blank_video(path: Path, n_frames: int, size: int, fps: int = 30) -> None:
    import imageio_ffmpeg

    command = [imageio_ffmpeg.get_ffmpeg_exe(), "-loglevel", "error", "-f", "lavfi"]
    command += ["-i", f"color=c=gray:s={size}x{size}:r={fps}", "-frames:v", str(n_frames)]
    command += ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(path)]
    subprocess.run(command, check=True)


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
    """Per rule (chunk jobs under their rule's name): jobs, CPU-seconds, largest peak RSS."""
    costs: dict[str, list[float]] = defaultdict(lambda: [0, 0.0, 0.0])
    for path in benchmarks.rglob("*.tsv"):
        name = path.name.split(".")[0]
        if path.parent.name == "chunks":
            name += " (chunk)"
        with path.open() as handle:
            row = next(csv.DictReader(handle, delimiter="\t"))
        cost = costs[name]
        cost[0] += 1
        cost[1] += float(row["cpu_time"])
        cost[2] = max(cost[2], float(row["max_rss"]))
    return {name: tuple(cost) for name, cost in sorted(costs.items())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--long-frames", type=int, default=108_000)
    parser.add_argument("--frames", type=int, default=2000)
    parser.add_argument("--chunk", type=int, default=500, help="chunk_frames of part 2")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        long_video = folder / "hour.mp4"
        started = time.perf_counter()
        make_blank_video(long_video, args.long_frames, 64)
        print(f"generated {args.long_frames} frames in {time.perf_counter() - started:.0f} s")
        print(f"\nPart 1: snakemake -n, {args.long_frames} frames")
        for label, chunk_frames in (("unsplit", None), ("default chunk_frames", 18000)):
            config = config_for(f"dry_{chunk_frames}", long_video, chunk_frames)
            snakemake(folder, config, "-n")  # the first run probes the video
            wall, _, output = snakemake(folder, config, "-n")
            counts = job_counts(output)
            shown = ", ".join(f"{name} {n}" for name, n in counts.items() if name != "total")
            print(f"  {label:<22} {wall:6.2f} s, {counts['total']} jobs: {shown}")

        video = folder / "short.mp4"
        make_video(video, args.frames, 128)
        print(f"\nPart 2: {args.frames} frames (128x128, 4 animals) detected and tracked")
        print(f"  {'run':<26}{'wall s':>8}{'CPU s':>8}")
        runs = {}
        for label, chunk_frames in (("unsplit", None), (f"chunks of {args.chunk}", args.chunk)):
            experiment = f"run_{chunk_frames}"
            config = config_for(experiment, video, chunk_frames)
            target = f"results/{experiment}/long/tracks.parquet"
            wall, cpu, _ = snakemake(folder, config, "--cores", "2", target)
            runs[label] = cpu
            print(f"  {label:<26}{wall:>8.1f}{cpu:>8.1f}")
            for rule, (jobs, rule_cpu, rss) in rule_costs(
                folder / "results" / experiment / "benchmarks"
            ).items():
                print(f"    {rule:<30} {jobs:>3} jobs {rule_cpu:>7.1f} CPU s  peak {rss:>5.0f} MB")
        unsplit, chunked = runs.values()
        print(f"  chunked / unsplit CPU-seconds: {chunked / unsplit:.3f}")


if __name__ == "__main__":
    main()
