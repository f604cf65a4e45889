"""Corrupt videos among good ones: with --keep-going the good ones finish, the bad ones fail
clearly and leave no partial outputs."""

from __future__ import annotations

import json

import pytest

from snakeherd.synthetic import SceneSpec, simulate, write_video
from tests.support.configs import good_and_bad_videos_config
from tests.support.snakemake import run_snakemake

pytestmark = pytest.mark.workflow


def test_keep_going_past_corrupt_videos(small_videos, tmp_path):
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(b"\x00\x01not a video" * 500)
    spec = SceneSpec(n_animals=3, n_frames=60, width=128, height=128, seed=9)
    whole = tmp_path / "whole.avi"
    write_video(spec, simulate(spec), str(whole), fourcc="MJPG")
    truncated = tmp_path / "truncated.avi"
    truncated.write_bytes(whole.read_bytes()[: whole.stat().st_size // 3])
    config = good_and_bad_videos_config(
        "mixed", small_videos, {"garbage": garbage, "truncated": truncated}
    )
    run = run_snakemake(tmp_path / "work", config, "--keep-going")
    assert run.returncode != 0
    results = tmp_path / "work" / "results" / "mixed"
    for good in ("good_a", "good_b"):
        assert (results / good / "provenance.json").is_file(), run.output
        assert (results / good / "tracks.csv").is_file()
    assert (results / "evaluation_summary.csv").is_file()

    assert f"cannot open video {garbage}" in run.stderr
    assert f"video {truncated}: frame" in run.stderr and "cannot be decoded" in run.stderr
    assert run.stderr.count("Fix:") >= 2
    for bad in ("garbage", "truncated"):
        leftovers = (
            [p for p in (results / bad).rglob("*") if p.is_file()]
            if (results / bad).exists()
            else []
        )
        assert leftovers == [], leftovers
        log = (results / "logs" / bad / "detect_background.log").read_text()
        assert "Fix:" in log
    # The probe store in the working directory knows the readable videos, and only those.
    store = tmp_path / "work" / ".snakemake" / "snakeherd" / "video-probes.json"
    probed = {record["path"] for record in json.loads(store.read_text())["probes"]}
    assert probed == {str(small_videos["small_a"]), str(small_videos["small_b"]), str(truncated)}
