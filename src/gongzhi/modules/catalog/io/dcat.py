"""DCAT export (JSON-LD, Turtle) of catalog entries and its validation with the DCAT-AP 3 SHACL shapes.

Datasets become ``dcat:Dataset`` with their distributions, applications ``dcat:DataService``; update
periods and sharing types map onto the EU frequency and access-right vocabularies. ``shacl_findings``
validates the export with pySHACL (as ckanext-dcat's CI does) and turns every result back into a finding
on the record it concerns.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from urllib.parse import quote

from rdflib import BNode, Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCAT, DCTERMS, FOAF, RDF, SH, XSD
from rdflib.term import Node

from gongzhi.modules.catalog.analytics.entry import Entry
from gongzhi.modules.catalog.analytics.rules import Finding

VCARD = Namespace("http://www.w3.org/2006/vcard/ns#")
FREQ = Namespace("http://publications.europa.eu/resource/authority/frequency/")
ACCESS = Namespace("http://publications.europa.eu/resource/authority/access-right/")
SHAPES = Path(__file__).resolve().parent.parent / "shapes"
FREQUENCIES = {
    "realtime": "CONT",
    "daily": "DAILY",
    "weekly": "WEEKLY",
    "monthly": "MONTHLY",
    "quarterly": "QUARTERLY",
    "semiannual": "ANNUAL_2",
    "annual": "ANNUAL",
    "irregular": "IRREG",
    "other": "OTHER",
}
ACCESS_RIGHTS = {"unconditional": "PUBLIC", "conditional": "RESTRICTED", "none": "NON_PUBLIC"}
_IRI = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:[^\s<>\"{}|\\^`]+$")


@dataclass(frozen=True)
class CatalogInfo:
    """The catalog's own record: title and description in Chinese, and in English when given (each
    written with its language tag, as DCAT-AP asks of multilingual catalogs)."""

    title: str
    description: str
    publisher: str
    base: str = "urn:gongzhi:"
    title_en: str = ""
    description_en: str = ""


def _iri(value: str) -> URIRef | None:
    value = value.strip()
    return URIRef(value) if _IRI.match(value) else None


class _Builder:
    def __init__(self, info: CatalogInfo) -> None:
        self.g = Graph()
        self.info = info
        self.owner: dict[Node, str] = {}
        for prefix, ns in (("dcat", DCAT), ("dct", DCTERMS), ("foaf", FOAF), ("vcard", VCARD)):
            self.g.bind(prefix, ns)

    def node(self, key: str) -> URIRef:
        return URIRef(f"{self.info.base}record/{quote(key, safe='')}")

    def add(self, s: Node, p: Node, o: Node, key: str | None = None) -> None:
        self.g.add((s, p, o))
        if key is not None:
            self.owner.setdefault(s, key)

    def text(self, s: Node, p: Node, value: str, lang: str | None = None) -> None:
        if value.strip():
            self.g.add((s, p, Literal(value.strip(), lang=lang)))

    def catalog(self) -> URIRef:
        cat = URIRef(f"{self.info.base}catalog")
        self.g.add((cat, RDF.type, DCAT.Catalog))
        info = self.info
        for p, zh, en in (
            (DCTERMS.title, info.title, info.title_en),
            (DCTERMS.description, info.description, info.description_en),
        ):
            self.text(cat, p, zh, "zh" if en.strip() else None)
            self.text(cat, p, en, "en")
        self.g.add((cat, DCTERMS.publisher, self.agent(self.info.publisher, None)))
        return cat

    def agent(self, name: str, key: str | None) -> BNode:
        a = BNode()
        self.add(a, RDF.type, FOAF.Agent, key)
        self.text(a, FOAF.name, name)
        return a

    def common(self, s: URIRef, e: Entry) -> None:
        self.text(s, DCTERMS.title, e.name)
        self.text(s, DCTERMS.description, e.summary)
        self.text(s, DCTERMS.identifier, e.identifier or e.key)
        for kw in e.keywords:
            self.text(s, DCAT.keyword, kw)
        if e.provider:
            self.g.add((s, DCTERMS.publisher, self.agent(e.provider, e.key)))
        for name, value in (("issued", e.published), ("modified", e.modified)):
            if value is not None:
                self.g.add((s, DCTERMS[name], Literal(value.isoformat(), datatype=XSD.date)))
        if e.contact_name or e.contact_email or e.contact_phone:
            c = BNode()
            self.add(c, RDF.type, VCARD.Kind, e.key)
            self.text(c, VCARD.fn, e.contact_name)
            if e.contact_email:
                self.g.add(
                    (c, VCARD.hasEmail, URIRef("mailto:" + quote(e.contact_email.strip(), safe="@.+-_")))
                )
            self.text(c, VCARD.hasTelephone, e.contact_phone)
            self.g.add((s, DCAT.contactPoint, c))
        if e.license and (lic := _iri(e.license)) is not None:
            self.g.add((s, DCTERMS.license, lic))

    def dataset(self, cat: URIRef, e: Entry) -> None:
        s = self.node(e.key)
        self.add(s, RDF.type, DCAT.Dataset, e.key)
        self.g.add((cat, DCAT.dataset, s))
        self.common(s, e)
        if e.update_cycle in FREQUENCIES:
            self.g.add((s, DCTERMS.accrualPeriodicity, FREQ[FREQUENCIES[e.update_cycle]]))
        if e.share_type in ACCESS_RIGHTS:
            self.g.add((s, DCTERMS.accessRights, ACCESS[ACCESS_RIGHTS[e.share_type]]))
        if (page := _iri(e.url)) is not None:
            self.g.add((s, DCAT.landingPage, page))
        for n, d in enumerate(e.distributions):
            self.distribution(s, e.key, n, d)

    def distribution(self, ds: URIRef, key: str, n: int, d: dict[str, str]) -> None:
        node = URIRef(f"{ds}/distribution/{n + 1}")
        self.add(node, RDF.type, DCAT.Distribution, key)
        self.g.add((ds, DCAT.distribution, node))
        download = _iri(d.get("download_url", ""))
        access = _iri(d.get("access_url", "")) or download  # DCAT-AP: accessURL also when downloadable
        if access is not None:
            self.g.add((node, DCAT.accessURL, access))
        if download is not None:
            self.g.add((node, DCAT.downloadURL, download))
        if d.get("media_type"):
            self.g.add(
                (
                    node,
                    DCAT.mediaType,
                    URIRef("https://www.iana.org/assignments/media-types/" + d["media_type"]),
                )
            )
        self.text(node, DCTERMS.title, d.get("title", ""))

    def service(self, cat: URIRef, e: Entry) -> None:
        s = self.node(e.key)
        self.add(s, RDF.type, DCAT.DataService, e.key)
        self.g.add((cat, DCAT.service, s))
        self.common(s, e)
        if (endpoint := _iri(e.url)) is not None:
            self.g.add((s, DCAT.endpointURL, endpoint))


def build_graph(entries: Sequence[Entry], info: CatalogInfo) -> tuple[Graph, dict[Node, str]]:
    """The DCAT graph of the entries and, for each node, the key of the record it belongs to."""
    b = _Builder(info)
    cat = b.catalog()
    for e in entries:
        (b.service if e.kind == "application" else b.dataset)(cat, e)
    return b.g, b.owner


def write_dcat(entries: Sequence[Entry], info: CatalogInfo, fmt: str = "json-ld") -> bytes:
    """Serialise as ``json-ld`` or ``turtle``."""
    graph, _ = build_graph(entries, info)
    return graph.serialize(format=fmt, encoding="utf-8")


@cache
def shapes_graph(recommended: bool = False) -> Graph:
    g = Graph()
    g.parse(SHAPES / "shapes.ttl", format="turtle")
    if recommended:
        g.parse(SHAPES / "shapes_recommended.ttl", format="turtle")
    return g


def shacl_findings(
    entries: Sequence[Entry], info: CatalogInfo, *, severity: str = "error", recommended: bool = False
) -> list[Finding]:
    """Validate the DCAT export with the DCAT-AP 3.0.1 shapes; one finding per result on a record's node."""
    from pyshacl import validate

    graph, owner = build_graph(entries, info)
    _, results, _ = validate(graph, shacl_graph=shapes_graph(recommended), inference="none", advanced=False)
    assert isinstance(results, Graph)
    found: dict[tuple[str, str, str], Finding] = {}
    for r in results.subjects(RDF.type, SH.ValidationResult):
        focus = results.value(r, SH.focusNode)
        key = owner.get(focus) if focus is not None else None
        if key is None:
            continue
        path = results.value(r, SH.resultPath)
        prop = graph.namespace_manager.normalizeUri(path) if isinstance(path, URIRef) else str(path or "")
        warn = results.value(r, SH.resultSeverity) != SH.Violation
        message = str(results.value(r, SH.resultMessage) or "does not conform")
        component = results.value(r, SH.sourceConstraintComponent)
        if component == SH.MinCountConstraintComponent:
            code, params = "shacl_recommended" if warn else "shacl_missing", {"prop": prop}
        else:
            name = f"sh:{str(component).rsplit('#', 1)[-1]}"
            code, params = "shacl_violation", {"prop": prop, "component": name, "detail": message}
        f = Finding(key, "dcat-ap-shacl", "warning" if warn else severity, prop, code, params)
        found.setdefault((key, prop, message), f)
    return sorted(found.values(), key=lambda f: (f.key, f.field))
