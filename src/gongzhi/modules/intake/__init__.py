"""Citizen requests and opinions (民情民意): intake by web form, Open311 and spreadsheets, Chinese routing,
near-duplicates, hot topics with early warnings, follow-up and monthly statistics."""

from __future__ import annotations

from gongzhi.registry import Registry


def register(registry: Registry) -> None:
    from gongzhi.modules.intake import api, cli, jobs, open311, views

    registry.routers.extend([api.router, open311.router, views.router])
    registry.cli_apps["intake"] = cli.app
    jobs.register(registry)
