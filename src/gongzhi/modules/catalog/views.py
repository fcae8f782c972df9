"""Console pages of the resource catalog: records with their history, audit runs with the report and
rectification cases, duplicate systems side by side (in the region and across pairs), the reuse market,
the reuse ledger and the shared library. Writes call the same services as the API."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

from fastapi import File, Form, Query, UploadFile
from fastapi.responses import Response
from sqlalchemy import select

from gongzhi.cases.models import Actor, Case
from gongzhi.core.deps import api_router
from gongzhi.core.models import Region, Role
from gongzhi.core.service import paired_region_ids
from gongzhi.errors import InvalidInput, msg
from gongzhi.kit.validation import DbInt, parse_id
from gongzhi.modules.catalog import crossdupes, library, reuse, service
from gongzhi.modules.catalog import repository as repo
from gongzhi.modules.catalog.analytics.texts import lang_of
from gongzhi.modules.catalog.io import report
from gongzhi.modules.catalog.schemas import (
    AppPublish,
    DocumentIn,
    MappingIn,
    SharingIn,
    SubscribeIn,
)
from gongzhi.web.i18n import N_
from gongzhi.web.shell import Console, ConsoleDep, DashboardCard, NavItem

router = api_router(include_in_schema=False)
TEMPLATES = Path(__file__).parent / "templates"
NAV = NavItem("/catalog", N_("Resource catalog"), "▤")
FINDING_STATUSES = {"open": N_("Open"), "fixed": N_("Fixed"), "archived": N_("Archived")}
PAGE_SIZE = 50
TABS = (
    ("records", "/catalog", N_("Records")),
    ("rules", "/catalog/rules", N_("Audit rules")),
    ("audits", "/catalog/audits", N_("Audits")),
    ("duplicates", "/catalog/duplicates", N_("Duplicate systems")),
    ("reuse", "/catalog/reuse", N_("Reuse market")),
    ("ledger", "/catalog/reuse/ledger", N_("Reuse ledger")),
    ("library", "/catalog/library", N_("Shared library")),
)
APP_KINDS = {
    "ruleset": N_("Audit rule set"),
    "detector": N_("Detector model"),
    "dispatch_template": N_("Dispatch-rule template"),
    "report_template": N_("Report template"),
    "module_config": N_("Module configuration"),
}
DOC_KINDS = {
    "policy": N_("Policy"),
    "experience": N_("Experience write-up"),
    "investment": N_("Investment notice"),
    "business_environment": N_("Business-environment notice"),
    "other": N_("Other"),
}
VERDICTS = {
    "pending": N_("Pending review"),
    "duplicate": N_("Duplicate"),
    "distinct": N_("Distinct"),
    "merged": N_("Merged"),
}
CHANGES = {
    "create": N_("Created"),
    "update": N_("Changed"),
    "archive": N_("Archived"),
    "restore": N_("Restored"),
}
EDITORS = (Role.ADMIN, Role.DISPATCHER, Role.SUPERVISOR)


def _page(c: Console, tab: str, name: str, **extra: Any) -> Response:
    return c.page(
        name,
        tab=tab,
        tabs=TABS,
        can_edit=c.me.can(*EDITORS),
        is_admin=c.me.can(Role.ADMIN),
        app_kinds=APP_KINDS,
        doc_kinds=DOC_KINDS,
        verdicts=VERDICTS,
        **extra,
    )


def _region_names(c: Console) -> dict[int, str]:
    ids = {c.me.region.id, *paired_region_ids(c.s, c.me.region.id)}
    return {i: n for i, n in c.s.execute(select(Region.id, Region.name).where(Region.id.in_(ids)))}


# --- records ----------------------------------------------------------------------------------------


@router.get("/catalog")
def records(
    c: ConsoleDep,
    q: Annotated[str, Query(max_length=200)] = "",
    kind: Annotated[str, Query(pattern="^(|dataset|application)$")] = "",
    archived: bool = False,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    rows, total = service.list_records(c.s, kind or None, q, None, page, PAGE_SIZE, archived)
    query = "&".join(
        p
        for p in (f"q={q}" if q else "", f"kind={kind}" if kind else "", "archived=true" if archived else "")
        if p
    )
    return _page(
        c,
        "records",
        "catalog_records.html",
        items=rows,
        total=total,
        q=q,
        kind=kind,
        archived=archived,
        page=page,
        pages=max(1, -(-total // PAGE_SIZE)),
        query=query,
    )


def _short(value: Any, width: int = 60) -> str:
    text = (
        "—"
        if value in (None, "", [], {})
        else (value if isinstance(value, str) else json.dumps(value, ensure_ascii=False))
    )
    return text if len(text) <= width else text[: width - 1] + "…"


def _changes(versions: list[Any]) -> list[tuple[Any, list[tuple[str, str, str]]]]:
    """Each version, newest first, with (field, value before, value after) for what it changed."""
    out: list[tuple[Any, list[tuple[str, str, str]]]] = []
    before: dict[str, Any] | None = None
    for v in versions:
        changed = (
            []
            if before is None
            else [
                (k, _short(before.get(k)), _short(v.data[k]))
                for k in sorted(v.data)
                if v.data[k] != before.get(k)
            ]
        )
        out.append((v, changed))
        before = v.data
    return list(reversed(out))


@router.get("/catalog/records/{record_id:int}")
def record(c: ConsoleDep, record_id: DbInt) -> Response:
    rec = service.get_record(c.s, record_id)
    history = _changes(service.record_versions(c.s, record_id))
    return _page(c, "records", "catalog_record.html", r=rec, history=history, changes=CHANGES)


@router.post("/catalog/records/{record_id:int}/archive")
def archive(
    c: ConsoleDep, record_id: DbInt, reason: Annotated[str, Form(min_length=1, max_length=2000)]
) -> Response:
    service.archive_record(c.s, record_id, reason)
    return c.done(f"/catalog/records/{record_id}", c._(N_("Record archived")))


@router.post("/catalog/records/{record_id:int}/restore")
def restore(c: ConsoleDep, record_id: DbInt) -> Response:
    service.restore_record(c.s, record_id)
    return c.done(f"/catalog/records/{record_id}", c._(N_("Record restored")))


@router.post("/catalog/records/{record_id:int}/sharing")
def sharing(c: ConsoleDep, record_id: DbInt, shared: Annotated[bool, Form()] = False) -> Response:
    service.share_record(c.s, record_id, shared)
    message = N_("Shared with paired regions") if shared else N_("No longer shared")
    return c.done(f"/catalog/records/{record_id}", c._(message))


MAX_UPLOAD = 50 * 1024 * 1024
EXPORTS = {"jsonld": "catalog.jsonld", "ttl": "catalog.ttl", "datajson": "data.json", "xlsx": "catalog.xlsx"}


@router.post("/catalog/import")
def import_file(
    c: ConsoleDep,
    file: Annotated[UploadFile, File()],
    format: Annotated[str, Form(pattern="^(auto|cn-opendata|datajson|codejson|native|csv|xlsx)$")] = "auto",
) -> Response:
    """Import a spreadsheet or JSON catalog and show its row-by-row report on the records page."""
    raw = file.file.read(MAX_UPLOAD + 1)
    if len(raw) > MAX_UPLOAD:
        raise InvalidInput(msg("the file is larger than %(mib)s MiB", mib=MAX_UPLOAD // 1024 // 1024))
    result = service.import_catalog(c.s, raw, file.filename or "", format)
    rows, total = service.list_records(c.s, None, "", None, 1, PAGE_SIZE)
    return _page(
        c,
        "records",
        "catalog_records.html",
        items=rows,
        total=total,
        q="",
        kind="",
        archived=False,
        page=1,
        pages=max(1, -(-total // PAGE_SIZE)),
        query="",
        imported=result,
        filename=file.filename or "",
    )


@router.get("/catalog/export.{fmt}")
def export(c: ConsoleDep, fmt: str) -> Response:
    if fmt not in EXPORTS:
        raise InvalidInput(
            msg("no export format %(fmt)r; one of %(formats)s", fmt=fmt, formats=", ".join(EXPORTS))
        )
    body, media = service.export_catalog(c.s, fmt)
    return Response(
        body, media_type=media, headers={"Content-Disposition": f'attachment; filename="{EXPORTS[fmt]}"'}
    )


@router.get("/catalog/rules")
def rules_page(c: ConsoleDep) -> Response:
    subs = {sub.id: sub for sub, _, _ in reuse.list_subscriptions(c.s)}
    return _page(
        c,
        "rules",
        "catalog_rules.html",
        rules=service.rule_catalog(),
        text_lang=lang_of(c.lang.code),
        rulesets=service.list_rulesets(c.s),
        subs=subs,
        regions=_region_names(c),
    )


# --- audits -----------------------------------------------------------------------------------------


@router.get("/catalog/audits")
def audits(c: ConsoleDep) -> Response:
    return _page(
        c, "audits", "catalog_audits.html", runs=service.list_runs(c.s), rulesets=service.list_rulesets(c.s)
    )


@router.post("/catalog/audits")
def run_audit(
    c: ConsoleDep,
    ruleset_id: Annotated[str, Form()] = "",
    open_cases: Annotated[bool, Form()] = False,
    shacl: Annotated[bool, Form()] = False,
) -> Response:
    rs = parse_id(ruleset_id)
    run = service.run_audit(c.s, c.st.registry, ruleset_id=rs, shacl=shacl, open_cases=open_cases)
    c.s.flush()
    return c.done(f"/catalog/audits/{run.id}", c._(N_("%(n)s problems found"), n=c.lang.number(run.problems)))


@router.get("/catalog/audits/{run_id:int}")
def audit_run(
    c: ConsoleDep,
    run_id: DbInt,
    status: Annotated[str, Query(pattern="^(|open|fixed|archived)$")] = "open",
    rule: Annotated[str, Query(max_length=60)] = "",
) -> Response:
    text_lang = lang_of(c.lang.code)
    data = service.report_data(c.s, run_id, text_lang)
    findings = service.run_findings(c.s, run_id, status or None, rule or None)
    names = repo.records_by_ids(c.s, sorted({f.record_id for f in findings}))
    case_ids = sorted({f.case_id for f in findings if f.case_id})
    numbers = {i: n for i, n in c.s.execute(select(Case.id, Case.number).where(Case.id.in_(case_ids)))}
    latest = service.list_runs(c.s)[:1]
    return _page(
        c,
        "audits",
        "catalog_run.html",
        run=service.get_run(c.s, run_id),
        r=data,
        findings=findings[:500],
        messages={f.id: service.finding_text(f, text_lang) for f in findings[:500]},
        rule_titles={r.id: r.title(text_lang) for r in service.rule_catalog()},
        more=max(0, len(findings) - 500),
        names=names,
        numbers=numbers,
        finding_status={k: c._(v) for k, v in FINDING_STATUSES.items()},
        status=status,
        rule=rule,
        is_latest=bool(latest) and latest[0].id == run_id,
    )


@router.post("/catalog/audits/{run_id:int}/cases")
def open_cases(c: ConsoleDep, run_id: DbInt) -> Response:
    before = service.get_run(c.s, run_id).cases_opened
    run = service.open_cases(c.s, c.st.registry, run_id)
    opened = run.cases_opened - before
    return c.done(f"/catalog/audits/{run_id}", c._(N_("%(n)s rectification cases opened"), n=opened))


@router.get("/catalog/audits/{run_id:int}/report.{fmt}")
def audit_report(c: ConsoleDep, run_id: DbInt, fmt: str) -> Response:
    if fmt not in report.FORMATS:
        raise InvalidInput(msg("no report format %(fmt)r", fmt=fmt))
    body, media = service.render_report(c.s, run_id, fmt, lang=lang_of(c.lang.code))
    headers = {} if fmt == "html" else {"Content-Disposition": f'attachment; filename="audit-{run_id}.{fmt}"'}
    return Response(body, media_type=media, headers=headers)


# --- duplicate systems ------------------------------------------------------------------------------


@router.get("/catalog/duplicates")
def duplicates(
    c: ConsoleDep, verdict: Annotated[str, Query(pattern="^(|pending|duplicate|distinct|merged)$")] = ""
) -> Response:
    return _page(
        c,
        "duplicates",
        "catalog_duplicates.html",
        pairs=service.list_duplicates(c.s, verdict or None, False, 100),
        cross=crossdupes.list_pairs(c.s, verdict or None, False, 100),
        verdict=verdict,
    )


@router.post("/catalog/duplicates/scan")
def scan(c: ConsoleDep, across: Annotated[bool, Form()] = False) -> Response:
    found = crossdupes.scan(c.s) if across else service.scan_duplicates(c.s)
    return c.done("/catalog/duplicates", c._(N_("%(n)s pairs found"), n=found["pairs"]))


@router.post("/catalog/duplicates/{pair_id:int}/verdict")
def verdict(
    c: ConsoleDep,
    pair_id: DbInt,
    verdict: Annotated[str, Form(pattern="^(pending|duplicate|distinct|merged)$")],
    note: Annotated[str, Form(max_length=5000)] = "",
    across: Annotated[bool, Form()] = False,
) -> Response:
    if across:
        crossdupes.set_verdict(c.s, pair_id, verdict, note)
    else:
        service.set_verdict(c.s, pair_id, verdict, note)
    return c.done("/catalog/duplicates", c._(N_("Verdict saved")))


# --- reuse ------------------------------------------------------------------------------------------


@router.get("/catalog/reuse")
def market(c: ConsoleDep) -> Response:
    return _market(c)


def _market(c: Console, preview: dict[str, Any] | None = None, mapping: str = "") -> Response:
    subs = reuse.list_subscriptions(c.s)
    apps = reuse.visible_apps(c.s)
    return _page(
        c,
        "reuse",
        "catalog_reuse.html",
        apps=apps,
        versions={a.id: list(reversed(reuse.app_versions(c.s, a.id)))[:5] for a in apps},
        subs=subs,
        subscribed={sub.app_id: sub for sub, _, _ in subs if sub.active},
        regions=_region_names(c),
        rulesets=service.list_rulesets(c.s),
        preview=preview,
        mapping=mapping,
        actor_names={a.id: a.name for a in c.s.execute(select(Actor)).scalars()},
    )


@router.post("/catalog/reuse/apps/{app_id:int}/preview")
def preview(c: ConsoleDep, app_id: DbInt, mapping: Annotated[str, Form(max_length=200_000)] = "") -> Response:
    """Show on the market what subscribing would set up with this mapping (nothing is written)."""
    body = _validated(c, MappingIn, _json_field(mapping, "the mapping"))
    result = reuse.preview(c.s, app_id, body.model_dump())
    return _market(c, {**result, "app_id": app_id}, mapping)


def _json_field(raw: str, what: str) -> dict[str, Any]:
    if not raw.strip():
        return {}
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise InvalidInput(f"{what} is not valid JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise InvalidInput(msg("%(what)s must be a JSON object", what=what))
    return value


@router.post("/catalog/reuse/apps")
def publish(
    c: ConsoleDep,
    slug: Annotated[str, Form()],
    kind: Annotated[str, Form()],
    name: Annotated[str, Form()],
    description: Annotated[str, Form(max_length=20_000)] = "",
    config: Annotated[str, Form(max_length=1_000_000)] = "",
    ruleset_id: Annotated[str, Form()] = "",
    from_region: Annotated[bool, Form()] = False,
    build_cost_yuan: Annotated[str, Form()] = "",
) -> Response:
    fields: dict[str, Any] = {
        "slug": slug.strip(),
        "kind": kind,
        "name": name.strip(),
        "description": description,
        "config": _json_field(config, "the configuration"),
        "ruleset_id": parse_id(ruleset_id),
        "from_region": from_region,
        "build_cost_yuan": float(build_cost_yuan) if build_cost_yuan.strip() else None,
    }
    app = reuse.publish_app(c.s, c.st.registry, _validated(c, AppPublish, fields))
    return c.done("/catalog/reuse", c._(N_("Published %(name)s"), name=app.name))


def _validated(c: Console, model: Any, fields: dict[str, Any]) -> Any:
    from gongzhi.web.views.cases import _validated as validated

    return validated(c, model, fields)


@router.post("/catalog/reuse/apps/{app_id:int}/subscribe")
def subscribe(
    c: ConsoleDep,
    app_id: DbInt,
    saved_yuan: Annotated[str, Form()] = "0",
    note: Annotated[str, Form(max_length=5000)] = "",
    mapping: Annotated[str, Form(max_length=200_000)] = "",
) -> Response:
    try:
        saved = float(saved_yuan or 0)
    except ValueError as exc:
        raise InvalidInput(msg("the saving must be a number of yuan")) from exc
    body = {
        "saved_yuan": saved,
        "note": note,
        "mapping": _validated(c, MappingIn, _json_field(mapping, "the mapping")),
    }
    reuse.subscribe(c.s, c.st.registry, app_id, _validated(c, SubscribeIn, body))
    return c.done("/catalog/reuse", c._(N_("Subscribed: your own instance is ready")))


@router.post("/catalog/reuse/subscriptions/{sub_id:int}/accept")
def accept(c: ConsoleDep, sub_id: DbInt) -> Response:
    sub = reuse.accept_update(c.s, sub_id)
    return c.done("/catalog/reuse", c._(N_("Now at version %(v)s"), v=sub.accepted_version))


@router.post("/catalog/reuse/subscriptions/{sub_id:int}/mapping")
def remap(c: ConsoleDep, sub_id: DbInt, mapping: Annotated[str, Form(max_length=200_000)] = "") -> Response:
    """Change how a subscription's template lands on this region's actors and grid cells (re-applied now)."""
    body = _validated(c, MappingIn, _json_field(mapping, "the mapping"))
    sub = next((row[0] for row in reuse.list_subscriptions(c.s) if row[0].id == sub_id), None)
    reuse.set_overrides(c.s, sub_id, dict(sub.overrides) if sub else {}, body.model_dump())
    return c.done("/catalog/reuse", c._(N_("Mapping saved")))


@router.post("/catalog/reuse/subscriptions/{sub_id:int}/end")
def end(c: ConsoleDep, sub_id: DbInt) -> Response:
    reuse.unsubscribe(c.s, sub_id)
    return c.done("/catalog/reuse", c._(N_("Subscription ended")))


@router.get("/catalog/reuse/ledger")
def ledger(c: ConsoleDep) -> Response:
    entries = reuse.ledger(c.s)
    apps = {a.id: a for a in reuse.visible_apps(c.s)}
    return _page(
        c,
        "ledger",
        "catalog_ledger.html",
        entries=entries,
        apps=apps,
        regions=_region_names(c),
        summary=reuse.summary(c.s),
    )


def reuse_card(c: Console) -> dict[str, Any]:
    """The dashboard's figure: development cost the region saved by reuse, and saved for others."""
    return reuse.summary(c.s)


