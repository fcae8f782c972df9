"""Village supervision (基层监督): supervision stations and supervisors, village projects and visits whose
findings become cases, major decisions by 四议两公开 with their PDF record, the three-assets ledger with its
warnings, and a public opinion page per village; every change goes into the region's audit chain."""

from __future__ import annotations

from gongzhi.registry import Registry


def register(registry: Registry) -> None:
    from gongzhi.modules.village import api, pages, views

    registry.routers.extend([api.router, views.router, pages.router])
    pages.register()
