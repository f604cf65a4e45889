"""The workflow's command line, and real Snakemake runs of it in a work directory."""

from __future__ import annotations

import os
import signal
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
    """Run the real workflow in ``workdir`` (with ``config`` written there when given).

    Snakemake runs in a process group of its own: past ``timeout`` (``TimeoutExpired``) or on
    Ctrl-C the whole group is killed, so no job it started is left running."""
    command = snakemake_command(workdir, config, "--cores", str(cores), *args)
    process = subprocess.Popen(
        command,
        cwd=workdir,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except BaseException:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        raise
    return SnakemakeRun(process.returncode, stdout, stderr, workdir)
