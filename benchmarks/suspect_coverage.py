"""How well suspect frames point at the tracks' errors. Prints numbers; asserts nothing.

1. Injected errors in the real 1,100-frame fly tracks (``tracking/centered_pair_predictions
   .clean.slp``): 10 identity swaps, 6 dropped stretches of 1-5 frames and 6 bursts of low
   scores per seed; the share of errors within 5 frames of a suspect stretch, and the share of
   frames flagged (the issue's check; tests/unit/test_suspects.py asserts it on 3 seeds).
2. The tracker's real errors against ground truth: the demo's arenas (a finished demo run's
   results folder, default ``results/demo``) and the two-fly courtship clip tracked here (a
   model's predictions, proofread truth, centres within 40 px): the share of the tracker's ID
   switches and misses (py-motmetrics' events) within 5 frames of a suspect stretch, and the
   share of frames flagged.

    .venv/bin/snakemake --cores all   # the demo, once
    .venv/bin/python benchmarks/suspect_coverage.py [--demo results/demo]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "workflow" / "scripts"))
sys.path.insert(0, str(REPO))

from snakeherd import io, slp  # noqa: E402
from snakeherd.evaluation import frame_errors, load_ground_truth  # noqa: E402
from snakeherd.proofreading.suspects import (  # noqa: E402
    SuspectParams,
    VideoContext,
    body_length,
    find,
    flagged_frames,
)
from snakeherd.tracking import LinkParams, TrackerParams, track  # noqa: E402
from snakeherd.video import FrameSelection  # noqa: E402
from tests.support.data import SHARED_DATA  # noqa: E402
from tests.support.proofreading import (  # noqa: E402
    FLY_TRACKS,
    covered,
    fly_tracks,
    inject_random_errors,
)

TOLERANCE = 5  # frames


def injected(seeds: int = 10) -> None:
    tracks, detections = fly_tracks(SHARED_DATA / FLY_TRACKS)
    context = VideoContext(np.arange(1100), body_length(detections), 2, (384, 384))
    shares, flagged = [], []
    for seed in range(seeds):
        broken, errors = inject_random_errors(tracks, seed)
        suspects = find(broken, context, SuspectParams())
        shares.append(np.mean(covered(errors, suspects, TOLERANCE)))
        flagged.append(len(flagged_frames(suspects)) / 1100)
    clean = len(flagged_frames(find(tracks, context, SuspectParams()))) / 1100
    print(
        f"fly tracks, injected errors ({seeds} seeds x 22): covered {min(shares):.1%} (worst) "
        f"/ {np.mean(shares):.1%} (mean); frames flagged {np.mean(flagged):.1%} (mean), "
        f"{max(flagged):.1%} (most); clean tracks: {clean:.1%} flagged"
    )


def real_errors(
    name: str,
    tracks: pd.DataFrame,
    suspects: pd.DataFrame,
    truth: pd.DataFrame,
    frames: np.ndarray,
    distance: float,
) -> None:
    errors = frame_errors(tracks, truth, frames, distance)
    flagged = flagged_frames(suspects)
    near = np.zeros(len(errors), dtype=bool)
    for start, end in zip(suspects["start_frame"], suspects["end_frame"], strict=True):
        near |= errors["frame"].between(start - TOLERANCE, end + TOLERANCE).to_numpy()
    switches, misses = errors["id_switches"].to_numpy(), errors["misses"].to_numpy()
    print(
        f"{name}: {len(suspects)} stretches, {len(flagged) / len(frames):.1%} of "
        f"{len(frames)} frames flagged; ID switches covered {switches[near].sum()}/"
        f"{switches.sum()} ({switches[near].sum() / max(switches.sum(), 1):.0%}), misses "
        f"covered {misses[near].sum()}/{misses.sum()} "
        f"({misses[near].sum() / max(misses.sum(), 1):.0%})"
    )


def demo(results: Path) -> None:
    for folder in sorted(p for p in results.iterdir() if (p / "suspects.parquet").is_file()):
        truth_path = folder / "synthetic" / "ground_truth.parquet"
        if not truth_path.is_file():
            continue
        tracks = io.read_table(folder / "tracks.parquet", "tracks")
        stage = io.read_metadata(folder / "detections.parquet")["stage"]
        frames = FrameSelection.parse(stage["frame_selection"]).frames()
        suspects = pd.read_parquet(folder / "suspects.parquet")
        real_errors(
            f"demo {folder.name}", tracks, suspects, load_ground_truth(str(truth_path)), frames,
            10.0,
        )  # fmt: skip


def courtship() -> None:
    clip = SHARED_DATA / "tracking" / "sleap_clip"
    predictions = slp.read_predictions(str(clip / "clip.predictions.slp"), "clip")
    frames = np.arange(1500)
    truth = load_ground_truth(str(clip / "clip.slp"))
    context = VideoContext(frames, body_length(predictions.detections), 2, (1024, 1024))
    # The default (whole-video linking) and the online pass alone, which swaps identities.
    for name, params in (
        ("courtship clip", TrackerParams(max_tracks="auto")),
        ("courtship clip, link off", TrackerParams(max_tracks=2, link=LinkParams(enabled=False))),
    ):
        tracks = track(predictions.detections, predictions.poses, params, frames, predictions.nodes)
        suspects = find(tracks, context, SuspectParams(), "clip")
        real_errors(name, tracks, suspects, truth, frames, 40.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--demo", type=Path, default=REPO / "results" / "demo")
    arguments = parser.parse_args()
    injected()
    if arguments.demo.is_dir():
        demo(arguments.demo)
    else:
        print(f"no demo results at {arguments.demo}: run the demo first for its numbers")
    courtship()


if __name__ == "__main__":
    main()
