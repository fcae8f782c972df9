"""Reuse between paired regions (数字成果区县共用): publish an app, subscribe to a paired region's app and
get an own configured instance, accept updates, and keep the ledger of cost saved.

An app carries a configuration template, never data: a subscriber's instance runs on the subscriber's own
rows, because every query it makes is scoped to the subscriber's region; ``instances`` says what each kind
of app becomes there.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from gongzhi.core import audit, outbox
from gongzhi.core.models import Region, Role
from gongzhi.core.service import are_paired, paired_region_ids, require_role
from gongzhi.db import scope_of, utcnow
from gongzhi.errors import Conflict, InvalidInput, NotFound, msg
from gongzhi.modules.catalog import instances
from gongzhi.modules.catalog import repository as repo
from gongzhi.modules.catalog.models import (
    ReuseApp,
    ReuseAppVersion,
    ReuseLedgerEntry,
    ReuseSubscription,
)
from gongzhi.modules.catalog.schemas import AppPublish, AppVersionIn, SubscribeIn
from gongzhi.registry import Registry


def _rid(s: Session) -> int:
    rid = scope_of(s).region_id
    if rid is None:
        raise InvalidInput(msg("choose a region for reuse actions"))
    return rid


def _audit(s: Session, action: str, obj: str, obj_id: Any, data: dict[str, Any]) -> None:
    sc = scope_of(s)
    audit.record(
        s,
        region_id=_rid(s),
        action=action,
        object_type=obj,
        object_id=obj_id,
        actor=sc.username,
        actor_user_id=sc.user_id,
        data=data,
    )


def merge(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``overrides`` laid over it, recursively for nested objects."""
    out = dict(base)
    for k, v in overrides.items():
        out[k] = merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def _template(
    s: Session, kind: str, config: dict[str, Any] | None, ruleset_id: int | None, from_region: bool = False
) -> dict[str, Any]:
    """An app's configuration template, checked for its kind; taken from the region's own rule set or
    dispatch rules when asked to, stripped of every id."""
    if kind == "ruleset" and ruleset_id is not None:
        rs = repo.ruleset(s, ruleset_id)
        return instances.validate(kind, {"rules": dict(rs.rules), "description": rs.description})
    if kind == "dispatch_template" and from_region:
        return instances.export_dispatch_rules(s)
    if config is None:
        raise InvalidInput(
            msg("give the app's configuration (config), ruleset_id for a rule set, or from_region")
        )
    return instances.validate(kind, config)


# --- publishing -------------------------------------------------------------------------------------


def publish_app(s: Session, registry: Registry, data: AppPublish) -> ReuseApp:
    require_role(scope_of(s), Role.ADMIN)
    rid = _rid(s)
    if any(a.slug == data.slug for a in repo.apps_of(s, {rid})):
        raise Conflict(msg("this region already publishes an app %(slug)r", slug=data.slug))
    config = _template(
        s, data.kind, data.config if data.ruleset_id is None else None, data.ruleset_id, data.from_region
    )
    app = ReuseApp(
        region_id=rid,
        slug=data.slug,
        kind=data.kind,
        name=data.name,
        description=data.description,
        build_cost_yuan=data.build_cost_yuan,
        published_by=scope_of(s).username,
    )
    s.add(app)
    s.flush()
    s.add(ReuseAppVersion(region_id=rid, app_id=app.id, version=1, config=config, changelog="first version"))
    s.flush()
    _audit(s, "reuse.app.publish", "reuse_app", app.id, {"slug": app.slug, "kind": app.kind})
    outbox.publish(
        s, registry, rid, "reuse.app.published", {"app_id": app.id, "slug": app.slug, "version": 1}
    )
    return app


def publish_version(s: Session, registry: Registry, app_id: int, data: AppVersionIn) -> ReuseApp:
    require_role(scope_of(s), Role.ADMIN)
    app = repo.own_app(s, app_id)
    config = _template(s, app.kind, data.config, data.ruleset_id, data.from_region)
    app.version += 1
    app.updated_at = utcnow()
    if data.description is not None:
        app.description = data.description
    s.add(
        ReuseAppVersion(
            region_id=app.region_id,
            app_id=app.id,
            version=app.version,
            config=config,
            changelog=data.changelog,
        )
    )
    s.flush()
    _audit(s, "reuse.app.version", "reuse_app", app.id, {"version": app.version})
    outbox.publish(
        s, registry, app.region_id, "reuse.app.updated", {"app_id": app.id, "version": app.version}
    )
    return app


