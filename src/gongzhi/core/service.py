"""Use cases of the core: login, tokens, regions, pairings, people, departments and grid cells."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gongzhi.core import audit, regioncache
from gongzhi.core.models import (
    ApiToken,
    Department,
    GridCell,
    LoginFailure,
    Membership,
    Pairing,
    Region,
    Role,
    User,
)
from gongzhi.core.security import (
    hash_password,
    hash_token,
    new_token,
    split_token,
    tokens_equal,
    verify_password,
)
from gongzhi.db import Scope, scope_of, table_of, utcnow
from gongzhi.errors import Conflict, Forbidden, InvalidInput, NotFound, TooManyRequests, Unauthenticated, msg
from gongzhi.kit.geo import validate_polygon
from gongzhi.kit.validation import parse_id
from gongzhi.settings import Settings

UNSCOPED = {"unscoped": True}
ROLE_RANK = {Role.VIEWER: 0, Role.HANDLER: 1, Role.SUPERVISOR: 2, Role.DISPATCHER: 3, Role.ADMIN: 4}


def require_role(scope: Scope, *roles: str) -> None:
    if scope.system or scope.role in roles:
        return
    raise Forbidden(msg("this action needs one of the roles: %(roles)s", roles=", ".join(roles)))


def _audit(s: Session, action: str, obj: str, obj_id: Any, data: dict[str, Any], region_id: int) -> None:
    sc = scope_of(s)
    audit.record(
        s,
        region_id=region_id,
        action=action,
        object_type=obj,
        object_id=obj_id,
        actor=sc.username,
        actor_user_id=sc.user_id,
        data=data,
    )


# --- login ------------------------------------------------------------------------------------------


def authenticate(s: Session, settings: Settings, username: str, password: str, ip: str) -> User | None:
    """Check a password login. A failure is recorded (and may lock the account) and returns None, so the
    caller can commit the record before answering 401; rate limits and lock-out raise at once."""
    now = utcnow()
    _check_ip_rate(s, settings, ip, now)
    user = s.execute(select(User).where(User.username == username)).scalar_one_or_none()
    if user is not None and user.locked_until is not None and user.locked_until > now:
        raise TooManyRequests(msg("account temporarily locked after repeated failures; try again later"))
    if user is None or not user.is_active or not verify_password(user.password_hash, password):
        _record_failure(s, settings, user, username, ip, now)
        return None
    s.execute(delete(LoginFailure).where(LoginFailure.username == username))
    user.locked_until = None
    return user


def _check_ip_rate(s: Session, settings: Settings, ip: str, now: datetime) -> None:
    since = now - timedelta(minutes=1)
    n = s.execute(select(func.count()).where(LoginFailure.ip == ip, LoginFailure.at >= since)).scalar_one()
    if n >= settings.login_ip_per_minute:
        raise TooManyRequests(msg("too many failed logins from this address; wait a minute"))


def _record_failure(
    s: Session, settings: Settings, user: User | None, username: str, ip: str, now: datetime
) -> None:
    s.add(LoginFailure(username=username[:60], ip=ip[:64], at=now))
    s.flush()
    if user is None:
        return
    since = now - timedelta(seconds=settings.login_lockout_s)
    stmt = select(func.count()).where(LoginFailure.username == username, LoginFailure.at >= since)
    if s.execute(stmt).scalar_one() >= settings.login_max_failures:
        user.locked_until = now + timedelta(seconds=settings.login_lockout_s)


def memberships(s: Session, user_id: int) -> list[Membership]:
    stmt = select(Membership).where(Membership.user_id == user_id).order_by(Membership.region_id)
    return list(s.execute(stmt, execution_options=UNSCOPED).scalars())


def scope_for(s: Session, user: User, region_id: int | None) -> Scope:
    """The scope a logged-in user acts in: the asked region, or their first one."""
    ms = memberships(s, user.id)
    if not ms:
        raise Forbidden(msg("this account has no role in any region"))
    chosen = next((m for m in ms if m.region_id == region_id), None) if region_id else ms[0]
    if chosen is None:
        raise Forbidden(msg("you have no role in that region"))
    return Scope(region_id=chosen.region_id, user_id=user.id, role=chosen.role, username=user.username)


# --- API tokens -------------------------------------------------------------------------------------


_TOK, _USR, _MEM = table_of(ApiToken), table_of(User), table_of(Membership)
_TOKEN_LOOKUP = (
    select(
        _TOK.c.id,
        _TOK.c.token_hash,
        _TOK.c.role,
        _TOK.c.region_id,
        _TOK.c.revoked_at,
        _TOK.c.expires_at,
        _TOK.c.last_used_at,
        _USR.c.id.label("user_id"),
        _USR.c.username,
        _USR.c.is_active,
        _MEM.c.role.label("member_role"),
        regioncache.VERSION_COLUMN,
    )
    .join(_USR, _USR.c.id == _TOK.c.user_id)
    .outerjoin(_MEM, (_MEM.c.user_id == _USR.c.id) & (_MEM.c.region_id == _TOK.c.region_id))
    .outerjoin(*regioncache.version_join(_TOK.c.region_id))
    .where(_TOK.c.prefix == bindparam("prefix"))
)  # plain columns, built once: every API request runs it


TOKEN_TO_TOUCH = "token_to_touch"  # noqa: S105 - a session.info key, not a secret


def touch_token(s: Session, token_id: int) -> None:
    """Record that a token was used (at most every five minutes, see :func:`scope_for_token`)."""
    s.execute(update(_TOK).where(_TOK.c.id == token_id).values(last_used_at=utcnow()))


def scope_for_token(s: Session, full: str) -> Scope:
    """Who a bearer token acts as. Reads only; a token last used more than five minutes ago is noted in
    ``s.info[TOKEN_TO_TOUCH]`` for the caller to :func:`touch_token` in a write transaction."""
    prefix = split_token(full)
    row = s.connection().execute(_TOKEN_LOOKUP, {"prefix": prefix}).first() if prefix else None
    now = utcnow()
    if row is None or not tokens_equal(row.token_hash, hash_token(full)):
        raise Unauthenticated(msg("invalid API token"))
    if row.revoked_at is not None or (row.expires_at is not None and row.expires_at <= now):
        raise Unauthenticated(msg("API token revoked or expired"))
    if not row.is_active or row.member_role is None:
        raise Unauthenticated(msg("the token's user is deactivated or no longer has a role in this region"))
    if row.last_used_at is None or now - row.last_used_at > timedelta(minutes=5):
        s.info[TOKEN_TO_TOUCH] = row.id  # written by the caller in a short write of its own (touch_token)
    role = min(Role(row.role), Role(row.member_role), key=ROLE_RANK.__getitem__)  # never above the user's
    regioncache.remember_version(s, row.region_id, row.config_version)  # no statement of its own later
    return Scope(
        region_id=row.region_id, user_id=row.user_id, role=role, token_id=row.id, username=row.username
    )


def create_token(
    s: Session, name: str, role: str, user_id: int | None = None, expires_at: datetime | None = None
) -> tuple[ApiToken, str]:
    """Create a token for the acting user (or, for an admin, another member) with a role no higher."""
    sc = scope_of(s)
    assert sc.region_id is not None
    target = user_id or sc.user_id
    if target != sc.user_id:
        require_role(sc, Role.ADMIN)
    member = _membership(s, target, sc.region_id)
    if role not in set(Role):
        raise InvalidInput(msg("unknown role %(role)r", role=role))
    if ROLE_RANK[Role(role)] > ROLE_RANK[Role(member.role)]:
        raise Forbidden(msg("a token cannot carry a higher role than its user has"))
    full, prefix, digest = new_token()
    tok = ApiToken(
        region_id=sc.region_id,
        user_id=member.user_id,
        name=name,
        role=role,
        prefix=prefix,
        token_hash=digest,
        expires_at=expires_at,
    )
    s.add(tok)
    s.flush()
    _audit(
        s, "token.create", "api_token", tok.id, {"name": name, "role": role, "user_id": target}, sc.region_id
    )
    return tok, full


def revoke_token(s: Session, token_id: int) -> ApiToken:
    sc = scope_of(s)
    tok = s.execute(select(ApiToken).where(ApiToken.id == token_id)).scalar_one_or_none()
    if tok is None:
        raise NotFound(msg("no such token"))
    if tok.user_id != sc.user_id:
        require_role(sc, Role.ADMIN)
    if tok.revoked_at is None:
        tok.revoked_at = utcnow()
        _audit(s, "token.revoke", "api_token", tok.id, {}, tok.region_id)
    return tok


def list_tokens(s: Session) -> list[ApiToken]:
    sc = scope_of(s)
    stmt = select(ApiToken).order_by(ApiToken.id)
    if sc.role != Role.ADMIN:
        stmt = stmt.where(ApiToken.user_id == sc.user_id)
    return list(s.execute(stmt).scalars())


# --- regions and pairings ---------------------------------------------------------------------------


def paired_region_ids(s: Session, region_id: int) -> set[int]:
    stmt = select(Pairing).where(
        Pairing.active, or_(Pairing.region_a_id == region_id, Pairing.region_b_id == region_id)
    )
    pairs = s.execute(stmt).scalars()
    return {p.region_b_id if p.region_a_id == region_id else p.region_a_id for p in pairs}


def are_paired(s: Session, a: int, b: int) -> bool:
    return a == b or b in paired_region_ids(s, a)


def create_region(s: Session, code: str, name: str, case_prefix: str, **fields: Any) -> Region:
    if s.execute(select(Region).where(Region.code == code)).scalar_one_or_none():
        raise Conflict(msg("region %(code)r exists already", code=code))
    if s.execute(select(Region.id).where(Region.case_prefix == case_prefix)).first():
        # case numbers are unique across regions: a shared prefix would collide on the first case
        raise Conflict(msg("case prefix %(case_prefix)r is taken by another region", case_prefix=case_prefix))
    region = Region(code=code, name=name, case_prefix=case_prefix, **fields)
    s.add(region)
    s.flush()
    _audit(s, "region.create", "region", region.id, {"code": code, "name": name}, region.id)
    return region


def pair_regions(s: Session, a: int, b: int, note: str = "") -> Pairing:
    if a == b:
        raise InvalidInput(msg("a region cannot pair with itself"))
    lo, hi = sorted((a, b))
    for rid in (lo, hi):
        if s.get(Region, rid) is None:
            raise NotFound(msg("no region %(rid)s", rid=rid))
    existing = s.execute(
        select(Pairing).where(Pairing.region_a_id == lo, Pairing.region_b_id == hi)
    ).scalar_one_or_none()
    pairing = existing or Pairing(region_a_id=lo, region_b_id=hi, note=note)
    pairing.active = True
    s.add(pairing)
    s.flush()
    for rid in (lo, hi):
        _audit(s, "pairing.activate", "pairing", pairing.id, {"regions": [lo, hi]}, rid)
    return pairing


def visible_regions(s: Session) -> list[Region]:
    sc = scope_of(s)
    if sc.system:
        return list(s.execute(select(Region).order_by(Region.id)).scalars())
    assert sc.region_id is not None
    ids = {sc.region_id, *paired_region_ids(s, sc.region_id)}
    return list(s.execute(select(Region).where(Region.id.in_(ids)).order_by(Region.id)).scalars())


def get_region(s: Session, code_or_id: str | int) -> Region:
    """The region a person names: by its code, else by its administrative division code (``330105``) when
    one region has it, else by its id. Codes come first because a code may be all digits."""
    if isinstance(code_or_id, int):
        region = s.get(Region, code_or_id)
    else:
        region = s.execute(select(Region).where(Region.code == code_or_id)).scalar_one_or_none()
        if region is None and code_or_id:
            named = s.execute(select(Region).where(Region.admin_code == code_or_id).limit(2)).scalars().all()
            region = named[0] if len(named) == 1 else None
        if region is None and (rid := parse_id(code_or_id)) is not None:
            region = s.get(Region, rid)
    if region is None:
        raise NotFound(msg("no region %(code_or_id)r", code_or_id=code_or_id))
    return region


# --- people -----------------------------------------------------------------------------------------


def _membership(s: Session, user_id: int | None, region_id: int) -> Membership:
    stmt = select(Membership).where(Membership.user_id == user_id, Membership.region_id == region_id)
    m = s.execute(stmt).scalar_one_or_none()
    if m is None:
        raise NotFound(msg("no such member in this region"))
    return m


def require_member(s: Session, user_id: int | None, region_id: int) -> None:
    """Refuse a reference to a user who has no role in the region (404, as if there were no such user)."""
    if user_id is not None:
        _membership(s, user_id, region_id)


def require_own(s: Session, model: type[Department | GridCell], obj_id: int | None, region_id: int) -> None:
    """Refuse a reference to another region's department or grid cell (404, as if it did not exist)."""
    stmt = select(model.id).where(model.id == obj_id, model.region_id == region_id)
    if obj_id is not None and s.execute(stmt).first() is None:
        raise NotFound(msg("no %(kind)s %(obj_id)s in this region", kind=model.__name__, obj_id=obj_id))


