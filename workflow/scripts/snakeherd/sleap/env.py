"""Which Python runs the SLEAP rules: the user's existing environment, or Snakemake's conda env.

SLEAP brings its own torch/CUDA stack, so its rules run in a separate environment, chosen by:

* ``pose.env`` set to a **Python interpreter path** (a venv's ``bin/python``): used as is;
* ``pose.env`` set to a **conda environment name** (or a conda prefix folder): its
  ``bin/python``, found with ``conda env list --json`` (also mamba / micromamba) while the
  config is checked;
* ``pose.env`` null: under ``--sdm conda`` the rule's own environment (``envs/sleap-*.yaml``,
  chosen by the runtime), otherwise the interpreter running Snakemake.

Whether that interpreter really has sleap-nn (and torch, torchvision, onnx, onnxruntime that
import together) is the preflight rule's job (:mod:`.preflight`), on the node
that runs the jobs.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
from pathlib import Path

from ..errors import ConfigError
from ..runtimes import table

CONDA_FRONTENDS = ("conda", "mamba", "micromamba")


def conda_env_file(runtime: str) -> str:
    """The ``envs/`` file (relative to the repository) of the install profile for ``runtime``."""
    return table.get(runtime).env(table.SLEAP)


def _looks_like_path(value: str) -> bool:
    return (
        os.sep in value
        or value.startswith((".", "~"))
        or (os.altsep is not None and os.altsep in value)
    )


def _python_in_prefix(prefix: Path) -> Path:
    return prefix / ("python.exe" if os.name == "nt" else "bin/python")


def conda_environments(frontend: str) -> dict[str, str]:
    """Environment name → prefix, as ``<frontend> env list --json`` reports them."""
    try:
        result = subprocess.run(
            [frontend, "env", "list", "--json"],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        prefixes = json.loads(result.stdout).get("envs", [])
    except (OSError, subprocess.SubprocessError, ValueError) as error:
        raise ConfigError(
            f"pose.env: `{frontend} env list --json` failed ({error}).",
            "check that conda works in this shell, or give pose.env as the path of the "
            "environment's Python (e.g. /path/to/env/bin/python).",
        ) from None
    environments = {}
    for prefix in prefixes:
        path = Path(prefix)
        environments.setdefault(path.name, str(path))
        # The root installation (the one holding envs/) is conda's "base".
        if (path / "envs").is_dir() and (path / "conda-meta").is_dir():
            environments.setdefault("base", str(path))
    return environments


@functools.cache
def resolve_env(value: str | None) -> str | None:
    """The Python interpreter for ``pose.env`` (None when unset); raises :class:`ConfigError`.

    Cached: the config check and the SLEAP rules both ask, and a conda name costs a
    ``conda env list``.
    """
    if value is None or not str(value).strip():
        return None
    value = str(value).strip()
    if _looks_like_path(value):
        path = Path(value).expanduser()
        if path.is_dir():
            python = _python_in_prefix(path)
            if not python.exists():
                raise ConfigError(
                    f"pose.env: {value} is a folder without {python.relative_to(path)}; it is "
                    "not a Python environment.",
                    "give the environment's interpreter (e.g. /path/to/env/bin/python) or a "
                    "conda environment name.",
                )
            return str(python.absolute())
        if not path.exists():
            raise ConfigError(
                f"pose.env: the Python interpreter {value} does not exist.",
                "give the path of the SLEAP environment's Python, e.g. "
                "/path/to/sleap-venv/bin/python (`which python` inside that environment), or "
                "a conda environment name.",
            )
        if not os.access(path, os.X_OK) or path.is_dir():
            raise ConfigError(
                f"pose.env: {value} is not an executable Python interpreter.",
                "give the path of the SLEAP environment's Python (its bin/python).",
            )
        # Keep a venv's symlinked bin/python as is: resolving it would leave the venv.
        return str(path.absolute())

    frontends = [name for name in CONDA_FRONTENDS if shutil.which(name)]
    if not frontends:
        raise ConfigError(
            f"pose.env: '{value}' is not a path, so it names a conda environment, but no "
            f"conda is on PATH ({', '.join(CONDA_FRONTENDS)} not found), so no environment "
            f"'{value}' exists here.",
            "give pose.env as the path of the SLEAP environment's Python (e.g. "
            "/path/to/sleap-venv/bin/python), or run where conda is installed and "
            f"`conda env list` shows '{value}'.",
        )
    environments = conda_environments(frontends[0])
    if value not in environments:
        known = ", ".join(sorted(environments)) or "none"
        raise ConfigError(
            f"pose.env: there is no conda environment named '{value}' ({frontends[0]} knows: "
            f"{known}).",
            f"create it (`{frontends[0]} env create -n {value} -f envs/sleap-cpu.yaml`), fix "
            "the name, or give the path of a Python interpreter.",
        )
    python = _python_in_prefix(Path(environments[value]))
    if not python.exists():
        raise ConfigError(
            f"pose.env: conda environment '{value}' ({environments[value]}) has no Python.",
            f"install Python and sleap-nn into it, e.g. `{frontends[0]} env update -n {value} "
            "-f envs/sleap-cpu.yaml`.",
        )
    return str(python)
