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
import tempfile
from pathlib import Path

from dry_run import bare_workflow, dry_run, make_sheet, quiet_dry_run, snakeherd_config, spread

REPO = Path(__file__).resolve().parents[1]

GROUPINGS = {
    # An assignment naming no rule of the workflow replaces the profile's `groups:` list.
    "none (one job per rule)": ["--groups", "ungrouped=none"],
    "profile (one job per video)": [],
    "10 videos per group job": ["--group-components", "video=10"],
}


PROFILE = ("--profile", str(REPO / "profiles" / "slurm"))


def submissions(listing: str) -> int:
    """SLURM jobs in a dry run's job listing: group jobs plus ungrouped jobs.

    Jobs inside a group are listed indented under their group's header; `rule all` only collects
    the targets and runs on the submitting node.
    """
    groups = len(re.findall(r"^\[.*\] Group job ", listing, re.MULTILINE))
    ungrouped = [
        name for name in re.findall(r"^rule (\w+):$", listing, re.MULTILINE) if name != "all"
    ]
    return groups + len(ungrouped)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per warm row")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        sheet = make_sheet(folder, args.videos, None)
        snakeherd = (REPO / "Snakefile", folder, snakeherd_config(folder, sheet), *PROFILE)
        print(f"snakemake -n --profile profiles/slurm, sample sheet of {args.videos} videos")
        print("DAG build (quiet dry runs, wall seconds; goal: < 10 s):")
        print(f"{'':<44}{'median':>8}{'min':>8}{'max':>8}{'runs':>6}  jobs")
        snakefile, config = bare_workflow(folder, args.videos)
        # Grouped per video like the profile groups snakeherd's rules.
        bare = (
            snakefile,
            snakefile.parent,
            config,
            *PROFILE,
            "--groups",
            "first=video",
            "second=video",
        )
        runs = [quiet_dry_run(*bare)[0] for _ in range(args.repeat)]
        print(f"{'same jobs and groups, empty rules (Snakemake)':<44}{spread(runs)}")
        # The first run probes every video; later ones read the probe store it left.
        elapsed, jobs = quiet_dry_run(*snakeherd)
        print(f"{'snakeherd, cold':<44}{spread([elapsed])}  {jobs}")
        runs = [quiet_dry_run(*snakeherd)[0] for _ in range(args.repeat)]
        print(f"{'snakeherd, warm':<44}{spread(runs)}  {jobs}")
        print()
        print(f"{'grouping':<30}{'SLURM jobs':>11}{'per video':>11}{'wall s':>9}{'CPU s':>8}")
        for label, extra in GROUPINGS.items():
            elapsed, cpu, listing = dry_run(*snakeherd, *extra)
            count = submissions(listing)
            print(f"{label:<30}{count:>11}{count / args.videos:>11.2f}{elapsed:>9.2f}{cpu:>8.2f}")
        print("(these dry runs print every job, which the quiet one above does not)")


if __name__ == "__main__":
    main()