def withdraw_app(s: Session, app_id: int) -> ReuseApp:
    require_role(scope_of(s), Role.ADMIN)
    app = repo.own_app(s, app_id)
    app.active = False
    _audit(s, "reuse.app.withdraw", "reuse_app", app.id, {})
    return app


# --- what a region sees -----------------------------------------------------------------------------


def visible_apps(s: Session) -> list[ReuseApp]:
    """The region's own apps and those its active pairings publish; nothing of any other region."""
    rid = _rid(s)
    return repo.apps_of(s, {rid, *paired_region_ids(s, rid)})


def get_app(s: Session, app_id: int) -> ReuseApp:
    rid = _rid(s)
    app = repo.app_any_region(s, app_id)
    if app is None or not app.active or not are_paired(s, rid, app.region_id):
        raise NotFound(msg("no app %(app_id)s", app_id=app_id))  # never reveal another region's apps
    return app


def app_versions(s: Session, app_id: int) -> list[ReuseAppVersion]:
    return repo.app_versions(s, get_app(s, app_id).id)


# --- subscribing ------------------------------------------------------------------------------------


def subscribe(s: Session, registry: Registry, app_id: int, data: SubscribeIn) -> ReuseSubscription:
    """Take a paired region's app: an own instance with the latest template, and a ledger entry."""
    require_role(scope_of(s), Role.ADMIN)
    rid = _rid(s)
    app = get_app(s, app_id)
    if app.region_id == rid:
        raise InvalidInput(msg("a region does not subscribe to its own app"))
    sub = repo.subscription_to(s, app.id)
    if sub is not None and sub.active:
        raise Conflict(msg("this region subscribes to that app already"))
    template = repo.app_version(s, app.id, app.version).config
    if sub is None:  # a region that ended its subscription takes the same row up again
        sub = ReuseSubscription(
            region_id=rid, app_id=app.id, kind=app.kind, publisher_region_id=app.region_id, instance={}
        )
        s.add(sub)
    sub.accepted_version, sub.overrides, sub.active = app.version, data.overrides, True
    sub.config = merge(template, data.overrides)
    sub.mapping, sub.subscribed_by, sub.updated_at = data.mapping.model_dump(), scope_of(s).username, utcnow()
    s.flush()
    instances.apply(s, sub, _instance_name(s, app))
    _ledger(s, sub, app, "subscribe", data.saved_yuan, data.note)
    _audit(
        s, "reuse.subscribe", "reuse_subscription", sub.id, {"app_id": app.id, "saved_yuan": data.saved_yuan}
    )
    outbox.publish(s, registry, rid, "reuse.app.subscribed", {"app_id": app.id, "subscription_id": sub.id})
    return sub


def preview(s: Session, app_id: int, mapping: dict[str, Any]) -> dict[str, Any]:
    """What subscribing to a paired region's app would set up here, written nowhere: the parts it holds,
    the dispatch rules it would create with this mapping, and what is still unmapped."""
    require_role(scope_of(s), Role.ADMIN)
    app = get_app(s, app_id)
    if app.region_id == _rid(s):
        raise InvalidInput(msg("a region does not subscribe to its own app"))
    held = instances.parts(app.kind, repo.app_version(s, app.id, app.version).config)
    out: dict[str, Any] = {"kind": app.kind, "version": app.version, "parts": sorted(held)}
    out["dispatch_rules"], out["unmapped"] = [], []
    if "dispatch_template" in held:
        try:
            planned = instances.plan_dispatch(s, held["dispatch_template"], mapping)
        except InvalidInput as exc:
            out["unmapped"] = list(exc.extra.get("unmapped", [exc.detail]))
        else:
            keys = ("position", "category", "grid_cell_id", "actor_id")
            out["dispatch_rules"] = [dict(zip(keys, p, strict=True)) for p in planned]
    return out


def _instance_name(s: Session, app: ReuseApp) -> str:
    publisher = s.get_one(Region, app.region_id)
    return f"{app.name}（{publisher.name}）"


def _ledger(s: Session, sub: ReuseSubscription, app: ReuseApp, event: str, saved: float, note: str) -> None:
    s.add(
        ReuseLedgerEntry(
            region_id=sub.region_id,
            app_id=app.id,
            publisher_region_id=app.region_id,
            subscription_id=sub.id,
            event=event,
            version=sub.accepted_version,
            saved_yuan=saved,
            note=note,
            recorded_by=scope_of(s).username,
        )
    )


