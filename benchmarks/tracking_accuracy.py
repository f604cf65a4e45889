"""Identities on every real tracking set of the shared data: our tracker and sleap-nn's, with and
without the number of animals. Prints one table; asserts nothing.

Sets: the two-fly courtship clip (``tracking/sleap_clip``: a model's predictions, missing and
misplaced instances, proofread ground truth; scored with centres matched within 40 px) and the
1,100-frame two-fly predictions (``tracking/centered_pair_predictions.clean.slp``, scored
against its own tracks within 5 px) as they are, with 10 % / 30 % of the instances dropped
and keypoints jittered 3 / 6 px, and with one fly out of sight for 200 frames. Ours runs with
``max_tracks`` null (no limit), ``auto`` (the count estimated from the predictions) and the true
count (also without whole-video linking: the online pass with the count); sleap-nn's
``Predictor.retrack`` (in .venv-sleap) without and with ``max_tracks`` (then with
``local_queues``, which it needs).

    .venv/bin/python benchmarks/tracking_accuracy.py [--skip-sleap]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "workflow" / "scripts"))
sys.path.insert(0, str(REPO))

from snakeherd.evaluation import evaluate_tracks, load_ground_truth  # noqa: E402
from snakeherd.tracking import LinkParams, TrackerParams  # noqa: E402
from tests.support.data import SHARED_DATA  # noqa: E402
from tests.support.paths import SLEAP_PYTHON  # noqa: E402
from tests.support.retracking import make_variant, track_ours, track_sleap  # noqa: E402

ANIMALS = 2


def sets(work: Path) -> list[tuple[str, Path, Path, float, int]]:
    """(name, predictions without tracks, ground truth, match distance px, frames)."""
    clip = SHARED_DATA / "tracking" / "sleap_clip"
    fly = SHARED_DATA / "tracking" / "centered_pair_predictions.clean.slp"
    found = [("courtship clip", clip / "clip.predictions.slp", clip / "clip.slp", 40.0, 1500)]
    for name, drop, jitter in (("as is", 0.0, 0.0), ("hard", 0.1, 3.0), ("harder", 0.3, 6.0)):
        stripped = make_variant(fly, work / f"fly_{drop}.slp", drop=drop, jitter=jitter, seed=0)
        found.append((f"1,100-frame flies, {name}", stripped, fly, 5.0, 1100))
    # One fly out of sight for 200 frames (under a shelter), longer than any link reaches.
    hidden = make_variant(fly, work / "fly_hidden.slp", 0.0, 0.0, seed=0, hide=range(300, 500))
    found.append(("flies, one hidden 200 frames", hidden, fly, 5.0, 1100))
    return found


def scored(tracks, truth, frames: int, distance: float) -> str:
    row = evaluate_tracks(tracks, truth, np.arange(frames), match_distance=distance).iloc[0]
    return (
        f"{tracks['track_id'].nunique():>6} {row['IDF1']:>6.3f} {int(row['id_switches']):>8} "
        f"{row['MOTA']:>6.3f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-sleap", action="store_true", help="our tracker only")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="tracking_accuracy_"))
    print(f"{'set':<28} {'tracker':<34} {'tracks':>6} {'IDF1':>6} {'switches':>8} {'MOTA':>6}")
    for name, predictions, truth_file, distance, frames in sets(work):
        truth = load_ground_truth(str(truth_file))
        for max_tracks, linked in ((None, True), ("auto", True), (ANIMALS, True), (ANIMALS, False)):
            params = TrackerParams(max_tracks=max_tracks, link=LinkParams(enabled=linked))
            tracks, _ = track_ours(predictions, params)
            label = f"snakeherd, max_tracks {max_tracks if max_tracks is not None else 'null'}"
            label += "" if linked else ", no link"
            print(f"{name:<28} {label:<34} {scored(tracks, truth, frames, distance)}")
        if args.skip_sleap:
            continue
        for max_tracks in (None, ANIMALS):
            tracks, _ = track_sleap(predictions, work / "sleap.slp", SLEAP_PYTHON, max_tracks)
            label = f"sleap-nn, max_tracks {max_tracks if max_tracks is not None else 'none'}"
            print(f"{name:<28} {label:<34} {scored(tracks, truth, frames, distance)}")


if __name__ == "__main__":
    main()
