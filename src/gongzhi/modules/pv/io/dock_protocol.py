"""The dock protocol: DJI Cloud API style topics and messages for a dock-based drone flight (domain/pv.md §5).

Topics, all QoS 1, under ``thing/product/{gateway_sn}`` (the dock's serial number):

- ``…/services``       server → dock: a method call (``flighttask_prepare``, ``flighttask_execute``).
- ``…/services_reply`` dock → server: the answer to a call, same ``tid``/``bid``, ``data.result`` 0 if
  accepted.
- ``…/events``         dock → server: ``flighttask_progress`` (status, percent, phase: takeoff, survey,
  landed) and ``frame_chunk`` (a piece of one thermal frame, or of the visible-light photo taken with it).
- ``…/osd``            dock → server: telemetry, retained (online flag, drone state); informative only.

Every message is the Cloud API envelope ``{tid, bid, timestamp, method, data}`` (``gateway`` on events).

Frames travel on the same ``events`` topic in chunks of at most :data:`CHUNK_BYTES` (base64 in JSON, ≈ 87 KiB
a message), rather than as an HTTP upload reference as a real DJI dock does (``file_upload_callback`` after an
upload to object storage): one MQTT session then carries the whole flight with one delivery guarantee (QoS 1,
persistent session, in order on one topic), no object store has to be reachable from the dock, and each
message stays far below broker limits (Mosquitto's ``message_size_limit``, 128 KiB on some cloud brokers). A
frame is identified by the flight id and its sequence number; its chunks carry the frame's SHA-256, so a frame
received twice (a resend after a reconnect) is recognised and stored once.

A drone whose gimbal also holds a wide camera (M30T, M3T, M4T, H20T, H30T) takes a visible-light photo with
each thermal frame. It travels as ``frame_chunk`` events of the same frame number with ``kind`` ``visible``
(``thermal``, the default, for the frame itself), sent before the frame, whose chunks name it
(``visible``: the photo's file name), so that the server knows to wait for it before analysing the frame.
A resend sends both again.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

TOPIC_ROOT = "thing/product"
KINDS = ("services", "services_reply", "events", "osd")
CHUNK_BYTES = 64 * 1024
PREPARE = "flighttask_prepare"
EXECUTE = "flighttask_execute"
PROGRESS = "flighttask_progress"
FRAME_CHUNK = "frame_chunk"
FRAME_KINDS = ("thermal", "visible")
"""What a ``frame_chunk`` carries: a piece of the thermal frame, or of the photo taken with it."""
RESEND = "frame_resend"
SERVICES = (PREPARE, EXECUTE, RESEND)
FLIGHT_STATUSES = ("sent", "in_progress", "ok", "failed", "canceled", "timeout")
PHASES = ("prepared", "takeoff", "survey", "return", "landed")
RESULT_OK = 0
RESULT_BUSY = 314001
RESULT_UNKNOWN_FLIGHT = 314002
RESULT_BAD_REQUEST = 314003


class ProtocolError(ValueError):
    """A message that does not follow the protocol; the text says which field is wrong."""


def topic(gateway_sn: str, kind: str) -> str:
    """``thing/product/{gateway_sn}/{kind}``."""
    if kind not in KINDS:
        raise ValueError(f"unknown topic kind {kind!r}")
    if not gateway_sn or any(c in gateway_sn for c in "/+#"):
        raise ValueError(f"dock serial {gateway_sn!r} cannot be part of an MQTT topic")
    return f"{TOPIC_ROOT}/{gateway_sn}/{kind}"


def parse_topic(name: str) -> tuple[str, str]:
    """(gateway serial, kind) of a dock topic."""
    parts = name.split("/")
    if len(parts) != 4 or "/".join(parts[:2]) != TOPIC_ROOT or parts[3] not in KINDS:
        raise ProtocolError(f"not a dock topic: {name!r}")
    return parts[2], parts[3]


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True, slots=True)
class Message:
    """The Cloud API envelope: a transaction id per message, a business id per flow, a method and its data."""

    method: str
    data: dict[str, Any]
    tid: str = field(default_factory=lambda: str(uuid.uuid4()))
    bid: str = field(default_factory=lambda: str(uuid.uuid4()))
    timestamp: int = field(default_factory=now_ms)
    gateway: str = ""

    def to_json(self) -> bytes:
        out: dict[str, Any] = {
            "tid": self.tid,
            "bid": self.bid,
            "timestamp": self.timestamp,
            "method": self.method,
            "data": self.data,
        }
        if self.gateway:
            out["gateway"] = self.gateway
        return json.dumps(out, ensure_ascii=False, separators=(",", ":")).encode()

    def reply(self, result: int, message: str = "", **output: Any) -> Message:
        """The ``services_reply`` to this call (same tid and bid)."""
        data: dict[str, Any] = {"result": result, "output": output}
        if message:
            data["message"] = message
        return Message(self.method, data, tid=self.tid, bid=self.bid, gateway=self.gateway)

    @property
    def result(self) -> int:
        value = self.data.get("result", RESULT_OK)
        return int(value) if isinstance(value, int) else RESULT_BAD_REQUEST


def read(payload: bytes | str) -> Message:
    """Parse the envelope; :class:`ProtocolError` names the first wrong field."""
    try:
        raw = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ProtocolError(f"not JSON: {exc}") from exc
    if not isinstance(raw, dict):
        raise ProtocolError("a message is a JSON object")
    for name in ("tid", "bid", "method"):
        if not isinstance(raw.get(name), str) or not raw[name]:
            raise ProtocolError(f"{name} is required and must be a non-empty string")
    if not isinstance(raw.get("timestamp"), int):
        raise ProtocolError("timestamp (milliseconds since the epoch) is required")
    if not isinstance(raw.get("data"), dict):
        raise ProtocolError("data must be an object")
    return Message(
        raw["method"], raw["data"], raw["tid"], raw["bid"], raw["timestamp"], str(raw.get("gateway", ""))
    )


# --- services ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Wayline:
    """The flight plan handed to the dock: waypoints (lon, lat, height above the modules) and what to expect.

    A real dock is given a WPML KMZ by URL; the waypoints here are what its ``waylines.wpml`` holds, inline,
    with the KMZ's MD5 as ``fingerprint`` so both ends can check they mean the same plan.
    """

    waypoints: tuple[tuple[float, float, float], ...]
    images: int
    speed_m_s: float
    altitude_m: float
    camera: str
    flight_time_s: float
    takeoff_landing_s: float
    fingerprint: str = ""
    trigger_spacing_m: float = 0.0
    """Largest distance between images on a line [m] (WPML ``multipleDistance``); 0 when not given."""
    gimbal_pitch_deg: float = -90.0
    """The camera's pitch for the whole flight, −90 straight down to −30 (WPML ``gimbalPitchAngle``) [°]."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "waypoints": [list(p) for p in self.waypoints],
            "images": self.images,
            "speed_m_s": self.speed_m_s,
            "altitude_m": self.altitude_m,
            "camera": self.camera,
            "flight_time_s": self.flight_time_s,
            "takeoff_landing_s": self.takeoff_landing_s,
            "fingerprint": self.fingerprint,
            "trigger_spacing_m": self.trigger_spacing_m,
            "gimbal_pitch_deg": self.gimbal_pitch_deg,
        }


