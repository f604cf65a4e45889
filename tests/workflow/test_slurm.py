"""The workflow on a real SLURM cluster: `snakemake --profile profiles/slurm` against slurmctld on
this machine (tools/local-slurm.sh starts it: munge, MariaDB + slurmdbd, slurmctld, slurmd).

One run of the demo end to end; one run where every job is first killed by SLURM for memory
and succeeds on its retry (requests grow per attempt) while a bad video fails alone; one run of
a video in chunks, one job each, where one chunk's job is cancelled mid-run and retried alone.
"""

from __future__ import annotations

import csv
import io
import os
import re
import shutil
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from snakeherd.io import read_metadata, read_table
from tests.support import configs
from tests.support.configs import good_and_bad_videos_config
from tests.support.matching import assert_same_rows
from tests.support.paths import REPO
from tests.support.snakemake import snakemake_command

pytestmark = [pytest.mark.workflow, pytest.mark.slurm]

LOCAL_SLURM = REPO / "tools" / "local-slurm.sh"
# SLURM job logs of the test runs (successful ones included) are kept here for CI artifacts.
ARTIFACTS = Path(os.environ.get("SNAKEHERD_TEST_ARTIFACTS", REPO / "logs" / "test-artifacts"))
RUN_TIMEOUT_S = 420  # a hung status poll must fail the test, not CI


@dataclass
class SlurmRun:
    returncode: int
    output: str
    workdir: Path
    logdir: Path
    jobs: list[dict]  # sacct rows of the run's jobs, in submission order


@pytest.fixture(scope="session")
def slurm_cluster() -> None:
    """A running single-node cluster whose accounting answers (started here when it is not)."""
    if _cluster_answers():
        return
    if os.geteuid() != 0:
        pytest.fail(
            "no SLURM cluster answers on this machine; start one with "
            f"`sudo {LOCAL_SLURM} up` (installs Debian packages, starts the daemons)"
        )
    started = subprocess.run(
        [str(LOCAL_SLURM), "up"], capture_output=True, text=True, timeout=600, check=False
    )
    assert started.returncode == 0 and _cluster_answers(), started.stdout + started.stderr


