"""Sample sheets: the videos of a run as a tab-separated table, one row per video.

Read in the main environment while Snakemake parses the config; the rows are then checked like
the entries of a ``videos:`` list (:func:`snakeherd.config.check_config`).
"""

from __future__ import annotations

from pathlib import Path

from .errors import ConfigError

SUBJECT_FIELDS = ("species", "sex", "age", "strain", "genotype", "description")
COLUMNS = (
    "id",
    "path",
    "frames",
    "ground_truth",
    "predictions",
    "proofread",
    "chunk_frames",
    *(f"subject_{field}" for field in SUBJECT_FIELDS),
)


def _check_cell_counts(path: str) -> None:
    """Every row has as many cells as the header: with one more, pandas would take the first
    column for an index and shift every cell; with one fewer, the last column would be empty."""
    lines = Path(path).read_text(errors="replace").splitlines()
    rows = [
        (number, line.split("\t"))
        for number, line in enumerate(lines, 1)
        if line.strip() and not line.lstrip().startswith("#")
    ]
    if not rows:
        return
    _, header = rows[0]
    for number, cells in rows[1:]:
        if len(cells) != len(header):
            raise ConfigError(
                f"sample_sheet {path} line {number}: {len(cells)} tab-separated cells, and the "
                f"header has {len(header)} ({', '.join(c.strip() for c in header)}).",
                "give every row one cell per column, separated by single tabs (leave a cell "
                "empty, not out, for a value you do not set).",
            )


def read(path: str):
    """The sample sheet as a DataFrame of strings (empty cells are empty strings)."""
    import pandas as pd

    if Path(path).is_dir():
        raise ConfigError(
            f"sample_sheet: {path} is a folder, and a sample sheet is a file.",
            "point sample_sheet at the tab-separated file that lists your videos.",
        )
    if not Path(path).is_file():
        raise ConfigError(
            f"sample_sheet: file not found: {path}",
            "fix the path (relative to the directory you run snakemake in).",
        )
    _check_cell_counts(path)
    try:
        sheet = pd.read_csv(
            path,
            sep="\t",
            dtype=str,
            keep_default_na=False,
            comment="#",
            skip_blank_lines=True,
            index_col=False,
        )
    except Exception as error:  # pandas raises several parser error types
        raise ConfigError(
            f"sample_sheet {path} cannot be read as a tab-separated table: {error}",
            "save it as TSV with a header line: id, path, and optionally frames, ground_truth, "
            "predictions, proofread.",
        ) from None
    sheet.columns = [str(c).strip() for c in sheet.columns]
    unknown = [c for c in sheet.columns if c not in COLUMNS]
    if unknown:
        raise ConfigError(
            f"sample_sheet {path}: unknown column(s) {unknown}.",
            f"use the columns {', '.join(COLUMNS)} (tab-separated).",
        )
    for required in ("id", "path" if "predictions" not in sheet.columns else "id"):
        if required not in sheet.columns:
            raise ConfigError(
                f"sample_sheet {path}: missing the column '{required}'.",
                f"add a header line with at least: id<TAB>path (all: {', '.join(COLUMNS)}).",
            )
    if sheet.empty:
        raise ConfigError(f"sample_sheet {path} lists no videos.", "add one row per video.")
    return sheet
