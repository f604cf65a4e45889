"""Running Python in the other environments (the SLEAP venv, the onnx_cuda venv), where the
main environment's imports are not available."""

from __future__ import annotations

import subprocess
from pathlib import Path


def run_python(python: Path, *args, timeout: float) -> subprocess.CompletedProcess:
    """``python ARGS`` (a script or ``-c CODE`` and its arguments), which must succeed; the end
    of what it printed tells why it did not."""
    result = subprocess.run(
        [str(python), *[str(arg) for arg in args]],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result
