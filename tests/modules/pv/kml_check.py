"""Checks of KML the project writes: the OGC schema, and an independent reader (``fastkml``)."""

from __future__ import annotations

import io
from typing import Any

from fastkml import containers
from fastkml import kml as fastkml
from fastkml.validator import get_schema_parser
from lxml import etree  # type: ignore[import-untyped]  # lxml ships no type stubs (lxml-stubs is apart)


def valid(data: bytes) -> None:
    """Valid against the OGC KML 2.2 schema (the copy ``fastkml`` ships), or fail with lxml's reasons."""
    schema = get_schema_parser()
    assert schema.validate(etree.fromstring(data)), schema.error_log


def placemarks(data: bytes) -> dict[str, list[Any]]:
    """Folder name → its placemarks, as ``fastkml`` reads them."""
    document = fastkml.KML.parse(io.BytesIO(data), validate=False).features[0]
    assert isinstance(document, containers.Document)
    folders = [f for f in document.features if isinstance(f, containers.Folder)]
    return {str(folder.name): list(folder.features) for folder in folders}