def _cluster_answers() -> bool:
    if shutil.which("sinfo") is None or shutil.which("sacct") is None:
        return False
    try:
        state = subprocess.run(
            ["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, timeout=20, check=False
        )
        accounting = subprocess.run(
            ["sacct", "-n", "-X", "-S", "now"], capture_output=True, timeout=20, check=False
        )
    except subprocess.TimeoutExpired:
        return False
    states = state.stdout.split()
    return (
        state.returncode == 0
        and accounting.returncode == 0
        and any(s in ("idle", "mixed", "allocated") for s in states)
    )


def _cancel_jobs_of(workdir: Path) -> None:
    """Cancel what a timed-out run left queued: the jobs whose working directory is ``workdir``."""
    queued = subprocess.run(
        ["squeue", "-h", "-o", "%i %Z"], capture_output=True, text=True, check=False
    ).stdout
    ids = [line.split()[0] for line in queued.splitlines() if line.split()[1:] == [str(workdir)]]
    if ids:
        subprocess.run(["scancel", *ids], check=False)


def _sacct_jobs(run_id: str) -> list[dict]:
    """The run's SLURM jobs (the plugin names every job after the run's id)."""
    result = subprocess.run(
        [
            "sacct",
            "-X",
            "-P",
            "-S",
            "now-1hour",
            "--name",
            run_id,
            "-o",
            "JobID,State,ReqMem,Timelimit,ReqTRES,Comment",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    rows = list(csv.DictReader(io.StringIO(result.stdout), delimiter="|"))
    return sorted(rows, key=lambda row: int(row["JobID"]))


def run_on_slurm(name: str, workdir: Path, config: dict | None = None, *args: str) -> SlurmRun:
    """``snakemake --profile profiles/slurm`` as a user runs it, with a hard timeout."""
    logdir = ARTIFACTS / "slurm-logs" / name
    shutil.rmtree(logdir, ignore_errors=True)
    command = snakemake_command(
        workdir,
        config,
        "--profile",
        str(REPO / "profiles" / "slurm"),
        # The profile's 40 s suits a busy cluster; this one is idle.
        "--slurm-init-seconds-before-status-checks",
        "3",
        "--slurm-keep-successful-logs",
        "--slurm-logdir",
        str(logdir),
        *args,
    )
    process = subprocess.Popen(
        command,
        cwd=workdir,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        output, _ = process.communicate(timeout=RUN_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            output, _ = process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            output, _ = process.communicate()
        _cancel_jobs_of(workdir)
        pytest.fail(f"snakemake on SLURM ran past {RUN_TIMEOUT_S} s:\n{output[-6000:]}")
    (ARTIFACTS / "slurm-logs").mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "slurm-logs" / f"{name}.snakemake.log").write_text(output)
    run_id = re.search(r"SLURM run ID: (\S+)", output)
    assert run_id, output[-6000:]
    return SlurmRun(process.returncode, output, workdir, logdir, _sacct_jobs(run_id.group(1)))


def _mem_mb(row: dict) -> float:
    value = re.match(r"([\d.]+)([KMGT]?)", row["ReqMem"])
    scale = {"K": 1 / 1024, "M": 1, "G": 1024, "T": 1024 * 1024, "": 1}[value.group(2)]
    return float(value.group(1)) * scale


def test_demo_end_to_end_on_slurm(slurm_cluster, tmp_path):
    run = run_on_slurm("demo", tmp_path / "demo")
    assert run.returncode == 0, run.output[-6000:]

    results = run.workdir / "results" / "demo"
    for video in ("arena_a", "arena_b"):
        assert (results / video / "provenance.json").is_file()
        assert (results / video / "tracks.csv").is_file()
        # The rules' own logs are where they are in a local run.
        assert (results / "logs" / video / "detect_background.log").is_file()
    summary = list(csv.DictReader((results / "evaluation_summary.csv").open()))
    pooled = next(row for row in summary if row["video_id"] == "ALL")
    assert float(pooled["MOTA"]) > 0.9, summary

    # Grouping: each video's CPU jobs ran as one SLURM job, plus its plots and overlay jobs
    # (outside the group), plus the summary job.
    assert len(run.jobs) == 7, run.jobs
    assert all(job["State"] == "COMPLETED" for job in run.jobs), run.jobs
    # Requests come from the rules' cost models: memory sized per job, no GPU for CPU work.
    for job in run.jobs:
        assert "gpu" not in job["ReqTRES"], job
        assert _mem_mb(job) >= 500, job
    group_logs = sorted(run.logdir.glob("group_video*/*.log"))
    assert len(group_logs) == 2, sorted(run.logdir.rglob("*"))
    assert "rule detect_background" in group_logs[0].read_text()


@pytest.fixture(scope="module")
def retried_run(slurm_cluster, small_videos, tmp_path_factory) -> SlurmRun:
    """Two good videos and a corrupt one; every first attempt asks for far too little memory."""
    folder = tmp_path_factory.mktemp("slurm_retry")
    garbage = folder / "garbage.mp4"
    garbage.write_bytes(b"\x00\x01not a video" * 500)
    config = good_and_bad_videos_config(
        "retry",
        small_videos,
        {"garbage": garbage},
        # First attempts get 5% of the estimate (less than Snakemake itself needs), so SLURM
        # kills them for memory; the retry asks for 20x more, i.e. the full estimate.
        resources={"memory_scale": 0.05, "retry_growth": 20},
    )
    return run_on_slurm("retry", folder / "work", config, "--retries", "1")


def test_job_killed_for_memory_succeeds_on_retry(retried_run):
    results = retried_run.workdir / "results" / "retry"
    for good in ("good_a", "good_b"):
        assert (results / good / "provenance.json").is_file(), retried_run.output[-6000:]
    assert (results / "evaluation_summary.csv").is_file()

    states = [(job["State"], job["ReqMem"]) for job in retried_run.jobs]
    # First attempts ask for ~5% of the estimate (tens of MB): SLURM kills every one of them.
    first = [job for job in retried_run.jobs if _mem_mb(job) < 200]
    retries = [job for job in retried_run.jobs if _mem_mb(job) >= 200]
    # good_a, good_b, garbage, the summary, and the plots of good_a and good_b.
    assert len(first) == 6, states
    assert all(job["State"] != "COMPLETED" for job in first), states
    # Their retries ask for 20x more and complete, except the corrupt video's.
    assert len(retries) == 6, states
    assert sorted(job["State"] for job in retries).count("COMPLETED") == 5, states
    # Each retry asks for 20x its first attempt (rules differ: compare them in order of size).
    pairs = zip(sorted(map(_mem_mb, first)), sorted(map(_mem_mb, retries)), strict=True)
    assert all(retry >= 10 * attempt for attempt, retry in pairs), states
    killed_logs = [
        log.read_text()
        for log in retried_run.logdir.rglob("*.log")
        if "exceeded memory limit" in log.read_text()
    ]
    assert len(killed_logs) >= 3, sorted(retried_run.logdir.rglob("*.log"))


def test_bad_video_fails_alone_on_slurm(retried_run, tmp_path):
    assert retried_run.returncode != 0
    results = retried_run.workdir / "results" / "retry"
    summary = list(csv.DictReader((results / "evaluation_summary.csv").open()))
    assert {row["video_id"] for row in summary} == {"good_a", "ALL"}, summary
    bad = results / "garbage"
    assert not bad.exists() or [p for p in bad.rglob("*") if p.is_file()] == []
    log = (results / "logs" / "garbage" / "detect_background.log").read_text()
    assert "cannot open video" in log and "Fix:" in log
    assert "garbage" in retried_run.output and "Error" in retried_run.output


# A 60-frame generated video in chunks of 20 selected frames: 0-19 | 30-49 | 50-59.
CHUNKED_FRAMES = "0-19,30-59"
KILLED_CHUNK = "1"


class _ChunkKiller(threading.Thread):
    """Kills the SLURM job of one chunk of ``video`` submitted from ``workdir`` as soon as SLURM
    reports it RUNNING (only the first such job): SIGTERM to all its processes, as SLURM sends
    them at pre-emption or a time limit; SLURM records it FAILED. (A plain `scancel` records
    'CANCELLED by <uid>', which the SLURM plugin takes for a running job: see
    profiles/slurm/config.yaml.)"""

    def __init__(self, workdir: Path, video: str, chunk: str):
        super().__init__(daemon=True)
        self.workdir = str(workdir)
        self.comment = f"rule_detect_background_chunk_wildcards_{video}_{chunk}"
        self.killed: str | None = None
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set() and self.killed is None:
            queued = subprocess.run(
                ["squeue", "-h", "-o", "%i|%T|%k|%Z"], capture_output=True, text=True, check=False
            ).stdout
            for line in queued.splitlines():
                job_id, state, comment, workdir = line.split("|", 3)
                if (comment, workdir, state) == (self.comment, self.workdir, "RUNNING"):
                    subprocess.run(["scancel", "--signal=TERM", "--full", job_id], check=True)
                    self.killed = job_id
                    return
            time.sleep(0.2)


@pytest.fixture(scope="module")
def chunk_killed_run(slurm_cluster, small_videos, tmp_path_factory) -> tuple[SlurmRun, str]:
    """One generated video in 3 chunks, and the same video unsplit as a second entry, through
    the SLURM profile with --retries 1; chunk 1's first job is killed while it runs."""
    folder = tmp_path_factory.mktemp("slurm_chunks")
    video = str(small_videos["small_a"])
    config = configs.background_config(
        "chunks",
        "cpu",
        "arena",
        60,
        videos=[
            {"id": "arena", "path": video, "frames": CHUNKED_FRAMES},
            {"id": "whole", "path": video, "frames": CHUNKED_FRAMES, "chunk_frames": None},
        ],
        chunk_frames=20,
    )
    config["detection"]["background"] = {"n_animals": 4}
    killer = _ChunkKiller(folder / "work", "arena", KILLED_CHUNK)
    killer.start()
    try:
        run = run_on_slurm(
            "chunks",
            folder / "work",
            config,
            "--retries",
            "1",
            # The tracks alone: evaluation, outputs and the report do not depend on chunks.
            "results/chunks/arena/tracks.parquet",
            "results/chunks/whole/tracks.parquet",
        )
    finally:
        killer.done.set()
        killer.join()
    assert killer.killed, "chunk 1's job was never seen RUNNING:\n" + run.output[-6000:]
    return run, killer.killed


def _job_labels(run: SlurmRun) -> dict[str, str]:
    """SLURM job id -> what the job ran, as the folder of its SLURM log names it
    (``rule_<rule>/<wildcards>`` or ``group_video_<rules>``); the accounting of this cluster does
    not keep the plugin's job comments."""
    submitted = re.findall(r"submitted with SLURM jobid (\d+) \(log: (\S+)\)", run.output)
    return {job_id: str(Path(log).parent.relative_to(run.logdir)) for job_id, log in submitted}


def test_a_killed_chunk_is_retried_alone_on_slurm(chunk_killed_run):
    run, killed = chunk_killed_run
    assert run.returncode == 0, run.output[-6000:]
    labels = _job_labels(run)
    attempts: dict[str, list[str]] = {}
    for job in run.jobs:
        attempts.setdefault(labels[job["JobID"]], []).append(job["State"])
    chunk = "rule_detect_background_chunk/arena_"
    # Each chunk is a SLURM job of its own; the killed one ran twice, the others once.
    assert {label: states for label, states in attempts.items() if chunk in label} == {
        chunk + "0": ["COMPLETED"],
        chunk + "1": ["FAILED", "COMPLETED"],
        chunk + "2": ["COMPLETED"],
    }, attempts
    assert labels[killed] == chunk + KILLED_CHUNK
    # Nothing else ran twice: the background model, the join, the chunked video's tracking and
    # the unsplit video's group job (detection and tracking) each once.
    assert {label: states for label, states in attempts.items() if chunk not in label} == {
        "rule_background_model/arena": ["COMPLETED"],
        "rule_join_chunks/arena_detections": ["COMPLETED"],
        "group_video_track": ["COMPLETED"],
        "group_video_detect_background_track": ["COMPLETED"],
    }, attempts


def test_tables_after_a_killed_chunk_equal_the_unsplit_run(chunk_killed_run):
    results = chunk_killed_run[0].workdir / "results" / "chunks"
    for table, keys in (("detections", ["frame", "det_id"]), ("tracks", ["frame", "track_id"])):
        chunked = read_table(results / "arena" / f"{table}.parquet", table)
        whole = read_table(results / "whole" / f"{table}.parquet", table)
        assert (chunked["video_id"] == "arena").all()
        assert_same_rows(whole, chunked.assign(video_id="whole"), keys)
    stage = read_metadata(results / "arena" / "detections.parquet")["stage"]
    assert stage["chunks"] == ["0-19", "30-49", "50-59"]
    assert not list((results / "arena" / "chunks").glob("*.parquet"))
