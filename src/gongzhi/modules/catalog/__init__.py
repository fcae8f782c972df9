"""Resource catalog audit and app reuse between paired regions (资源目录智能审核, 数字成果区县共用)."""

from __future__ import annotations

from gongzhi.registry import Registry


def register(registry: Registry) -> None:
    from gongzhi.modules.catalog import views
    from gongzhi.modules.catalog.api import router
    from gongzhi.modules.catalog.cli import app
    from gongzhi.web.shell import add_dashboard_card, add_nav, add_templates

    registry.routers.extend([router, views.router])
    registry.cli_apps["catalog"] = app
    add_templates(views.TEMPLATES)
    add_nav(views.NAV)
    add_dashboard_card(views.CARD)
