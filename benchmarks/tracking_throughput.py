"""Tracker throughput and a head-to-head with sleap-nn's tracker. Prints tables; asserts nothing.

1. Throughput in instance-frames/s (instances tracked per second) for 2, 10 and 50 simulated
   animals over 10,000 frames (the synthetic scene's walking, pausing, crossing animals; arena
   area grows with the number of animals), for the online tracker alone and for the whole
   pipeline with its defaults (animal count estimated, online pass, whole-video linking,
   interpolation, heading). Goal: ≥ 20,000 at 10 animals.
2. Linearity: 10 animals over 2,500, 5,000 and 10,000 frames (seconds per 1,000 frames).
3. Ours vs sleap-nn (``Predictor.retrack`` in .venv-sleap, via tests/support/sleap_retrack.py) on
   the same input: the two-fly SLEAP predictions (1,100 frames, 24 keypoints), as they are and
   with 10 % / 30 % of instances dropped and keypoints jittered 3 / 6 px; time and scores.

    .venv/bin/python benchmarks/tracking_throughput.py [--frames 10000] [--animals 2 10 50]
        [--skip-sleap]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "workflow" / "scripts"))
sys.path.insert(0, str(REPO))

from snakeherd.evaluation import evaluate_tracks, load_ground_truth  # noqa: E402
from snakeherd.synthetic import SceneSpec, simulate  # noqa: E402
from snakeherd.tracking import TrackerParams, track  # noqa: E402
from snakeherd.tracking.instances import from_tables  # noqa: E402
from snakeherd.tracking.online import link  # noqa: E402
from tests.support.data import SHARED_DATA  # noqa: E402
from tests.support.paths import SLEAP_PYTHON  # noqa: E402


def simulated(n_animals: int, n_frames: int, seed: int = 0):
    """Detections (centre noise 1 px) and truth for a scene with room for each animal."""
    side = int(np.sqrt(n_animals * 20000))
    spec = SceneSpec(n_animals=n_animals, n_frames=n_frames, width=side, height=side, seed=seed)
    truth = simulate(spec)
    rng = np.random.default_rng(seed)
    detections = pd.DataFrame(
        {
            "frame": truth["frame"],
            "det_id": truth["track_id"],
            "x": truth["x"] + rng.normal(0, 1.0, len(truth)),
            "y": truth["y"] + rng.normal(0, 1.0, len(truth)),
            "w": truth["length"],
            "h": truth["width"],
            "angle": np.mod(truth["angle"] + rng.normal(0, 0.05, len(truth)), np.pi),
            "score": 1.0,
        }
    )
    return detections, truth


def throughput(animals: list[int], n_frames: int) -> pd.DataFrame:
    rows = []
    for n in animals:
        detections, truth = simulated(n, n_frames)
        instances = from_tables(detections)
        params = TrackerParams()
        start = time.perf_counter()
        link(instances, params)
        online = time.perf_counter() - start
        start = time.perf_counter()
        tracks = track(detections, None, params, frames=np.arange(n_frames))
        whole = time.perf_counter() - start
        metrics = evaluate_tracks(tracks, truth, np.arange(n_frames), 10.0).iloc[0]
        rows.append(
            {
                "animals": n,
                "frames": n_frames,
                "instances": len(detections),
                "online_inst_per_s": len(detections) / online,
                "pipeline_inst_per_s": len(detections) / whole,
                "pipeline_s": whole,
                "IDF1": metrics["IDF1"],
                "id_switches": int(metrics["id_switches"]),
            }
        )
        print(pd.DataFrame(rows[-1:]).to_string(index=False, header=len(rows) == 1), flush=True)
    return pd.DataFrame(rows)


def linearity(n_animals: int, lengths: list[int]) -> pd.DataFrame:
    detections, _ = simulated(n_animals, max(lengths))
    rows = []
    for n_frames in lengths:
        subset = detections[detections["frame"] < n_frames]
        start = time.perf_counter()
        track(subset, None, TrackerParams(), frames=np.arange(n_frames))
        seconds = time.perf_counter() - start
        rows.append(
            {"frames": n_frames, "seconds": seconds, "s_per_1000_frames": 1000 * seconds / n_frames}
        )
    return pd.DataFrame(rows)


def versus_sleap() -> pd.DataFrame:
    from tests.support.retracking import make_variant, score, track_ours, track_sleap

    source = SHARED_DATA / "tracking" / "centered_pair_predictions.clean.slp"
    truth = load_ground_truth(str(source))
    frames = np.arange(1100)
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        for name, drop, jitter in (("as-is", 0, 0), ("hard", 0.1, 3.0), ("harder", 0.3, 6.0)):
            stripped = make_variant(source, folder / f"{name}.slp", drop, jitter, seed=0)
            for max_tracks in (None, 2):
                ours, ours_s = track_ours(stripped, TrackerParams(max_tracks=max_tracks))
                raw, _ = track_ours(
                    stripped, TrackerParams(max_tracks=max_tracks, interpolate_max_gap=0)
                )
                theirs, theirs_s = track_sleap(
                    stripped, folder / "sleap.slp", SLEAP_PYTHON, max_tracks
                )
                for who, tracks, seconds in (
                    ("ours", ours, ours_s),
                    ("ours, no interpolation", raw, None),
                    ("sleap-nn", theirs, theirs_s),
                ):
                    rows.append(
                        {
                            "input": name,
                            "max_tracks": max_tracks,
                            "tracker": who,
                            **score(tracks, truth, frames),
                            "seconds": seconds,
                        }
                    )
                print(pd.DataFrame(rows[-3:]).to_string(index=False), flush=True)
    return pd.DataFrame(rows)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=10000)
    parser.add_argument("--animals", type=int, nargs="+", default=[2, 10, 50])
    parser.add_argument("--skip-sleap", action="store_true")
    args = parser.parse_args()
    pd.set_option("display.width", 200)
    pd.set_option("display.float_format", lambda v: f"{v:.3f}" if abs(v) < 100 else f"{v:.0f}")

    print(f"== Throughput, {args.frames} frames (instance-frames/s) ==")
    print(throughput(args.animals, args.frames).to_string(index=False))
    lengths = [args.frames // 4, args.frames // 2, args.frames]
    print("\n== Linearity, 10 animals ==")
    print(linearity(10, lengths).to_string(index=False))
    if not args.skip_sleap:
        if not SLEAP_PYTHON.exists():
            print(f"\n{SLEAP_PYTHON} not found: `make sleap-env` first (or --skip-sleap)")
            return
        print("\n== Ours vs sleap-nn on the two-fly predictions (1,100 frames) ==")
        print(versus_sleap().to_string(index=False))


if __name__ == "__main__":
    main()
