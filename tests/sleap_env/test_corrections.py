"""The stage's corrections of sleap-nn's exported graphs, against sleap-nn's own operations in
the SLEAP environment."""

from __future__ import annotations

import subprocess

import pytest

from tests.support.paths import SCRIPTS

pytestmark = pytest.mark.workflow


LOCAL_PEAK_REFINEMENT = """
import sys

import torch
from sleap_nn.inference.ops.peaks import find_local_peaks

sys.path.insert(0, sys.argv[1])
from snakeherd.sleap.corrections import refined_local_peaks

stride, scale, slots = 4, 0.6, 3
ys, xs = torch.meshgrid(torch.arange(48.0), torch.arange(64.0), indexing="ij")
centres = {(0, 0): [(10.3, 7.8), (40.6, 30.2)], (0, 1): [(20.5, 20.5)], (1, 1): [(59.7, 1.4)]}
maps = torch.zeros(2, 2, 48, 64)
for (sample, node), points in centres.items():
    for x, y in points:
        blob = torch.exp(-((xs - x) ** 2 + (ys - y) ** 2) / 4.5)
        maps[sample, node] = torch.maximum(maps[sample, node], blob)
# sleap-nn's checkpoint path: rough local peaks, refined by integrating a patch around each.
expected, _, sample_inds, node_inds = find_local_peaks(maps, 0.2, "integral", 5)
rough, _, _, _ = find_local_peaks(maps, 0.2, None, 5)
# The same rough peaks as a multi-class graph reports them (x stride / scale), times the scale.
peaks, checkpoint = torch.zeros(2, 2, slots, 2), torch.zeros(2, 2, slots, 2)
valid = torch.zeros(2, 2, slots, dtype=torch.bool)
for i, (sample, node) in enumerate(zip(sample_inds.tolist(), node_inds.tolist(), strict=True)):
    slot = int(valid[sample, node].sum())
    peaks[sample, node, slot] = rough[i] * stride / scale * scale
    checkpoint[sample, node, slot] = expected[i]
    valid[sample, node, slot] = True
refined = refined_local_peaks(maps, peaks, valid, stride) / stride
short = torch.ceil(peaks / stride) - peaks / stride
print(len(rough), int(((short > 0) & (short < 1e-3))[valid].any(-1).sum()))
print(float((refined - checkpoint)[valid].abs().max()))
"""


def test_local_peaks_are_refined_as_the_checkpoint_refines_them(sleap_python):
    result = subprocess.run(
        [str(sleap_python), "-c", LOCAL_PEAK_REFINEMENT, str(SCRIPTS)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    counts, difference = result.stdout.split("\n")[:2]
    peaks, below_their_grid_point = map(int, counts.split())
    assert peaks == 4
    # Some points come back a hair below their grid point (x.9999998), and still refine around
    # the right pixel.
    assert below_their_grid_point > 0
    assert float(difference) < 1e-5
