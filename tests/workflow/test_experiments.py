"""Experiments in the real workflow: a 2 x 2 grid shares its detection jobs, compares its
variants, records what ran, and reruns exactly what a change touches (dry runs after one real
run), and bad experiments are rejected before any job."""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest
import yaml

from tests.support.configs import yolo_config
from tests.support.paths import REPO
from tests.support.snakemake import run_snakemake, snakemake_command

GRID = {"detection.background.threshold": [25, 60], "tracking.max_gap": [1, 10]}
VARIANTS = [
    "threshold-25_max_gap-1",
    "threshold-25_max_gap-10",
    "threshold-60_max_gap-1",
    "threshold-60_max_gap-10",
]
JOB = re.compile(r"^(?:local)?rule (\S+):$")
WILDCARD_VIDEO = re.compile(r"^\s+wildcards:.*\bvideo=([^,\s]+)")


def small_experiment() -> dict:
    return {
        "experiment": "sweep",
        "runtime": "cpu",
        "videos": [{"id": "arena", "synthetic": {"n_animals": 4, "n_frames": 40, "seed": 3}}],
        "detection": {"method": "background", "background": {"n_animals": 4}},
        "pose": {"method": "none"},
        "tracking": {"max_tracks": 4, "max_distance": 40, "max_gap": 5, "link": {"enabled": False}},
        "evaluation": {"match_distance": 10},
        "outputs": {
            "overlay": {"enabled": False},
            "plots": False,
            "nwb": False,
            "analysis_h5": False,
        },
        "experiments": {"grid": GRID},
    }


def base_rule(job: str, variants: list[str]) -> str:
    """The rule of a job of a variant's module (``v_<variant>_<rule>``)."""
    for variant in sorted(variants, key=len, reverse=True):
        prefix = "v_" + re.sub(r"\W", "_", variant) + "_"
        if job.startswith(prefix):
            return job[len(prefix) :]
    return job


def dry_run_jobs(
    workdir: Path, config: dict, name: str, variants: list[str] = VARIANTS
) -> list[tuple[str, str | None]]:
    """The jobs a dry run lists, as (rule without its module prefix, video or None)."""
    command = snakemake_command(workdir, config, "-n", "--cores", "1", config_name=name)
    result = subprocess.run(command, cwd=workdir, capture_output=True, text=True, timeout=300)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    jobs = []
    for line in output.splitlines():
        if match := JOB.match(line):
            jobs.append([base_rule(match.group(1), variants), None])
        elif jobs and (match := WILDCARD_VIDEO.match(line)):
            jobs[-1][1] = match.group(1)
    return [tuple(job) for job in jobs]


def counts(jobs) -> Counter:
    return Counter(rule for rule, _ in jobs)


