"""Import of each real catalog format, from small files written for the tests."""

from __future__ import annotations

from datetime import date

import pytest

from gongzhi.modules.catalog.io import readers
from tests.modules.catalog.samples import CN_OPENDATA, CODEJSON, CSV, DATAJSON, as_bytes


def test_data_json_maps_access_level_periodicity_and_contact() -> None:
    fmt, rows = readers.read_any(as_bytes(DATAJSON), "data.json")
    assert fmt == "datajson" and [r.errors for r in rows] == [[], []]
    public, closed = (r.data for r in rows)
    assert (public["share_type"], public["share_mode"], public["update_cycle"]) == (
        "unconditional",
        "platform",
        "semiannual",
    )
    assert public["contact_email"] == "data@example.gov" and public["published"] == date(2020, 1, 15)
    assert public["distributions"][0]["download_url"].endswith(".csv")
    assert (closed["share_type"], closed["open_type"], closed.get("share_mode")) == ("none", "closed", None)


def test_code_json_releases_become_applications() -> None:
    fmt, rows = readers.read_any(as_bytes(CODEJSON), "code.json")
    assert fmt == "codejson" and [r.data["kind"] for r in rows] == ["application", "application"]
    assert rows[0].data["provider"] == "EXA" and rows[0].data["url"].startswith("https://github.com/")
    assert rows[0].data["key"] != rows[1].data["key"]


def test_the_chinese_open_data_catalog_with_items_from_prose_and_chinese_dates() -> None:
    fmt, rows = readers.read_any(as_bytes(CN_OPENDATA), "beijing.json")
    assert fmt == "cn-opendata"
    first = rows[0].data
    assert first["published"] == date(2020, 12, 31) and first["keywords"] == ["水务", "河湖水情"]
    assert [i["name"] for i in first["items"]] == ["河名", "站名", "水位", "流量"]
    assert [(e.row, e.field) for e in rows[1].errors] == [(2, "name")]
    assert [(e.row, e.field) for e in rows[2].errors] == [(3, "published")]


def test_csv_with_chinese_headers_reports_bad_rows() -> None:
    fmt, rows = readers.read_any(CSV.encode("utf-8-sig"), "catalog.csv")
    assert fmt == "csv" and len(rows) == 3
    first = rows[0].data
    assert (first["share_type"], first["share_mode"], first["update_cycle"]) == (
        "conditional",
        "platform",
        "monthly",
    )
    assert first["items"] == [
        {"name": "权利人", "type": "string", "sensitive": True},
        {"name": "坐落", "type": "", "sensitive": False},
    ]
    assert [(e.row, e.field) for r in rows for e in r.errors] == [(3, "name"), (4, "published")]


def test_a_csv_saved_as_gb18030_or_utf_16_reads_as_the_utf_8_one_and_other_bytes_are_refused_plainly() -> (
    None
):
    """Excel and WPS on a Chinese Windows save CSV as GB18030 (or UTF-16 with "Unicode text")."""
    _, expected = readers.read_any(CSV.encode("utf-8-sig"), "catalog.csv")
    for encoded in (CSV.encode("gb18030"), CSV.encode("utf-16")):
        _, rows = readers.read_any(encoded, "catalog.csv")
        assert [r.data for r in rows] == [r.data for r in expected]
    with pytest.raises(readers.ReadError, match="neither UTF-8 nor GB18030"):
        readers.read_any(b"\x81\x30\xff\xff" * 10, "catalog.csv")


def test_native_json_flags_unknown_fields() -> None:
    _, rows = readers.read_any(as_bytes({"records": [{"name": "x", "colour": "red"}]}), "r.json", "native")
    assert rows[0].data["name"] == "x" and rows[0].errors[0].field == "colour"


@pytest.mark.parametrize(
    ("raw", "name"),
    [
        (b"\x00\x01", "x.json"),
        (b'{"a": 1}', "x.json"),
        (b"PK\x03\x04broken", "x.xlsx"),
        (b"a,b\n1,2", "x.csv"),
    ],
)
def test_unreadable_files_raise_a_read_error(raw: bytes, name: str) -> None:
    with pytest.raises(readers.ReadError):
        readers.read_any(raw, name)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2020年12月31日", date(2020, 12, 31)),
        ("2021-03", date(2021, 3, 1)),
        ("2019", date(2019, 1, 1)),
        ("2024-06-01T10:00:00Z", date(2024, 6, 1)),
    ],
)
def test_dates_in_catalog_spellings(text: str, expected: date) -> None:
    assert readers.parse_date(text) == expected
