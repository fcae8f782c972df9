"""Work of the PV module the worker runs: analysing queued inspections, one flight at a time."""

from __future__ import annotations

import logging

from gongzhi.db import SessionFactory
from gongzhi.kit.filestore import FileStore
from gongzhi.modules.pv import results
from gongzhi.registry import Registry
from gongzhi.settings import get_settings

log = logging.getLogger(__name__)
INSPECTIONS_EVERY_S = 2.0


def run_inspections(factory: SessionFactory, registry: Registry) -> list[int]:
    """Analyse every queued inspection with the configured number of processes."""
    settings = get_settings()
    store = FileStore(settings.files_dir, settings.max_upload_bytes)
    done = results.process_queued(factory, registry, store, workers=settings.pv_workers)
    if done:
        log.info("pv inspections analysed: %s", done)
    return done


def register(registry: Registry) -> None:
    def job(factory: SessionFactory) -> None:
        run_inspections(factory, registry)

    registry.add_job("pv.inspections", INSPECTIONS_EVERY_S, job)
