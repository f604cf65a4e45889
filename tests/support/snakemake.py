"""The workflow's command line, and real Snakemake runs of it in a work directory."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

from tests.support.paths import REPO


@dataclass
class SnakemakeRun:
    returncode: int
    stdout: str
    stderr: str
    workdir: Path

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def snakemake_command(
    workdir: Path, config: dict | None, *args: str, config_name: str = "config.yaml"
) -> list[str]:
    """The workflow's command line for ``workdir``, writing ``config`` there (as
    ``config_name``) when given."""
    workdir.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        str(REPO / "Snakefile"),
        "--directory",
        str(workdir),
    ]
    if config is not None:
        config_path = workdir / config_name
        config_path.write_text(yaml.safe_dump(config, sort_keys=False))
        command += ["--configfile", str(config_path)]
    return command + list(args)


def run_snakemake(
    workdir: Path,
    config: dict | None = None,
    *args: str,
    cores: int = 2,
    timeout: float = 600,
) -> SnakemakeRun:
    """Run the real workflow in ``workdir`` (with ``config`` written there when given)."""
    command = snakemake_command(workdir, config, "--cores", str(cores), *args)
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=timeout, cwd=workdir, check=False
    )
    return SnakemakeRun(result.returncode, result.stdout, result.stderr, workdir)