def create_user(
    s: Session,
    username: str,
    display_name: str,
    password: str,
    role: str,
    department_id: int | None = None,
    phone: str = "",
    region_id: int | None = None,
) -> User:
    sc = scope_of(s)
    require_role(sc, Role.ADMIN)
    rid = region_id if sc.system else sc.region_id
    if rid is None:
        raise InvalidInput(msg("a region is required"))
    if role not in set(Role):
        raise InvalidInput(msg("unknown role %(role)r", role=role))
    if len(password) < 8:
        raise InvalidInput(msg("a password needs at least 8 characters"))
    require_own(s, Department, department_id, rid)
    user = s.execute(select(User).where(User.username == username)).scalar_one_or_none()
    if user is None:
        user = User(
            username=username, display_name=display_name, password_hash=hash_password(password), phone=phone
        )
        s.add(user)
        s.flush()
    elif _has_membership(s, user.id, rid):
        raise Conflict(msg("user %(username)r already has a role in this region", username=username))
    elif not sc.system:  # a region's admin must not enrol (and so read) another region's account
        raise Forbidden(msg("this username belongs to another region's account; an operator links accounts"))
    s.add(Membership(user_id=user.id, region_id=rid, role=role, department_id=department_id))
    _flush_or_conflict(s, msg("membership exists"))
    _audit(s, "user.add", "user", user.id, {"username": username, "role": role}, rid)
    return user


