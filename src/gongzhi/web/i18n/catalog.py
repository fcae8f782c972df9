"""Keep the catalogue in step with the sources: ``python -m gongzhi.web.i18n.catalog update``.

Ids come from every template under ``web/templates`` and the modules' template folders (``_()``,
``gettext``, ``ngettext``) and from every Python source of the package but this folder (``_()``, ``N_()``
and the domain errors' ``msg()``). ``update`` rewrites ``messages.pot`` and merges it into each
locale's ``.po``, keeping existing translations; ``check`` exits 1 when an id is missing or untranslated,
or when a translation's placeholders differ from its id's.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from babel.messages.catalog import Catalog
from babel.messages.extract import extract
from babel.messages.pofile import read_po, write_po
from jinja2.ext import babel_extract

from gongzhi.web.i18n import HERE, LOCALES

WEB = HERE.parent
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None, "msg": None}
OPTIONS = {"extensions": "jinja2.ext.i18n", "trimmed": "true"}


def sources() -> Iterator[tuple[Path, str]]:
    for path in sorted((WEB / "templates").rglob("*.html")):
        yield path, "jinja2"
    for module in sorted((WEB.parent / "modules").iterdir()):  # a module's console templates
        for folder in ("templates", "console_templates"):
            for path in sorted((module / folder).rglob("*.html")):
                yield path, "jinja2"
    for path in sorted(WEB.parent.rglob("*.py")):  # the console's and the domain errors' (msg) sources
        if HERE not in path.parents:
            yield path, "python"


def extract_ids() -> Catalog:
    template = Catalog(project="gongzhi", version="0.1", charset="utf-8")
    for path, method in sources():
        with path.open("rb") as fh:
            func: Any = babel_extract if method == "jinja2" else method
            for lineno, message, _comments, _context in extract(func, fh, KEYWORDS, options=OPTIONS):
                where = [(str(path.relative_to(WEB.parent.parent)), lineno)]
                template.add(message, locations=where)
    return template


def po_path(code: str) -> Path:
    return HERE / code / "LC_MESSAGES" / "messages.po"


def read(code: str) -> Catalog:
    with po_path(code).open("rb") as fh:
        return read_po(fh, locale=code)


def update() -> None:
    template = extract_ids()
    with (HERE / "messages.pot").open("wb") as fh:
        write_po(fh, template, sort_output=True, width=110, include_lineno=False)
    for code in LOCALES:
        path = po_path(code)
        catalog = read(code) if path.exists() else Catalog(locale=code, project="gongzhi")
        catalog.update(template, no_fuzzy_matching=True)
        with path.open("wb") as fh:
            write_po(fh, catalog, sort_output=True, width=110, ignore_obsolete=True, include_lineno=False)


def problems() -> list[str]:
    """Ids used in the sources but missing from a catalogue or without a Chinese translation, and
    translations whose ``%(name)s`` placeholders differ from their id's."""
    ids = [m.id for m in extract_ids() if m.id]
    found = []
    for code in LOCALES:
        catalog = read(code)
        for mid in ids:
            msg = catalog.get(mid)
            if msg is None:
                found.append(f"{code}: missing {mid!r}")
            elif code != "en" and (not _translated(msg.string) or msg.fuzzy):
                found.append(f"{code}: untranslated {mid!r}")
        for message, errors in catalog.check():  # placeholders a translation drops or invents
            found += [f"{code}: {message.id!r}: {e}" for e in errors]
    return found


def _translated(string: str | tuple[str, ...] | list[str] | None) -> bool:
    """A plural message is translated when every form is (its string is a tuple of forms)."""
    return all(string) if isinstance(string, (tuple, list)) else bool(string)


def main(argv: list[str]) -> int:
    if argv[:1] == ["update"]:
        update()
        return 0
    if argv[:1] == ["check"]:
        found = problems()
        print("\n".join(found) or "catalogue complete")
        return 1 if found else 0
    print("usage: python -m gongzhi.web.i18n.catalog update|check")
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
