"""Names of the loop's stored values (states, actions, roles, …) as the console shows them.

Values stay English in the database and the API; the console looks them up here and translates the result.
An unknown value (a module's own category, say) is shown as stored.
"""

from __future__ import annotations

import functools
from pathlib import Path

from gongzhi.errors import Message
from gongzhi.kit import validation
from gongzhi.web import form_labels
from gongzhi.web.i18n import N_, Lang

STATES = {
    "submitted": N_("Submitted"),
    "accepted": N_("Accepted"),
    "rejected": N_("Rejected"),
    "merged": N_("Merged"),
    "dispatched": N_("Dispatched"),
    "claimed": N_("Claimed"),
    "in_progress": N_("In progress"),
    "resolved": N_("Resolved"),
    "verified": N_("Verified"),
    "closed": N_("Closed"),
    "returned": N_("Returned"),
    "reopened": N_("Reopened"),
}

ACTIONS = {
    "accept": N_("Accept"),
    "reject": N_("Reject"),
    "merge": N_("Merge into another case"),
    "dispatch": N_("Dispatch"),
    "claim": N_("Claim"),
    "return": N_("Return"),
    "start": N_("Start work"),
    "resolve": N_("Resolve"),
    "verify": N_("Verify"),
    "close": N_("Close"),
    "follow_up": N_("Follow-up rating"),
    "request_extension": N_("Request extension"),
    "decide_extension": N_("Decide extension"),
    "comment": N_("Comment"),
    # timeline entries that are not actions a person takes
    "create": N_("Created"),
    "merged_in": N_("Merged in"),
    "delivered": N_("Delivered"),
    "delivery_attempt": N_("Delivery attempt"),
    "delivery_failed": N_("Delivery failed, will retry"),
    "reminder": N_("Reminder"),
    "supervision": N_("Supervision notice"),
    "escalation": N_("Escalation"),
    "pv_verification": N_("Verification by re-inspection"),
    "pv_reclean_held": N_("Re-cleaning held"),
    "robot_ack": N_("Robot answered the order"),
    "robot_state": N_("Robot status"),
    "recategorize": N_("Category changed"),
}

DONE = {
    "accept": N_("Case accepted"),
    "reject": N_("Case rejected"),
    "merge": N_("Case merged"),
    "dispatch": N_("Case dispatched"),
    "claim": N_("Case claimed"),
    "return": N_("Case returned to the dispatcher"),
    "start": N_("Work started"),
    "resolve": N_("Resolution sent for verification"),
    "verify": N_("Verification recorded"),
    "close": N_("Case closed"),
    "follow_up": N_("Follow-up recorded"),
    "request_extension": N_("Extension requested"),
    "decide_extension": N_("Extension decided"),
    "comment": N_("Comment added"),
}

ROLES = {
    "admin": N_("Administrator"),
    "dispatcher": N_("Dispatcher"),
    "handler": N_("Handler"),
    "supervisor": N_("Supervisor"),
    "viewer": N_("Viewer"),
}

PRIORITIES = {"low": N_("Low"), "normal": N_("Normal"), "high": N_("High"), "urgent": N_("Urgent")}

SEVERITIES = {
    "info": N_("Info"),
    "low": N_("Low"),
    "medium": N_("Medium"),
    "high": N_("High"),
    "critical": N_("Critical"),
}

# a catalog audit finding's severity (modules/catalog/analytics/rules.py SEVERITIES)
FINDING_SEVERITIES = {
    "error": N_("Error (must fix)"),
    "warning": N_("Warning (should fix)"),
    "info": N_("Info"),
}

# a catalog record's codes (modules/catalog/analytics/entry.py): GB/T 21063's sharing and opening types
SHARE_TYPES = {
    "unconditional": N_("Shared without conditions"),
    "conditional": N_("Shared on conditions"),
    "none": N_("Not shared"),
}
OPEN_TYPES = {
    "open": N_("Opened to the public"),
    "conditional": N_("Opened on conditions"),
    "closed": N_("Not opened to the public"),
}

