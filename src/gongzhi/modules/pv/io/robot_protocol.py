"""The cleaning-robot protocol: MQTT topics and the JSON of commands, acknowledgements and state reports.

No robot vendor publishes an open protocol (domain/pv.md §7: Ecoppia has no public API; rail-mounted
挂轨式 robots use their maker's platform), so gongzhi defines one that an integrator's gateway can translate:

- ``pvom/{site}/robot/{robot}/cmd``   — server → robot, QoS 1, a :class:`Command` (one work order).
- ``pvom/{site}/robot/{robot}/ack``   — robot → server, QoS 1, an :class:`Ack` per command received
  (``accepted``, ``duplicate`` when the idempotency key was seen before, ``rejected`` with a reason).
- ``pvom/{site}/robot/{robot}/state`` — robot → server, QoS 1, a :class:`Status` on every change and at least
  once a minute while running; the last one is retained so a restarted server sees where each robot is.

A robot must execute a command at most once per ``idempotency_key`` (it may receive it more than once: the
server delivers at least once) and should keep a persistent MQTT session (clean start off, session expiry of
a day) so that commands published while it is offline wait for it at the broker.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass, field
from typing import Any

TOPIC_ROOT = "pvom"
MODES = ("dry", "wet")
PRIORITIES = ("low", "normal", "high", "urgent")
REASONS = ("soiling", "post-repair", "routine")
ACK_RESULTS = ("accepted", "duplicate", "rejected")
STATES = ("idle", "queued", "running", "done", "fault", "charging")


class ProtocolError(ValueError):
    """A message that does not follow the protocol; the text says which field is wrong."""


def topic(site: str, robot: str, kind: str) -> str:
    """``pvom/{site}/robot/{robot}/{kind}`` with ``kind`` in cmd, ack, state."""
    if kind not in ("cmd", "ack", "state"):
        raise ValueError(f"unknown topic kind {kind!r}")
    for part, name in ((site, "site"), (robot, "robot")):
        if not part or any(c in part for c in "/+#"):
            raise ValueError(f"{name} id {part!r} cannot be part of an MQTT topic")
    return f"{TOPIC_ROOT}/{site}/robot/{robot}/{kind}"


def parse_topic(name: str) -> tuple[str, str, str]:
    """(site, robot, kind) of a protocol topic."""
    parts = name.split("/")
    if (
        len(parts) != 5
        or parts[0] != TOPIC_ROOT
        or parts[2] != "robot"
        or parts[4] not in ("cmd", "ack", "state")
    ):
        raise ProtocolError(f"not a robot topic: {name!r}")
    return parts[1], parts[3], parts[4]


def _iso(value: dt.datetime) -> str:
    if value.tzinfo is None:
        raise ValueError("times on the wire are timezone-aware")
    return value.isoformat()


def _time(raw: Any, name: str) -> dt.datetime:
    if not isinstance(raw, str):
        raise ProtocolError(f"{name} must be an ISO 8601 time")
    try:
        value = dt.datetime.fromisoformat(raw)
    except ValueError as exc:
        raise ProtocolError(f"{name} is not an ISO 8601 time: {raw!r}") from exc
    if value.tzinfo is None:
        raise ProtocolError(f"{name} needs a UTC offset: {raw!r}")
    return value


def _load(payload: bytes | str) -> dict[str, Any]:
    try:
        data = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ProtocolError(f"not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ProtocolError("a message is a JSON object")
    return data


def _str(data: dict[str, Any], name: str, allowed: tuple[str, ...] | None = None) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not value:
        raise ProtocolError(f"{name} is required and must be a non-empty string")
    if allowed is not None and value not in allowed:
        raise ProtocolError(f"{name} must be one of {', '.join(allowed)}; got {value!r}")
    return value


def _strings(data: dict[str, Any], name: str) -> tuple[str, ...]:
    value = data.get(name, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ProtocolError(f"{name} must be a list of strings")
    return tuple(value)


@dataclass(frozen=True, slots=True)
class Command:
    """One cleaning work order for one robot.

    ``rows`` are the plant's row ids the robot must traverse (``A-03``), ``modules`` the module ids within
    them that the finding named (``A-03-17``), for the robot's own report of what it cleaned.
    """

    work_order_id: str
    idempotency_key: str
    site_id: str
    robot_id: str
    rows: tuple[str, ...]
    modules: tuple[str, ...]
    mode: str
    not_before: dt.datetime
    not_after: dt.datetime
    priority: str = "normal"
    reason: str = "soiling"
    requested_by: str = ""
    confirmed_by: str = ""
    issued_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))

    def __post_init__(self) -> None:
        if not self.rows:
            raise ValueError("a cleaning command needs at least one row")
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}")
        if self.priority not in PRIORITIES:
            raise ValueError(f"priority must be one of {', '.join(PRIORITIES)}")
        if self.reason not in REASONS:
            raise ValueError(f"reason must be one of {', '.join(REASONS)}")
        if self.not_after <= self.not_before:
            raise ValueError("the time window closes before it opens")

    def to_json(self) -> bytes:
        data = asdict(self)
        data["rows"], data["modules"] = list(self.rows), list(self.modules)
        for name in ("not_before", "not_after", "issued_at"):
            data[name] = _iso(getattr(self, name))
        data["window"] = {"not_before": data.pop("not_before"), "not_after": data.pop("not_after")}
        data["targets"] = {"rows": data.pop("rows"), "modules": data.pop("modules")}
        return json.dumps(data, ensure_ascii=False).encode()


def read_command(payload: bytes | str) -> Command:
    """Parse and validate a command; :class:`ProtocolError` names the first wrong field."""
    data = _load(payload)
    window = data.get("window")
    targets = data.get("targets")
    if not isinstance(window, dict):
        raise ProtocolError("window {not_before, not_after} is required")
    if not isinstance(targets, dict):
        raise ProtocolError("targets {rows, modules} is required")
    try:
        return Command(
            work_order_id=_str(data, "work_order_id"),
            idempotency_key=_str(data, "idempotency_key"),
            site_id=_str(data, "site_id"),
            robot_id=_str(data, "robot_id"),
            rows=_strings(targets, "rows"),
            modules=_strings(targets, "modules"),
            mode=_str(data, "mode", MODES),
            not_before=_time(window.get("not_before"), "window.not_before"),
            not_after=_time(window.get("not_after"), "window.not_after"),
            priority=_str(data, "priority", PRIORITIES),
            reason=_str(data, "reason", REASONS),
            requested_by=str(data.get("requested_by", "")),
            confirmed_by=str(data.get("confirmed_by", "")),
            issued_at=_time(data.get("issued_at"), "issued_at"),
        )
    except ValueError as exc:
        if isinstance(exc, ProtocolError):
            raise
        raise ProtocolError(str(exc)) from exc


@dataclass(frozen=True, slots=True)
class Ack:
    """The robot's answer to a command it received."""

    robot_id: str
    idempotency_key: str
    work_order_id: str
    result: str
    reason: str = ""
    ts: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))

    def to_json(self) -> bytes:
        return json.dumps({**asdict(self), "ts": _iso(self.ts)}, ensure_ascii=False).encode()


