"""How long `snakemake -n` takes to build the DAG for a sample sheet of many videos.

Goal (issue 2): under 10 s for 1,000 videos. The videos are links to one small generated clip, so
the measurement is the workflow's parsing, checking and DAG building, not the disk. "cold" is
the first run in a working directory; "warm" runs find the videos' headers in the probe store the
first one left in .snakemake/snakeherd/.

Two reference rows say what is Snakemake's and what is ours: Snakemake's start-up alone (importing
it and its plugins; the SLURM plugin runs `scontrol show config` here), and a bare workflow with
the same jobs (two `script:` jobs per video with logs, benchmarks and resource functions) whose
rules do nothing. Host speed drifts by tens of percent on shared machines: compare rows of one
run, and read medians.

Experiments (issue 20; goal: within 1.5x Snakemake's own time for the same jobs): the same sheet
with `--variants` tracking variants (a grid over tracking.max_gap, detection shared), against a
bare workflow with the same jobs per video: one first job, and each variant's jobs after it; and
a bare workflow with the same jobs and the same files per job (inputs, outputs, a folder), which
is Snakemake's own time for the experiment's jobs as they are.

    .venv/bin/python benchmarks/dry_run.py [--videos 1000] [--repeat 5] [--variants 4]
"""

from __future__ import annotations

import argparse
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "workflow" / "scripts"))


def make_sheet(folder: Path, n_videos: int, frames: str | None) -> Path:
    from snakeherd.synthetic import SceneSpec, simulate, write_video

    clip = folder / "clip.mp4"
    if not clip.exists():
        spec = SceneSpec(n_animals=4, n_frames=100, width=128, height=128)
        write_video(spec, simulate(spec), str(clip))
    videos = folder / "videos"
    videos.mkdir(exist_ok=True)
    lines = ["id\tpath\tframes"]
    for index in range(n_videos):
        link = videos / f"video_{index:05d}.mp4"
        if not link.exists():
            link.symlink_to(clip)
        lines.append(f"video_{index:05d}\tvideos/{link.name}\t{frames or ''}")
    sheet = folder / f"sheet_{'frames' if frames else 'all'}.tsv"
    sheet.write_text("\n".join(lines) + "\n")
    return sheet


def run_snakemake(
    snakefile: Path, folder: Path, config: Path, *args: str
) -> tuple[float, float, str]:
    """`snakemake` with these arguments: wall seconds, CPU seconds of every process, output."""
    command = [sys.executable, "-m", "snakemake", "-s", str(snakefile), "-d", str(folder)]
    command += ["--configfile", str(config), *args]
    cpu_before = children_cpu()
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(result.stdout[-3000:] + result.stderr[-3000:])
    return elapsed, children_cpu() - cpu_before, result.stdout + result.stderr


def dry_run(snakefile: Path, folder: Path, config: Path, *args: str) -> tuple[float, float, str]:
    """`snakemake -n` with these arguments: wall seconds, CPU seconds and what it printed."""
    return run_snakemake(snakefile, folder, config, "-n", *args)


def quiet_dry_run(snakefile: Path, folder: Path, config: Path, *args: str) -> tuple[float, int]:
    """A dry run that prints only its job counts: wall seconds and the number of jobs."""
    elapsed, _, output = dry_run(snakefile, folder, config, "--quiet", "rules", *args)
    total = re.search(r"^total\s+(\d+)", output, re.MULTILINE)
    return elapsed, int(total.group(1)) if total else -1


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def snakeherd_config(folder: Path, sheet: Path) -> Path:
    config = folder / f"config_{sheet.stem}.yaml"
    config.write_text(
        f"experiment: scale\nruntime: onnx_cpu\nsample_sheet: {sheet}\n"
        "detection: {method: background}\n"
    )
    return config


def experiment_config(folder: Path, sheet: Path, n_variants: int) -> Path:
    config = folder / f"config_{sheet.stem}_{n_variants}_variants.yaml"
    gaps = ", ".join(str(3 + gap) for gap in range(n_variants))
    config.write_text(
        f"experiment: scale\nruntime: onnx_cpu\nsample_sheet: {sheet}\n"
        "detection: {method: background}\n"
        f"experiments: {{grid: {{tracking.max_gap: [{gaps}]}}}}\n"
    )
    return config


