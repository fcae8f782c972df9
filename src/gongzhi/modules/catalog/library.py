"""The shared library (云上共享) of paired regions: policies, experience write-ups, investment and
business-environment notices, each shared per document, with portable Chinese full-text search.

The index is a table of (document, token, weight) rows, tokens being CJK unigrams and bigrams and Latin
words (``analytics.text``): the same SQL runs on SQLite and PostgreSQL, no extension needed.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy import delete, insert
from sqlalchemy.orm import Session

from gongzhi.core import audit
from gongzhi.core.models import Role
from gongzhi.core.service import paired_region_ids, require_role
from gongzhi.db import scope_of, utcnow
from gongzhi.errors import InvalidInput, NotFound, msg
from gongzhi.modules.catalog import repository as repo
from gongzhi.modules.catalog.analytics.text import query_tokens, search_tokens
from gongzhi.modules.catalog.models import LibraryDocument, LibraryToken
from gongzhi.modules.catalog.schemas import DocumentIn, SharingIn

WRITERS = (Role.ADMIN, Role.DISPATCHER, Role.SUPERVISOR)
FIELD_WEIGHT = {"title": 5, "tags": 3, "summary": 2, "body": 1}


def _rid(s: Session) -> int:
    rid = scope_of(s).region_id
    if rid is None:
        raise InvalidInput(msg("choose a region for the library"))
    return rid


def _audit(s: Session, action: str, doc: LibraryDocument, data: dict[str, Any]) -> None:
    sc = scope_of(s)
    audit.record(
        s,
        region_id=doc.region_id,
        action=action,
        object_type="library_document",
        object_id=doc.id,
        actor=sc.username,
        actor_user_id=sc.user_id,
        data=data,
    )


def visible_to(doc: LibraryDocument, region_id: int, paired: set[int]) -> bool:
    """The owner sees its documents; a paired region sees the ones shared with all pairs or with it."""
    if doc.region_id == region_id:
        return True
    if doc.region_id not in paired:
        return False
    return doc.sharing == "pairs" or (doc.sharing == "selected" and region_id in doc.share_region_ids)


def _check_sharing(s: Session, sharing: str, region_ids: list[int]) -> list[int]:
    if sharing != "selected":
        return []
    paired = paired_region_ids(s, _rid(s))
    outside = sorted(set(region_ids) - paired)
    if outside or not region_ids:
        raise InvalidInput(msg("documents are shared only with paired regions; choose at least one"))
    return sorted(set(region_ids))


def _index(s: Session, doc: LibraryDocument) -> None:
    s.execute(delete(LibraryToken).where(LibraryToken.document_id == doc.id))
    weights: Counter[str] = Counter()
    texts = {"title": doc.title, "tags": " ".join(doc.tags), "summary": doc.summary, "body": doc.body}
    for name, text in texts.items():
        for token, n in search_tokens(text).items():
            weights[token] += n * FIELD_WEIGHT[name]
    rows = [
        {"region_id": doc.region_id, "document_id": doc.id, "token": t, "weight": w}
        for t, w in weights.items()
    ]
    if rows:
        s.execute(insert(LibraryToken), rows)


def create_document(s: Session, data: DocumentIn) -> LibraryDocument:
    require_role(scope_of(s), *WRITERS)
    doc = LibraryDocument(
        region_id=_rid(s),
        author=scope_of(s).username,
        **data.model_dump(exclude={"share_region_ids"}),
        share_region_ids=_check_sharing(s, data.sharing, data.share_region_ids),
    )
    s.add(doc)
    s.flush()
    _index(s, doc)
    _audit(s, "library.create", doc, {"title": doc.title, "sharing": doc.sharing})
    return doc


def update_document(s: Session, doc_id: int, data: DocumentIn) -> LibraryDocument:
    require_role(scope_of(s), *WRITERS)
    doc = _own(s, doc_id)
    for k, v in data.model_dump(exclude={"share_region_ids"}).items():
        setattr(doc, k, v)
    doc.share_region_ids = _check_sharing(s, data.sharing, data.share_region_ids)
    doc.updated_at = utcnow()
    s.flush()
    _index(s, doc)
    _audit(s, "library.update", doc, {"title": doc.title, "sharing": doc.sharing})
    return doc


def set_sharing(s: Session, doc_id: int, data: SharingIn) -> LibraryDocument:
    require_role(scope_of(s), *WRITERS)
    doc = _own(s, doc_id)
    doc.sharing = data.sharing
    doc.share_region_ids = _check_sharing(s, data.sharing, data.share_region_ids)
    doc.updated_at = utcnow()
    s.flush()
    _audit(s, "library.share", doc, {"sharing": doc.sharing, "regions": doc.share_region_ids})
    return doc


def _own(s: Session, doc_id: int) -> LibraryDocument:
    doc = repo.document_any_region(s, doc_id)
    if doc is None or doc.region_id != _rid(s):
        raise NotFound(msg("no document %(doc_id)s of this region", doc_id=doc_id))
    return doc


def get_document(s: Session, doc_id: int) -> LibraryDocument:
    rid = _rid(s)
    doc = repo.document_any_region(s, doc_id)
    if doc is None or not visible_to(doc, rid, paired_region_ids(s, rid)):
        raise NotFound(msg("no document %(doc_id)s", doc_id=doc_id))
    return doc


def list_documents(s: Session, kind: str | None = None, own_only: bool = False) -> list[LibraryDocument]:
    rid = _rid(s)
    paired = set() if own_only else paired_region_ids(s, rid)
    return [d for d in repo.documents_of(s, {rid, *paired}, kind) if visible_to(d, rid, paired)]


def search(s: Session, query: str, limit: int = 20) -> list[tuple[LibraryDocument, int, str]]:
    """Documents holding every query token (CJK bigrams, Latin words), best first, with a snippet."""
    tokens = query_tokens(query)
    if not tokens:
        return []
    rid = _rid(s)
    paired = paired_region_ids(s, rid)
    matches = repo.token_matches(s, tokens, {rid, *paired}, limit * 5)
    docs = {d.id: d for d in repo.documents_by_ids(s, [d for d, _ in matches])}
    hits = [(docs[d], score, snippet(docs[d], query)) for d, score in matches if d in docs]
    return [h for h in hits if visible_to(h[0], rid, paired)][:limit]


def snippet(doc: LibraryDocument, query: str, width: int = 40) -> str:
    text = f"{doc.summary} {doc.body}".strip()
    lowered = text.lower()
    terms = [query.strip().lower(), *query_tokens(query)]
    at = next((i for i in (lowered.find(t) for t in terms if t) if i >= 0), 0)
    start = max(at - width, 0)
    return ("…" if start else "") + text[start : at + width * 2] + ("…" if at + width * 2 < len(text) else "")
