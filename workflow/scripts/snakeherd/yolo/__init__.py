"""YOLO stages (Ultralytics models): export, OBB detection and pose, on every runtime.

- ``offline``: Ultralytics without network (settings, font), loading and checking ``.pt`` files.
- ``geometry``: letterboxing, oriented boxes, probabilistic IoU, non-maximum suppression.
- ``decode``: raw model outputs → boxes and keypoints in video pixels.
- ``backends``: ONNX Runtime and tract sessions (the lean path, no torch) and Ultralytics (native
  runtimes and TensorRT engines).
- ``detect``: YOLO-OBB detection over a video.
- ``pose``: YOLO-pose on detection crops or on whole frames.
- ``export``: ``.pt`` → ``.onnx`` / ``.engine`` with a parity check against the source.
"""
