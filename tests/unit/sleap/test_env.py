"""``pose.env``: an interpreter path or a conda environment name, and the env file per runtime."""

from __future__ import annotations

import os
import shutil
import sys

import pytest

from snakeherd.errors import ConfigError
from snakeherd.sleap import env as sleap_env


def test_env_as_interpreter_path(tmp_path):
    assert sleap_env.resolve_env(sys.executable) == os.path.abspath(sys.executable)
    assert sleap_env.resolve_env(None) is None
    with pytest.raises(ConfigError, match="does not exist"):
        sleap_env.resolve_env(str(tmp_path / "nope" / "bin" / "python"))
    with pytest.raises(ConfigError, match="not a Python environment"):
        sleap_env.resolve_env(str(tmp_path))


def test_env_name_that_does_not_exist():
    with pytest.raises(ConfigError) as caught:
        sleap_env.resolve_env("no-such-sleap-env")
    message = str(caught.value)
    assert "no-such-sleap-env" in message
    if not any(shutil.which(name) for name in sleap_env.CONDA_FRONTENDS):
        assert "no conda is on PATH" in message
    else:
        assert "there is no conda environment named" in message


def test_env_files_follow_the_runtime():
    assert sleap_env.conda_env_file("onnx_cpu") == "envs/sleap-cpu.yaml"
    assert sleap_env.conda_env_file("onnx_cuda") == "envs/sleap-gpu.yaml"
    assert sleap_env.conda_env_file("tensorrt") == "envs/sleap-tensorrt.yaml"
