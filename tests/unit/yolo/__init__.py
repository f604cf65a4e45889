"""Tests of snakeherd.yolo on the real fly clip and its models."""
