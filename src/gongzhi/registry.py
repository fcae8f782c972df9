"""Where modules register their routers, CLI commands, outbox subscribers and dispatch adapters."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import threading

    import typer
    from fastapi import APIRouter
    from sqlalchemy.orm import Session

    from gongzhi.core.models import OutboxEvent
    from gongzhi.db import SessionFactory


Subscriber = Callable[["Session", "OutboxEvent"], None]
"""Runs inside the delivery's transaction: its writes and the "delivered" mark commit together."""

Call = Callable[[], str]
"""Work an ``External`` subscriber does outside any transaction; returns a line for the record."""


@dataclass(frozen=True)
class External:
    """A subscriber that talks to the outside world (HTTP, MQTT): ``prepare`` reads what it needs in one
    transaction and returns the call, which runs outside any transaction (so no lock is held across the
    network); ``finish`` records the call's result in a second transaction."""

    prepare: Callable[[Session, OutboxEvent], Call | None]
    finish: Callable[[Session, OutboxEvent, str], None] | None = None
    failed: Callable[[Session, OutboxEvent, int, str], None] | None = None
    """Records a failed attempt (attempt number, error) in its own transaction; the delivery is retried."""


Job = Callable[["SessionFactory"], None]

Service = Callable[["SessionFactory", "Registry", "threading.Event"], None]
"""A long-running loop the worker runs in a thread of its own (an MQTT listener); it ends on the event."""


class DispatchAdapter(Protocol):
    """Delivers a dispatched case to a machine or an external system. Must be idempotent on ``key``."""

    name: str

    def deliver(self, key: str, case: dict[str, Any], config: dict[str, Any]) -> str: ...


class OrderPreparer(Protocol):
    """An adapter that adds its module's details (targets, mode, window) to the work order; called inside the
    dispatch's read transaction, before ``deliver`` runs outside any transaction."""

    def prepare_order(self, s: Session, case_id: int, order: dict[str, Any]) -> dict[str, Any]: ...


@dataclass
class Registry:
    routers: list[APIRouter] = field(default_factory=list)
    cli_apps: dict[str, typer.Typer] = field(default_factory=dict)
    subscribers: dict[str, tuple[str, Subscriber | External]] = field(default_factory=dict)
    adapters: dict[str, DispatchAdapter] = field(default_factory=dict)
    jobs: dict[str, tuple[float, Job]] = field(default_factory=dict)
    services: dict[str, Service] = field(default_factory=dict)

    def subscribe(self, name: str, topic_prefix: str, handler: Subscriber | External) -> None:
        self.subscribers[name] = (topic_prefix, handler)

    def subscribers_for(self, topic: str) -> list[str]:
        return sorted(n for n, (prefix, _) in self.subscribers.items() if topic.startswith(prefix))

    def add_adapter(self, adapter: DispatchAdapter) -> None:
        self.adapters[adapter.name] = adapter

    def add_job(self, name: str, every_s: float, job: Job) -> None:
        """A periodic job the worker runs every ``every_s`` seconds in its own units of work."""
        self.jobs[name] = (every_s, job)


registry = Registry()
_loaded = False


def load_modules() -> Registry:
    """Import every ``gongzhi.modules.<name>`` that has a ``register(registry)`` function, once."""
    global _loaded
    if _loaded:
        return registry
    import gongzhi.modules as pkg
    from gongzhi.cases import dispatch

    dispatch.register(registry)
    for info in pkgutil.iter_modules(pkg.__path__):
        mod = importlib.import_module(f"gongzhi.modules.{info.name}")
        register = getattr(mod, "register", None)
        if callable(register):
            register(registry)
    _loaded = True
    return registry
