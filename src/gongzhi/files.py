"""Reclaiming the evidence file store: stored files that no record holds, and writes that never finished.

A file is stored before the record that holds it is committed, so a refused upload (a flight of only
visible photos, one frame over the limit, a frame the reader refuses after the others were kept) or a
crashed request leaves files behind when its transaction rolls back. :func:`prune` deletes those once no
record of any region holds them (:func:`referenced`) and they have not been written for ``older_than_s``
(default a day): an upload still in progress has written its files, or stored again bytes it shares with
an older file, within that time (:meth:`.kit.filestore.FileStore.put` refreshes the file's time), so its
files are not taken while its records are not yet committed.

Every file the platform stores is held by an evidence file row (:func:`.core.evidence.store`: PV frames
and photos, village photos, alert evidence) or a case file row (case and citizen-request attachments);
code that stores files any other way must add its records to :func:`referenced`.

``gongzhi files prune [--older-than-hours 24] [--dry-run]`` runs it.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from gongzhi.cases.models import CaseFile
from gongzhi.core.models import EvidenceFile
from gongzhi.db import Scope, SessionFactory, unit_of_work
from gongzhi.kit.filestore import FileStore

GRACE_S = 24 * 3600.0
"""Least time since a file was last written before :func:`prune` may delete it [s]."""


def referenced(s: Session) -> set[str]:
    """Digests of the stored files some record of any region holds: evidence files (thermal frames,
    visible photos, village and PV evidence) and case files (photos and documents of cases and citizen
    requests)."""
    held: set[str] = set()
    for column in (EvidenceFile.sha256, CaseFile.sha256):
        held.update(s.execute(select(column).distinct(), execution_options={"unscoped": True}).scalars())
    return held


@dataclass(frozen=True, slots=True)
class PruneReport:
    """What :func:`prune` found and did."""

    orphans: int  # stored files no record holds, old enough
    orphan_bytes: int
    unfinished: int  # temporary files of writes that never finished, old enough
    removed: int  # files deleted (0 on a dry run)
    removed_bytes: int
    kept_referenced: int  # old enough, but a record holds them


def prune(
    factory: SessionFactory, store: FileStore, older_than_s: float = GRACE_S, *, dry_run: bool = False
) -> PruneReport:
    """Delete the files of ``store`` that no record holds and that were last written more than
    ``older_than_s`` seconds ago, and the temporary files of writes as old that never finished.

    The old files are listed first and the records read after, so a record committed meanwhile keeps its
    file; a file stored again after the listing is left (:meth:`.FileStore.remove`).
    """
    if older_than_s < 0:
        raise ValueError("older_than_s must not be negative")
    stale = list(store.stale(older_than_s))
    with unit_of_work(factory, Scope.for_system()) as s:
        held = referenced(s)
    orphans = [f for f in stale if f.digest is not None and f.digest not in held]
    unfinished = [f for f in stale if f.digest is None]
    removed = removed_bytes = 0
    if not dry_run:
        for f in (*orphans, *unfinished):
            if store.remove(f):
                removed += 1
                removed_bytes += f.size
    return PruneReport(
        orphans=len(orphans),
        orphan_bytes=sum(f.size for f in orphans),
        unfinished=len(unfinished),
        removed=removed,
        removed_bytes=removed_bytes,
        kept_referenced=sum(1 for f in stale if f.digest is not None and f.digest in held),
    )
