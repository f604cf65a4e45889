"""How long `snakemake -n` takes to build the DAG for a sample sheet of many videos.

Goal (issue 2): under 10 s for 1,000 videos. The videos are links to one small generated clip, so
the measurement is the workflow's parsing, checking and DAG building, not the disk. "cold" is
the first run in a working directory; "warm" runs (best of --repeat) find the videos' headers
in the probe store the first one left in .snakemake/snakeherd/.

    .venv/bin/python benchmarks/dry_run.py [--videos 1000]
"""

from __future__ import annotations

import argparse
import re
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


def dry_run(folder: Path, sheet: Path) -> tuple[float, int]:
    config = folder / "config.yaml"
    config.write_text(
        f"experiment: scale\nruntime: onnx_cpu\nsample_sheet: {sheet}\n"
        "detection: {method: background}\n"
    )
    started = time.perf_counter()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "snakemake",
            "-s",
            str(REPO / "Snakefile"),
            "-d",
            str(folder),
            "--configfile",
            str(config),
            "-n",
            "--quiet",
            "rules",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(result.stdout + result.stderr)
    total = re.search(r"^total\s+(\d+)", result.stdout + result.stderr, re.MULTILINE)
    return elapsed, int(total.group(1)) if total else -1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3, help="warm dry runs per row (best kept)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        store = folder / ".snakemake" / "snakeherd" / "video-probes.json"
        print(f"snakemake -n on a sample sheet of {args.videos} videos")
        print(f"{'frames column':<28}{'probe store':<13}{'seconds':>10}{'jobs':>8}")
        for label, frames in (
            ("empty (whole videos)", None),
            ("'0-49' (each video probed)", "0-49"),
        ):
            sheet = make_sheet(folder, args.videos, frames)
            store.unlink(missing_ok=True)
            elapsed, jobs = dry_run(folder, sheet)
            print(f"{label:<28}{'cold':<13}{elapsed:>10.2f}{jobs:>8}")
            # Later runs (and every cluster job) find each video's header in the probe store.
            elapsed = min(dry_run(folder, sheet)[0] for _ in range(args.repeat))
            print(f"{label:<28}{'warm':<13}{elapsed:>10.2f}{jobs:>8}")


if __name__ == "__main__":
    main()
