"""The SLEAP pose stage: sleap-nn models on every runtime SLEAP supports, in their own environment.

sleap-nn brings its own torch/CUDA stack, so most of this package runs in the SLEAP environment,
started by the SLEAP rules' scripts (``workflow/scripts/sleap_*.py``); the main environment never
imports sleap-nn. Which module runs where:

Main environment (Snakemake, while it parses the config, and the main-environment rules):

* :mod:`.models` — what a model folder is, which pipeline the folders form, where exports go;
* :mod:`.env` — which Python runs the SLEAP rules (``pose.env`` or the conda env file);
* :mod:`.tables` — the stage's arrays as ``poses.parquet`` / ``detections.parquet``.

SLEAP environment (the SLEAP rules' jobs):

* :mod:`.preflight` — do its packages import together, can it run the runtime on this node;
* :mod:`.export` — ``sleap-nn export`` and the parity check against the checkpoints;
* :mod:`.inference` — the stage on one video: whole frames or crops, ``.slp`` and arrays out;
* :mod:`.evaluation` — sleap-nn's pose metrics against ground truth;
* :mod:`.predictors` — checkpoint and exported predictors, top-down pairs composed;
* :mod:`.corrections` — exported graphs' outputs made to agree with their checkpoints;
* :mod:`.graph` — edits to the exported ONNX graphs (exposed maps, antialiased resize);
* :mod:`.commands` — what the SLEAP rules' scripts share (arguments, sleap-nn's log).

Both: :mod:`.handover` (numpy only) — the ``.npz`` arrays one environment writes for the other.
"""
