"""Result tables: their core columns, Parquet files with a schema version, and CSV exports.

Core columns (:data:`CORE_COLUMNS`) are never renamed; stages may add more. Every Parquet file
carries, in its key-value metadata under ``snakeherd``, the schema version, the table's name and
what the stage that wrote it recorded (runtime, providers, parameters). Files are written to a
temporary name and renamed, so a crash never leaves a half-written table. Nothing time- or
host-dependent goes into a table, so the same inputs give byte-identical files.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

SCHEMA_VERSION = 1
METADATA_KEY = b"snakeherd"

CORE_COLUMNS: dict[str, dict[str, pa.DataType]] = {
    "detections": {
        "video_id": pa.string(),
        "frame": pa.int64(),
        "det_id": pa.int64(),
        "x": pa.float64(),
        "y": pa.float64(),
        "w": pa.float64(),
        "h": pa.float64(),
        "angle": pa.float64(),
        "score": pa.float64(),
        "class_id": pa.int64(),
    },
    "poses": {
        "video_id": pa.string(),
        "frame": pa.int64(),
        "det_id": pa.int64(),
        "node": pa.string(),
        "x": pa.float64(),
        "y": pa.float64(),
        "score": pa.float64(),
    },
    "tracks": {
        "video_id": pa.string(),
        "frame": pa.int64(),
        "track_id": pa.int64(),
        "det_id": pa.int64(),
        "x": pa.float64(),
        "y": pa.float64(),
        "angle": pa.float64(),
        "score": pa.float64(),
    },
    "ground_truth": {
        "frame": pa.int64(),
        "track_id": pa.int64(),
        "x": pa.float64(),
        "y": pa.float64(),
    },
    "evaluation": {
        "video_id": pa.string(),
    },
    "suspects": {
        "video_id": pa.string(),
        "frame": pa.int64(),
        "start_frame": pa.int64(),
        "end_frame": pa.int64(),
        "track_ids": pa.string(),
        "reason": pa.string(),
        "severity": pa.float64(),
    },
}

# The desktop tracking tool's CSV columns, so existing analysis scripts read our tracks.
TRACKS_CSV_COLUMNS = {
    "track_id": "TrajectoryID",
    "frame": "FrameID",
    "x": "X",
    "y": "Y",
    "angle": "Theta",
    "score": "DetectionConfidence",
    "det_id": "DetectionID",
    "video_id": "VideoID",
    "heading": "Heading",
    "interpolated": "Interpolated",
}
# Rows of a CSV written at once (a few MB of text with keypoints).
CSV_ROWS = 16384
# Values (rows × columns) of a batch iter_table reads by default.
BATCH_VALUES = 2**19
# Rows of a Parquet row group: a reader decodes a whole row group to give a batch of it, so
# tables read in batches (iter_table) stay within a row group's columns.
ROW_GROUP_ROWS = 65536


class TableSchemaError(ValueError):
    """A table lacks core columns or has the wrong schema version."""


def _atomic_path(path: Path) -> Path:
    return path.with_name(f".{path.name}.tmp-{os.getpid()}")


@contextlib.contextmanager
def _written_whole(path: str | os.PathLike) -> Iterator[Path]:
    """A temporary path to write ``path``'s content to: it becomes ``path`` when the ``with``
    block ends without an error, and is removed otherwise (no partial file)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = _atomic_path(path)
    try:
        yield temporary
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def to_arrow(frame: pd.DataFrame, table: str) -> pa.Table:
    """Arrow table with the core columns first, in contract order and types, extras after."""
    core = CORE_COLUMNS[table]
    missing = [name for name in core if name not in frame.columns]
    if missing:
        raise TableSchemaError(f"{table} table lacks core columns {missing}")
    extras = [name for name in frame.columns if name not in core]
    arrays = []
    fields = []
    for name in [*core, *extras]:
        array = pa.array(frame[name].to_numpy(), from_pandas=True)
        if name in core and array.type != core[name]:
            array = array.cast(core[name])
        arrays.append(array)
        fields.append(pa.field(name, array.type))
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