def list_subscriptions(s: Session) -> list[tuple[ReuseSubscription, int, int | None]]:
    """Each subscription with the app's latest version and the rule set it instantiated, if any."""
    out = []
    for sub in repo.subscriptions(s):
        app = repo.app_any_region(s, sub.app_id)
        latest = app.version if app is not None and app.active else sub.accepted_version
        rs = repo.ruleset_of_subscription(s, sub.id)
        out.append((sub, latest, rs.id if rs else None))
    return out


def accept_update(s: Session, sub_id: int) -> ReuseSubscription:
    """Move the instance to the app's latest version, keeping the region's own overrides and mapping."""
    require_role(scope_of(s), Role.ADMIN)
    sub = _active_subscription(s, sub_id)
    app = get_app(s, sub.app_id)
    if app.version == sub.accepted_version:
        raise Conflict(msg("already at the latest version %(version)s", version=app.version))
    sub.accepted_version = app.version
    _reconfigure(s, sub, app)
    _ledger(s, sub, app, "update", 0.0, f"accepted version {app.version}")
    _audit(s, "reuse.update", "reuse_subscription", sub.id, {"version": app.version})
    return sub


def set_overrides(
    s: Session, sub_id: int, overrides: dict[str, Any], mapping: dict[str, Any] | None = None
) -> ReuseSubscription:
    require_role(scope_of(s), Role.ADMIN)
    sub = _active_subscription(s, sub_id)
    sub.overrides = overrides
    if mapping is not None:
        sub.mapping = mapping
    app = repo.app_any_region(s, sub.app_id)
    assert app is not None  # subscriptions reference their app by foreign key
    _reconfigure(s, sub, app)
    _audit(
        s, "reuse.configure", "reuse_subscription", sub.id, {"overrides": overrides, "mapping": sub.mapping}
    )
    return sub


def unsubscribe(s: Session, sub_id: int) -> ReuseSubscription:
    """End an instance: its dispatch rules leave the region; a rule set it made stays as the region's own."""
    require_role(scope_of(s), Role.ADMIN)
    sub = _active_subscription(s, sub_id)
    sub.active, sub.updated_at = False, utcnow()
    instances.dismantle(s, sub)
    rs = repo.ruleset_of_subscription(s, sub.id)
    if rs is not None:
        rs.subscription_id = None
    s.flush()
    _audit(s, "reuse.unsubscribe", "reuse_subscription", sub.id, {"app_id": sub.app_id})
    return sub


def _active_subscription(s: Session, sub_id: int) -> ReuseSubscription:
    sub = repo.subscription(s, sub_id)
    if not sub.active:
        raise Conflict(msg("subscription %(sub_id)s has ended", sub_id=sub_id))
    return sub


def _reconfigure(s: Session, sub: ReuseSubscription, app: ReuseApp) -> None:
    template = repo.app_version(s, sub.app_id, sub.accepted_version).config
    sub.config = merge(template, sub.overrides)
    sub.updated_at = utcnow()
    instances.apply(s, sub, _instance_name(s, app))


def instance_config(s: Session, publisher_region_id: int, slug: str) -> dict[str, Any] | None:
    """The region's configured instance of a paired region's app, for modules that run it."""
    for sub in repo.subscriptions(s):
        app = repo.app_any_region(s, sub.app_id)
        if app is not None and app.region_id == publisher_region_id and app.slug == slug and sub.active:
            return dict(sub.config)
    return None


# --- the ledger and the dashboard -------------------------------------------------------------------


def ledger(s: Session) -> list[ReuseLedgerEntry]:
    return repo.ledger(s, _rid(s))


def summary(s: Session) -> dict[str, Any]:
    """Dashboard figures: what this region reused and saved, and what others saved with its apps."""
    rid = _rid(s)
    entries = repo.ledger(s, rid)
    mine = [e for e in entries if e.region_id == rid]
    theirs = [e for e in entries if e.publisher_region_id == rid]
    by_app: dict[int, dict[str, Any]] = {}
    for e in entries:
        row = by_app.setdefault(e.app_id, {"app_id": e.app_id, "reuses": 0, "saved_yuan": 0.0})
        row["reuses"] += e.event == "subscribe"
        row["saved_yuan"] += float(e.saved_yuan)
    return {
        "reused_apps": len({e.app_id for e in mine if e.event == "subscribe"}),
        "saved_yuan": round(sum(float(e.saved_yuan) for e in mine), 2),
        "reused_by_others": sum(e.event == "subscribe" for e in theirs),
        "saved_for_others_yuan": round(sum(float(e.saved_yuan) for e in theirs), 2),
        "by_app": sorted(by_app.values(), key=lambda r: -r["saved_yuan"]),
    }