ALERT_STATUSES = {
    "open": N_("Open"),
    "acknowledged": N_("Acknowledged"),
    "dismissed": N_("Dismissed"),
    "merged": N_("Merged"),
    "converted": N_("Converted to case"),
}

CLOCKS = {
    "idle": N_("Not started"),
    "on_track": N_("On track"),
    "due_soon": N_("Due soon"),
    "overdue": N_("Overdue"),
    "met": N_("Met"),
    "missed": N_("Missed"),
}

RETURN_REASONS = {
    "not_our_territory": N_("Not our territory"),
    "unclear_ownership": N_("Unclear ownership"),
    "overlapping_duties": N_("Overlapping duties"),
    "other": N_("Other"),
}

CATEGORIES = {
    "city_appearance": N_("City appearance"),
    "illegal_building": N_("Illegal building"),
    "property": N_("Property management"),
    "road": N_("Roads"),
    "noise": N_("Noise"),
    "pollution": N_("Pollution"),
    "wages": N_("Unpaid wages"),
    "pv_om": N_("PV operation and maintenance"),
    "tree": N_("Trees and parks"),
    # the intake module's seed categories (modules/intake/data/seed_categories.json)
    "construction": N_("Urban and rural construction"),
    "environment": N_("Environmental protection"),
    "transport": N_("Transport"),
    "education": N_("Education, culture and sport"),
    "health": N_("Health and family planning"),
    "labour": N_("Labour and social security"),
    "commerce": N_("Commerce and tourism"),
    "agriculture": N_("Agriculture and rural affairs"),
    "civil-affairs": N_("Civil affairs"),
    "law": N_("Public security, justice and law"),
    "party-gov": N_("Party and government affairs"),
    "economy": N_("Economic management"),
    "discipline": N_("Discipline inspection and supervision"),
    "land": N_("Land and natural resources"),
    "tech": N_("Science, technology and information"),
    # the village module's cases (modules/village/service.py)
    "village-supervision": N_("Village supervision"),
    "opinion": N_("Villagers' opinion"),
}

# pv.* are the PV module's anomaly classes: the names of modules/pv/names.py CLASS_NAMES, written out here so
# that the catalogue extracts them (tests/web/test_i18n.py holds the two, and the zh_CN catalogue, together)
ALERT_KINDS = {
    "pv.single_hot_cell": N_("Single hot cell"),
    "pv.multiple_hot_cells": N_("Multiple hot cells"),
    "pv.hot_spot": N_("Hot spot"),
    "pv.substring": N_("Bypass diode / substring"),
    "pv.module_offline": N_("Module offline"),
    "pv.string_offline": N_("String offline"),
    "pv.junction_box": N_("Junction box"),
    "pv.shading": N_("Shading"),
    "pv.soiling": N_("Soiling"),
    "pv.vegetation": N_("Vegetation"),
    "pv.cracking": N_("Cracking"),
    "intake.hot_topic": N_("Hot topic"),
}

SLA_UNITS = {"hours": N_("hours"), "working_hours": N_("working hours"), "working_days": N_("working days")}

ACTOR_KINDS = {
    "department": N_("Department"),
    "person": N_("Person"),
    "machine": N_("Machine"),
    "external": N_("External system"),
    "robot": N_("Robot"),
    "dock": N_("Drone dock"),
}

# who acted when no user did: the public pages and the system's own jobs
EVENT_ACTORS = {"citizen": N_("Citizen"), "villager": N_("Villager"), "system": N_("System")}

