"""Overlapping a job's stages: model runs on worker threads while the main thread decodes video.

ONNX Runtime (one thread per run) and tract release the GIL while they run, so a few threads
sharing one model session keep every core of a job busy. That beats one run spread over the
same cores: a small model's operators are too short for an intra-op thread pool to pay off.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


def map_in_order(
    function: Callable[[Item], Result], items: Iterable[Item], workers: int
) -> Iterator[Result]:
    """``map(function, items)`` on ``workers`` threads, in input order, reading ``items`` only
    ``2 × workers`` ahead so that memory stays bounded on long videos."""
    if workers <= 1:
        yield from map(function, items)
        return
    with ThreadPoolExecutor(workers) as pool:
        pending = deque()
        for item in items:
            pending.append(pool.submit(function, item))
            if len(pending) >= 2 * workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
