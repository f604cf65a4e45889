"""Tests of snakeherd.sleap's main-environment side (modules that need no sleap-nn)."""
