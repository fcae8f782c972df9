"""Who is acting: password sessions with CSRF, lock-out and rate limits, region switching, API tokens."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from pydantic import ValidationError
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, sessionmaker

from gongzhi.app import create_app
from gongzhi.core import security
from gongzhi.core import service as core
from gongzhi.core.deps import COOKIE
from gongzhi.core.models import LoginFailure, Role, User
from gongzhi.db import Scope, unit_of_work
from gongzhi.settings import Settings
from tests.conftest import PASSWORD, PRODUCTION_HASHER, Person, World

API = "/api/v1"
PROBLEM = "application/problem+json"
CASE = {"title": "路灯不亮", "category": "light"}


def login(client: TestClient, username: str, password: str = PASSWORD, **extra: Any) -> Response:
    r: Response = client.post(f"{API}/auth/login", json={"username": username, "password": password, **extra})
    return r


def logged_in(client: TestClient, username: str, **extra: Any) -> str:
    """Log in with a password; returns the CSRF token (the session cookie stays in the client)."""
    r = login(client, username, **extra)
    assert r.status_code == 200, r.text
    csrf: str = r.json()["csrf_token"]
    return csrf


def problem(r: Response, status: int, kind: str) -> None:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == PROBLEM
    assert r.json()["type"] == f"/problems/{kind}"


def new_token(client: TestClient, who: Person, status: int = 201, **body: Any) -> dict[str, Any]:
    r = client.post(f"{API}/tokens", json={"name": "script", **body}, headers=who.headers)
    assert r.status_code == status, r.text
    created: dict[str, Any] = r.json()
    return created


def bearer(token: str, **headers: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", **headers}


def with_system(factory: sessionmaker[Session]) -> Any:
    return unit_of_work(factory, Scope.for_system())


# --- password sessions ------------------------------------------------------------------------------


def test_a_password_login_returns_a_csrf_token_and_sets_an_http_only_session_cookie(
    client: TestClient, world: World
) -> None:
    r = login(client, "alice")
    assert r.status_code == 200, r.text
    me = r.json()
    assert me["username"] == "alice" and me["region_id"] == world.a and me["role"] == "dispatcher"
    assert len(me["csrf_token"]) >= 32
    cookie = r.headers["set-cookie"].lower()
    assert cookie.startswith(f"{COOKIE}=") and "httponly" in cookie and "samesite=lax" in cookie
    assert client.cookies.get(COOKIE)


def test_a_password_is_stored_as_argon2id_at_the_production_cost(monkeypatch: pytest.MonkeyPatch) -> None:
    """The suite hashes at a token cost (tests/conftest.py); this is what a deployment stores."""
    monkeypatch.setattr(security, "_hasher", PRODUCTION_HASHER)
    stored = security.hash_password(PASSWORD)
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert security.verify_password(stored, PASSWORD)
    assert not security.verify_password(stored, PASSWORD + "!")


def test_a_session_cookie_authenticates_reads(client: TestClient, world: World) -> None:
    assert client.get(f"{API}/me").status_code == 401
    logged_in(client, "alice")
    me = client.get(f"{API}/me")
    assert me.status_code == 200 and me.json()["username"] == "alice"
    assert me.json()["csrf_token"] is None  # handed out once, at login
    assert client.get(f"{API}/cases").status_code == 200


def test_a_cookie_authenticated_write_needs_the_session_csrf_token(client: TestClient, world: World) -> None:
    stale = logged_in(client, "alice")
    csrf = logged_in(client, "alice")  # a new session: the first token belongs to another session id
    assert csrf != stale
    problem(client.post(f"{API}/cases", json=CASE), 403, "forbidden")
    problem(client.post(f"{API}/cases", json=CASE, headers={"X-CSRF-Token": "0" * 64}), 403, "forbidden")
    problem(client.post(f"{API}/cases", json=CASE, headers={"X-CSRF-Token": stale}), 403, "forbidden")
    created = client.post(f"{API}/cases", json=CASE, headers={"X-CSRF-Token": csrf})
    assert created.status_code == 201, created.text
    titles = [c["title"] for c in client.get(f"{API}/cases").json()["items"]]
    assert titles.count(CASE["title"]) == 1  # the refused writes wrote nothing


def test_a_bearer_token_needs_no_csrf_token(client: TestClient, world: World) -> None:
    assert client.post(f"{API}/cases", json=CASE, headers=world.alice.headers).status_code == 201


def test_a_wrong_password_is_a_401_that_does_not_say_which_part_was_wrong(
    client: TestClient, world: World
) -> None:
    wrong = login(client, "alice", "not the password")
    problem(wrong, 401, "unauthenticated")
    assert "set-cookie" not in wrong.headers and client.cookies.get(COOKIE) is None
    nobody = login(client, "nobody-here", "not the password")
    problem(nobody, 401, "unauthenticated")
    assert nobody.json()["detail"] == wrong.json()["detail"]


def test_a_tampered_session_cookie_is_refused(client: TestClient, world: World) -> None:
    logged_in(client, "alice")
    raw = client.cookies[COOKIE]
    client.cookies.set(COOKIE, raw[:-2] + ("AA" if not raw.endswith("AA") else "BB"))
    problem(client.get(f"{API}/me"), 401, "unauthenticated")


def test_a_deactivated_user_loses_sessions_and_tokens(
    client: TestClient, world: World, factory: sessionmaker[Session]
) -> None:
    logged_in(client, "pete")
    assert client.get(f"{API}/me").status_code == 200
    with with_system(factory) as s:
        s.get_one(User, world.pete.user_id).is_active = False
    problem(client.get(f"{API}/me"), 401, "unauthenticated")
    problem(client.get(f"{API}/me", headers=world.pete.headers), 401, "unauthenticated")
    problem(login(client, "pete"), 401, "unauthenticated")


def test_logout_clears_the_session_cookie(client: TestClient, world: World) -> None:
    logged_in(client, "alice")
    out = client.post(f"{API}/auth/logout")
    assert out.status_code == 204
    cleared = out.headers["set-cookie"].lower()
    assert cleared.startswith(f'{COOKIE}=""') or cleared.startswith(f"{COOKIE}=;")
    assert "max-age=0" in cleared
    assert client.cookies.get(COOKIE) is None
    problem(client.get(f"{API}/me"), 401, "unauthenticated")


def test_the_session_cookie_is_secure_in_production(
    settings: Settings, factory: sessionmaker[Session], world: World
) -> None:
    prod = settings.model_copy(update={"env": "production", "secret_key": "s" * 48})
    with TestClient(create_app(prod, factory), base_url="https://testserver") as https:
        r = login(https, "alice")
    assert r.status_code == 200 and "secure" in r.headers["set-cookie"].lower()


# --- lock-out and rate limit ------------------------------------------------------------------------


def _failures(factory: sessionmaker[Session], username: str) -> int:
    with with_system(factory) as s:
        n: int = s.scalar(select(func.count(LoginFailure.id)).where(LoginFailure.username == username)) or 0
        return n


def test_repeated_failures_lock_the_account_even_for_the_right_password(
    client: TestClient, world: World, settings: Settings, factory: sessionmaker[Session]
) -> None:
    for attempt in range(settings.login_max_failures):
        problem(login(client, "bob", f"guess {attempt}"), 401, "unauthenticated")
    assert _failures(factory, "bob") == settings.login_max_failures  # kept although every request failed
    with with_system(factory) as s:
        locked_until = s.get_one(User, world.bob.user_id).locked_until
    assert locked_until is not None and locked_until > datetime.now(UTC)
    problem(login(client, "bob"), 429, "too-many-requests")
    problem(login(client, "bob", "another guess"), 429, "too-many-requests")
    assert login(client, "alice").status_code == 200  # the lock is per account


def test_a_successful_login_forgets_earlier_failures(
    client: TestClient, world: World, settings: Settings, factory: sessionmaker[Session]
) -> None:
    for _ in range(2):
        for attempt in range(settings.login_max_failures - 1):
            problem(login(client, "bob", f"guess {attempt}"), 401, "unauthenticated")
        assert login(client, "bob").status_code == 200
        assert _failures(factory, "bob") == 0


def test_failed_logins_from_one_address_are_rate_limited(
    client: TestClient, world: World, settings: Settings
) -> None:
    for i in range(settings.login_ip_per_minute):
        problem(login(client, f"nobody-{i}", "guess"), 401, "unauthenticated")
    problem(login(client, "alice"), 429, "too-many-requests")
    elsewhere = TestClient(client.app, client=("198.51.100.7", 50000))
    assert login(elsewhere, "alice").status_code == 200


# --- regions ----------------------------------------------------------------------------------------


@pytest.fixture
def mei(world: World, factory: sessionmaker[Session]) -> int:
    """A user with roles in two regions: dispatcher in A, supervisor in paired B."""
    with with_system(factory) as s:
        user = core.create_user(s, "mei", "Mei", PASSWORD, Role.DISPATCHER, region_id=world.a)
        core.create_user(s, "mei", "Mei", PASSWORD, Role.SUPERVISOR, region_id=world.b)
        return user.id


def test_a_user_with_two_regions_switches_region_by_header(
    client: TestClient, world: World, mei: int
) -> None:
    csrf = logged_in(client, "mei")
    me = client.get(f"{API}/me").json()
    assert (me["region_id"], me["role"]) == (world.a, "dispatcher")
    assert {(m["region_id"], m["role"]) for m in me["memberships"]} == {
        (world.a, "dispatcher"),
        (world.b, "supervisor"),
    }
    in_b = {"X-Gongzhi-Region": str(world.b)}
    me_b = client.get(f"{API}/me", headers=in_b).json()
    assert (me_b["region_id"], me_b["role"]) == (world.b, "supervisor")
    case = client.post(f"{API}/cases", json=CASE, headers={**in_b, "X-CSRF-Token": csrf})
    assert case.status_code == 201 and case.json()["region_id"] == world.b
    seen_in_b = [c["id"] for c in client.get(f"{API}/cases", headers=in_b).json()["items"]]
    seen_in_a = [c["id"] for c in client.get(f"{API}/cases").json()["items"]]
    assert case.json()["id"] in seen_in_b and case.json()["id"] not in seen_in_a


def test_a_region_the_user_has_no_role_in_is_forbidden(client: TestClient, world: World, mei: int) -> None:
    logged_in(client, "mei")
    problem(client.get(f"{API}/cases", headers={"X-Gongzhi-Region": str(world.c)}), 403, "forbidden")
    problem(client.get(f"{API}/me", headers={"X-Gongzhi-Region": "beta"}), 400, "invalid-input")
    problem(login(client, "mei", region_id=world.c), 403, "forbidden")
    logged_in(client, "mei", region_id=world.b)
    assert client.get(f"{API}/me").json()["region_id"] == world.b  # the region chosen at login sticks


def test_an_outsider_cannot_switch_into_another_region(client: TestClient, world: World) -> None:
    logged_in(client, "charlie")
    problem(client.get(f"{API}/cases", headers={"X-Gongzhi-Region": str(world.a)}), 403, "forbidden")


def test_a_token_stays_in_its_region_whatever_the_header_asks(client: TestClient, world: World) -> None:
    me = client.get(f"{API}/me", headers={**world.alice.headers, "X-Gongzhi-Region": str(world.c)})
    assert me.status_code == 200 and me.json()["region_id"] == world.a
    cases = client.get(f"{API}/cases", headers={**world.charlie.headers, "X-Gongzhi-Region": str(world.a)})
    assert cases.status_code == 200 and cases.json()["total"] == 0


# --- API tokens -------------------------------------------------------------------------------------


def test_a_revoked_token_is_refused(client: TestClient, world: World) -> None:
    tok = new_token(client, world.alice, role="dispatcher")
    assert client.get(f"{API}/me", headers=bearer(tok["token"])).status_code == 200
    revoked = client.delete(f"{API}/tokens/{tok['id']}", headers=world.alice.headers)
    assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
    problem(client.get(f"{API}/me", headers=bearer(tok["token"])), 401, "unauthenticated")


def test_a_token_is_marked_used_by_a_request_and_not_rewritten_at_every_one(
    client: TestClient, world: World
) -> None:
    tok = new_token(client, world.alice, role="viewer")
    listed = {t["id"]: t for t in client.get(f"{API}/tokens", headers=world.alice.headers).json()}
    assert listed[tok["id"]]["last_used_at"] is None
    assert client.get(f"{API}/me", headers=bearer(tok["token"])).status_code == 200
    listed = {t["id"]: t for t in client.get(f"{API}/tokens", headers=world.alice.headers).json()}
    first = listed[tok["id"]]["last_used_at"]
    assert first is not None
    assert client.get(f"{API}/me", headers=bearer(tok["token"])).status_code == 200
    listed = {t["id"]: t for t in client.get(f"{API}/tokens", headers=world.alice.headers).json()}
    assert listed[tok["id"]]["last_used_at"] == first


def test_an_expired_token_is_refused(client: TestClient, world: World) -> None:
    now = datetime.now(UTC)
    expired = new_token(
        client, world.alice, role="viewer", expires_at=(now - timedelta(minutes=1)).isoformat()
    )
    problem(client.get(f"{API}/me", headers=bearer(expired["token"])), 401, "unauthenticated")
    fresh = new_token(client, world.alice, role="viewer", expires_at=(now + timedelta(hours=1)).isoformat())
    assert client.get(f"{API}/me", headers=bearer(fresh["token"])).status_code == 200


def test_a_token_cannot_carry_a_higher_role_than_its_user(client: TestClient, world: World) -> None:
    for role in ("supervisor", "dispatcher", "admin"):
        problem(
            client.post(f"{API}/tokens", json={"name": "up", "role": role}, headers=world.bob.headers),
            403,
            "forbidden",
        )
    body = {"name": "for bob", "role": "admin", "user_id": world.bob.user_id}
    problem(client.post(f"{API}/tokens", json=body, headers=world.adam.headers), 403, "forbidden")
    assert (
        new_token(client, world.adam, role="handler", user_id=world.bob.user_id)["user_id"]
        == world.bob.user_id
    )


def test_a_token_acts_with_its_own_lower_role(client: TestClient, world: World) -> None:
    read_only = new_token(client, world.alice, role="viewer")
    me = client.get(f"{API}/me", headers=bearer(read_only["token"])).json()
    assert me["role"] == "viewer"
    problem(client.post(f"{API}/cases", json=CASE, headers=bearer(read_only["token"])), 403, "forbidden")


def test_a_token_with_an_unknown_role_is_bad_input(client: TestClient, world: World) -> None:
    r = client.post(f"{API}/tokens", json={"name": "x", "role": "root"}, headers=world.adam.headers)
    problem(r, 400, "invalid-input")


def test_tokens_are_stored_only_as_hashes(
    client: TestClient, world: World, factory: sessionmaker[Session]
) -> None:
    tok = new_token(client, world.alice, role="dispatcher")
    full = tok["token"]
    secret = full.split("_", 2)[2]  # gzt_<prefix>_<secret>; the secret itself may contain "_"
    with with_system(factory) as s:
        rows = s.execute(text("SELECT * FROM api_tokens")).mappings().all()
    stored = next(r for r in rows if r["id"] == tok["id"])
    assert stored["token_hash"] == hashlib.sha256(full.encode()).hexdigest()
    assert not [r["id"] for r in rows for v in r.values() if isinstance(v, str) and secret in v]
    listed = client.get(f"{API}/tokens", headers=world.alice.headers)
    assert secret not in listed.text and tok["prefix"] in listed.text


def test_only_an_admin_revokes_someone_elses_token(client: TestClient, world: World) -> None:
    tok = new_token(client, world.alice, role="dispatcher")
    assert tok["id"] not in [t["id"] for t in client.get(f"{API}/tokens", headers=world.bob.headers).json()]
    problem(client.delete(f"{API}/tokens/{tok['id']}", headers=world.bob.headers), 403, "forbidden")
    assert client.get(f"{API}/me", headers=bearer(tok["token"])).status_code == 200
    assert client.delete(f"{API}/tokens/{tok['id']}", headers=world.adam.headers).status_code == 200
    problem(client.get(f"{API}/me", headers=bearer(tok["token"])), 401, "unauthenticated")


# --- settings ---------------------------------------------------------------------------------------


def test_production_settings_refuse_the_default_or_a_short_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GONGZHI_SECRET_KEY", raising=False)
    monkeypatch.delenv("GONGZHI_ENV", raising=False)
    with pytest.raises(ValidationError, match="GONGZHI_SECRET_KEY"):
        Settings(env="production", _env_file=None)
    with pytest.raises(ValidationError, match="GONGZHI_SECRET_KEY"):
        Settings(env="production", secret_key="short-but-not-default", _env_file=None)
    assert Settings(env="production", secret_key="k" * 32, _env_file=None).env == "production"
    assert Settings(env="development", _env_file=None).env == "development"


def test_the_sqlite_database_lives_in_the_data_directory_unless_a_url_is_given(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("GONGZHI_DATABASE_URL", raising=False)
    monkeypatch.delenv("GONGZHI_DATA_DIR", raising=False)
    assert Settings(_env_file=None).database_url == "sqlite:///var/gongzhi.db"
    monkeypatch.setenv("GONGZHI_DATA_DIR", str(tmp_path))
    assert Settings(_env_file=None).database_url == f"sqlite:///{tmp_path}/gongzhi.db"
    monkeypatch.setenv("GONGZHI_DATABASE_URL", "postgresql://u@h/db")
    assert Settings(_env_file=None).database_url == "postgresql://u@h/db"


def test_logout_ends_every_copy_of_the_session(client: TestClient, world: World) -> None:
    r = client.post(f"{API}/auth/login", json={"username": "alice", "password": PASSWORD})
    assert r.status_code == 200
    stolen = client.cookies.get("gz_session")
    csrf = r.json()["csrf_token"]
    assert client.post(f"{API}/auth/logout", headers={"X-CSRF-Token": csrf}).status_code == 204
    client.cookies.set("gz_session", stolen)
    again = client.get(f"{API}/me")
    assert again.status_code == 401 and again.json()["type"] == "/problems/unauthenticated"
    client.cookies.clear()
    assert (
        client.post(f"{API}/auth/login", json={"username": "alice", "password": PASSWORD}).status_code == 200
    )
    assert client.get(f"{API}/me").status_code == 200
