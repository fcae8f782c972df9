"""uvicorn's settings in one place: ``gongzhi serve`` and both apps of the cases benchmark
(``bench/cases/run.py``) start uvicorn with these, so the benchmark measures what production runs and
its bare app gets exactly the options of the real one."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

KEEP_ALIVE_S = 75
"""Idle keep-alive connections are kept this long (uvicorn's default of 5 s closes a connection just as
a client that paused a little longer sends its next request: a client-side error, not the app's)."""
WORKER_HEALTHCHECK_S = 30
"""With several processes: a worker starved of CPU that misses uvicorn's default 5 s health check
would be restarted, dropping its requests."""


def uvicorn_options(workers: int = 1) -> dict[str, Any]:
    """Keyword arguments for ``uvicorn.run`` (HTTP parser and event loop: uvicorn's choice, httptools and
    uvloop, both dependencies)."""
    options: dict[str, Any] = {"workers": workers, "timeout_keep_alive": KEEP_ALIVE_S}
    if workers > 1:
        options["timeout_worker_healthcheck"] = WORKER_HEALTHCHECK_S
    return options


def uvicorn_flags(workers: int = 1) -> list[str]:
    """The same settings as ``uvicorn`` command-line flags."""
    return [f"--{k.replace('_', '-')}={v}" for k, v in uvicorn_options(workers).items()]


_swept = False
"""Whether an app of this process has swept the garbage before freezing (``frozen_heap``)."""


@contextmanager
def frozen_heap() -> Iterator[None]:
    """While an app serves: what was loaded before it started (the modules with pandas, scipy and
    scikit-learn, the ORM, the routes) stays out of the garbage collector's full passes.

    It lives as long as the process, yet each full collection walked those millions of objects while
    every request waited: 20 ms, growing to 220 ms, in the first minutes of the cases bench, which made
    its p99 with 100 paced clients on SQLite. Objects made later are collected as before; when the app
    stops in a longer-lived process (the tests), the frozen objects become collectable again.

    Only a process's first start sweeps its garbage first, so that none is frozen for the process's life:
    the sweep walks the whole heap (0.1–0.4 s in a test process), and a test process starts an app for
    each of hundreds of tests, each of which unfreezes what it froze when it stops."""
    global _swept
    if not _swept:
        gc.collect()
        _swept = True
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
