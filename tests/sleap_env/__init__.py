"""Code run inside the SLEAP environment (.venv-sleap, through the ``sleap_python`` fixture):
the stage's scripts, its corrections and preflight, sleap-nn's tracker; no Snakemake run."""
