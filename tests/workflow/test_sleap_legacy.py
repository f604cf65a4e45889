"""SLEAP ≤ 1.4 model folders (best_model.h5 + training_config.json) through the SLEAP stage on
``cpu``: real Snakemake, real sleap-nn in its own venv, converting the Keras weights itself. The
stage's keypoints are compared with what ``sleap-nn predict`` writes for the same legacy folders
and frames (the shared top-down pair and bottom-up model, frames 0-49 of centered_pair_small.mp4).
On ``onnx_cpu`` the pair goes through the export rule's script (sleap-nn exports the checkpoints
its legacy loader makes) and its parity record is checked. The ``sleap-nn predict`` references,
the bottom-up stage and the export run beside the top-down workflow run."""

from __future__ import annotations

import json
import subprocess

import pytest

from snakeherd import io
from tests.support import configs
from tests.support.matching import keypoint_differences, slp_instances
from tests.support.sleap_commands import sleap_nn_predict, stage_script
from tests.support.snakemake import run_snakemake

pytestmark = pytest.mark.workflow

FRAMES = "0-49"
KINDS = {
    "topdown": ("minimal_instance.UNet.centroid", "minimal_instance.UNet.centered_instance"),
    "bottomup": ("minimal_instance.UNet.bottomup",),
}


@pytest.fixture(scope="module")
def legacy(shared_data):
    return shared_data / "sleap" / "legacy_models"


def legacy_config(legacy, video, sleap_python, kind, runtime="cpu"):
    return configs.sleap_config(
        "legacy",
        runtime,
        video,
        FRAMES,
        [legacy / name for name in KINDS[kind]],
        sleap_python,
        threads=1,
    )


def start(command: list[str]) -> subprocess.Popen:
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def finish(process: subprocess.Popen) -> None:
    log, _ = process.communicate(timeout=600)
    assert process.returncode == 0, log


@pytest.fixture(scope="module")
def runs(legacy, sleap_video, sleap_python, tmp_path_factory):
    """Per kind: the stage's poses.slp (and the pair's poses.parquet), sleap-nn predict's .slp.

    The top-down pair runs through the workflow (config check, preflight, stage, tables); the
    bottom-up model through the stage's rule script as its rule calls it, beside it.
    """
    folder = tmp_path_factory.mktemp("sleap_legacy")
    results = {kind: {"sleap_nn": folder / f"{kind}.sleap_nn.slp"} for kind in KINDS}
    processes = [
        start(
            sleap_nn_predict(
                sleap_python,
                sleap_video,
                FRAMES,
                [legacy / name for name in names],
                results[kind]["sleap_nn"],
            )
        )
        for kind, names in KINDS.items()
    ]
    bottomup = folder / "bottomup"
    bottomup.mkdir()
    results["bottomup"]["slp"] = bottomup / "poses.slp"
    processes.append(
        start(
            stage_script(
                sleap_python,
                "sleap_predict.py",
                "cpu",
                "bottomup",
                [legacy / name for name in KINDS["bottomup"]],
                sleap_video,
                "--frames",
                FRAMES,
                "--slp",
                bottomup / "poses.slp",
                "--npz",
                bottomup / "poses.npz",
                "--log",
                bottomup / "sleap_predict.log",
            )
        )
    )
    # The export rule's script on the pair: sleap-nn's legacy loader, then sleap-nn export.
    export = folder / "exports" / "pair.onnx" / "384x384"
    results["topdown"]["export"] = export
    processes.append(
        start(
            stage_script(
                sleap_python,
                "sleap_export.py",
                "onnx_cpu",
                "topdown",
                [legacy / name for name in KINDS["topdown"]],
                sleap_video,
                "--crop-size",
                "96",
                "--folder",
                export,
                "--height",
                "384",
                "--width",
                "384",
                "--parity-frames",
                "3",
                "--tolerance",
                "0.5",
                "--log",
                folder / "sleap_export.log",
            )
        )
    )
    try:
        workdir = folder / "topdown"
        run = run_snakemake(
            workdir,
            legacy_config(legacy, sleap_video, sleap_python, "topdown"),
            "results/legacy/pair/poses.parquet",
        )
        assert run.returncode == 0, run.output
        stage = workdir / "results" / "legacy" / "pair"
        results["topdown"].update(slp=stage / "poses.slp", parquet=stage / "poses.parquet")
        for process in processes:
            finish(process)
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
    return results


@pytest.mark.parametrize("kind", list(KINDS))
def test_cpu_keypoints_equal_sleap_nn_predict_on_the_legacy_folders(runs, kind):
    ours = slp_instances(runs[kind]["slp"])
    theirs = slp_instances(runs[kind]["sleap_nn"])
    assert sorted(ours) == list(range(50))
    differences, unmatched = keypoint_differences(theirs, ours)
    assert unmatched == 0
    assert len(differences) > 100
    assert differences.max() <= 1e-3


def test_the_stage_records_the_legacy_pipeline(runs):
    parquet = runs["topdown"]["parquet"]
    stage = io.read_metadata(parquet)["stage"]
    assert stage["pipeline"] == "topdown"
    assert stage["runtime"]["runtime"] == "cpu"
    assert [m.rsplit("/", 1)[1] for m in stage["models"]] == list(KINDS["topdown"])
    assert set(io.read_table(parquet, "poses")["node"]) == {"A", "B"}


def test_the_legacy_pair_exports_to_onnx_with_its_parity_record(runs, legacy):
    export = runs["topdown"]["export"]
    assert sorted(p.name for p in export.iterdir()) == [
        "centered_instance",
        "centroid",
        "parity.json",
    ]
    # The checkpoints converted for sleap-nn export are gone; only the export is left.
    assert sorted(p.name for p in export.parent.iterdir()) == ["384x384"]
    report = json.loads((export / "parity.json").read_text())
    assert report["legacy_models"] == [str(legacy / name) for name in KINDS["topdown"]]
    assert report["passed"]
    assert report["corrected"]["unmatched_instances"] == 0
    assert report["corrected"]["keypoints"] >= 12
    # The same corrections as a sleap-nn pair's export, to the same distance from the checkpoint.
    assert "integral peak refinement" in report["corrections"]
    assert report["corrected"]["max_px"] <= 0.01
    assert report["raw"]["median_px"] > report["corrected"]["median_px"]


def test_an_onnx_config_with_legacy_models_plans_their_export(
    legacy, sleap_video, sleap_python, tmp_path
):
    config = legacy_config(legacy, sleap_video, sleap_python, "bottomup", "onnx_cpu")
    config["export_dir"] = str(tmp_path / "exports")
    run = run_snakemake(tmp_path / "work", config, "-n")
    assert run.returncode == 0, run.output
    assert "sleap_export" in run.stdout
    assert f"{tmp_path}/exports/minimal_instance.UNet.bottomup.onnx/384x384" in run.stdout
