"""Overlay videos, plots and the Snakemake report through real Snakemake, on a batch with a good
video (scored), a video without animals and a video that fails (--keep-going); the report is
checked in headless Chromium. The batch of one video reuses the same working directory."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from snakeherd.synthetic import SceneSpec, simulate, write_video
from tests.support.browser import ReportPage, missing_browser
from tests.support.configs import good_and_bad_videos_config
from tests.support.overlays import stream_info
from tests.support.paths import REPO
from tests.support.snakemake import run_snakemake

pytestmark = pytest.mark.workflow
EXPERIMENT = "looks"
PLOTS = {"trajectories": "trajectories", "timeline": "track timeline",
         "counts": "animals per frame", "scores": "scores"}  # fmt: skip
# Where the report's screenshot is kept for people to look at (CI keeps the folder).
ARTIFACTS = Path(os.environ.get("SNAKEHERD_TEST_ARTIFACTS", REPO / "results" / "test-artifacts"))


def write_blank_video(path: Path, frames: int, size: int) -> None:
    import cv2

    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 25, (size, size))
    for _ in range(frames):
        writer.write(np.full((size, size, 3), 200, np.uint8))
    writer.release()


@pytest.fixture(scope="module")
def batch(small_videos, tmp_path_factory):
    """The batch run (which fails for one video) and its report."""
    folder = tmp_path_factory.mktemp("looks")
    blank = folder / "blank.mp4"  # an empty arena: no animal to detect
    write_blank_video(blank, frames=30, size=128)
    spec = SceneSpec(n_animals=1, n_frames=30, width=128, height=128, seed=3)
    whole = folder / "whole.avi"
    write_video(spec, simulate(spec), str(whole), fourcc="MJPG")
    truncated = folder / "truncated.avi"
    truncated.write_bytes(whole.read_bytes()[: whole.stat().st_size // 3])
    config = good_and_bad_videos_config(
        EXPERIMENT, small_videos, {"blank": blank, "truncated": truncated},
        outputs={"overlay": {"enabled": True}},
    )  # fmt: skip
    workdir = folder / "work"
    run = run_snakemake(workdir, config, "--keep-going")
    assert run.returncode != 0, run.output  # the truncated video fails
    report = run_snakemake(workdir, config, "--report", "report.html")
    assert report.returncode == 0, report.output
    return run, workdir


def results(workdir) -> Path:
    return workdir / "results" / EXPERIMENT


def test_overlay_plays_in_browsers_with_every_processed_frame(batch, small_videos):
    _, workdir = batch
    for video, frames in (("good_a", 60), ("good_b", 40), ("blank", 30)):
        info = stream_info(results(workdir) / video / "overlay.mp4")
        assert info["codec"].startswith("h264") and info["pix_fmt"] == "yuv420p", info
        assert info["frames"] == frames, video
        assert info["fps"] == pytest.approx(25.0)  # the source's


def test_every_video_that_ran_has_its_plots(batch):
    _, workdir = batch
    for video in ("good_a", "good_b", "blank"):
        for name in PLOTS:
            assert (results(workdir) / video / "plots" / f"{name}.png").is_file(), (video, name)
    assert not (results(workdir) / "truncated" / "plots").exists()


def test_batch_pages_name_the_failed_and_the_empty_video(batch):
    run, workdir = batch
    summary = pd.read_csv(results(workdir) / "report" / "summary.csv").set_index("video")
    assert list(summary.index) == ["good_a", "blank", "truncated", "good_b"]
    assert summary.loc["good_a", "status"] == "ok" and summary.loc["good_a", "IDF1"] > 0.5
    assert summary.loc["blank", "status"] == "no detections"
    assert summary.loc["blank", "detections"] == 0
    assert summary.loc["truncated", "status"] == "failed before tracking"
    assert "detections.parquet" in summary.loc["truncated", "missing"]
    assert "summary.html names what is missing" in run.stderr
    runtimes = pd.read_csv(results(workdir) / "report" / "runtimes.csv")
    assert {"detect_background", "track", "overlay", "plots"} <= set(runtimes["rule"])


def test_report_renders_the_batch_table_and_every_plot_in_chromium(batch):
    if reason := missing_browser():
        pytest.fail(reason)
    _, workdir = batch
    with ReportPage(workdir / "report.html") as page:
        page.click_text("Batch")
        assert page.rows() == ["batch table", "runtime per rule", "runtime plot"]
        page.view("batch table")
        table = page.shown_table()
        assert table[0][:3] == ["video", "status", "frames"]
        statuses = {row[0]: row[1] for row in table[1:]}
        assert statuses == {
            "good_a": "ok", "blank": "no detections", "truncated": "failed before tracking",
            "good_b": "ok",
        }  # fmt: skip
        page.screenshot(ARTIFACTS / "report-batch.png")
        page.view("runtime plot")
        assert page.shown_image_size()[0] == 800
        for video in ("good_a", "blank"):
            page.click_text("Results")  # the breadcrumb back to the categories
            page.click_text("Videos")
            page.click_text(video)
            listed = " | ".join(page.rows())
            assert "overlay video" in listed
            for label in PLOTS.values():
                page.view(label)
                width, height = page.shown_image_size()
                assert width == 800 and height > 100, (video, label)
            page.view("provenance")
            cells = [cell for row in page.shown_table() for cell in row]
            assert "detections" in cells and "runtime requested" in cells, cells
        page.screenshot(ARTIFACTS / "report-video.png")


def test_a_batch_of_one_video_gets_its_report(batch, small_videos):
    _, workdir = batch
    config = good_and_bad_videos_config(EXPERIMENT, small_videos, {})
    config["videos"] = config["videos"][:1]
    config["outputs"] = {"overlay": {"enabled": True}}
    run = run_snakemake(workdir, config)
    assert run.returncode == 0, run.output
    assert "rule plots" not in run.output and "rule overlay" not in run.output  # up to date
    # The pages the failed run left (no job wrote them) are remade for the batch of one.
    assert "rule batch_summary" in run.output
    summary = pd.read_csv(results(workdir) / "report" / "summary.csv")
    assert summary["video"].tolist() == ["good_a"]
    report = run_snakemake(workdir, config, "--report", "one.html")
    assert report.returncode == 0, report.output
    assert (workdir / "one.html").stat().st_size > 100_000
    assert np.isfinite(summary["IDF1"]).all()
