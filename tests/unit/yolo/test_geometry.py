"""Box geometry against Ultralytics' and torchvision's own implementations: probabilistic IoU,
rotated and axis-aligned NMS, letterboxing, long side first."""

from __future__ import annotations

import math

import numpy as np
import pytest

from snakeherd.yolo import geometry


def random_obbs(rng, n):
    return np.column_stack(
        [
            rng.uniform(0, 100, n),
            rng.uniform(0, 100, n),
            rng.uniform(5, 40, n),
            rng.uniform(5, 40, n),
            rng.uniform(0, math.pi, n),
        ]
    )


def test_probiou_and_rotated_nms_match_ultralytics():
    import torch
    from ultralytics.utils.metrics import batch_probiou
    from ultralytics.utils.nms import TorchNMS

    rng = np.random.default_rng(0)
    boxes = random_obbs(rng, 60)
    scores = rng.uniform(0, 1, 60)
    ours = geometry.probiou_matrix(boxes, boxes)
    theirs = batch_probiou(torch.from_numpy(boxes), torch.from_numpy(boxes)).numpy()
    assert np.allclose(ours, theirs, atol=1e-6)
    kept = geometry.fast_nms(boxes, scores, 0.3, rotated=True)
    reference = TorchNMS.fast_nms(
        torch.from_numpy(boxes), torch.from_numpy(scores), 0.3, iou_func=batch_probiou
    ).numpy()
    assert kept.tolist() == reference.tolist()


def test_greedy_nms_matches_torchvision():
    import torch
    import torchvision

    rng = np.random.default_rng(1)
    xy = rng.uniform(0, 100, (80, 2))
    wh = rng.uniform(5, 30, (80, 2))
    boxes = np.column_stack([xy, xy + wh])
    scores = rng.uniform(0, 1, 80)
    reference = torchvision.ops.nms(torch.from_numpy(boxes), torch.from_numpy(scores), 0.5)
    assert geometry.greedy_nms(boxes, scores, 0.5).tolist() == reference.numpy().tolist()


@pytest.mark.parametrize(
    ("height", "width", "size"), [(384, 384, 384), (480, 640, 320), (600, 300, 640)]
)
def test_letterbox_matches_ultralytics(height, width, size):
    from ultralytics.data.augment import LetterBox

    rng = np.random.default_rng(2)
    image = rng.integers(0, 255, (height, width, 3), dtype=np.uint8)
    box = geometry.Letterbox.fit(height, width, size)
    expected = LetterBox(new_shape=(size, size), auto=False)(image=image)
    assert np.array_equal(box.apply(image), expected)
    # a video pixel maps into the letterbox and back
    point = np.array([[width * 0.3, height * 0.7]])
    forward = point * [box.gain_x, box.gain_y] + [box.pad_x, box.pad_y]
    assert np.allclose(box.to_video(forward), point)


def test_long_side_first():
    boxes = np.array([[0, 0, 10, 30, 0.2], [0, 0, 30, 10, 3.0], [0, 0, 20, 20, math.pi]])
    out = geometry.long_side_first(boxes)
    assert np.allclose(out[0, 2:], [30, 10, 0.2 + math.pi / 2])
    assert np.allclose(out[1, 2:], [30, 10, 3.0])
    assert 0 <= out[2, 4] < math.pi
