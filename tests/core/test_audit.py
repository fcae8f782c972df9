"""The audit trail is a hash chain per region: tampering with it in the database is found and located,
and concurrent writers never fork it."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import Table, select, text, update
from typer.testing import CliRunner, Result

from gongzhi import cli
from gongzhi.core import audit
from gongzhi.core.models import AuditEntry, AuditHead
from gongzhi.db import Scope, unit_of_work
from gongzhi.settings import get_settings
from tests.core._support import Committed, busy_region, committed_database

pytestmark = pytest.mark.backend  # each test opens a database of the chosen backend itself

LINKS = 7  # busy_region: the region's creation, then three cases created and accepted

Tamper = Callable[[Committed, int], None]


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Committed]:
    with committed_database(tmp_path_factory.mktemp("audit")) as committed:
        yield committed


def gongzhi(url: str, *args: str) -> Result:
    get_settings.cache_clear()
    try:
        return CliRunner().invoke(cli.app, list(args), env={"GONGZHI_DATABASE_URL": url})
    finally:
        get_settings.cache_clear()


def findings(db: Committed, region_id: int) -> tuple[int, list[tuple[int, str]]]:
    """(links checked, [(link, kind)]) where kind names what the verifier says happened."""
    kinds = ("edited", "missing", "reordered", "tail deleted")
    with unit_of_work(db.factory, Scope.for_system()) as s:
        links, problems = audit.verify(s, region_id)
    assert all(p.region_id == region_id for p in problems)
    return links, [(p.seq, next(k for k in kinds if k in p.problem)) for p in problems]


def raw(db: Committed, sql: str, **params: int) -> None:
    with db.engine.begin() as conn:
        assert conn.execute(text(sql), params).rowcount == 1


def edit_data(db: Committed, rid: int) -> None:
    entries = AuditEntry.__table__
    assert isinstance(entries, Table)
    stmt = update(entries).where(entries.c.region_id == rid, entries.c.seq == 4).values(data={"note": "改过"})
    with db.engine.begin() as conn:
        assert conn.execute(stmt).rowcount == 1


def delete_middle(db: Committed, rid: int) -> None:
    raw(db, "DELETE FROM audit_entries WHERE region_id = :r AND seq = 4", r=rid)


def swap_seqs(db: Committed, rid: int) -> None:
    for old, new in ((3, -3), (4, 3), (-3, 4)):
        raw(
            db,
            "UPDATE audit_entries SET seq = :new WHERE region_id = :r AND seq = :old",
            r=rid,
            old=old,
            new=new,
        )


def delete_tail(db: Committed, rid: int) -> None:
    raw(db, "DELETE FROM audit_entries WHERE region_id = :r AND seq = :s", r=rid, s=LINKS)


@pytest.mark.parametrize(
    ("tamper", "links", "expected"),
    [
        pytest.param(edit_data, LINKS, [(4, "edited")], id="edited-data"),
        pytest.param(delete_middle, LINKS - 1, [(4, "missing"), (5, "reordered")], id="deleted-middle"),
        pytest.param(
            swap_seqs,
            LINKS,
            [(3, "reordered"), (3, "edited"), (4, "reordered"), (4, "edited"), (5, "reordered")],
            id="swapped-seqs",
        ),
        pytest.param(delete_tail, LINKS - 1, [(LINKS, "tail deleted")], id="deleted-tail"),
    ],
)
def test_tampering_is_reported_at_the_right_link_and_the_cli_fails(
    db: Committed, tamper: Tamper, links: int, expected: list[tuple[int, str]], request: pytest.FixtureRequest
) -> None:
    code = request.node.callspec.id.replace("-", "_")
    rid = busy_region(db.factory, code)
    assert findings(db, rid) == (LINKS, [])
    intact = gongzhi(db.url, "audit", "verify", "--region", code)
    assert intact.exit_code == 0, intact.output
    assert f"audit chain intact: {LINKS} links verified" in intact.stdout

    tamper(db, rid)

    assert findings(db, rid) == (links, expected)
    broken = gongzhi(db.url, "audit", "verify", "--region", code)
    assert broken.exit_code == 1
    first_link, first_kind = expected[0]
    assert f"region {rid} link {first_link}:" in broken.stderr
    assert first_kind in broken.stderr
    assert f"{len(expected)} problem(s) in {links} audit links" in broken.stderr
    assert "Traceback" not in broken.output


def test_tampering_in_one_region_leaves_the_other_chains_intact(db: Committed) -> None:
    victim, bystander = busy_region(db.factory, "victim", 1), busy_region(db.factory, "bystander", 1)
    delete_middle_of_three = "DELETE FROM audit_entries WHERE region_id = :r AND seq = 2"
    raw(db, delete_middle_of_three, r=victim)
    with unit_of_work(db.factory, Scope.for_system()) as s:
        _, problems = audit.verify(s)
    assert victim in {p.region_id for p in problems}
    assert bystander not in {p.region_id for p in problems}
    assert findings(db, bystander) == (3, [])


def test_unknown_region_is_an_error_not_a_traceback(db: Committed) -> None:
    result = gongzhi(db.url, "audit", "verify", "--region", "nowhere")
    assert result.exit_code == 1
    assert "no region 'nowhere'" in result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_concurrent_writers_to_the_same_chains_never_fork_them(db: Committed) -> None:
    """Each transaction appends two links to one region and one to another, in alternating order."""
    a, b = busy_region(db.factory, "busy_a", 0), busy_region(db.factory, "busy_b", 0)
    threads, rounds = 8, 6
    start, errors = threading.Barrier(threads), []

    def writer(i: int) -> None:
        start.wait()
        try:
            for r in range(rounds):
                with unit_of_work(db.factory, Scope.for_system()) as s:
                    for rid in (a, a, b) if i % 2 else (b, a, a):
                        audit.record(
                            s,
                            region_id=rid,
                            action="t.write",
                            object_type="t",
                            object_id=f"{i}.{r}",
                            actor=f"w{i}",
                        )
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    pool = [threading.Thread(target=writer, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join(60)
    assert errors == []

    for rid, appended in ((a, 2 * threads * rounds), (b, threads * rounds)):
        assert findings(db, rid) == (1 + appended, [])
        with unit_of_work(db.factory, Scope.for_system()) as s:
            seqs = s.scalars(
                select(AuditEntry.seq).where(AuditEntry.region_id == rid).order_by(AuditEntry.seq)
            )
            head = s.get_one(AuditHead, rid)
            assert list(seqs) == list(range(1, appended + 2))
            assert head.seq == appended + 1
