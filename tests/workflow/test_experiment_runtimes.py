"""A runtime sweep as an experiment (`grid: {runtime: [cpu, onnx_cpu, tract]}`) on the real fly
clip with the shared YOLO models: the three runtimes' boxes agree to the export's parity tolerance,
the comparison gives each one's speed and distance from the first, and `snakemake --report` on the
experiment shows the comparison. One real run (frames 900-999) and one report serve every test."""

from __future__ import annotations

import base64
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from snakeherd import io
from snakeherd.yolo.export import ParityTolerance
from tests.support import configs
from tests.support.snakemake import run_snakemake

pytestmark = pytest.mark.workflow
RUNTIMES = ["cpu", "onnx_cpu", "tract"]
VARIANTS = [f"runtime-{runtime}" for runtime in RUNTIMES]
# The export's parity tolerance is in model-input pixels; the clip (1024 px) is shrunk to the
# model's input (384 px), so a model-input pixel is more than one video pixel and holding the
# boxes (video pixels) to it is stricter than the export check.
TOLERANCE_PX = ParityTolerance().position_px


@pytest.fixture(scope="module")
def sweep(shared_data, yolo_models, exported, tmp_path_factory):
    """The YOLO chain (OBB detection, pose on crops, tracking) once per runtime, then the report.
    The session's exports lie beside the models (newer than them): the workflow does not export
    again. No ground truth and no overlay, plots or analysis files: the runtimes are what differ."""
    for task in ("obb", "pose"):
        for suffix in ("", ".parity.json"):
            source = Path(exported[task]["onnx"] + suffix)
            shutil.copyfile(source, yolo_models / source.name)
    workdir = tmp_path_factory.mktemp("runtime_sweep")
    config = configs.yolo_config(shared_data, yolo_models, "cpu", "900-999", "runtimes")
    del config["videos"][0]["ground_truth"]
    config["outputs"] = {
        "overlay": {"enabled": False},
        "plots": False,
        "nwb": False,
        "analysis_h5": False,
    }
    config["experiments"] = {"grid": {"runtime": RUNTIMES}}
    run = run_snakemake(workdir, config)
    assert run.returncode == 0, run.output
    assert "export_yolo" not in run.output
    report = run_snakemake(workdir, config, "--report", "report.html", cores=1)
    assert report.returncode == 0, report.output
    return workdir


def detections(workdir: Path, variant: str) -> pd.DataFrame:
    """A variant's detections, from the shared folder of its upstream key."""
    folders = {
        folder.parent.name: folder
        for folder in (workdir / "results/runtimes/shared").glob("upstream-*/pair")
    }
    for folder in folders.values():
        table = io.read_table(folder / "detections.parquet", "detections")
        stage = io.read_metadata(folder / "detections.parquet")["stage"]
        if f"runtime-{stage['runtime']['runtime']}" == variant:
            return table
    raise AssertionError(f"no shared detections of {variant} in {sorted(folders)}")


def test_the_three_runtimes_give_boxes_within_the_parity_tolerance(sweep):
    reference = detections(sweep, VARIANTS[0])
    assert set(reference["frame"]) <= set(range(900, 1000)) and len(reference) >= 150
    for variant in VARIANTS[1:]:
        table = detections(sweep, variant)
        merged = reference.merge(table, on=["frame", "det_id"], suffixes=("", "_other"))
        assert len(merged) == len(reference) == len(table), variant
        gap = np.hypot(merged["x"] - merged["x_other"], merged["y"] - merged["y_other"]).max()
        assert gap <= TOLERANCE_PX, (variant, gap)


def test_the_comparison_gives_each_runtimes_speed_and_distance_from_the_first(sweep):
    table = pd.read_csv(sweep / "results/runtimes/comparison.csv")
    assert list(table["variant"].unique()) == VARIANTS
    overall = table[table["video"] == "ALL"].set_index("variant")
    assert (overall["frames/s"] > 0).all()
    assert (overall["detect CPU seconds"] > 0).all() and (overall["pose CPU seconds"] > 0).all()
    others = overall.loc[VARIANTS[1:]]
    assert (others["boxes vs first: max offset (px)"] <= TOLERANCE_PX).all()
    assert (others["boxes vs first: unmatched"] == 0).all()
    assert (others["keypoints vs first: max offset (px)"] <= TOLERANCE_PX).all()
    assert (others["tracks vs first: ID switches"] == 0).all()
    assert (others["tracks vs first: IDF1"] == 1).all()
    # The first runtime is the reference: nothing to compare it with.
    assert overall.loc[VARIANTS[:1], "boxes vs first: max offset (px)"].isna().all()
    # Agreement is no score: no runtime is "best at" being close to the first.
    assert not overall["best at"].fillna("").str.contains("vs first").any()


def test_the_report_of_the_experiment_shows_the_comparison(sweep):
    report = (sweep / "report.html").read_text()
    assert "comparison of variants" in report and "comparison table" in report
    assert "comparison.png;base64," in report
    # The comparison table's page, embedded as a data URL, lists every runtime.
    page = re.search(r"comparison\.html;base64,([A-Za-z0-9+/=]+)", report)
    assert page, "no comparison.html in the report"
    text = base64.b64decode(page.group(1)).decode()
    for variant in VARIANTS:
        assert variant in text
    assert "frames/s" in text and "boxes vs first: max offset (px)" in text