def read_ack(payload: bytes | str) -> Ack:
    data = _load(payload)
    return Ack(
        robot_id=_str(data, "robot_id"),
        idempotency_key=_str(data, "idempotency_key"),
        work_order_id=_str(data, "work_order_id"),
        result=_str(data, "result", ACK_RESULTS),
        reason=str(data.get("reason", "")),
        ts=_time(data.get("ts"), "ts"),
    )


@dataclass(frozen=True, slots=True)
class Status:
    """Where a robot is: state, progress of the current work order, battery, what it has cleaned so far."""

    robot_id: str
    state: str
    battery_pct: float
    work_order_id: str = ""
    idempotency_key: str = ""
    progress_pct: float = 0.0
    cleaned_rows: tuple[str, ...] = ()
    cleaned_modules: tuple[str, ...] = ()
    position_m: float = 0.0
    fault: str = ""
    ts: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))

    def to_json(self) -> bytes:
        data = asdict(self)
        data["cleaned_targets"] = {"rows": list(self.cleaned_rows), "modules": list(self.cleaned_modules)}
        del data["cleaned_rows"], data["cleaned_modules"]
        data["ts"] = _iso(self.ts)
        return json.dumps(data, ensure_ascii=False).encode()


def read_status(payload: bytes | str) -> Status:
    data = _load(payload)
    cleaned = data.get("cleaned_targets", {})
    if not isinstance(cleaned, dict):
        raise ProtocolError("cleaned_targets must be an object {rows, modules}")
    for name in ("battery_pct", "progress_pct", "position_m"):
        if name in data and not isinstance(data[name], int | float):
            raise ProtocolError(f"{name} must be a number")
    battery, progress = float(data.get("battery_pct", -1)), float(data.get("progress_pct", 0))
    if not 0 <= battery <= 100 or not 0 <= progress <= 100:
        raise ProtocolError("battery_pct and progress_pct are percentages (0–100)")
    return Status(
        robot_id=_str(data, "robot_id"),
        state=_str(data, "state", STATES),
        battery_pct=battery,
        work_order_id=str(data.get("work_order_id", "")),
        idempotency_key=str(data.get("idempotency_key", "")),
        progress_pct=progress,
        cleaned_rows=_strings(cleaned, "rows"),
        cleaned_modules=_strings(cleaned, "modules"),
        position_m=float(data.get("position_m", 0.0)),
        fault=str(data.get("fault", "")),
        ts=_time(data.get("ts"), "ts"),
    )