def prepare(flight_id: str, wayline: Wayline, **extra: Any) -> Message:
    return Message(PREPARE, {"flight_id": flight_id, "task_type": 0, "wayline": wayline.to_dict(), **extra})


def execute(flight_id: str) -> Message:
    return Message(EXECUTE, {"flight_id": flight_id})


def resend(flight_id: str, seqs: list[int]) -> Message:
    """Ask the dock to send frames of a flight again (a gongzhi extension: the dock keeps its media)."""
    return Message(RESEND, {"flight_id": flight_id, "seqs": sorted(seqs)})


def resend_seqs(msg: Message) -> list[int]:
    seqs = msg.data.get("seqs")
    if not isinstance(seqs, list) or not all(isinstance(i, int) and i >= 0 for i in seqs):
        raise ProtocolError("data.seqs must be a list of frame numbers")
    return list(seqs)


def flight_id_of(msg: Message) -> str:
    fid = msg.data.get("flight_id")
    if not isinstance(fid, str) or not fid:
        raise ProtocolError("data.flight_id is required")
    return fid


def read_wayline(data: dict[str, Any]) -> Wayline:
    raw = data.get("wayline")
    if not isinstance(raw, dict):
        raise ProtocolError("data.wayline is required")
    points = raw.get("waypoints")
    if not isinstance(points, list) or len(points) < 2:
        raise ProtocolError("wayline.waypoints needs at least two [lon, lat, height] points")
    try:
        waypoints = tuple((float(p[0]), float(p[1]), float(p[2])) for p in points)
        pitch = float(raw.get("gimbal_pitch_deg", -90.0))
        if not -90.0 <= pitch <= -30.0:
            raise ProtocolError(f"wayline.gimbal_pitch_deg must be from -90 to -30, got {pitch:g}")
        return Wayline(
            waypoints,
            int(raw["images"]),
            float(raw["speed_m_s"]),
            float(raw["altitude_m"]),
            str(raw.get("camera", "")),
            float(raw["flight_time_s"]),
            float(raw.get("takeoff_landing_s", 0.0)),
            str(raw.get("fingerprint", "")),
            float(raw.get("trigger_spacing_m", 0.0)),
            pitch,
        )
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise ProtocolError(f"wayline is malformed: {exc}") from exc


