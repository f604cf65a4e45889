"""Tests of snakeherd.tracking, one file per module, on constructed animal paths."""
