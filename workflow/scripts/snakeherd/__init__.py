"""snakeherd's library: everything the workflow's rule scripts do lives here, one job per module.

- ``runtimes``: the runtime capability matrix, the config-time runtime check and the in-job node
  check.
- ``config``: checks of a config beyond its schema; the list of videos to process.
- ``video``: frame selections, probing and streaming frames.
- ``synthetic``: the generated demo scene and its ground truth.
- ``detection``: background-subtraction detection.
- ``tracking``: linking detections into tracks.
- ``evaluation``: scoring tracks against ground truth.
- ``io``: the result tables (Parquet with a schema version, CSV).
- ``provenance``: what produced a results folder.
- ``scripting``: running a rule script with readable errors and a log.
"""

import os

__version__ = "0.1.0"

# Arrow allocates through the C library's malloc, as NumPy does, when told before it loads. Its
# own allocator (mimalloc) keeps what Arrow frees for Arrow alone: a job that reads tables and
# then works in NumPy held both at its peak (the track job of 40,000 detections: 273 MB against
# 251 MB with malloc). A setting of the user's own stands.
os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")