# --- events -----------------------------------------------------------------------------------------


def progress(
    gateway: str, flight_id: str, status: str, percent: float, phase: str, bid: str, **ext: Any
) -> Message:
    """A ``flighttask_progress`` event (Cloud API shape: ``data.output.{status, progress.percent}``)."""
    if status not in FLIGHT_STATUSES or phase not in PHASES:
        raise ValueError(f"unknown status {status!r} or phase {phase!r}")
    output = {
        "status": status,
        "progress": {"percent": round(percent, 1), "current_step": phase},
        "ext": {"flight_id": flight_id, **ext},
    }
    return Message(PROGRESS, {"result": RESULT_OK, "output": output}, bid=bid, gateway=gateway)


@dataclass(frozen=True, slots=True)
class Progress:
    flight_id: str
    status: str
    percent: float
    phase: str
    ext: dict[str, Any]


def read_progress(msg: Message) -> Progress:
    out = msg.data.get("output")
    if not isinstance(out, dict):
        raise ProtocolError("flighttask_progress needs data.output")
    prog, ext = out.get("progress", {}), out.get("ext", {})
    if not isinstance(prog, dict) or not isinstance(ext, dict):
        raise ProtocolError("output.progress and output.ext are objects")
    status, phase = out.get("status"), prog.get("current_step")
    if status not in FLIGHT_STATUSES:
        raise ProtocolError(f"output.status must be one of {', '.join(FLIGHT_STATUSES)}")
    if phase not in PHASES:
        raise ProtocolError(f"output.progress.current_step must be one of {', '.join(PHASES)}")
    percent = prog.get("percent", 0)
    if not isinstance(percent, int | float) or not 0 <= percent <= 100:
        raise ProtocolError("output.progress.percent is a percentage (0–100)")
    fid = ext.get("flight_id")
    if not isinstance(fid, str) or not fid:
        raise ProtocolError("output.ext.flight_id is required")
    return Progress(fid, str(status), float(percent), str(phase), dict(ext))


