"""PV plant inspection: flight planning, thermal hot-spot and soiling analytics, cleaning dispatch."""

from __future__ import annotations

from gongzhi.registry import Registry


def register(registry: Registry) -> None:
    from gongzhi.modules.pv import api, cleaning, cli, jobs, loop_api

    registry.routers.append(api.router)
    registry.routers.append(loop_api.router)
    registry.cli_apps["pv"] = cli.app
    jobs.register(registry)
    registry.add_adapter(cleaning.RobotMqttAdapter())
