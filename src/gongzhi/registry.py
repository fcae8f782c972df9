"""Where modules register their routers, CLI commands, outbox subscribers and dispatch adapters."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import typer
    from fastapi import APIRouter
    from sqlalchemy.orm import Session

    from gongzhi.core.models import OutboxEvent


Subscriber = Callable[["Session", "OutboxEvent"], None]


class DispatchAdapter(Protocol):
    """Delivers a dispatched case to a machine or an external system. Must be idempotent on ``key``."""

    name: str

    def deliver(self, key: str, case: dict[str, Any], config: dict[str, Any]) -> str: ...


@dataclass
class Registry:
    routers: list[APIRouter] = field(default_factory=list)
    cli_apps: dict[str, typer.Typer] = field(default_factory=dict)
    subscribers: dict[str, tuple[str, Subscriber]] = field(default_factory=dict)
    adapters: dict[str, DispatchAdapter] = field(default_factory=dict)

    def subscribe(self, name: str, topic_prefix: str, handler: Subscriber) -> None:
        self.subscribers[name] = (topic_prefix, handler)

    def subscribers_for(self, topic: str) -> list[str]:
        return sorted(n for n, (prefix, _) in self.subscribers.items() if topic.startswith(prefix))

    def add_adapter(self, adapter: DispatchAdapter) -> None:
        self.adapters[adapter.name] = adapter


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
