#!/usr/bin/env python3
"""Check that the pip half of every per-rule conda environment (envs/*.yaml) can be installed.

CI cannot reach conda channels, so these environments are never built there;
tests/envs/test_env_files.py keeps their versions equal to what the tests run, and this script asks
PyPI whether each file's pip requirements resolve for this platform (`pip install --dry-run`,
nothing is installed). Run it after changing a pin:

    .venv/bin/python tools/resolve-env-files.py [envs/onnx-cuda.yaml ...]

TensorRT's PyPI packages fetch their real wheels from https://pypi.nvidia.com/ while resolving:
without that index they fail here, which says nothing about the pins.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]


def pip_requirements(env_file: Path) -> list[str]:
    dependencies = yaml.safe_load(env_file.read_text())["dependencies"]
    return [
        requirement
        for item in dependencies
        if isinstance(item, dict)
        for requirement in item.get("pip", [])
    ]


def resolve(requirements: list[str]) -> tuple[bool, str]:
    """Whether pip finds versions of all of them (and their dependencies); pip's last words."""
    with tempfile.TemporaryDirectory() as folder:
        listing = Path(folder) / "requirements.txt"
        listing.write_text("\n".join(requirements) + "\n")
        result = subprocess.run(
            [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed",
             "--quiet", "-r", str(listing)],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
    if result.returncode == 0:
        return True, ""
    if "pypi.nvidia.com" in result.stderr:
        return False, "a package fetches its wheel from https://pypi.nvidia.com/, unreachable here"
    errors = [line for line in result.stderr.splitlines() if line.lower().startswith("error")]
    return False, (errors or result.stderr.splitlines() or ["pip failed"])[-1]


def main() -> int:
    env_files = [Path(name) for name in sys.argv[1:]] or sorted((REPO / "envs").glob("*.yaml"))
    failed = 0
    for env_file in env_files:
        requirements = pip_requirements(env_file)
        ok, message = resolve(requirements) if requirements else (True, "")
        failed += not ok
        print(f"{env_file.name:<28} {'resolves' if ok else 'FAILS: ' + message}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