@pytest.fixture(scope="module")
def experiment(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("experiment")
    config = small_experiment()
    run = run_snakemake(workdir, config)
    assert run.returncode == 0, run.output
    return workdir, config


def test_the_issue_grid_on_the_demo_runs_two_detection_jobs_per_video(tmp_path):
    demo = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    demo["experiments"] = {
        "grid": {"detection.background.threshold": [25, 30], "tracking.max_gap": [3, 10]}
    }
    names = [f"threshold-{t}_max_gap-{g}" for t in (25, 30) for g in (3, 10)]
    jobs = dry_run_jobs(tmp_path, demo, "demo_grid.yaml", names)
    videos = [video["id"] for video in demo["videos"]]
    per_video = Counter(video for rule, video in jobs if rule == "detect_background")
    assert per_video == dict.fromkeys(videos, 2)
    assert counts(jobs)["synthetic_video"] == len(videos)
    assert counts(jobs)["track"] == 4 * len(videos)
    assert counts(jobs)["comparison"] == 1


def test_a_runtime_sweep_detects_once_per_runtime_and_exports_once(tmp_path, shared_data):
    """onnx_cpu and tract run the same exported .onnx: one export job serves both."""
    config = yolo_config(shared_data, shared_data / "yolo", "cpu", "900-999", "runtimes")
    config["pose"] = {"method": "none"}
    config["experiments"] = {"grid": {"runtime": ["cpu", "onnx_cpu", "tract"]}}
    names = ["runtime-cpu", "runtime-onnx_cpu", "runtime-tract"]
    jobs = counts(dry_run_jobs(tmp_path, config, "runtimes.yaml", names))
    assert jobs["detect_yolo_obb"] == 3
    assert jobs["export_yolo_obb"] == 1
    assert jobs["track"] == 3


def test_the_comparison_has_every_variant_and_their_scores_differ_with_detection(experiment):
    workdir, _ = experiment
    table = pd.read_csv(workdir / "results/sweep/comparison.csv")
    assert table.columns[0] == "variant"
    assert sorted(set(table["variant"])) == VARIANTS
    overall = table[table["video"] == "ALL"].set_index("variant")
    assert len(overall) == 4
    assert set(table["video"]) == {"arena", "ALL"}
    quality = ("tracks", "fragments", "suspect frames")  # proofreading is on by default
    for column in ("MOTA", "IDF1", "HOTA", "id_switches", *quality, "frames/s"):
        assert overall[column].notna().all(), column
    assert (
        overall.loc["threshold-25_max_gap-1", "MOTA"]
        != overall.loc["threshold-60_max_gap-1", "MOTA"]
    )
    assert (overall["detect CPU seconds"] > 0).all()
    # Each variant's boxes against the first variant's: the same detections where they share them.
    per_video = table[table["video"] == "arena"].set_index("variant")
    assert per_video.loc["threshold-25_max_gap-10", "boxes vs first: max offset (px)"] == 0
    assert per_video.loc["threshold-25_max_gap-10", "boxes vs first: unmatched"] == 0
    assert per_video.loc["threshold-60_max_gap-1", "boxes vs first: mean offset (px)"] >= 0
    assert overall["best at"].fillna("").str.contains(r"\bIDF1\b").any()
    assert (workdir / "results/sweep/comparison.parquet").is_file()
    assert (workdir / "results/sweep/comparison.png").stat().st_size > 0


def test_variants_share_their_detections_and_the_record_names_what_ran(experiment):
    workdir, _ = experiment
    results = workdir / "results/sweep"
    upstream = sorted(results.glob("shared/upstream-*/arena/detections.parquet"))
    assert len(upstream) == 2
    assert (results / "shared/arena/synthetic/video.mp4").is_file()
    for variant in VARIANTS:
        assert (results / variant / "arena/tracks.parquet").is_file()
        assert not (results / variant / "arena/detections.parquet").exists()
    # Each variant's provenance records its own effective config.
    provenance = json.loads((results / "threshold-60_max_gap-10/arena/provenance.json").read_text())
    assert provenance["config"]["tracking"]["max_gap"] == 10
    assert provenance["config"]["detection"]["background"]["threshold"] == 60
    assert "experiments" not in provenance["config"]
    record = yaml.safe_load((results / "experiment.yaml").read_text())
    assert [variant["name"] for variant in record["variants"]] == VARIANTS
    assert len({variant["settings_hash"] for variant in record["variants"]}) == 4
    assert len({variant["upstream_key"] for variant in record["variants"]}) == 2
    assert record["workflow"]["commit"]
    assert record["config"]["experiments"]["grid"] == GRID


def test_an_unchanged_experiment_has_nothing_to_do(experiment):
    workdir, config = experiment
    assert dry_run_jobs(workdir, config, "same.yaml") == []


def test_a_tracking_change_reruns_tracking_and_after_only(experiment):
    workdir, config = experiment
    changed = copy.deepcopy(config)
    changed["tracking"]["max_distance"] = 30
    jobs = counts(dry_run_jobs(workdir, changed, "tracking.yaml"))
    assert jobs == {
        "track": 4,
        "evaluate": 4,
        "evaluation_summary": 4,
        "batch_summary": 4,
        "comparison": 1,
        "experiment_record": 1,
        "all": 1,
    }


def test_a_detection_change_reruns_detection_and_after_but_not_the_videos(experiment):
    workdir, config = experiment
    changed = copy.deepcopy(config)
    changed["detection"]["background"]["min_area"] = 20
    jobs = counts(dry_run_jobs(workdir, changed, "detection.yaml"))
    assert jobs["detect_background"] == 2
    assert jobs["track"] == 4
    assert "synthetic_video" not in jobs


def test_a_new_video_adds_only_its_own_jobs(experiment):
    workdir, config = experiment
    changed = copy.deepcopy(config)
    changed["videos"].append(
        {"id": "second", "synthetic": {"n_animals": 4, "n_frames": 40, "seed": 4}}
    )
    jobs = dry_run_jobs(workdir, changed, "videos.yaml")
    per_video = {(rule, video) for rule, video in jobs if video is not None}
    assert {video for _, video in per_video} == {"second"}
    assert counts(jobs)["synthetic_video"] == 1
    assert counts(jobs)["detect_background"] == 2
    assert counts(jobs)["track"] == 4


def test_a_changed_input_file_reruns_the_stages_that_read_it(experiment):
    """Snakemake's input trigger, as for a changed model file: the video's bytes change."""
    workdir, config = experiment
    video = workdir / "results/sweep/shared/arena/synthetic/video.mp4"
    before, content = video.stat(), video.read_bytes()
    video.write_bytes(content + b"\0")
    try:
        jobs = counts(dry_run_jobs(workdir, config, "changed.yaml"))
    finally:
        video.write_bytes(content)
        os.utime(video, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert jobs["detect_background"] == 2
    assert jobs["track"] == 4
    assert "synthetic_video" not in jobs


@pytest.mark.parametrize(
    ("experiments", "message"),
    [
        (
            # The same once the schema's defaults are filled in (tracking.max_distance: 40).
            {"variants": {"a": {"tracking.max_gap": 5}, "b": {"tracking.max_distance": 40}}},
            "the variants 'a' and 'b' are the same after their overrides",
        ),
    ],
)
def test_a_bad_experiment_is_rejected_before_any_job(tmp_path, experiments, message):
    config = small_experiment()
    config["experiments"] = experiments
    run = run_snakemake(tmp_path, config, "-n")
    assert run.returncode != 0
    assert message in run.stderr, run.stderr
    assert "Traceback" not in run.output
    assert not (tmp_path / "results").exists()
