"""Work of the PV module the worker runs: analysing queued inspections.

The worker's tick only looks for queued flights; the analysis itself runs in a thread of its own (one at a
time), so a long flight never holds up outbox deliveries or the SLA sweep, and never runs on the event loop.
"""

from __future__ import annotations

import logging
import threading

from gongzhi.db import SessionFactory
from gongzhi.kit.filestore import FileStore
from gongzhi.modules.pv import results
from gongzhi.registry import Registry
from gongzhi.settings import get_settings

log = logging.getLogger(__name__)
INSPECTIONS_EVERY_S = 2.0
_running: list[threading.Thread] = []


def run_inspections(factory: SessionFactory, registry: Registry) -> list[int]:
    """Analyse every queued inspection with the configured number of processes."""
    settings = get_settings()
    store = FileStore(settings.files_dir, settings.max_upload_bytes)
    done = results.process_queued(factory, registry, store, workers=settings.pv_workers)
    if done:
        log.info("pv inspections analysed: %s", done)
    return done


def start_inspections(factory: SessionFactory, registry: Registry) -> threading.Thread | None:
    """Start the analysis thread unless one is still at work; returns the thread started."""
    if any(t.is_alive() for t in _running):
        return None
    thread = threading.Thread(
        target=_guarded, args=(factory, registry), daemon=True, name="gongzhi-pv-inspections"
    )
    _running[:] = [thread]
    thread.start()
    return thread


def _guarded(factory: SessionFactory, registry: Registry) -> None:
    try:
        run_inspections(factory, registry)
    except Exception:
        log.exception("pv inspections failed")


def register(registry: Registry) -> None:
    def job(factory: SessionFactory) -> None:
        start_inspections(factory, registry)

    registry.add_job("pv.inspections", INSPECTIONS_EVERY_S, job)