def frame_chunks(
    gateway: str,
    flight_id: str,
    seq: int,
    name: str,
    content: bytes,
    bid: str,
    *,
    kind: str = "thermal",
    visible: str = "",
) -> list[Message]:
    """One frame (``kind`` ``thermal``) or the visible-light photo taken with frame ``seq`` (``visible``)
    as ``frame_chunk`` events of at most :data:`CHUNK_BYTES` each; a thermal frame's chunks name its photo
    (``visible``), if it has one."""
    if kind not in FRAME_KINDS:
        raise ValueError(f"unknown frame kind {kind!r}")
    if visible and kind != "thermal":
        raise ValueError("only a thermal frame names a visible-light photo")
    digest = hashlib.sha256(content).hexdigest()
    parts = [content[i : i + CHUNK_BYTES] for i in range(0, len(content), CHUNK_BYTES)] or [b""]
    extra = {"kind": kind} if kind != "thermal" else ({"visible": visible} if visible else {})
    return [
        Message(
            FRAME_CHUNK,
            {
                "flight_id": flight_id,
                "seq": seq,
                "name": name,
                "chunk": k,
                "chunks": len(parts),
                "size": len(content),
                "sha256": digest,
                "content": base64.b64encode(part).decode("ascii"),
                **extra,
            },
            bid=bid,
            gateway=gateway,
        )
        for k, part in enumerate(parts)
    ]


@dataclass(frozen=True, slots=True)
class Chunk:
    flight_id: str
    seq: int
    name: str
    chunk: int
    chunks: int
    size: int
    sha256: str
    content: bytes
    kind: str = "thermal"
    """:data:`FRAME_KINDS`: the thermal frame, or the visible-light photo taken with frame ``seq``."""
    visible: str = ""
    """A thermal frame's: the file name of the visible-light photo taken with it, sent before it; empty
    without one."""


def read_chunk(msg: Message) -> Chunk:
    d = msg.data
    try:
        chunk = Chunk(
            flight_id=str(d["flight_id"]),
            seq=int(d["seq"]),
            name=str(d["name"]),
            chunk=int(d["chunk"]),
            chunks=int(d["chunks"]),
            size=int(d["size"]),
            sha256=str(d["sha256"]),
            content=base64.b64decode(d["content"], validate=True),
            kind=str(d.get("kind", "thermal")),
            visible=str(d.get("visible", "")),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ProtocolError(f"frame_chunk is malformed: {exc}") from exc
    if not chunk.flight_id or chunk.seq < 0 or not 0 <= chunk.chunk < chunk.chunks or len(chunk.sha256) != 64:
        raise ProtocolError("frame_chunk needs flight_id, seq ≥ 0, 0 ≤ chunk < chunks and a SHA-256")
    if chunk.kind not in FRAME_KINDS:
        raise ProtocolError(f"frame_chunk kind must be one of {', '.join(FRAME_KINDS)}, got {chunk.kind!r}")
    if chunk.visible and chunk.kind != "thermal":
        raise ProtocolError("only a thermal frame's chunks name a visible-light photo")
    for name in (chunk.name, chunk.visible):
        if any(c in name for c in "/\\") or not chunk.name:
            raise ProtocolError(f"frame name {name!r} must be a plain file name")
    return chunk


def assemble(chunks: dict[int, bytes], expected: Chunk) -> bytes | None:
    """The frame when every chunk is there and the bytes match the SHA-256; ``None`` while some are missing.

    Raises :class:`ProtocolError` when the chunks are all there but do not make the announced frame.
    """
    if len(chunks) < expected.chunks:
        return None
    data = b"".join(chunks[k] for k in range(expected.chunks))
    if len(data) != expected.size or hashlib.sha256(data).hexdigest() != expected.sha256:
        raise ProtocolError(f"frame {expected.seq} of {expected.flight_id}: chunks do not match its SHA-256")
    return data
