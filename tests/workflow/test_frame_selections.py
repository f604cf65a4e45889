"""Selections of a single frame run through every CPU stage with their summaries intact."""

from __future__ import annotations

import pytest

from tests.support.configs import background_config
from tests.support.snakemake import run_snakemake

pytestmark = pytest.mark.workflow


@pytest.mark.parametrize("frames", ["42", 7], ids=["string", "number"])
def test_one_frame(frames, tmp_path):
    config = background_config("one", "cpu", "clip", 60)
    config["videos"][0]["frames"] = frames
    run = run_snakemake(tmp_path, config)
    assert run.returncode == 0, run.output[-3000:]
    log = (tmp_path / "results" / "one" / "logs" / "clip" / "detect_background.log").read_text()
    # One frame teaches no animal area; the summary line says so instead of failing to format.
    assert "Logging error" not in log and "Traceback" not in log
    assert "detections in 1 frames (animal area " in log
