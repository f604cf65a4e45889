"""Letterboxing, oriented boxes, probabilistic IoU and non-maximum suppression, in NumPy.

These reproduce Ultralytics' conventions (``LetterBox``, ``scale_boxes``, ``batch_probiou``,
``fast_nms``) so the lean ONNX path returns the boxes Ultralytics' own predictor would, without
importing torch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

PAD_VALUE = 114


@dataclass(frozen=True)
class Letterbox:
    """How a frame was fitted into the model's square input: scale, then centred padding."""

    gain_x: float
    gain_y: float
    pad_x: int
    pad_y: int
    resized: tuple[int, int]  # (width, height) after scaling
    padding: tuple[int, int, int, int]  # top, bottom, left, right
    size: int

    @classmethod
    def fit(cls, height: int, width: int, size: int) -> Letterbox:
        ratio = min(size / height, size / width)
        new_w, new_h = max(round(width * ratio), 1), max(round(height * ratio), 1)
        dw, dh = (size - new_w) / 2, (size - new_h) / 2
        top, bottom = round(dh - 0.1), round(dh + 0.1)
        left, right = round(dw - 0.1), round(dw + 0.1)
        return cls(
            gain_x=new_w / width,
            gain_y=new_h / height,
            pad_x=left,
            pad_y=top,
            resized=(new_w, new_h),
            padding=(top, bottom, left, right),
            size=size,
        )

    def apply(self, image: np.ndarray) -> np.ndarray:
        """The frame (H, W, 3 BGR) resized and padded to ``size × size``."""
        import cv2

        if (image.shape[1], image.shape[0]) != self.resized:
            image = cv2.resize(image, self.resized, interpolation=cv2.INTER_LINEAR)
        top, bottom, left, right = self.padding
        if any(self.padding):
            image = cv2.copyMakeBorder(
                image, top, bottom, left, right, cv2.BORDER_CONSTANT, value=(PAD_VALUE,) * 3
            )
        return image

    def to_video(self, xy: np.ndarray) -> np.ndarray:
        """Model-input pixel coordinates (…, 2) back to video pixels."""
        out = np.array(xy, dtype=np.float64, copy=True)
        out[..., 0] = (out[..., 0] - self.pad_x) / self.gain_x
        out[..., 1] = (out[..., 1] - self.pad_y) / self.gain_y
        return out


def to_input_tensor(images: list[np.ndarray]) -> np.ndarray:
    """BGR uint8 images (all the model's size) → float32 NCHW RGB in [0, 1]."""
    batch = np.stack(images)[..., ::-1]  # BGR → RGB
    return np.ascontiguousarray(batch.transpose(0, 3, 1, 2), dtype=np.float32) * np.float32(
        1.0 / 255.0
    )


def long_side_first(xywhr: np.ndarray) -> np.ndarray:
    """Oriented boxes with ``w`` the long side and the angle of that side in [0, π)."""
    boxes = np.array(xywhr, dtype=np.float64, copy=True)
    swap = boxes[:, 3] > boxes[:, 2]
    boxes[swap, 2], boxes[swap, 3] = boxes[swap, 3], boxes[swap, 2].copy()
    boxes[swap, 4] += math.pi / 2
    boxes[:, 4] = np.mod(boxes[:, 4], math.pi)
    boxes[boxes[:, 4] >= math.pi, 4] = 0.0
    return boxes


def probiou_matrix(a: np.ndarray, b: np.ndarray, eps: float = 1e-7) -> np.ndarray:
    """Probabilistic IoU (1 − Hellinger distance of the boxes' Gaussians) for xywhr boxes."""

    def gaussian(boxes):
        var_w, var_h = boxes[:, 2] ** 2 / 12.0, boxes[:, 3] ** 2 / 12.0
        cos, sin = np.cos(boxes[:, 4]), np.sin(boxes[:, 4])
        return (
            var_w * cos**2 + var_h * sin**2,
            var_w * sin**2 + var_h * cos**2,
            (var_w - var_h) * cos * sin,
        )

    a1, b1, c1 = (v[:, None] for v in gaussian(a))
    a2, b2, c2 = (v[None, :] for v in gaussian(b))
    dx = a[:, None, 0] - b[None, :, 0]
    dy = a[:, None, 1] - b[None, :, 1]
    sa, sb, sc = a1 + a2, b1 + b2, c1 + c2
    det = sa * sb - sc**2
    mahalanobis = (sa * dy**2 + sb * dx**2) / (det + eps) * 0.25 + (sc * -dx * dy) / (
        det + eps
    ) * 0.5
    spread = 0.5 * np.log(
        det
        / (
            4.0 * np.sqrt(np.clip(a1 * b1 - c1**2, 0, None) * np.clip(a2 * b2 - c2**2, 0, None))
            + eps
        )
        + eps
    )
    bhattacharyya = np.clip(mahalanobis + spread, eps, 100.0)
    return 1.0 - np.sqrt(1.0 - np.exp(-bhattacharyya) + eps)


def box_iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of axis-aligned xyxy boxes."""
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 2], b[None, :, 2])
    y2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return inter / (area_a[:, None] + area_b[None, :] - inter + 1e-9)


def fast_nms(boxes: np.ndarray, scores: np.ndarray, iou: float, rotated: bool) -> np.ndarray:
    """Indices kept by Fast-NMS (Ultralytics' rotated NMS): a box is dropped when any
    higher-scoring box overlaps it by more than ``iou``. Kept indices are in descending score."""
    order = np.argsort(-scores, kind="stable")
    ordered = boxes[order]
    overlap = probiou_matrix(ordered, ordered) if rotated else box_iou_matrix(ordered, ordered)
    overlap = np.triu(overlap, k=1)
    return order[(overlap > iou).sum(axis=0) == 0]


def greedy_nms(boxes: np.ndarray, scores: np.ndarray, iou: float) -> np.ndarray:
    """Classic greedy NMS on xyxy boxes (what torchvision.ops.nms does), descending score."""
    order = np.argsort(-scores, kind="stable")
    keep = []
    overlap = box_iou_matrix(boxes, boxes)
    suppressed = np.zeros(len(boxes), dtype=bool)
    for index in order:
        if suppressed[index]:
            continue
        keep.append(index)
        suppressed |= overlap[index] > iou
    return np.asarray(keep, dtype=np.int64)
