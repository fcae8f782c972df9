"""Citizen requests and opinions (民情民意): intake by web form, Open311 and spreadsheets, Chinese routing,
near-duplicates, hot topics with early warnings, follow-up and monthly statistics."""

from __future__ import annotations

from gongzhi.registry import Registry

_CONSOLE_ADDED: list[bool] = []


def register(registry: Registry) -> None:
    from gongzhi.modules.intake import api, cli, console, jobs, open311, views
    from gongzhi.web.related import add_related
    from gongzhi.web.shell import add_nav, add_templates

    registry.routers.extend([api.router, open311.router, views.router, console.router])
    if not _CONSOLE_ADDED:  # register() runs once per app; templates and navigation are process-wide
        add_templates(console.TEMPLATES)
        add_nav(console.NAV)
        add_related("alert", console.alert_related)
        _CONSOLE_ADDED.append(True)
    registry.cli_apps["intake"] = cli.app
    jobs.register(registry)
