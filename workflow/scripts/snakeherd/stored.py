"""Arrays kept in a temporary file instead of memory: what a long video's jobs hold per row
(a keypoint, an instance) but read back only a part at a time."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator

import numpy as np

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
            rows = np.arange(*rows.indices(self.length))
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
        self._file.seek(start * self._row_bytes)
        self._file.readinto(memoryview(values).cast("B"))
        return values
