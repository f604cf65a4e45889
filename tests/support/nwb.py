"""A video's NWB folder checked as its users would: nwbinspector, then movement's default NWB
loader on every file, merged, compared with tracks.parquet."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from snakeherd import io

# movement 0.17 renamed its dimensions to the singular; the test environment pins 0.15 (the last
# release for Python 3.11), whose names are plural.
INDIVIDUALS, KEYPOINTS = "individuals", "keypoints"


def inspector_messages(path: Path, validate: bool = True) -> list:
    """nwbinspector's messages on one file (its default configuration); ``validate``: with
    pynwb's schema validation (about a second a file)."""
    from nwbinspector import inspect_nwbfile

    return list(inspect_nwbfile(nwbfile_path=str(path), skip_validate=not validate))


def critical_messages(folder: Path) -> list[str]:
    """Every CRITICAL (or worse) nwbinspector message on the NWB files of ``folder``. The files
    of a folder share their layout: the first is also validated against the NWB schema."""
    from nwbinspector import Importance

    return [
        f"{path.name}: {message.check_function_name}: {message.message}"
        for number, path in enumerate(sorted(folder.glob("*.nwb")))
        for message in inspector_messages(path, validate=number == 0)
        if message.importance.value >= Importance.CRITICAL.value
    ]


def load_with_movement(folder: Path):
    """Every track's file loaded with movement's default call and merged: one dataset."""
    import xarray as xr
    from movement.io import load_poses

    datasets = [load_poses.from_nwb_file(path) for path in sorted(folder.glob("*.nwb"))]
    return xr.merge(datasets, join="outer", compat="no_conflicts")


def differences_from_tracks(dataset, tracks_path: Path) -> dict:
    """Largest differences between a movement dataset and tracks.parquet: positions (px) and
    confidences, over every track row; also the time of row ``frame`` in the dataset."""
    tracks = io.read_table(tracks_path, "tracks")
    stage = io.read_metadata(tracks_path)["stage"]
    nodes = stage.get("nodes") or []
    identities = {int(k): v for k, v in (stage.get("identities") or {}).items()}
    fps = float(dataset.attrs["fps"])
    position_px, confidence = 0.0, 0.0
    for track_id, rows in tracks.groupby("track_id"):
        name = identities.get(int(track_id), f"track_{int(track_id)}")
        for node in nodes or ["centroid"]:
            columns = (
                ["x", "y", "score"]
                if not nodes
                else [f"{node}.{c}" for c in "xy"] + [f"{node}.score"]
            )
            selection = {INDIVIDUALS: name, KEYPOINTS: node}
            times = rows["frame"].to_numpy() / fps
            got = dataset.position.sel(**selection).sel(time=times, method="nearest").values
            expected = rows[columns[:2]].to_numpy()
            assert (np.isnan(got) == np.isnan(expected)).all(), (name, node)
            position_px = max(position_px, float(np.nanmax(np.abs(got - expected), initial=0)))
            got_score = dataset.confidence.sel(**selection).sel(time=times, method="nearest")
            difference = np.abs(got_score.values - rows[columns[2]].to_numpy())
            confidence = max(confidence, float(np.nanmax(difference, initial=0)))
    return {
        "individuals": sorted(map(str, dataset[INDIVIDUALS].values)),
        "tracks": tracks["track_id"].nunique(),
        "position_px": position_px,
        "confidence": confidence,
        "fps": fps,
    }


def check_video_results(folder: Path) -> dict:
    """The NWB folder of one video's results ``folder``: no critical inspector message, one
    individual per track, equal positions and confidences; returns the numbers."""
    nwb = folder / "nwb"
    assert sorted(nwb.glob("*.nwb")), f"no NWB files in {nwb}"
    assert critical_messages(nwb) == []
    numbers = differences_from_tracks(load_with_movement(nwb), folder / "tracks.parquet")
    assert len(numbers["individuals"]) == numbers["tracks"]
    assert numbers["position_px"] == 0 and numbers["confidence"] == 0, numbers
    return numbers
