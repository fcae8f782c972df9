"""PV plant inspection: flight planning, thermal hot-spot and soiling analytics, cleaning dispatch."""

from __future__ import annotations

from gongzhi.registry import Registry


def register(registry: Registry) -> None:
    from pathlib import Path

    from gongzhi.modules.pv import api, cleaning, cli, jobs, loop_api, production, production_api, views
    from gongzhi.web.related import add_related
    from gongzhi.web.shell import NavItem, add_nav, add_templates

    registry.routers.append(api.router)
    registry.routers.append(loop_api.router)
    registry.routers.append(production_api.router)
    registry.routers.append(views.router)
    add_templates(Path(__file__).parent / "templates")
    add_nav(NavItem("/pv", views.NAV_LABEL, "☀"))
    add_related("alert", views.alert_related)
    add_related("case", views.case_related)
    registry.cli_apps["pv"] = cli.app
    jobs.register(registry)
    production.register(registry)
    cleaning.register(registry)
    registry.services["pv.robot-listener"] = cleaning.listener_service