def _has_membership(s: Session, user_id: int, region_id: int) -> bool:
    stmt = select(Membership.id).where(Membership.user_id == user_id, Membership.region_id == region_id)
    return s.execute(stmt, execution_options=UNSCOPED).first() is not None


def set_role(s: Session, user_id: int, role: str, department_id: int | None = None) -> Membership:
    sc = scope_of(s)
    require_role(sc, Role.ADMIN)
    assert sc.region_id is not None
    if role not in set(Role):
        raise InvalidInput(msg("unknown role %(role)r", role=role))
    m = _membership(s, user_id, sc.region_id)
    require_own(s, Department, department_id, sc.region_id)
    before = m.role
    m.role, m.department_id = role, department_id
    _audit(s, "user.role", "user", user_id, {"from": before, "to": role}, sc.region_id)
    return m


def list_members(s: Session) -> list[tuple[Membership, User]]:
    stmt = select(Membership, User).join(User, User.id == Membership.user_id).order_by(User.username)
    return [(m, u) for m, u in s.execute(stmt).all()]


def _flush_or_conflict(s: Session, message: str) -> None:
    try:
        with s.begin_nested():
            s.flush()
    except IntegrityError as exc:
        raise Conflict(message) from exc


# --- departments and grid cells ---------------------------------------------------------------------


