"""The SLEAP preflight in environments that cannot work, caught with the remedy users need.

Broken environments are real and cheap: a venv whose packages are symlinks into the SLEAP venv
minus some of them (no onnx), or plus the machine's local torch 2.13.0 wheel beside the SLEAP
venv's torchvision 0.29.1 (built for torch 2.14.1), which fails as users see it with
"operator torchvision::nms does not exist".
"""

from __future__ import annotations

import subprocess
import venv
from pathlib import Path

import pytest

from tests.support.paths import SCRIPTS

pytestmark = pytest.mark.workflow

LOCAL_TORCH_2_13 = Path("/opt/wheels/torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl")


def site_packages(python: Path) -> Path:
    return Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )


def environment_without(sleap_python: Path, folder: Path, excluded: tuple[str, ...]) -> Path:
    """A venv that sees the SLEAP venv's packages except ``excluded`` (name prefixes)."""
    venv.create(folder, with_pip=False)
    python = folder / "bin" / "python"
    farm = folder / "farm"
    farm.mkdir()
    for entry in site_packages(sleap_python).iterdir():
        name = entry.name.lower()
        if name == "__pycache__" or name.endswith(".pth"):
            continue
        if any(name == e or name.startswith(e + "-") or name.startswith(e + ".") for e in excluded):
            continue
        (farm / entry.name).symlink_to(entry)
    (site_packages(python) / "sleap_packages.pth").write_text(f"{farm}\n")
    return python


def preflight(python: Path, runtime: str, tmp_path: Path) -> tuple[int, str]:
    log = tmp_path / f"preflight_{runtime}.log"
    result = subprocess.run(
        [
            str(python),
            str(SCRIPTS / "sleap_preflight.py"),
            "--runtime",
            runtime,
            "--output",
            str(tmp_path / "preflight.json"),
            "--log",
            str(log),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    return result.returncode, log.read_text()


def test_preflight_passes_in_the_sleap_environment(sleap_python, tmp_path):
    code, log = preflight(sleap_python, "onnx_cpu", tmp_path)
    assert code == 0, log
    import json

    report = json.loads((tmp_path / "preflight.json").read_text())
    assert report["versions"]["sleap_nn"] == "0.3.5"
    assert report["capability"]["providers"] == ["CPUExecutionProvider"]


def test_mismatched_torch_and_torchvision(sleap_python, tmp_path):
    if not LOCAL_TORCH_2_13.exists():
        pytest.fail(f"{LOCAL_TORCH_2_13} (part of this machine image) is missing")
    python = environment_without(sleap_python, tmp_path / "env", ("torch", "functorch", "torchgen"))
    subprocess.run(
        [str(python), "-m", "ensurepip", "--default-pip"], capture_output=True, check=True
    )
    subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-index",
            str(LOCAL_TORCH_2_13),
        ],
        capture_output=True,
        check=True,
        timeout=600,
    )
    code, log = preflight(python, "cpu", tmp_path)
    assert code == 1
    assert "operator torchvision::nms does not exist" in log
    assert "reinstall torch and torchvision together" in log
    assert str(python) in log
    assert "Traceback" not in log


def test_environment_without_the_export_modules(sleap_python, tmp_path):
    python = environment_without(sleap_python, tmp_path / "env", ("onnx", "onnxruntime"))
    code, log = preflight(python, "onnx_cpu", tmp_path)
    assert code == 1
    assert "lacks the export modules" in log
    assert 'pip install "sleap-nn[export]"' in log
    # The checkpoint runtimes do not need them.
    code, log = preflight(python, "cpu", tmp_path)
    assert code == 0, log
