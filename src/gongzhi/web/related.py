"""A module's own pages about an alert or a case, linked from the alert's or the case's page ("相关页面"): the
PV inspection that raised an alert and the module's history with its thermal crop, the cases of a hot
topic. A module registers a finder per kind of page; the page asks every finder, in the viewer's scope."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy.orm import Session

from gongzhi.cases.models import Alert, Case

Kind = Literal["alert", "case"]


@dataclass(frozen=True)
class Related:
    """A page to link: ``label`` a message id (``N_``) the page translates with ``params``, ``href`` the page,
    ``image`` a picture of it to show (a URL), if any."""

    label: str
    href: str
    params: dict[str, Any] = field(default_factory=dict)
    image: str | None = None


Finder = Callable[[Session, Any], list[Related]]
_FINDERS: dict[Kind, list[Finder]] = {"alert": [], "case": []}


def add_related(kind: Kind, finder: Finder) -> None:
    """Let a module name its pages about an alert or a case (``kind``): ``finder(session, alert_or_case)``
    returns them, or [] for one not its own. Adding the same finder again changes nothing."""
    if finder not in _FINDERS[kind]:
        _FINDERS[kind].append(finder)


def related(kind: Kind, s: Session, item: Alert | Case) -> list[Related]:
    """Every module's pages about ``item``, in the order the modules registered."""
    return [r for finder in _FINDERS[kind] for r in finder(s, item)]
