"""Tracker parameters from the config, and bad values refused."""

from __future__ import annotations

import pytest

from snakeherd.tracking import TrackerParams


def test_params_from_config_and_bad_values():
    params = TrackerParams.from_config(
        {"enabled": True, "max_tracks": 3, "stitch": {"max_gap": 7}, "scoring": "iou"}
    )
    assert params.max_tracks == 3 and params.stitch.max_gap == 7 and params.scoring == "iou"
    with pytest.raises(ValueError, match="scoring"):
        TrackerParams(scoring="bogus")
