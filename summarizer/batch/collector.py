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


@contextlib.contextmanager
def long_run() -> Iterator[Callable[[], None]]:
    """Yields ``loaded``, to call when an article is done: the first call freezes what the
    process holds by then (one full collection first), later calls do nothing."""
    before = gc.get_threshold()
    frozen = False

    def loaded() -> None:
        nonlocal frozen
        if not frozen:
            frozen = True
            gc.collect()
            gc.freeze()

    gc.set_threshold(YOUNG, *before[1:])
    try:
        yield loaded
    finally:
        gc.set_threshold(*before)
        if frozen:
            gc.unfreeze()
