"""Tests of snakeherd.runtimes: the runtime table, the in-job node check, ONNX Runtime sessions."""
