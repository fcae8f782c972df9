"""Checks of KML the project writes: the OGC schema, and an independent reader (``fastkml``)."""

from __future__ import annotations

from typing import Any

from fastkml import kml as fastkml
from fastkml.validator import get_schema_parser
from lxml import etree


def valid(data: bytes) -> None:
    """Valid against the OGC KML 2.2 schema (the copy ``fastkml`` ships), or fail with lxml's reasons."""
    schema = get_schema_parser()
    assert schema.validate(etree.fromstring(data)), schema.error_log


def placemarks(data: bytes) -> dict[str, list[Any]]:
    """Folder name → its placemarks, as ``fastkml`` reads them."""
    document = fastkml.KML.from_string(data).features[0]
    return {folder.name: list(folder.features) for folder in document.features}