def bare_workflow(folder: Path, n_videos: int, seconds: int = 1) -> tuple[Path, Path]:
    """A workflow with snakeherd's job shapes and nothing else: what Snakemake itself costs.

    Per video, a `script:` job (like detect_background) and ``seconds`` jobs reading its output
    (like track, one per variant), each with log, benchmark and two resource functions, and one
    `all` job collecting the second jobs' outputs.
    """
    floor = folder / f"bare_{seconds}"
    (floor / "scripts").mkdir(parents=True, exist_ok=True)
    (floor / "scripts" / "job.py").write_text("pass\n")
    (floor / "config.yaml").write_text(f"videos: {n_videos}\n")
    rules = "".join(
        f"""
rule {name}:
    input:
        "{source}",
    output:
        "results/{{video}}/{name}.out",
    log:
        "logs/{{video}}/{name}.log",
    benchmark:
        "benchmarks/{{video}}/{name}.tsv"
    threads: 1
    resources:
        mem_mb=per_video,
        runtime=per_video,
    script:
        "scripts/job.py"
"""
        for name, source in (
            ("first", "clip.mp4"),
            *((f"second_{index}", "results/{video}/first.out") for index in range(seconds)),
        )
    )
    targets = ", ".join(f'"results/{{video}}/second_{index}.out"' for index in range(seconds))
    (floor / "Snakefile").write_text(
        'VIDEOS = [f"video_{index:05d}" for index in range(config["videos"])]\n\n\n'
        "def per_video(wildcards, attempt):\n    return 1000 * attempt\n\n\n"
        f"rule all:\n    input:\n        expand([{targets}], video=VIDEOS),\n" + rules
    )
    (floor / "clip.mp4").touch()
    return floor / "Snakefile", floor / "config.yaml"


def bare_experiment(folder: Path, n_videos: int, n_variants: int) -> tuple[Path, Path]:
    """Empty rules with the files of the experiment's jobs: what Snakemake itself costs for them.

    Per video, the shared detection job (the video in, one table out) and, per variant, the
    jobs of a tracking variant with snakeherd's inputs and outputs (track: 7 outputs; plots: 5
    inputs, 5 outputs; analysis files: 4 inputs, a folder and a file out), each with log,
    benchmark and two resource functions; `all` collects what the variants' `all` does. The
    videos are the sheet's (``folder/videos``), as patterns.
    """
    floor = folder / f"bare_experiment_{n_variants}"
    (floor / "scripts").mkdir(parents=True, exist_ok=True)
    (floor / "scripts" / "job.py").write_text("pass\n")
    (floor / "config.yaml").write_text(f"videos: {n_videos}\n")
    video = f"{folder}/videos/{{video}}.mp4"
    detections = "results/shared/{video}/detections.parquet"

    def rule(name: str, inputs: list[str], outputs: list[str]) -> str:
        return (
            f"\nrule {name}:\n    input:\n"
            + "".join(f'        "{path}",\n' for path in inputs)
            + "    output:\n"
            + "".join(
                f"        {path},\n" if path.startswith("directory(") else f'        "{path}",\n'
                for path in outputs
            )
            + f'    log:\n        "logs/{{video}}/{name}.log",\n'
            + f'    benchmark:\n        "benchmarks/{{video}}/{name}.tsv"\n'
            + "    threads: 1\n    resources:\n        mem_mb=per_video,\n"
            + '        runtime=per_video,\n    script:\n        "scripts/job.py"\n'
        )

    rules = rule("detect", [video], [detections])
    targets = []
    for index in range(n_variants):
        out = f"results/v{index}/{{video}}"
        track = [
            f"{out}/{name}"
            for name in (
                "suspects.parquet",
                "suspects.csv",
                "proofread.pkg.slp",
                "tracks.parquet",
                "tracks.csv",
                "tracks.slp",
                "provenance.json",
            )
        ]
        rules += rule(f"track_{index}", [detections, video], track)
        plots = [f"{out}/plots/{name}" for name in ("a.png", "timeline.png", "c.png", "d.png")]
        plot_inputs = [video, detections, track[3], track[6], track[0]]
        rules += rule(f"plots_{index}", plot_inputs, [*plots, f"{out}/plots/provenance.html"])
        files = [f'directory("{out}/nwb")', f"{out}/tracks.analysis.h5"]
        rules += rule(f"files_{index}", [track[3], track[5], track[6], video], files)
        targets += [track[6], plots[1], f"{out}/nwb", files[1]]
    quoted = ", ".join(f'"{target}"' for target in targets)
    (floor / "Snakefile").write_text(
        'VIDEOS = [f"video_{index:05d}" for index in range(config["videos"])]\n\n\n'
        "def per_video(wildcards, attempt):\n    return 1000 * attempt\n\n\n"
        f"rule all:\n    input:\n        expand([{quoted}], video=VIDEOS),\n" + rules
    )
    return floor / "Snakefile", floor / "config.yaml"


