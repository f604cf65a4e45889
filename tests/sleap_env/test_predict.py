"""The SLEAP stage's predict script in the SLEAP environment reproduces ``sleap-nn predict`` on the
same frames, for the single-model pipelines."""

from __future__ import annotations

import subprocess

import pytest

from tests.support.matching import keypoint_differences, slp_instances
from tests.support.sleap_commands import run_sleap_nn_predict, stage_script

pytestmark = pytest.mark.workflow

FRAMES = "0-11"


@pytest.mark.parametrize(
    "names",
    [["minimal_instance_bottomup"], ["minimal_instance_single_instance"]],
    ids=["bottomup", "single_instance"],
)
def test_stage_reproduces_sleap_nn_predict(
    names, sleap_models, sleap_video, sleap_python, tmp_path
):
    kind = "bottomup" if "bottomup" in names[0] else "single_instance"
    models = [sleap_models / n for n in names]
    command = stage_script(
        sleap_python, "sleap_predict.py", "cpu", kind, models, sleap_video,
        "--frames", FRAMES, "--slp", tmp_path / "ours.slp", "--npz", tmp_path / "ours.npz",
        "--threads", "2",
    )  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    cli = run_sleap_nn_predict(sleap_python, sleap_video, FRAMES, models, tmp_path / "cli.slp")
    differences, unmatched = keypoint_differences(
        slp_instances(cli), slp_instances(tmp_path / "ours.slp")
    )
    assert unmatched == 0
    assert len(differences) >= 2
    assert differences.max() <= 1e-3