def write_table(frame: pd.DataFrame, path: str | os.PathLike, table: str, stage: dict) -> None:
    """Write ``frame`` as the Parquet table ``table`` with the stage's record in its metadata."""
    arrow = to_arrow(frame.reset_index(drop=True), table)
    arrow = arrow.replace_schema_metadata(_stage_metadata(table, stage))
    with _written_whole(path) as temporary:
        pq.write_table(arrow, temporary, compression="zstd", row_group_size=ROW_GROUP_ROWS)


def _stage_metadata(table: str, stage: dict) -> dict[bytes, bytes]:
    metadata = {"schema_version": SCHEMA_VERSION, "table": table, "stage": stage}
    return {METADATA_KEY: json.dumps(metadata, sort_keys=True, default=str).encode()}


class TableWriter:
    """A snakeherd table written part by part (Arrow tables of ``schema``, in order), so a table
    larger than memory can be joined from parts; the file appears, whole, when the ``with``
    block ends without an error, and not at all otherwise. Without ``schema``, the first part
    written sets it (parts as pandas tables: :meth:`write_frame`)."""

    def __init__(
        self, path: str | os.PathLike, table: str, stage: dict, schema: pa.Schema | None = None
    ):
        self.path = Path(path)
        self.table = table
        self.metadata = _stage_metadata(table, stage)
        self.schema = schema.with_metadata(self.metadata) if schema is not None else None
        self.rows = 0
        self._temporary = _atomic_path(self.path)
        self._writer: pq.ParquetWriter | None = None

    def __enter__(self) -> TableWriter:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.schema is not None:
            self._open()
        return self

    def _open(self) -> None:
        self._writer = pq.ParquetWriter(self._temporary, self.schema, compression="zstd")

    def write(self, part: pa.Table) -> None:
        if self._writer is None:
            self.schema = part.schema.with_metadata(self.metadata)
            self._open()
        self._writer.write_table(
            part.replace_schema_metadata(self.schema.metadata), row_group_size=ROW_GROUP_ROWS
        )
        self.rows += part.num_rows

    def write_frame(self, part: pd.DataFrame) -> None:
        """Write a part given as a pandas table (core columns checked, as :func:`write_table`)."""
        self.write(to_arrow(part.reset_index(drop=True), self.table))

    def __exit__(self, error_type, error, traceback) -> None:
        try:
            if self._writer is None:
                if error_type is None:
                    raise ValueError(f"{self.path}: no part written, so no schema to write")
                return
            self._writer.close()
            if error_type is None:
                os.replace(self._temporary, self.path)
        finally:
            self._temporary.unlink(missing_ok=True)


def read_metadata(path: str | os.PathLike) -> dict:
    """The ``snakeherd`` metadata record of a table written by :func:`write_table`."""
    raw = (pq.read_schema(path).metadata or {}).get(METADATA_KEY)
    if raw is None:
        raise TableSchemaError(f"{path} was not written by snakeherd (no schema metadata)")
    return json.loads(raw)


def read_table(
    path: str | os.PathLike,
    table: str,
    columns: list[str] | None = None,
    frames: Iterable[int] | None = None,
) -> pd.DataFrame:
    """Read a snakeherd table (only ``columns``, those of them it has, when given; only the
    rows of ``frames`` when given), checking its name and schema version."""
    check_table(path, table)
    if columns is not None:
        present = set(pq.read_schema(path).names)
        columns = [name for name in columns if name in present]
    filters = None
    if frames is not None:
        filters = [("frame", "in", sorted({int(frame) for frame in frames}))]
    return pd.read_parquet(path, columns=columns, filters=filters)


