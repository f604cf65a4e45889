"""Arrays kept in a temporary file instead of memory: what a long video's jobs hold per row
(a keypoint, an instance) but read back only a part at a time."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator

import numpy as np
import pandas as pd

# Rows a StoredRows reads at once around a request of nearby rows (the online pass asks for a
# frame's instances at a time, in frame order), and the largest stretch of rows it skips over
# rather than reads between requested rows.
READ_AHEAD_ROWS = 4096
SKIPPED_ROWS = 64


class StoredRows:
    """An array of ``length`` rows of ``row_shape`` kept in a temporary file: ``stored[rows]``
    (an index array, a boolean mask or a slice) reads those rows into a new array. Written
    once, row ranges at a time (:meth:`write`), then read."""

    def __init__(self, length: int, row_shape: tuple[int, ...], dtype=np.float64):
        # Unnamed and gone when closed (with the last view of it), even if the job fails.
        self._file = tempfile.TemporaryFile(prefix="snakeherd-rows-")  # noqa: SIM115
        self._index: np.ndarray | None = None  # rows of the file this view shows
        self.length = self._stored = length
        self.row_shape = tuple(row_shape)
        self.dtype = np.dtype(dtype)
        self._row_bytes = int(np.prod(self.row_shape, dtype=np.int64)) * self.dtype.itemsize
        self._cache_start, self._cache = 0, None

    @property
    def shape(self) -> tuple[int, ...]:
        return (self.length, *self.row_shape)

    def __len__(self) -> int:
        return self.length

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        whole = self[slice(None)]
        return whole if dtype is None else whole.astype(dtype)

    def write(self, start: int, values: np.ndarray) -> None:
        """Store ``values`` as rows ``start:start + len(values)``."""
        self._cache = None
        self._file.seek(start * self._row_bytes)
        self._file.write(np.ascontiguousarray(values, dtype=self.dtype).tobytes())

    def append(self, values: np.ndarray) -> None:
        """Store ``values`` as the rows after the last (for an array whose length is not known
        before it is read)."""
        if self._index is not None:
            raise ValueError("a subset of stored rows cannot grow")
        self.write(self._stored, values)
        self.length = self._stored = self._stored + len(values)

    def blocks(self, rows: int) -> Iterator[np.ndarray]:
        """The whole array in order, ``rows`` rows at a time (each block read once, not cached:
        for a pass over all of it)."""
        for start in range(0, self.length, rows):
            stop = min(start + rows, self.length)
            if self._index is None:
                yield self._read_span(start, stop)
            else:
                yield self._read(self._index[start:stop])

    def subset(self, rows: np.ndarray) -> StoredRows:
        """The rows ``rows`` of this array as an array of their own (the same file)."""
        view = object.__new__(StoredRows)
        view.__dict__.update(self.__dict__)
        view._index = self._file_rows(np.asarray(rows, dtype=np.int64))
        view.length = len(view._index)
        view._cache_start, view._cache = 0, None
        return view

    def _file_rows(self, rows: np.ndarray) -> np.ndarray:
        return rows if self._index is None else self._index[rows]

    def __getitem__(self, rows) -> np.ndarray:
        if isinstance(rows, slice):
            start, stop, step = rows.indices(self.length)
            if step == 1 and self._index is None:  # a block of the file: one read
                return self._read_span(start, max(start, stop))
            rows = np.arange(start, stop, step)
        rows = np.asarray(rows)
        if rows.dtype == bool:
            rows = np.flatnonzero(rows)
        rows = rows.astype(np.int64, copy=False)
        single = rows.ndim == 0
        rows = self._file_rows(np.where(rows < 0, rows + self.length, rows).reshape(-1))
        values = self._read(rows)
        return values[0] if single else values

    def _read(self, rows: np.ndarray) -> np.ndarray:
        if not len(rows):
            return np.empty((0, *self.row_shape), dtype=self.dtype)
        low, high = int(rows.min()), int(rows.max()) + 1
        if high - low <= READ_AHEAD_ROWS:
            cached = self._cache
            if cached is None or low < self._cache_start or high > self._cache_start + len(cached):
                self._cache_start = low
                self._cache = cached = self._read_span(low, low + READ_AHEAD_ROWS)
            return cached[rows - self._cache_start]
        # Far apart (e.g. where each tracklet ends): each run of nearby rows read once.
        wanted = np.unique(rows)
        runs = np.split(wanted, np.flatnonzero(np.diff(wanted) > SKIPPED_ROWS) + 1)
        found = np.concatenate([self._read_span(run[0], run[-1] + 1)[run - run[0]] for run in runs])
        return found[np.searchsorted(wanted, rows)]

    def _read_span(self, start: int, stop: int) -> np.ndarray:
        """File rows ``start:stop`` (fewer past the end)."""
        stop = min(stop, self._stored)
        values = np.empty((max(stop - start, 0), *self.row_shape), dtype=self.dtype)
        if not values.size:  # nothing to read (a memoryview of no rows cannot be cast)
            return values
        self._file.seek(start * self._row_bytes)
        self._file.readinto(memoryview(values).cast("B"))
        return values


class StoredColumns:
    """A table kept in temporary files, a :class:`StoredRows` per column: ``table[name]`` reads
    one whole column, :meth:`take` some rows of every column (as a DataFrame). For a long
    video's table of which a job reads a column or a block of rows at a time."""

    def __init__(self, length: int):
        self.length = length
        self._columns: dict[str, StoredRows | object] = {}  # a stored column, or one value

    def __len__(self) -> int:
        return self.length

    def __contains__(self, name: str) -> bool:
        return name in self._columns

    @property
    def columns(self) -> list[str]:
        return list(self._columns)

    def __setitem__(self, name: str, values: np.ndarray) -> None:
        """Store ``values`` (one per row) as column ``name`` (in place of the one it names)."""
        values = np.asarray(values)
        if len(values) != self.length:
            raise ValueError(f"column {name} has {len(values)} rows, the table {self.length}")
        stored = StoredRows(self.length, values.shape[1:], values.dtype)
        stored.write(0, values)
        self._columns[name] = stored

    def new_column(self, name: str, dtype) -> StoredRows:
        """Column ``name`` (in place of the one it names), stored empty: the caller writes its
        rows, a range at a time (:meth:`StoredRows.write`)."""
        stored = StoredRows(self.length, (), dtype)
        self._columns[name] = stored
        return stored

    def append(self, part: pd.DataFrame) -> None:
        """Store ``part``'s rows after the last (for a table whose length is not known before
        it is read); the first rows appended to an empty table name its columns."""
        if not self._columns and not self.length:
            self._columns = {
                name: StoredRows(0, (), part[name].to_numpy().dtype) for name in part.columns
            }
        for name, column in self._columns.items():
            column.append(part[name].to_numpy())
        self.length += len(part)

    def insert(self, position: int, name: str, value) -> None:
        """Column ``name`` at ``position``, ``value`` in every row (not stored: one value)."""
        names = [*self._columns]
        names.insert(position, name)
        self._columns[name] = value
        self._columns = {column: self._columns[column] for column in names}

    def __getitem__(self, name: str) -> np.ndarray:
        return self._read(name, slice(None))

    def take(self, rows: slice | np.ndarray, columns: list[str] | None = None) -> pd.DataFrame:
        """Rows ``rows`` (a slice or positions) of ``columns`` (default: every column)."""
        values = {name: self._read(name, rows) for name in columns or self._columns}
        return pd.DataFrame(values, copy=False)

    def frame(self) -> pd.DataFrame:
        """The whole table in memory."""
        return self.take(slice(None))

    def _read(self, name: str, rows: slice | np.ndarray) -> np.ndarray:
        column = self._columns[name]
        if isinstance(column, StoredRows):
            return column[rows]
        count = len(range(*rows.indices(self.length))) if isinstance(rows, slice) else len(rows)
        return np.full(count, column, dtype=object if isinstance(column, str) else None)


Table = pd.DataFrame | StoredColumns
"""A table in memory or in temporary files: read with :func:`column_of` and :func:`rows_of`."""


def column_of(table: Table, name: str) -> np.ndarray:
    """One whole column of ``table``."""
    return table[name] if isinstance(table, StoredColumns) else table[name].to_numpy()


def rows_of(
    table: Table, rows: slice | np.ndarray, columns: list[str] | None = None
) -> pd.DataFrame:
    """Rows ``rows`` (a slice or positions) of ``table``: of ``columns`` (default: all)."""
    if isinstance(table, StoredColumns):
        return table.take(rows, columns)
    part = table.iloc[rows]
    return part if columns is None else part[columns]
