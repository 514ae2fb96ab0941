"""Python's garbage collector over a long batch run.

An article allocates a great many short-lived objects (regex matches, pydantic models, the
SDK's request and response objects) among millions that live as long as the process (imported
modules, the first-name tables, the per-word caches, dateparser's locales). With the default
thresholds the collector runs every 700 allocations and each full collection walks every
long-lived object (100-180 ms pauses in a batch). ``long_run`` collects the young generation
every 50,000 allocations and, once an article has loaded what the process keeps, freezes that
(``gc.freeze``: no collection walks it again). Both are undone at the end, for a program that
runs a batch through the Python API. Measured on the throughput bench's articles, 800 a run,
one process, runs alternating in one process: at concurrency 64 client CPU 8.41, 8.71, 8.82 ms
an article with the default collector, 8.07, 7.98, 8.35 ms with this; at 16 no difference
(9.04-9.46 and 9.15-10.02 ms). The collector's time in a fresh process's run fell from 520-685
ms to 54-57 ms, and its 115-180 ms pauses of the event loop are gone.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Callable, Iterator

YOUNG = 50_000  # allocations between collections of the young generation (default 700)


# The collector is the process's: runs that overlap (the Python API) share one setting, made by
# the first to start and undone by the last to end; a freeze the host program made is its own.
class _Process:
    runs = 0
    before: tuple[int, int, int] = (700, 10, 10)
    froze = False


@contextlib.contextmanager
def long_run() -> Iterator[Callable[[], None]]:
    """Yields ``loaded``, to call when an article is done: the first call freezes what the
    process holds by then (one full collection first), unless something is frozen already;
    later calls, and calls after the run, do nothing."""
    if _Process.runs == 0:
        _Process.before = gc.get_threshold()
        gc.set_threshold(YOUNG, *_Process.before[1:])
    _Process.runs += 1

    def loaded() -> None:
        if _Process.runs and not _Process.froze and gc.get_freeze_count() == 0:
            _Process.froze = True
            gc.collect()
            gc.freeze()

    try:
        yield loaded
    finally:
        _Process.runs -= 1
        if _Process.runs == 0:
            gc.set_threshold(*_Process.before)
            if _Process.froze:
                _Process.froze = False
                gc.unfreeze()
