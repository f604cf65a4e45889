"""SLEAP ≤ 1.4 model folders (best_model.h5 + training_config.json) through the SLEAP stage on
``cpu``: real Snakemake, real sleap-nn in its own venv, converting the Keras weights itself. The
stage's keypoints are compared with what ``sleap-nn predict`` writes for the same legacy folders
and frames (the shared top-down pair and bottom-up model, frames 0-49 of centered_pair_small.mp4).
The ``sleap-nn predict`` references and the bottom-up stage run beside the top-down workflow
run."""

from __future__ import annotations

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


def test_an_exported_runtime_is_refused_before_any_job(legacy, sleap_video, sleap_python, tmp_path):
    # The other exported runtimes, kinds and refusals are unit-tested (tests/unit/sleap).
    config = legacy_config(legacy, sleap_video, sleap_python, "topdown", "onnx_cpu")
    run = run_snakemake(tmp_path / "work", config, "-n")
    assert run.returncode != 0
    assert "snakeherd: invalid configuration" in run.stderr
    assert "runtime 'onnx_cpu' runs an exported model" in run.stderr
    assert "the topdown pipeline" in run.stderr
    assert "set runtime to one of cpu, mps, cuda" in run.stderr
    assert "Traceback" not in run.output
    assert not (tmp_path / "work" / "results").exists()
