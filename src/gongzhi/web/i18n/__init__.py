"""The console's one message catalogue (Babel): zh-CN by default, English on request; Shanghai time.

Message ids are English. ``messages.pot`` and the ``<locale>/LC_MESSAGES/messages.po`` files beside this
module are read and compiled in memory at first use; ``python -m gongzhi.web.i18n.catalog update``
re-extracts the ids from templates and Python sources after a change.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from io import BytesIO
from pathlib import Path

from babel.core import Locale
from babel.dates import format_date, format_datetime, format_timedelta
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal, format_percent
from babel.support import Translations

from gongzhi.kit.workdays import SHANGHAI

HERE = Path(__file__).parent
LOCALES = ("zh_CN", "en")
DEFAULT = "zh_CN"
LANGUAGE_NAMES = {"zh_CN": "中文", "en": "English"}


def N_(message: str) -> str:
    """Mark a string for the catalogue where it is defined; it is translated where it is shown."""
    return message


@lru_cache(maxsize=len(LOCALES))
def translations(code: str) -> Translations:
    with (HERE / code / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        catalog = read_po(fh, locale=code)
    buf = BytesIO()
    write_mo(buf, catalog)
    buf.seek(0)
    return Translations(buf)


def negotiate(requested: str | None) -> str:
    return requested if requested in LOCALES else DEFAULT


@dataclass(frozen=True)
class Lang:
    """One locale's translations and formatters; every date is shown in Asia/Shanghai."""

    code: str

    @property
    def html(self) -> str:
        return self.code.replace("_", "-")

    @property
    def locale(self) -> Locale:
        return Locale.parse(self.code)

    def gettext(self, message: str, **params: object) -> str:
        text = translations(self.code).ugettext(message)
        return text % params if params else text

    def ngettext(self, singular: str, plural: str, n: int, **params: object) -> str:
        text = translations(self.code).ungettext(singular, plural, n)
        return text % {"num": n, **params}

    def when(self, value: datetime | None, fmt: str = "short") -> str:
        return "" if value is None else format_datetime(value, fmt, tzinfo=SHANGHAI, locale=self.code)

    def on(self, value: date | None, fmt: str = "short") -> str:
        return "" if value is None else format_date(value, fmt, locale=self.code)

    def day(self, value: date) -> str:
        return format_date(value, "MM/dd" if self.code == "zh_CN" else "MMM d", locale=self.code)

    def number(self, value: float | None) -> str:
        return "–" if value is None else format_decimal(value, locale=self.code)

    def percent(self, value: float | None) -> str:
        return "–" if value is None else format_percent(value, locale=self.code)

    def relative(self, delta: timedelta) -> str:
        """'in 3 hours' or '3 hours ago' (positive deltas are in the future)."""
        return format_timedelta(delta, add_direction=True, threshold=1.5, locale=self.code)


current: ContextVar[Lang] = ContextVar("gongzhi_console_lang", default=Lang(DEFAULT))  # noqa: B039 - frozen
