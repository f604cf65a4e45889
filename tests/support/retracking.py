"""Re-tracking a SLEAP predictions file with our tracker and with sleap-nn's, scored alike.

Shared by tests/sleap_env/test_retracking.py and benchmarks/tracking_throughput.py. sleap-nn runs
only in the SLEAP environment, through sleap_retrack.py beside this file, in a subprocess.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import numpy as np
import pandas as pd

from snakeherd import slp
from snakeherd.evaluation import evaluate_tracks, load_ground_truth
from snakeherd.tracking import TrackerParams, track

SLEAP_RETRACK = Path(__file__).with_name("sleap_retrack.py")


def make_variant(
    source: Path, target: Path, drop: float, jitter: float, seed: int, hide: range | None = None
) -> Path:
    """A copy of ``source`` without tracks, with a fraction ``drop`` of instances removed at
    random and Gaussian noise of ``jitter`` px added to every keypoint (seeded); with ``hide``,
    the first track's instances in those frames removed too (an animal out of sight)."""
    import sleap_io as sio

    labels = sio.load_slp(str(source), open_videos=False)
    hidden = labels.tracks[0] if hide is not None else None
    rng = np.random.default_rng(seed)
    for frame in labels.labeled_frames:
        kept = []
        for instance in frame.instances:
            if hidden is not None and instance.track is hidden and frame.frame_idx in hide:
                continue
            if rng.uniform() < drop:
                continue
            instance.track = None
            if jitter:
                points = instance.numpy()
                noisy = points + rng.normal(0.0, jitter, points.shape)
                for node, xy in zip(instance.skeleton.nodes, noisy, strict=True):
                    if np.isfinite(xy).all():
                        instance[node] = xy
            kept.append(instance)
        frame.instances = kept
    labels.tracks = []
    sio.save_slp(labels, str(target), verbose=False)
    return target


def track_ours(source: Path, params: TrackerParams) -> tuple[pd.DataFrame, float]:
    """Our tracks of a .slp (existing tracks ignored) and the tracking time in seconds."""
    predictions = slp.read_predictions(str(source), "video")
    frames = np.unique(predictions.detections["frame"])
    start = time.perf_counter()
    tracks = track(predictions.detections, predictions.poses, params, frames, predictions.nodes)
    return tracks, time.perf_counter() - start


def track_sleap(
    source: Path, target: Path, sleap_python: Path, max_tracks: int | None = None
) -> tuple[pd.DataFrame, float]:
    """sleap-nn's tracks of a .slp (``Predictor.retrack``) and its tracking time in seconds."""
    command = [str(sleap_python), str(SLEAP_RETRACK), str(source), str(target)]
    if max_tracks is not None:
        command += ["--max-tracks", str(max_tracks), "--candidates", "local_queues"]
    result = subprocess.run(command, capture_output=True, text=True, check=False, timeout=900)
    if result.returncode != 0:
        raise RuntimeError(f"sleap-nn retrack failed:\n{result.stdout}\n{result.stderr}")
    timing = json.loads(result.stdout.strip().splitlines()[-1])
    return load_ground_truth(str(target)), timing["seconds"]


def score(tracks: pd.DataFrame, truth: pd.DataFrame, frames: np.ndarray) -> dict:
    """IDF1, ID switches, MOTA, HOTA of tracks against the original file's tracks (5 px)."""
    row = evaluate_tracks(tracks, truth, frames, match_distance=5.0).iloc[0]
    return {
        "IDF1": float(row["IDF1"]),
        "id_switches": int(row["id_switches"]),
        "MOTA": float(row["MOTA"]),
        "HOTA": float(row["HOTA"]),
        "tracks": int(tracks["track_id"].nunique()),
    }
