"""Background work: outbox delivery and the SLA sweep. ``gongzhi worker`` runs it as its own process;
the embedded default runs it in a thread of the server."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from gongzhi.cases import escalation
from gongzhi.core import outbox
from gongzhi.db import Scope, unit_of_work, utcnow
from gongzhi.registry import Registry

log = logging.getLogger(__name__)


@dataclass
class TickReport:
    delivered: int
    failed: int
    reminded: int
    escalated: int


def tick(factory: sessionmaker[Session], registry: Registry, *, sweep: bool = True) -> TickReport:
    report = outbox.deliver_due(factory, registry)
    reminded = escalated = 0
    if sweep:
        with unit_of_work(factory, Scope.for_system()) as s:
            r = escalation.sweep(s, registry, utcnow())
            reminded, escalated = r.reminded, r.escalated
        report2 = outbox.deliver_due(factory, registry)
        report.delivered += report2.delivered
        report.failed += report2.failed
    return TickReport(report.delivered, report.failed, reminded, escalated)


def run(
    factory: sessionmaker[Session],
    registry: Registry,
    stop: threading.Event,
    interval_s: float = 2.0,
    sweep_every_s: float = 60.0,
) -> None:
    last_sweep = 0.0
    last_job: dict[str, float] = {}
    start_services(factory, registry, stop)
    while not stop.is_set():
        run_jobs(factory, registry, last_job)
        due = time.monotonic() - last_sweep >= sweep_every_s
        try:
            r = tick(factory, registry, sweep=due)
            if due:
                last_sweep = time.monotonic()
            if r.delivered or r.failed or r.reminded or r.escalated:
                log.info("worker: %s", r)
        except Exception:
            log.exception("worker tick failed")
        stop.wait(interval_s)


def start_services(factory: sessionmaker[Session], registry: Registry, stop: threading.Event) -> None:
    """Start each registered long-running service in a daemon thread; each returns when ``stop`` is set."""
    for name, service in registry.services.items():

        def guarded(name: str = name, service: Any = service) -> None:
            try:
                service(factory, registry, stop)
            except Exception:
                log.exception("service %s stopped", name)

        threading.Thread(target=guarded, daemon=True, name=f"gongzhi-{name}").start()


def run_jobs(factory: sessionmaker[Session], registry: Registry, last: dict[str, float]) -> None:
    """Run each registered periodic job whose interval has passed (first run one interval after start)."""
    now = time.monotonic()
    for name, (every_s, job) in registry.jobs.items():
        if now - last.setdefault(name, now) < every_s:
            continue
        last[name] = now
        try:
            job(factory)
        except Exception:
            log.exception("job %s failed", name)


def start_thread(factory: sessionmaker[Session], registry: Registry, interval_s: float) -> threading.Event:
    stop = threading.Event()
    threading.Thread(
        target=run, args=(factory, registry, stop, interval_s), daemon=True, name="gongzhi-worker"
    ).start()
    return stop