CARD = DashboardCard("catalog_card.html", reuse_card)


# --- shared library ---------------------------------------------------------------------------------


@router.get("/catalog/library")
def library_page(
    c: ConsoleDep,
    q: Annotated[str, Query(max_length=200)] = "",
    kind: Annotated[str, Query(pattern="^(|policy|experience|investment|business_environment|other)$")] = "",
) -> Response:
    hits = library.search(c.s, q, 50) if q.strip() else []
    docs = [] if q.strip() else library.list_documents(c.s, kind or None)
    return _page(
        c,
        "library",
        "catalog_library.html",
        q=q,
        kind=kind,
        hits=hits,
        docs=docs,
        regions=_region_names(c),
        paired=sorted(paired_region_ids(c.s, c.me.region.id)),
        can_write=c.me.can(*library.WRITERS),
    )


@router.get("/catalog/library/{doc_id:int}")
def document(c: ConsoleDep, doc_id: DbInt) -> Response:
    doc = library.get_document(c.s, doc_id)
    return _page(
        c,
        "library",
        "catalog_document.html",
        d=doc,
        regions=_region_names(c),
        paired=sorted(paired_region_ids(c.s, c.me.region.id)),
        can_share=doc.region_id == c.me.region.id and c.me.can(*library.WRITERS),
    )


