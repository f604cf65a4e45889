"""Background subtraction on the real two-fly clip, scored against its SLEAP tracks (.slp)."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.support.snakemake import run_snakemake

pytestmark = pytest.mark.workflow


def test_real_flies_tracked_against_slp_ground_truth(shared_data, tmp_path):
    clip = shared_data / "tracking"
    config = {
        "experiment": "flies",
        "runtime": "cpu",
        "videos": [
            {
                "id": "centered_pair",
                "path": str(clip / "centered_pair_low_quality.mp4"),
                "ground_truth": str(clip / "centered_pair_predictions.clean.slp"),
                "frames": "0-599",
            }
        ],
        # Lit flies on a dark floor; the blob centre includes the wings, the ground truth is the
        # mean of the keypoints, so they sit a few pixels apart.
        "detection": {
            "method": "background",
            "background": {"polarity": "bright", "n_animals": 2},
        },
        "evaluation": {"match_distance": 15},
    }
    run = run_snakemake(tmp_path / "work", config)
    assert run.returncode == 0, run.output
    summary = pd.read_csv(tmp_path / "work" / "results" / "flies" / "evaluation_summary.csv")
    row = summary.iloc[0]
    print(summary.to_string())
    assert row["frames"] == 600
    assert row["MOTA"] >= 0.85
    assert row["IDF1"] >= 0.9
    assert row["id_switches"] <= 4
