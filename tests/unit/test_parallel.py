"""map_in_order: the helper that overlaps model runs with video decoding."""

import threading
import time

import pytest

from snakeherd.parallel import map_in_order


def test_results_keep_the_input_order_when_later_items_finish_first():
    def slow_for_early_items(item):
        time.sleep(0.01 * (5 - item % 5))
        return item * item

    assert list(map_in_order(slow_for_early_items, range(20), workers=3)) == [
        i * i for i in range(20)
    ]


def test_items_are_read_at_most_two_per_worker_ahead():
    taken = []

    def items():
        for item in range(100):
            taken.append(item)
            yield item

    results = map_in_order(lambda item: item, items(), workers=3)
    assert next(results) == 0
    assert len(taken) <= 2 * 3
    assert list(results) == list(range(1, 100))


def test_work_runs_on_several_threads_and_errors_reach_the_caller():
    names = set()

    def work(item):
        names.add(threading.current_thread().name)
        time.sleep(0.01)
        if item == 7:
            raise ValueError("frame 7 is broken")
        return item

    with pytest.raises(ValueError, match="frame 7"):
        list(map_in_order(work, range(10), workers=2))
    assert len(names) == 2
    assert list(map_in_order(work, range(5), workers=1)) == list(range(5))