@router.post("/catalog/library/{doc_id:int}/sharing")
def share_document(
    c: ConsoleDep,
    doc_id: DbInt,
    sharing: Annotated[str, Form()],
    share_region_ids: Annotated[list[DbInt] | None, Form()] = None,
) -> Response:
    body = {"sharing": sharing, "share_region_ids": share_region_ids or []}
    library.set_sharing(c.s, doc_id, _validated(c, SharingIn, body))
    return c.done(f"/catalog/library/{doc_id}", c._(N_("Sharing saved")))


@router.post("/catalog/library")
def create_document(
    c: ConsoleDep,
    title: Annotated[str, Form()],
    kind: Annotated[str, Form()] = "other",
    summary: Annotated[str, Form(max_length=20_000)] = "",
    body: Annotated[str, Form(max_length=1_000_000)] = "",
    tags: Annotated[str, Form(max_length=2000)] = "",
    sharing: Annotated[str, Form()] = "private",
    share_region_ids: Annotated[list[DbInt] | None, Form()] = None,
) -> Response:
    fields = {
        "title": title.strip(),
        "kind": kind,
        "summary": summary,
        "body": body,
        "tags": [t.strip() for t in tags.replace("，", ",").split(",") if t.strip()],
        "sharing": sharing,
        "share_region_ids": share_region_ids or [],
    }
    doc = library.create_document(c.s, _validated(c, DocumentIn, fields))
    return c.done(f"/catalog/library/{doc.id}", c._(N_("Document saved")))
