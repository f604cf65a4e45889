"""What the jobs would ask SLURM for, read from real dry runs with profiles/slurm: GPUs only for
model jobs on GPU runtimes, CPU work grouped per video, requests that follow the video."""

from __future__ import annotations

import re

import pytest

from tests.support.paths import REPO
from tests.support.snakemake import run_snakemake

pytestmark = pytest.mark.workflow


def dry_run_jobs(workdir, config, *args) -> tuple[dict[str, list[dict]], str]:
    """Each job's resources by rule, from `snakemake -n --profile profiles/slurm`, in the order
    of their wildcards (Snakemake lists ready jobs in no fixed order); ``_wildcards`` holds them."""
    run = run_snakemake(workdir, config, "-n", "--profile", str(REPO / "profiles" / "slurm"), *args)
    assert run.returncode == 0, run.output
    jobs: dict[str, list[dict]] = {}
    job = None
    for line in run.stdout.splitlines():
        header = re.match(r"^\s*(?:local)?rule (\w+):$", line)
        if header:
            job = {"_wildcards": ""}
            jobs.setdefault(header.group(1), []).append(job)
        wildcards = re.match(r"^\s*wildcards: (.*)$", line)
        if wildcards and job is not None:
            job["_wildcards"] = wildcards.group(1)
        found = re.match(r"^\s*resources: (.*)$", line)
        if found and job is not None:
            job.update(dict(item.split("=", 1) for item in found.group(1).split(", ")))
            job = None
    for rule_jobs in jobs.values():
        rule_jobs.sort(key=lambda values: values["_wildcards"])
    return jobs, run.stdout


def yolo_config(shared_data, models, runtime):
    clip = shared_data / "tracking" / "centered_pair_low_quality.mp4"
    return {
        "experiment": "cluster",
        "runtime": runtime,
        "videos": [
            {"id": "short", "path": str(clip), "frames": "0-99"},
            {"id": "long", "path": str(clip)},
        ],
        "detection": {"method": "yolo_obb", "model": str(models / "fly_obb_yolo11n.pt")},
        "pose": {"method": "yolo_pose", "models": [str(models / "fly_pose_crops_yolo11n.pt")]},
    }


@pytest.mark.parametrize("runtime", ["onnx_cuda", "tensorrt"])
def test_only_model_jobs_on_gpu_runtimes_ask_for_a_gpu(shared_data, yolo_models, tmp_path, runtime):
    config = yolo_config(shared_data, yolo_models, runtime)
    config["chunk_frames"] = 500  # the 1,100-frame video in 3 chunks, the short one whole
    jobs, listing = dry_run_jobs(tmp_path, config)
    for rule in ("detect_yolo_obb", "pose_yolo_crops"):
        assert all(job.get("gres") == "gpu:1" for job in jobs[rule]), jobs[rule]
        assert len(jobs[f"{rule}_chunk"]) == 3, jobs
        assert all(job.get("gres") == "gpu:1" for job in jobs[f"{rule}_chunk"]), jobs
    for rule in ("track", "join_chunks"):
        assert jobs[rule] and all("gres" not in job for job in jobs[rule]), jobs[rule]
    # ONNX export runs on the CPU; a TensorRT engine is built on the GPU it will run on.
    export_gpu = {"gres" in job for job in jobs["export_yolo_obb"] + jobs["export_yolo_pose"]}
    assert export_gpu == {runtime == "tensorrt"}
    # Model jobs (chunks too) stay out of the per-video group, so a GPU never waits on CPU work.
    for group in re.findall(r"Group job video.*?\n((?:    .*\n)+)", listing):
        assert "yolo" not in group, group


def test_cpu_runtime_asks_for_no_gpu_and_requests_follow_the_video(
    shared_data, yolo_models, tmp_path
):
    jobs, _ = dry_run_jobs(tmp_path, yolo_config(shared_data, yolo_models, "onnx_cpu"))
    assert all("gres" not in job for rule_jobs in jobs.values() for job in rule_jobs), jobs
    detect = {int(job["runtime"]) for job in jobs["detect_yolo_obb"]}
    # 100 frames and 1,100 frames of the same clip: the longer asks for more time.
    assert len(detect) == 2 and max(detect) > min(detect), jobs["detect_yolo_obb"]
    for rule, rule_jobs in jobs.items():
        for job in rule_jobs if rule != "all" else []:  # `all` only collects the targets
            assert int(job["mem_mb"]) >= 500 and int(job["runtime"]) >= 5


def test_resources_section_scales_requests(shared_data, yolo_models, tmp_path):
    config = yolo_config(shared_data, yolo_models, "onnx_cpu")
    plain, _ = dry_run_jobs(tmp_path / "plain", config)
    config["resources"] = {"memory_scale": 2, "runtime_scale": 3}
    scaled, _ = dry_run_jobs(tmp_path / "scaled", config)
    for before, after in zip(plain["track"], scaled["track"], strict=True):
        assert before["_wildcards"] == after["_wildcards"]
        assert int(after["mem_mb"]) == pytest.approx(2 * int(before["mem_mb"]), abs=1)
        assert int(after["runtime"]) == pytest.approx(3 * int(before["runtime"]), abs=1)
