"""The console's form fields by the labels its forms show them with, read from the templates themselves.

A form the model refuses comes back as ``field: problem`` (:func:`gongzhi.kit.validation.field_problem`),
which the console words in its reader's language (:func:`gongzhi.web.labels.detail`), the field named as
the form labels it (``倾角（°）``) rather than by its key (``tilt_deg``). The labels are
the templates' own: ``<label for="ID">{{ _("Label") }}</label>`` with the control whose ``id`` is ``ID``,
a checkbox inside its label (``<label><input type="checkbox" name="KEY"> {{ _("Label") }}</label>``), and
the controls of a ``<fieldset>`` by its ``<legend>{{ _("Label") }}</legend>`` where nothing else labels
them. Where forms label one key differently (``note``: "Note", "Note (optional)"), the label most of them
use is taken, the shortest of those used as often. Labels with placeholders or made of values are not
field names and are left out; so is a key no template labels (its problem keeps the key).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

_MSGID = r'\{\{\s*_\("((?:[^"\\]|\\.)+)"\)\s*\}\}'
# a label may add a mark after its text (``{{ _("Your opinion") }} *``)
_LABEL_FOR = re.compile(r'<label\b[^>]*?\bfor="([^"]+)"[^>]*>\s*' + _MSGID + r"[^<]*</label>")
_CHECKBOX_LABEL = re.compile(r"<label\b[^>]*>\s*<input\b([^>]*)>\s*" + _MSGID + r"\s*</label>")
_FIELDSET = re.compile(
    r"<fieldset\b[^>]*>\s*<legend\b[^>]*>\s*" + _MSGID + r"\s*</legend>(.*?)</fieldset>", re.S
)
_CONTROL = re.compile(r"<(?:input|select|textarea)\b([^>]*)>")
_ATTR = re.compile(r'\b(id|name|type)="([^"]*)"')


def _attrs(text: str) -> dict[str, str]:
    return {k: v for k, v in _ATTR.findall(text)}


def _usable(msgid: str) -> bool:
    return "%(" not in msgid


def controls_of(template: str) -> list[dict[str, str]]:
    """The ``id``, ``name`` and ``type`` attributes (those it has) of each input, select and textarea of one
    template's source."""
    return [_attrs(m.group(1)) for m in _CONTROL.finditer(template)]


def labels_of(template: str) -> list[tuple[str, str]]:
    """(field key, label msgid) of each labelled control of one template's source."""
    by_id = {c["id"]: c["name"] for c in controls_of(template) if c.get("id") and c.get("name")}
    found: list[tuple[str, str]] = []
    for target, msgid in _LABEL_FOR.findall(template):
        if target in by_id and _usable(msgid):
            found.append((by_id[target], msgid))
    for attrs, msgid in _CHECKBOX_LABEL.findall(template):
        a = _attrs(attrs)
        if a.get("type") == "checkbox" and a.get("name") and _usable(msgid):
            found.append((a["name"], msgid))
    labelled = {key for key, _ in found}
    for msgid, inside in _FIELDSET.findall(template):
        if not _usable(msgid):
            continue
        names = {c.get("name") for c in controls_of(inside)}
        found += [(n, msgid) for n in sorted(n for n in names if n and n not in labelled)]
    return found


def field_labels(directories: Iterable[Path]) -> dict[str, str]:
    """Each field key the templates under ``directories`` label → the label msgid most of them use."""
    counts: dict[str, Counter[str]] = {}
    for directory in directories:
        for path in sorted(Path(directory).rglob("*.html")):
            for key, msgid in labels_of(path.read_text(encoding="utf-8")):
                counts.setdefault(key, Counter())[msgid] += 1
    return {key: min(c, key=lambda m: (-c[m], len(m), m)) for key, c in counts.items()}
