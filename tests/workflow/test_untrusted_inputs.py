"""Values from model folders and files never reach a shell or run code: node names with shell
syntax and spaces reach the SLEAP scripts as single arguments, and crafted model files are
refused before any framework unpickles them."""

from __future__ import annotations

import shutil
import subprocess

import pytest
import yaml

from snakeherd import io
from tests.support.configs import sleap_config
from tests.support.snakemake import run_snakemake

pytestmark = pytest.mark.workflow

EVIL_CHECKPOINT = """
import os, sys
import torch

class Payload:
    def __reduce__(self):
        return (os.system, (f"touch {sys.argv[2]}",))

torch.save({"state_dict": {}, "payload": Payload()}, sys.argv[1])
"""


def renamed_nodes(model, names):
    """The model folder's skeleton and part names replaced by ``names`` (same order)."""
    config_path = model / "training_config.yaml"
    text = config_path.read_text()
    config = yaml.safe_load(text)
    old = [node["name"] for node in config["data_config"]["skeletons"][0]["nodes"]]
    for before, after in zip(old, names, strict=True):
        text = text.replace(f"name: {before}\n", f"name: {yaml.safe_dump(after).splitlines()[0]}\n")
        text = text.replace(f"- {before}\n", f"- {yaml.safe_dump(after).splitlines()[0]}\n")
    config_path.write_text(text)
    return [node["name"] for node in yaml.safe_load(text)["data_config"]["skeletons"][0]["nodes"]]


def test_node_names_with_shell_syntax_and_spaces_are_single_arguments(
    sleap_models, sleap_video, sleap_python, tmp_path
):
    model = tmp_path / "model"
    shutil.copytree(sleap_models / "minimal_instance_single_instance", model)
    marker = tmp_path / "injected"
    names = renamed_nodes(model, [f"A$(touch {marker})", "left wing"])
    assert names == [f"A$(touch {marker})", "left wing"]
    config = sleap_config("quoted", "cpu", sleap_video, "0-1", [model], sleap_python)
    run = run_snakemake(tmp_path / "work", config)
    assert run.returncode == 0, run.output[-3000:]
    assert not marker.exists()
    poses = io.read_table(
        tmp_path / "work" / "results" / "quoted" / "pair" / "poses.parquet", "poses"
    )
    assert set(poses["node"]) == set(names)


def test_a_checkpoint_that_would_run_code_is_refused(
    sleap_models, sleap_video, sleap_python, tmp_path
):
    model = tmp_path / "model"
    shutil.copytree(sleap_models / "minimal_instance_single_instance", model)
    marker = tmp_path / "pwned"
    subprocess.run(
        [str(sleap_python), "-c", EVIL_CHECKPOINT, str(model / "best.ckpt"), str(marker)],
        check=True,
    )
    config = sleap_config("evil", "cpu", sleap_video, "0-1", [model], sleap_python)
    run = run_snakemake(tmp_path / "work", config)
    assert run.returncode != 0
    assert not marker.exists()
    assert "names code that a sleap-nn checkpoint does not hold" in run.output
    assert "trust_model_files: true" in run.output
    assert "Traceback" not in run.output
    # A user who trusts the file can say so; then sleap-nn loads it as it always does (and the
    # payload runs: that is what trusting means).
    config["trust_model_files"] = True
    trusted = run_snakemake(tmp_path / "trusted", config)
    assert marker.exists(), trusted.output[-3000:]
