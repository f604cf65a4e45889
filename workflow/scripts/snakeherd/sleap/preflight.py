"""Preflight of a SLEAP environment: do its packages import together, can it run the runtime?

Runs inside the SLEAP environment (any Python: this module imports only the standard library and
:mod:`snakeherd.runtimes` until it tries the packages), once per run, before any SLEAP job. It
turns the failures users meet into the remedy they need instead of a traceback deep in a job:

* ``operator torchvision::nms does not exist``: torch and torchvision come from different builds;
* ``libtorch_cuda.so: undefined symbol: ncclAlltoAll``: torch's CUDA libraries do not match the
  NCCL (or CUDA) libraries the loader found;
* missing export modules (onnx, onnxruntime, tensorrt): the ``[export]`` / ``[export-gpu]`` /
  ``tensorrt`` extras are not installed;
* no sleap-nn at all: the interpreter is not the SLEAP environment;
* a system library missing on the node (``libEGL.so.1: cannot open shared object file``, seen on a
  headless GPU node: sleap-nn's predictor imports skia-python, which loads libEGL).
"""

from __future__ import annotations

import importlib
import os
import platform
import re
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path

from .. import runtimes
from ..errors import RuntimeUnavailableError
from ..runtimes import table

SLEAP_NN_PIN = "sleap-nn[export]==0.3.5"

# The predictor module is what the jobs import; it pulls in libraries sleap_nn alone does not.
CORE_MODULES = ("torch", "torchvision", "sleap_nn", "sleap_io", "sleap_nn.inference.predictor")
EXPORT_MODULES = ("onnx", "onnxruntime")

# Which package ships a shared library, for the remedy: Debian/Ubuntu, RHEL/Rocky, conda-forge.
SYSTEM_PACKAGES = {
    "libEGL": ("libegl1", "libglvnd-egl", "libegl"),
    "libGL": ("libgl1", "libglvnd-glx", "libgl"),
    "libOpenGL": ("libopengl0", "libglvnd-opengl", "libopengl"),
}


@dataclass(frozen=True)
class Diagnosis:
    module: str
    problem: str
    fix: str


REPOSITORY = Path(__file__).resolve().parents[4]


def _extras_for(runtime: str) -> str:
    """sleap-nn with the extras that the runtime's environment file installs."""
    env_file = REPOSITORY / table.get(runtime).env(table.SLEAP)
    found = re.search(r"sleap-nn\[[^\]]*\]", env_file.read_text()) if env_file.is_file() else None
    return found.group(0) if found else "sleap-nn[export]"


def diagnose(module: str, error_text: str, runtime: str, python: str) -> Diagnosis:
    """The problem and the remedy for ``module`` failing to import with ``error_text``."""
    first_line = error_text.strip().splitlines()[-1] if error_text.strip() else error_text
    if "torchvision::nms does not exist" in error_text:
        return Diagnosis(
            module,
            f"torchvision cannot load its operators ('operator torchvision::nms does not "
            f"exist'): torchvision was built for another torch than the one installed in "
            f"{python}.",
            "reinstall torch and torchvision together, from one index, as a matching pair: "
            f"`{python} -m pip install --force-reinstall torch==2.14.1 torchvision==0.29.1` "
            "(or your CUDA build's pair from https://pytorch.org/get-started/locally/); never "
            "mix a conda-forge torch with a PyPI torchvision (PyTorch no longer publishes "
            "conda packages: install both with pip).",
        )
    if "ncclAlltoAll" in error_text or (
        "undefined symbol" in error_text and ("libtorch_cuda" in error_text or "nccl" in error_text)
    ):
        library_path = os.environ.get("LD_LIBRARY_PATH", "<unset>")
        return Diagnosis(
            module,
            f"torch's CUDA library does not match the NCCL/CUDA libraries the loader found "
            f"({first_line}); LD_LIBRARY_PATH={library_path}.",
            "unset a conflicting LD_LIBRARY_PATH (or `module unload` the cluster's CUDA/NCCL "
            "module) for SLEAP jobs; otherwise reinstall torch so it brings its own NCCL "
            f"(`{python} -m pip install --force-reinstall torch torchvision` from one index) "
            f"or upgrade it (`{python} -m pip install -U nvidia-nccl-cu12`, or -cu13 for CUDA "
            "13 builds).",
        )
    shared_library = re.search(r"([\w.+-]+\.so[\w.]*): cannot open shared object file", error_text)
    if shared_library:
        return _missing_system_library(module, shared_library.group(1), python)
    missing = isinstance(error_text, str) and (
        "No module named" in error_text or "ModuleNotFoundError" in error_text
    )
    if module == "sleap_nn" and missing:
        return Diagnosis(
            module,
            f"{python} has no sleap-nn: it is not a SLEAP environment.",
            f"point pose.env at the Python of your SLEAP environment, or install it there: "
            f'`{python} -m pip install "{SLEAP_NN_PIN}" torch==2.14.1 torchvision==0.29.1`; '
            "or run with `--sdm conda` and leave pose.env unset (envs/sleap-*.yaml).",
        )
    if module in ("onnx", "onnxruntime", "onnxscript") and missing:
        extras = _extras_for(runtime)
        return Diagnosis(
            module,
            f"runtime '{runtime}' exports the SLEAP model and runs it with ONNX Runtime, but "
            f"{python} lacks the export modules ({first_line}).",
            f'install sleap-nn\'s export extras: `{python} -m pip install "{extras}"` '
            "(sleap-nn[export] for CPU, sleap-nn[export-gpu] for CUDA).",
        )
    if module == "tensorrt" and missing:
        return Diagnosis(
            module,
            f"runtime 'tensorrt' needs TensorRT, which {python} lacks ({first_line}).",
            f'`{python} -m pip install "sleap-nn[export-gpu,tensorrt]"` on a node with an '
            "NVIDIA GPU and driver (envs/sleap-tensorrt.yaml).",
        )
    if module in ("torch", "torchvision") and missing:
        return Diagnosis(
            module,
            f"{python} has no {module} ({first_line}).",
            f"`{python} -m pip install torch==2.14.1 torchvision==0.29.1` (one index for both).",
        )
    return Diagnosis(
        module,
        f"importing {module} fails in {python}: {first_line}",
        f"reinstall it (`{python} -m pip install --force-reinstall {module.replace('_', '-')}`)"
        " and read the full error in this job's log.",
    )


