"""`snakemake -n --profile profiles/slurm` on a sample sheet of many videos: how long the DAG takes
to build and how many SLURM jobs the run would submit, without grouping, with the profile's
grouping (one job per video), and with 10 videos per group job.

Goal (issue 6): DAG build under 10 s for 1,000 videos. The videos are links to one small generated
clip (see dry_run.py), so the measurement is parsing, checking, sizing each job's resources
(which probes each video's header) and building the DAG. No cluster is needed: dry runs submit
nothing.

    .venv/bin/python benchmarks/slurm_dry_run.py [--videos 1000]
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from dry_run import make_sheet

REPO = Path(__file__).resolve().parents[1]

GROUPINGS = {
    # An assignment naming no rule of the workflow replaces the profile's `groups:` list.
    "none (one job per rule)": ["--groups", "ungrouped=none"],
    "profile (one job per video)": [],
    "10 videos per group job": ["--group-components", "video=10"],
}


def snakemake(folder: Path, sheet: Path, *args: str) -> tuple[float, str]:
    config = folder / "config.yaml"
    config.write_text(
        f"experiment: scale\nruntime: onnx_cpu\nsample_sheet: {sheet}\n"
        "detection: {method: background}\n"
    )
    command = [
        sys.executable,
        "-m",
        "snakemake",
        "-s",
        str(REPO / "Snakefile"),
        "-d",
        str(folder),
        "--configfile",
        str(config),
        "--profile",
        str(REPO / "profiles" / "slurm"),
        "-n",
        *args,
    ]
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(result.stdout[-3000:] + result.stderr[-3000:])
    return elapsed, result.stdout + result.stderr


def submissions(listing: str) -> int:
    """SLURM jobs in a dry run's job listing: group jobs plus ungrouped non-local jobs."""
    groups = len(re.findall(r"^\[.*\] Group job ", listing, re.MULTILINE))
    # Jobs of a group are listed under their group with the same "rule" header, so count the
    # rule headers outside groups: a group's listing ends at the next timestamped header.
    ungrouped = 0
    in_group = False
    for line in listing.splitlines():
        if re.match(r"^\[.*\] Group job ", line):
            in_group = True
        elif re.match(r"^\[.*\]$", line):
            in_group = False
        elif re.match(r"^rule \w+:$", line) and not in_group:
            ungrouped += 1
    return groups + ungrouped


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        sheet = make_sheet(folder, args.videos, None)
        elapsed, summary = snakemake(folder, sheet, "--quiet", "rules")
        total = re.search(r"^total\s+(\d+)", summary, re.MULTILINE)
        jobs = int(total.group(1)) if total else -1
        print(f"snakemake -n --profile profiles/slurm, sample sheet of {args.videos} videos")
        print(f"DAG build (quiet dry run): {elapsed:.2f} s, {jobs} jobs (goal: < 10 s)")
        print()
        print(f"{'grouping':<30}{'SLURM jobs':>12}{'per video':>11}{'dry run s':>11}")
        for label, extra in GROUPINGS.items():
            elapsed, listing = snakemake(folder, sheet, *extra)
            count = submissions(listing)
            print(f"{label:<30}{count:>12}{count / args.videos:>11.2f}{elapsed:>11.2f}")
        print("(dry run s here includes printing every job; the summary job adds 1)")


if __name__ == "__main__":
    main()