def read_columns(path: str | os.PathLike, table: str, columns: list[str]) -> pd.DataFrame:
    """:func:`read_table`'s ``columns`` (those the table has), read a batch at a time into one
    array per column: a whole read holds a long video's table twice (Arrow's copy and the
    DataFrame's blocks), this once and a batch."""
    check_table(path, table)
    schema = pq.read_schema(path)
    columns = [name for name in columns if name in schema.names]
    parts: dict[str, list] = {name: [] for name in columns}
    for batch in iter_table(path, table, columns):
        for name in columns:
            parts[name].append(batch[name].to_numpy())
    if not any(parts.values()):
        return schema.empty_table().select(columns).to_pandas()
    return pd.DataFrame({name: np.concatenate(parts.pop(name)) for name in columns}, copy=False)


def read_arrow(path: str | os.PathLike, table: str) -> pa.Table:
    """:func:`read_table` as an Arrow table (no pandas conversion)."""
    check_table(path, table)
    return pq.read_table(path)


def iter_table(
    path: str | os.PathLike, table: str, columns: list[str], batch_rows: int | None = None
) -> Iterator[pd.DataFrame]:
    """The ``columns`` of a snakeherd table, ``batch_rows`` rows at a time, in file order: memory
    bounded by the batch, not the table. By default a batch holds about :data:`BATCH_VALUES`
    values (at most a row group): a tracks table with keypoints read 65,536 rows at a time took
    ~250 MB more than 7,000 rows at a time (Arrow keeps what it decoded)."""
    check_table(path, table)
    if batch_rows is None:
        batch_rows = max(1, min(ROW_GROUP_ROWS, BATCH_VALUES // max(len(columns), 1)))
    source = pq.ParquetFile(path)
    # A reader per row group: one reader over the whole file kept ~85 KB more with each row
    # group it passed (a 16-million-row poses table read 20 MB more than one of 5 million).
    for group in range(source.metadata.num_row_groups):
        for batch in source.iter_batches(
            batch_size=batch_rows, row_groups=[group], columns=columns, use_threads=False
        ):
            yield batch.to_pandas()


def iter_columns(path: str | os.PathLike, table: str, columns: list[str]) -> Iterator[pd.DataFrame]:
    """:func:`iter_table` of those of ``columns`` the table has."""
    names = pq.read_schema(path).names
    return iter_table(path, table, [name for name in columns if name in names])


def distinct_frames(parts: Iterable[pd.DataFrame]) -> np.ndarray:
    """The frames a table's ``parts`` hold rows of, sorted, once each."""
    found = [np.unique(part["frame"].to_numpy(dtype=np.int64)) for part in parts]
    return np.unique(np.concatenate([np.zeros(0, dtype=np.int64), *found]))


def in_frame_order(
    path: str | os.PathLike, table: str, columns: list[str]
) -> Callable[[], Iterator[pd.DataFrame]]:
    """:func:`iter_columns` of a table, afresh at each call, in parts sorted by frame: the file's
    batches when its rows are (a snakeherd tracks table's are), else the table read whole and
    sorted once (a frame's rows in the file's order)."""
    try:
        for _ in sorted_by_frame(iter_columns(path, table, ["frame"]), table):
            pass
    except ValueError:
        whole = read_columns(path, table, columns).sort_values("frame", kind="stable")
        return lambda: iter([whole])
    return lambda: iter_columns(path, table, columns)


def sorted_by_frame(parts: Iterable[pd.DataFrame], what: str) -> Iterator[pd.DataFrame]:
    """``parts`` as they are read; one whose frames go back (within it or from the part before)
    is refused: ValueError, "``what`` must be sorted by frame"."""
    latest = -np.inf
    for part in parts:
        if len(part):
            frames = part["frame"].to_numpy()
            if frames[0] < latest or (np.diff(frames) < 0).any():
                raise ValueError(f"{what} must be sorted by frame")
            latest = frames[-1]
        yield part


def frame_aligned(*tables: Iterable[pd.DataFrame]) -> Iterator[tuple[pd.DataFrame, ...]]:
    """Tables sorted by frame, each given in parts (e.g. :func:`iter_table`'s batches), read side
    by side: at each step the rows of the same frames from every table (an empty table where
    one has none of them), a frame's rows never split between steps; every row once, in order.
    A table whose rows go back in frame is refused (ValueError)."""
    parts = [sorted_by_frame(table, "tables read side by side") for table in tables]
    held = [pd.DataFrame() for _ in tables]
    done = [False] * len(tables)

    def read(i: int) -> None:
        part = next(parts[i], None)
        if part is None:
            done[i] = True
        elif len(part):
            held[i] = part if held[i].empty else pd.concat([held[i], part], ignore_index=True)

    while True:
        for i in range(len(tables)):
            while not done[i] and held[i].empty:
                read(i)
        reading = [i for i in range(len(tables)) if not done[i]]
        if not reading:
            if any(len(rows) for rows in held):
                yield tuple(held)
            return
        # A table still being read may hold more rows of its last frame: the frames before the
        # smallest such frame are whole in every table.
        last = [int(held[i]["frame"].iat[-1]) for i in reading]
        limit = min(last)
        cuts = [int(np.searchsorted(rows["frame"].to_numpy(), limit)) if len(rows) else 0
                for rows in held]  # fmt: skip
        if not any(cuts):
            for i, frame in zip(reading, last, strict=True):
                if frame == limit:
                    read(i)
            continue
        yield tuple(
            rows.iloc[:cut].reset_index(drop=True) for rows, cut in zip(held, cuts, strict=True)
        )
        held = [
            rows.iloc[cut:].reset_index(drop=True) for rows, cut in zip(held, cuts, strict=True)
        ]


def count_rows(path: str | os.PathLike) -> int:
    """Rows of a Parquet table, from its footer."""
    return pq.ParquetFile(path).metadata.num_rows


def check_table(path: str | os.PathLike, table: str) -> None:
    """Raises :class:`TableSchemaError` unless ``path`` holds the snakeherd table ``table`` at
    this snakeherd's schema version."""
    metadata = read_metadata(path)
    if metadata.get("table") != table:
        raise TableSchemaError(f"{path} holds a '{metadata.get('table')}' table, not '{table}'")
    if metadata.get("schema_version") != SCHEMA_VERSION:
        raise TableSchemaError(
            f"{path} has schema version {metadata.get('schema_version')}; this snakeherd reads "
            f"version {SCHEMA_VERSION}: re-run the workflow to regenerate it"
        )


def hdf5_written_in_chunks(path: str | os.PathLike, mode: str = "w"):
    """An open HDF5 file (h5py) whose chunked datasets are written a whole chunk at a time, each
    chunk once: without HDF5's chunk cache, which keeps up to 1 MiB of every dataset's chunks
    until the file closes (~50 MB for the 48 series of a 24-node track's NWB file, and as much
    more as there are datasets), while nothing is read back."""
    import h5py

    return h5py.File(path, mode, rdcc_nbytes=0)


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    with _written_whole(path) as temporary:
        temporary.write_text(text)


def write_tracks_csv(
    tracks: pd.DataFrame | Iterable[pd.DataFrame], path: str | os.PathLike
) -> None:
    """Tracks as CSV in the desktop tool's column names, extra columns kept under their own.

    Written :data:`CSV_ROWS` rows at a time: pandas turns a whole table into one string first,
    for a long video's tracks with keypoints larger than the table itself. ``tracks`` may also
    come in parts (in order, the same columns)."""
    if isinstance(tracks, pd.DataFrame):
        whole = tracks
        tracks = (whole.iloc[at : at + CSV_ROWS] for at in range(0, max(len(whole), 1), CSV_ROWS))
    with _written_whole(path) as temporary, open(temporary, "w", newline="") as handle:
        for number, part in enumerate(tracks):
            first = [name for name in TRACKS_CSV_COLUMNS if name in part.columns]
            columns = first + [c for c in part.columns if c not in first]
            header = (
                [TRACKS_CSV_COLUMNS.get(name, name) for name in columns] if number == 0 else False
            )
            part[columns].to_csv(handle, index=False, header=header)


def write_csv(frame: pd.DataFrame, path: str | os.PathLike) -> None:
    write_text_atomic(path, frame.to_csv(index=False))
