"""Helpers the tests and the benchmarks share; nothing here is a test.

* :mod:`.paths` — the repository, the rule scripts, the other environments' interpreters.
* :mod:`.data` — the shared test data: where it is, what it holds, writable copies of its models.
* :mod:`.snakemake` — the workflow's command line and real Snakemake runs in a work directory.
* :mod:`.configs` — workflow configs that several tests and benchmarks run.
* :mod:`.matching` — two runs of the same frames compared: boxes, instances, keypoints.
* :mod:`.environments` — Python run in the other environments (SLEAP, onnx_cuda), checked.
* :mod:`.sleap_commands` — command lines of ``sleap-nn predict`` and of the SLEAP stage's scripts.
* :mod:`.tracks` — constructed animal paths as detections, for the tracker's tests.
* :mod:`.retracking` — a SLEAP predictions file re-tracked by our tracker and by sleap-nn's.

Two of its files are scripts for the SLEAP environment (``.venv-sleap/bin/python FILE``), which
import nothing from here: ``sleap_retrack.py`` (sleap-nn's tracker on a .slp) and
``multiclass_fixture.py`` (trains small multi-class models for the tests).
"""