def snakemake_startup() -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import snakemake.cli"], check=True)
    return time.perf_counter() - started


def spread(seconds: list[float]) -> str:
    return (
        f"{statistics.median(seconds):>8.2f}{min(seconds):>8.2f}{max(seconds):>8.2f}"
        f"{len(seconds):>6}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per warm row")
    parser.add_argument("--variants", type=int, default=4, help="0: skip the experiment rows")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        store = folder / ".snakemake" / "snakeherd" / "video-probes.json"
        print(f"snakemake -n (--quiet rules) on a sample sheet of {args.videos} videos")
        print(f"{'':<50}{'median':>8}{'min':>8}{'max':>8}{'runs':>6}  jobs")
        startup = [snakemake_startup() for _ in range(args.repeat)]
        print(f"{'Snakemake start-up (import, plugins)':<50}{spread(startup)}")
        snakefile, config = bare_workflow(folder, args.videos)
        runs = [quiet_dry_run(snakefile, snakefile.parent, config) for _ in range(args.repeat)]
        print(
            f"{'same jobs, empty rules (Snakemake alone)':<50}{spread([s for s, _ in runs])}"
            f"  {runs[0][1]}"
        )
        per_video_jobs = 0
        for label, frames in (
            ("whole videos", None),
            ("frames 0-49 (checked per video)", "0-49"),
        ):
            sheet = make_sheet(folder, args.videos, frames)
            config = snakeherd_config(folder, sheet)
            store.unlink(missing_ok=True)
            cold, jobs = quiet_dry_run(REPO / "Snakefile", folder, config)
            per_video_jobs = per_video_jobs or jobs // args.videos
            print(f"{'snakeherd, ' + label + ', cold':<50}{spread([cold])}  {jobs}")
            # Later runs (and every cluster job) find each video's header in the probe store.
            warm = [
                quiet_dry_run(REPO / "Snakefile", folder, config)[0] for _ in range(args.repeat)
            ]
            print(f"{'snakeherd, ' + label + ', warm':<50}{spread(warm)}  {jobs}")
        if args.variants:
            # Per video: the shared detection job, and each variant's jobs after it.
            seconds = args.variants * (per_video_jobs - 1)
            snakefile, config = bare_workflow(folder, args.videos, seconds)
            runs = [quiet_dry_run(snakefile, snakefile.parent, config) for _ in range(args.repeat)]
            label = f"same jobs as {args.variants} variants, empty rules"
            print(f"{label:<50}{spread([s for s, _ in runs])}  {runs[0][1]}")
            snakefile, config = bare_experiment(folder, args.videos, args.variants)
            runs = [quiet_dry_run(snakefile, snakefile.parent, config) for _ in range(args.repeat)]
            label = "same jobs and files, empty rules"
            print(f"{label:<50}{spread([s for s, _ in runs])}  {runs[0][1]}")
            config = experiment_config(folder, make_sheet(folder, args.videos, None), args.variants)
            runs = [quiet_dry_run(REPO / "Snakefile", folder, config) for _ in range(args.repeat)]
            label = f"snakeherd, {args.variants} variants (grid), warm"
            print(f"{label:<50}{spread([s for s, _ in runs])}  {runs[0][1]}")


if __name__ == "__main__":
    main()