def _missing_system_library(module: str, library: str, python: str) -> Diagnosis:
    packages = SYSTEM_PACKAGES.get(library.split(".so")[0])
    problem = (
        f"importing {module} in {python} needs the system library {library}, which this node lacks"
    )
    if packages:
        debian, redhat, conda = packages
        problem += (
            " (sleap-nn's predictor imports skia-python, which loads the EGL/OpenGL libraries "
            "even on headless nodes)"
        )
        how = (
            f"on Debian/Ubuntu `apt-get install {debian}`, on RHEL/Rocky `dnf install {redhat}`, "
            f"in a conda environment `conda install -c conda-forge {conda}`"
        )
    else:
        how = "with the operating system's package manager"
    return Diagnosis(
        module,
        problem + ".",
        f"install {library} on every node that runs SLEAP jobs: {how}; on a cluster, ask its "
        "administrators for the package or a module that provides it.",
    )


def required_modules(runtime: str) -> tuple[str, ...]:
    """What a SLEAP job on ``runtime`` imports (export runtimes need the export modules)."""
    modules = list(CORE_MODULES)
    family = table.get(runtime).family
    if family in (table.ONNX, table.TENSORRT):
        modules += EXPORT_MODULES
    if family == table.TENSORRT:
        modules.append("tensorrt")
    return tuple(modules)


def _version(module) -> str:
    return str(getattr(module, "__version__", "unknown"))


def run_preflight(runtime: str) -> dict:
    """Import what ``runtime`` needs and check the node; raises :class:`RuntimeUnavailableError`.

    Returns a report (versions, capability) for the stage records.
    """
    python = sys.executable
    required = required_modules(runtime)
    optional = [m for m in EXPORT_MODULES if m not in required]
    versions: dict[str, str] = {}
    problems: list[Diagnosis] = []
    optional_missing: dict[str, str] = {}
    for name in (*required, *optional):
        try:
            module = importlib.import_module(name)
        except Exception as error:  # import failures come in every type
            text = "".join(traceback.format_exception_only(type(error), error))
            if name in required:
                problems.append(diagnose(name, text, runtime, python))
                # Later modules import torch again and fail the same way: one remedy is enough.
                if name in ("torch", "sleap_nn"):
                    break
            else:
                optional_missing[name] = text.strip()
            continue
        if "." not in name:
            versions[name] = _version(module)
    if problems:
        first = problems[0]
        others = "".join(f"\nAlso: {p.problem}" for p in problems[1:])
        raise RuntimeUnavailableError(
            f"the SLEAP environment {python} cannot run runtime '{runtime}': "
            f"{first.problem}{others}",
            first.fix,
        )
    capability = runtimes.check_node(runtime, "sleap")
    return {
        "python": python,
        "python_version": platform.python_version(),
        "runtime": runtime,
        "versions": versions,
        "optional_missing": optional_missing,
        "capability": capability.as_dict(),
    }
