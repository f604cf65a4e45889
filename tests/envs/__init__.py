"""The environments: the conda env files' pins, and the onnx_cuda venv running the YOLO path."""
