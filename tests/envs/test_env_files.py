"""The per-rule conda environments (envs/*.yaml, for --sdm conda) install what the tests run.

Conda cannot be reached from CI, so these environments are never built here; what keeps them
honest is that every package they share with the requirements files the suite installs has the
same version (a conda pin `=X.Y` must match the tested `X.Y.*`), and that the SLEAP ones install
sleap-nn with the extras of their runtime.
"""

from __future__ import annotations

import re

import pytest
import yaml

from tests.support.paths import REPO

ENV_FILES = sorted((REPO / "envs").glob("*.yaml"))
# Conda-forge names of packages that pip knows by another name.
CONDA_TO_PIP = {"py-opencv": "opencv-python"}


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name.split("[")[0]).lower()


def required_versions() -> dict[str, str]:
    """name -> version of every `name==version` in requirements/*.txt."""
    versions = {}
    for path in (REPO / "requirements").glob("*.txt"):
        for line in path.read_text().splitlines():
            pin = re.match(r"^([A-Za-z0-9_.\[\],-]+)==([^\s;#]+)", line.strip())
            if pin:
                versions[normalise(pin.group(1))] = pin.group(2)
    return versions


def env_pins(path) -> list[tuple[str, str, str]]:
    """(source, name, version) of every pinned package: conda `name =X.Y`, pip `name==X.Y.Z`."""
    pins = []
    for item in yaml.safe_load(path.read_text())["dependencies"]:
        if isinstance(item, dict):
            for requirement in item.get("pip", []):
                pin = re.match(r"^([A-Za-z0-9_.\[\],-]+)==(\S+)$", requirement)
                if pin:
                    pins.append(("pip", normalise(pin.group(1)), pin.group(2)))
        else:
            pin = re.match(r"^([A-Za-z0-9_.-]+)\s*=\s*([0-9][^\s=]*)$", item)
            if pin:
                name = CONDA_TO_PIP.get(pin.group(1), pin.group(1))
                pins.append(("conda", normalise(name), pin.group(2)))
    return pins


def test_every_env_file_is_checked():
    assert {path.stem for path in ENV_FILES} >= {"core", "onnx", "onnx-cuda", "sleap-cpu"}


def drift(path) -> list[str]:
    """The packages whose version in this env file differs from requirements/*.txt."""
    required = required_versions()
    mismatches = []
    for source, name, version in env_pins(path):
        if name not in required:
            continue
        if source == "pip":
            same = required[name] == version
        else:
            same = (required[name] + ".").startswith(version + ".")
        if not same:
            mismatches.append(f"{name}: {version} here, {required[name]} in requirements/")
    return mismatches


@pytest.mark.parametrize("path", ENV_FILES, ids=lambda path: path.stem)
def test_env_file_pins_the_required_versions(path):
    assert not drift(path), f"{path.name} drifted from what the tests run: {drift(path)}"


def test_drift_is_found_in_conda_and_pip_pins(tmp_path):
    env = tmp_path / "env.yaml"
    env.write_text(
        "dependencies:\n  - python =3.11\n  - py-opencv =4.12\n  - numpy =2.4\n"
        "  - pip:\n      - onnxruntime==1.0.0\n      - tract==0.23.9\n"
    )
    required = required_versions()
    assert required["opencv-python"].startswith("5.") and required["numpy"].startswith("2.4.")
    assert [item.split(":")[0] for item in drift(env)] == ["opencv-python", "onnxruntime"]


def test_env_files_pin_the_install_profiles():
    for name, extra in (
        ("sleap-cpu", "sleap-nn[export]==0.3.5"),
        ("sleap-gpu", "sleap-nn[export-gpu]==0.3.5"),
        ("sleap-tensorrt", "sleap-nn[export-gpu,tensorrt]==0.3.5"),
    ):
        spec = yaml.safe_load((REPO / "envs" / f"{name}.yaml").read_text())
        pip = next(d["pip"] for d in spec["dependencies"] if isinstance(d, dict))
        assert extra in pip
        assert "torch==2.14.1" in pip and "torchvision==0.29.1" in pip
        assert any(str(d).startswith("python =3.1") for d in spec["dependencies"])
