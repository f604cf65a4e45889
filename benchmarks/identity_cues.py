"""How well each identity cue tells the two flies of the shared courtship clip apart.

Issue 16 asks for identity cues beyond motion where they help. This measures, on the SLEAP
model's own predictions (2 nodes: head, thorax) matched to the proofread ground truth's identity
within 40 px, how well each cue alone separates the female from the male: the area under the ROC
curve (0.5: no better than chance, 1.0: always right), for

* body length (head-thorax distance), the size cue the linker uses;
* an appearance cue from the frames: the grey level mean and spread, and an 8-bin histogram, of a
  17 x 17 px patch at the instance's centre (the histogram's AUC is that of a logistic model's
  cross-validated score).

    .venv/bin/python benchmarks/identity_cues.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import sleap_io as sio
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import cross_val_predict

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.support.data import SHARED_DATA  # noqa: E402

CLIP = SHARED_DATA / "tracking" / "sleap_clip"
MATCH_PX = 40.0
PATCH_RADIUS = 8


def identity_of_predictions() -> dict[int, list[tuple[np.ndarray, int]]]:
    """Per frame: (predicted points, ground-truth track index) of every matched prediction."""
    truth = sio.load_slp(str(CLIP / "clip.slp"))
    predicted = sio.load_slp(str(CLIP / "clip.predictions.slp"))
    centres = {}
    for frame in truth.labeled_frames:
        for instance in frame.instances:
            if instance.track is not None:
                points = instance.numpy()
                centre = np.nanmean(points, axis=0)
                centres.setdefault(frame.frame_idx, []).append(
                    (centre, truth.tracks.index(instance.track))
                )
    matched = {}
    for frame in predicted.labeled_frames:
        for instance in frame.instances:
            points = instance.numpy()
            if np.isnan(points).any():
                continue
            centre = points.mean(axis=0)
            candidates = centres.get(frame.frame_idx, [])
            distances = [np.hypot(*(centre - other)) for other, _ in candidates]
            if distances and min(distances) <= MATCH_PX:
                identity = candidates[int(np.argmin(distances))][1]
                matched.setdefault(frame.frame_idx, []).append((points, identity))
    return matched


def main() -> None:
    matched = identity_of_predictions()
    rows = []
    for index, frame in enumerate(iio.imiter(CLIP / "clip.mp4")):
        if index not in matched:
            continue
        grey = frame.mean(axis=2) if frame.ndim == 3 else frame.astype(float)
        for points, identity in matched[index]:
            x, y = points.mean(axis=0).astype(int)
            patch = grey[
                max(0, y - PATCH_RADIUS) : y + PATCH_RADIUS + 1,
                max(0, x - PATCH_RADIUS) : x + PATCH_RADIUS + 1,
            ]
            histogram = np.histogram(patch, bins=8, range=(0, 256))[0] / patch.size
            length = float(np.hypot(*(points[0] - points[1])))
            rows.append((identity, length, patch.mean(), patch.std(), *histogram))
    table = np.array(rows)
    identity = table[:, 0]
    print(f"{len(table)} predicted instances matched to the 2 flies")
    print(f"{'cue':<34} {'AUC':>6}")
    for name, column in (
        ("body length (head-thorax)", 1),
        ("patch grey mean", 2),
        ("patch grey spread", 3),
    ):
        auc = roc_auc_score(identity, table[:, column])
        print(f"{name:<34} {max(auc, 1 - auc):>6.3f}")
    scores = cross_val_predict(
        LogisticRegression(max_iter=1000), table[:, 4:], identity, cv=5, method="decision_function"
    )
    print(f"{'patch histogram (logistic, 5-fold)':<34} {roc_auc_score(identity, scores):>6.3f}")


if __name__ == "__main__":
    main()
