"""Evidence files owned by a region: detectors and people upload, alerts and reports reference by hash."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from gongzhi.core import audit
from gongzhi.core.models import EvidenceFile, Role
from gongzhi.db import scope_of
from gongzhi.errors import Forbidden, InvalidInput, NotFound, msg
from gongzhi.kit.filestore import FileStore

UPLOADERS = (Role.ADMIN, Role.DISPATCHER, Role.SUPERVISOR, Role.HANDLER)


def check_can_upload(s: Session) -> int:
    sc = scope_of(s)
    if not sc.system and sc.role not in UPLOADERS:
        raise Forbidden(msg("viewers cannot upload evidence"))
    if sc.region_id is None:
        raise InvalidInput(msg("a region is required"))
    return sc.region_id


def store(s: Session, files: FileStore, data: bytes, content_type: str, filename: str | None) -> EvidenceFile:
    """Check and store the bytes, then record that this region holds them (idempotent per region)."""
    rid = check_can_upload(s)
    stored = files.put(data, content_type, filename)
    existing = s.execute(
        select(EvidenceFile).where(EvidenceFile.sha256 == stored.sha256)
    ).scalar_one_or_none()
    if existing is not None:
        return existing
    sc = scope_of(s)
    ev = EvidenceFile(
        region_id=rid,
        sha256=stored.sha256,
        filename=stored.filename or stored.sha256,
        content_type=stored.content_type,
        size=stored.size,
        uploaded_by=sc.user_id,
    )
    s.add(ev)
    s.flush()
    audit.record(
        s,
        region_id=rid,
        action="evidence.store",
        object_type="evidence",
        object_id=ev.id,  # audit object ids hold 60 characters; the 64-hex hash goes in data
        actor=sc.username,
        actor_user_id=sc.user_id,
        data={"sha256": stored.sha256, "filename": ev.filename, "size": ev.size},
    )
    return ev


def get(s: Session, sha256: str) -> EvidenceFile:
    ev = s.execute(select(EvidenceFile).where(EvidenceFile.sha256 == sha256)).scalar_one_or_none()
    if ev is None:
        raise NotFound(msg("no such evidence file in this region"))
    return ev


def require_all(s: Session, region_id: int, shas: Sequence[str]) -> None:
    """Every hash must be a file this region uploaded: nobody cites another region's evidence."""
    if not shas:
        return
    stmt = select(EvidenceFile.sha256).where(
        EvidenceFile.region_id == region_id, EvidenceFile.sha256.in_(shas)
    )
    found = set(s.execute(stmt, execution_options={"unscoped": True}).scalars())
    missing = [h for h in shas if h not in found]
    if missing:
        raise InvalidInput(
            msg("evidence not uploaded to this region: %(files)s", files=", ".join(h[:12] for h in missing))
        )
