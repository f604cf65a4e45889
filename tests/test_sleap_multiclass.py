"""A multi-class (identity) SLEAP model through the workflow: its classes become the tracks.

No multi-class model ships with the data, so ``multiclass_fixture.py`` trains a small
``multi_class_bottomup`` model in the SLEAP venv from the fly clip's two tracked flies (classes
"1" and "2") on frames 0-899. The workflow then runs it on frames it never saw.
"""

from __future__ import annotations

import subprocess

import numpy as np
import pandas as pd
import pytest
from conftest import REPO, run_snakemake

from snakeherd import io

pytestmark = pytest.mark.workflow

FRAMES = "900-999"
CLASSES = {"1", "2"}


@pytest.fixture(scope="module")
def multiclass_model(shared_data, sleap_python, tmp_path_factory):
    folder = tmp_path_factory.mktemp("multiclass") / "fly_identity_bottomup"
    result = subprocess.run(
        [
            str(sleap_python),
            str(REPO / "tests" / "multiclass_fixture.py"),
            str(folder),
            "--shared",
            str(shared_data),
        ],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    print(result.stdout[-500:])
    return folder


@pytest.fixture(scope="module")
def identity_run(multiclass_model, shared_data, sleap_python, tmp_path_factory):
    config = {
        "experiment": "identity",
        "runtime": "cpu",
        "videos": [
            {
                "id": "flies",
                "path": str(shared_data / "tracking" / "centered_pair_low_quality.mp4"),
                "frames": FRAMES,
            }
        ],
        "detection": {"method": "none"},
        "pose": {
            "method": "sleap",
            "models": [str(multiclass_model)],
            "env": str(sleap_python),
            "threads": 2,
        },
        "tracking": {"enabled": True},
    }
    run = run_snakemake(tmp_path_factory.mktemp("identity_run"), config)
    assert run.returncode == 0, run.output
    return run.workdir / "results" / "identity" / "flies"


def test_identity_classes_become_the_tracks(identity_run):
    poses = io.read_table(identity_run / "poses.parquet", "poses")
    tracks = io.read_table(identity_run / "tracks.parquet", "tracks")
    # Every instance of a multi-class model carries one of the model's classes ...
    assert set(poses["identity"]) <= CLASSES and poses["identity"].ne("").all()
    # ... and the tracks are those classes: one track per class, named in the metadata,
    # at most one row per track and frame.
    identities = io.read_metadata(identity_run / "tracks.parquet")["stage"]["identities"]
    assert set(identities.values()) == set(poses["identity"])
    assert tracks["track_id"].nunique() == len(identities)
    observed = tracks[~tracks["interpolated"]]
    assert not observed.duplicated(["frame", "track_id"]).any()
    named = observed.merge(
        poses.drop_duplicates(["frame", "det_id"])[["frame", "det_id", "identity"]],
        on=["frame", "det_id"],
    )
    assert len(named) == len(observed)
    assert (named["track_id"].astype(str).map(identities) == named["identity"]).all()
    # Both flies are found in most of the 100 unseen frames.
    per_frame = poses.drop_duplicates(["frame", "det_id"]).groupby("frame").size()
    print("instances per frame", per_frame.mean())
    assert per_frame.reindex(range(900, 1000), fill_value=0).ge(2).mean() > 0.8


def test_identity_tracks_follow_the_real_flies(identity_run, shared_data):
    """Each track's class names the fly the clip's tracked predictions call by that name."""
    import sleap_io

    truth = sleap_io.load_slp(
        str(shared_data / "tracking" / "centered_pair_predictions.clean.slp"), open_videos=False
    )
    thorax = truth.skeleton.node_names.index("thorax")
    truth_by_frame = {
        frame.frame_idx: [(i.track.name, i.numpy()[thorax]) for i in frame.instances]
        for frame in truth.labeled_frames
        if 900 <= frame.frame_idx <= 999
    }
    identities = io.read_metadata(identity_run / "tracks.parquet")["stage"]["identities"]
    tracks = io.read_table(identity_run / "tracks.parquet", "tracks")
    observed = tracks[~tracks["interpolated"] & tracks["thorax.x"].notna()]
    agree = []
    for frame, track_id, x, y in observed[["frame", "track_id", "thorax.x", "thorax.y"]].to_numpy():
        names, points = zip(*truth_by_frame[int(frame)], strict=True)
        nearest = np.argmin(np.linalg.norm(np.asarray(points) - [x, y], axis=1))
        agree.append(names[nearest] == identities[str(int(track_id))])
    accuracy = float(np.mean(agree))
    print(f"identity accuracy {accuracy:.3f} over {len(agree)} tracked instances")
    assert len(agree) > 150 and accuracy > 0.95


def test_identity_tracks_open_in_sleap_under_their_class_names(identity_run):
    import sleap_io

    identities = io.read_metadata(identity_run / "tracks.parquet")["stage"]["identities"]
    labels = sleap_io.load_slp(str(identity_run / "tracks.slp"), open_videos=False)
    assert sorted(track.name for track in labels.tracks) == sorted(identities.values())
    csv = pd.read_csv(identity_run / "tracks.csv")
    assert set(csv["TrajectoryID"].astype(str)) == set(identities)
