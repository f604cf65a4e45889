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

__version__ = "0.1.0"