SOURCES = {
    "staff": N_("Staff"),
    "12345": N_("12345 hotline"),
    "web": N_("Website"),
    "grid": N_("Grid worker"),
    "open311": N_("Open311 interface"),
    # the intake module's channels (source "intake:<channel>")
    "intake:web": N_("Web form"),
    "intake:open311": N_("Open311 interface"),
    "intake:staff": N_("Staff entry"),
    "intake:hotline": N_("12345 hotline"),
    "intake:visit": N_("Walk-in visit"),
    "intake:opinion": N_("Villagers' opinion"),
    # the village module's cases
    "village:visit": N_("Supervision visit"),
    "village:opinion": N_("Villagers' opinion"),
}

# a cleaning robot's state on its order (modules/pv/models.py ROBOT_STATES)
ROBOT_STATES = {
    "pending": N_("Waiting for the robot"),
    "queued": N_("Queued on the robot"),
    "running": N_("Cleaning"),
    "done": N_("Cleaned"),
    "fault": N_("Robot fault"),
    "rejected": N_("Refused by the robot"),
    "charging": N_("Charging"),
}

# why the file store refused an upload (kit/filestore.py RejectReason)
FILE_REFUSED = {
    "too_large": N_("the file is too large"),
    "empty": N_("the file is empty"),
    "unsupported_type": N_("the file type is not accepted"),
    "type_mismatch": N_("the content does not match the file type"),
    "truncated": N_("the file was cut off"),
    "corrupt": N_("the file cannot be read"),
}

# why a PV frame's reader could not read it as temperatures (modules/pv/io/reader_errors.py,
# ReaderError.reason); a frame read but not analysed says why in words of its own (a msg)
FRAME_UNREADABLE = {
    "unreadable": N_("the file cannot be read as temperatures"),
    "unknown_format": N_("not a thermal image format the readers know (TIFF or radiometric JPEG)"),
    "truncated": N_("the file ends early (cut off)"),
    "not_radiometric": N_("a picture without temperatures (not radiometric)"),
    "temperature_unavailable": N_("the file's temperatures cannot be converted here"),
    "missing_metadata": N_("a value needed for temperatures is missing from the file"),
    "not_converted": N_("dji-thermal-cli could not convert the file"),
}

# a dock flight's phase and how it ended (modules/pv/io/dock_protocol.py PHASES, FLIGHT_STATUSES)
DOCK_PHASES = {
    "queued": N_("queued"),
    "prepared": N_("wayline sent"),
    "takeoff": N_("taking off"),
    "survey": N_("surveying"),
    "return": N_("returning"),
    "landed": N_("landed"),
}
DOCK_FLIGHT_ENDS = {"failed": N_("failed"), "canceled": N_("canceled"), "timeout": N_("timed out")}

GROUPS = {
    "state": STATES,
    "action": ACTIONS,
    "done": DONE,
    "role": ROLES,
    "priority": PRIORITIES,
    "severity": SEVERITIES,
    "finding_severity": FINDING_SEVERITIES,
    "share_type": SHARE_TYPES,
    "open_type": OPEN_TYPES,
    "alert_status": ALERT_STATUSES,
    "clock": CLOCKS,
    "reason": RETURN_REASONS,
    "category": CATEGORIES,
    "alert_kind": ALERT_KINDS,
    "unit": SLA_UNITS,
    "actor_kind": ACTOR_KINDS,
    "source": SOURCES,
    "event_actor": EVENT_ACTORS,
    "robot_state": ROBOT_STATES,
    "file_refused": FILE_REFUSED,
    "frame_unreadable": FRAME_UNREADABLE,
    "dock_phase": DOCK_PHASES,
}


# a PV inspection's status, in error details and on the PV pages (modules/pv/views.py STATUS_NAMES)
INSPECTION_STATUSES = {
    "queued": N_("Queued"),
    "running": N_("Running"),
    "done": N_("Analysed"),
    "failed": N_("Failed"),
}

