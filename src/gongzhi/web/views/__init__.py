"""Page routes of the console shell and the co-governance loop."""

from __future__ import annotations

from fastapi import APIRouter


def routers() -> list[APIRouter]:
    from gongzhi.web.views import admin, alerts, auth, cases, dashboard, live

    return [auth.router, dashboard.router, alerts.router, cases.router, admin.router, live.router]
