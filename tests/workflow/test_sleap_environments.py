"""Bad ``pose.env`` values: caught before any job when the config shows them, by the preflight job
when only running the interpreter does."""

from __future__ import annotations

import sys

import pytest

from tests.support import configs
from tests.support.snakemake import run_snakemake

pytestmark = pytest.mark.workflow


def sleap_config(shared_data, env, models=None):
    return configs.sleap_config(
        "bad",
        "cpu",
        shared_data / "sleap" / "centered_pair_small.mp4",
        "0-3",
        models or [shared_data / "sleap" / "models" / "minimal_instance_bottomup"],
        env,
    )


def test_interpreter_without_sleap_nn_fails_in_the_preflight(shared_data, tmp_path):
    run = run_snakemake(tmp_path / "work", sleap_config(shared_data, sys.executable))
    assert run.returncode != 0
    log = (tmp_path / "work" / "results" / "bad" / "logs" / "sleap_preflight.log").read_text()
    assert f"{sys.executable} has no sleap-nn: it is not a SLEAP environment" in log
    assert "point pose.env at the Python of your SLEAP environment" in log
    assert not (tmp_path / "work" / "results" / "bad" / "pair").exists()


@pytest.mark.parametrize(
    ("env", "models", "expected"),
    [
        ("no-such-sleap-env", None, "pose.env: 'no-such-sleap-env'"),
        ("/nowhere/bin/python", None, "the Python interpreter /nowhere/bin/python does not exist"),
        (
            None,
            ["minimal_instance_centroid", "minimal_instance_centroid"],
            "both models are centroid",
        ),
        (None, ["EMPTY"], "lacks best.ckpt and training_config.yaml"),
    ],
    ids=["unknown env name", "missing interpreter", "two centroids", "empty model folder"],
)
def test_bad_sleap_configs_stop_before_any_job(shared_data, tmp_path, env, models, expected):
    folder = shared_data / "sleap" / "models"
    paths = None
    if models:
        empty = tmp_path / "empty_model"
        empty.mkdir()
        paths = [str(empty) if name == "EMPTY" else str(folder / name) for name in models]
    run = run_snakemake(tmp_path / "work", sleap_config(shared_data, env, paths))
    assert run.returncode != 0
    assert "snakeherd: invalid configuration" in run.stderr
    assert expected in run.stderr, run.stderr
    assert "Traceback" not in run.output
    assert not (tmp_path / "work" / "results").exists()