# what a detail's ``kind`` names: a core model's class or a village table's singular ("no %(kind)s
# %(obj_id)s"), a catalog record's kind
RECORD_KINDS = {
    "Department": N_("department"),
    "GridCell": N_("grid cell"),
    "village": N_("village"),
    "station": N_("supervision station"),
    "supervisor": N_("supervisor"),
    "supervisor_village": N_("supervisor's village"),
    "project": N_("project"),
    "milestone": N_("milestone"),
    "visit": N_("supervision visit"),
    "decision": N_("decision"),
    "decision_step": N_("decision step"),
    "asset": N_("asset"),
    "contract": N_("contract"),
    "payment": N_("payment"),
    "consultation": N_("consultation"),
    "opinion": N_("opinion"),
    # a catalog record's kind ("a %(kind)s with key … exists already")
    "application": N_("information system"),
    "dataset": N_("data resource"),
}

# the parameters of a domain error's detail (gongzhi.errors.msg) that are stored values, by name
PARAMS: dict[str, dict[str, str]] = {
    "state": STATES,
    "action": ACTIONS,
    "role": ROLES,
    "alert_status": ALERT_STATUSES,
    "inspection_status": INSPECTION_STATUSES,
    "robot_state": ROBOT_STATES,
    "kind": RECORD_KINDS,
    "dock_phase": DOCK_PHASES,
    "flight_status": DOCK_FLIGHT_ENDS,
}


def label(group: str, value: str | None) -> str:
    """The untranslated label of a stored value (translate it where it is shown)."""
    if value is None:
        return ""
    return GROUPS[group].get(value, value)


def detail(lang: Lang, text: str) -> str:
    """A domain error's detail in ``lang``: a :func:`gongzhi.errors.msg` through the catalogue, the stored
    values among its parameters (:data:`PARAMS`) by their names in ``lang``, a ``field`` parameter by the
    label the forms give that field (:func:`form_field_labels`); where the catalogue has no
    other wording (English), the text as written. Other text goes through the catalogue too (a module's
    ``N_`` ids), which leaves text it does not know as it is."""
    if not isinstance(text, Message):
        return lang.gettext(text)
    # a phrase of its own, or a form's field (named by its label), is worded in ``lang`` even where the
    # sentence around it is not
    phrases = any(isinstance(v, Message) for v in text.params.values()) or "field" in text.params
    if lang.gettext(text.template) == text.template and not phrases:  # English, or not translated yet
        return str(text)
    params = {k: _named(lang, k, v) for k, v in text.params.items()}
    try:
        return lang.gettext(text.template, **params)
    except (KeyError, ValueError, TypeError):  # a translation that names other placeholders: the English
        return str(text)


def _named(lang: Lang, name: str, value: object) -> object:
    if isinstance(value, Message):  # a phrase of the sentence, itself made with msg
        return detail(lang, value)
    if name == "field" and isinstance(value, str):  # a form's field: by the label the forms give it
        key, dot, rest = value.partition(".")
        label = form_field_labels().get(key)
        if label is None:
            return value
        if rest.isdigit():  # one of a list's items (pydantic counts from 0)
            return lang.gettext(N_("%(field)s, item %(n)s"), field=lang.gettext(label), n=int(rest) + 1)
        return lang.gettext(label) + dot + rest
    names = PARAMS.get(name, {})
    return lang.gettext(names[str(value)]) if str(value) in names else value


def field_problem(lang: Lang, error: dict[str, object], *, request: bool = True) -> str:
    """One validation error (pydantic's ``type``, ``loc``, ``msg``, ``ctx``) as ``field: problem`` in
    ``lang`` (:func:`gongzhi.kit.validation.field_problem`); a request's ``loc`` starts with body, query
    or path, which is left out, a model's with the field. The field is named by the label the console's
    forms give it (:func:`form_field_labels`), in ``lang``, where they label it; else by its key."""
    return detail(lang, validation.field_problem(error, request=request))


@functools.cache
def form_field_labels() -> dict[str, str]:
    """Each form field's key → the msgid of the label the package's templates give it
    (:func:`gongzhi.web.form_labels.field_labels`), read once."""
    return form_labels.field_labels([Path(__file__).resolve().parents[1]])
