"""Benchmark stages, each run in a fresh Python process so that its peak RSS is its own."""

from __future__ import annotations

import json
import subprocess
import sys

# Appended to a stage's code, which sets `elapsed` (seconds) and `frames`.
# VmHWM, not ru_maxrss: the latter keeps the forking parent's peak across exec.
_REPORT = r"""
import json as _json, re as _re
_peak_kb = int(_re.search(r"VmHWM:\s+(\d+)", open("/proc/self/status").read()).group(1))
print(_json.dumps({"seconds": elapsed, "frames": int(frames), "peak_rss_mb": _peak_kb / 1024}))
"""


def run_measured_stage(code: str, *arguments: object) -> dict:
    """Run a stage's code with `arguments` as its sys.argv[1:]; its seconds, frames and peak RSS."""
    result = subprocess.run(
        [sys.executable, "-c", code + _REPORT, *map(str, arguments)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])