def create_department(s: Session, code: str, name: str, name_en: str = "") -> Department:
    sc = scope_of(s)
    require_role(sc, Role.ADMIN)
    assert sc.region_id is not None
    dept = Department(region_id=sc.region_id, code=code, name=name, name_en=name_en)
    s.add(dept)
    _flush_or_conflict(s, msg("department code %(code)r exists", code=code))
    _audit(s, "department.create", "department", dept.id, {"code": code, "name": name}, sc.region_id)
    return dept


def list_departments(s: Session) -> list[Department]:
    return list(s.execute(select(Department).order_by(Department.code)).scalars())


def upsert_grid_cell(s: Session, code: str, name: str, geometry: dict[str, Any]) -> GridCell:
    sc = scope_of(s)
    require_role(sc, Role.ADMIN)
    assert sc.region_id is not None
    validate_polygon(geometry)
    cell = s.execute(select(GridCell).where(GridCell.code == code)).scalar_one_or_none()
    if cell is None:
        cell = GridCell(region_id=sc.region_id, code=code, name=name, geometry=geometry)
        s.add(cell)
    cell.name, cell.geometry = name, geometry
    s.flush()
    _audit(s, "grid_cell.upsert", "grid_cell", cell.id, {"code": code}, sc.region_id)
    return cell


def list_grid_cells(s: Session) -> list[GridCell]:
    return list(s.execute(select(GridCell).order_by(GridCell.code)).scalars())
