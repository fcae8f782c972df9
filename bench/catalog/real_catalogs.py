"""Audit every real catalog in ../shared/data/catalogs and print the problem counts per rule.

    .venv/bin/python bench/catalog/real_catalogs.py [--date YYYY-MM-DD] [--no-shacl] [--data DIR]

Each file goes through the same path as ``gongzhi catalog import`` (reader, record schema, one record per
(kind, key): a repeated key is a row error, as on import) and the default rule set, plus the DCAT-AP SHACL
rule and a duplicate-system scan. Freshness and future dates are judged at ``--date`` (default: today;
../shared/domain/catalog-security.md measured freshness at 2025-02-01). The shared data is not part of the
repository: when it is absent, the script says so and exits 0.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from datetime import date
from pathlib import Path
from types import SimpleNamespace

from pydantic import ValidationError

from gongzhi.modules.catalog.analytics import dupes, rules
from gongzhi.modules.catalog.analytics.entry import Entry
from gongzhi.modules.catalog.io import dcat, readers
from gongzhi.modules.catalog.schemas import RecordIn
from gongzhi.modules.catalog.service import JURISDICTIONS, _normalised, to_entry

DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "catalogs"


def load(path: Path) -> tuple[str, list[Entry], int]:
    """Entries of one file as an import would keep them, and the number of row errors."""
    fmt, rows = readers.read_any(path.read_bytes(), path.name)
    kept: dict[tuple[str, str], Entry] = {}
    errors = sum(len(r.errors) for r in rows)
    for r in rows:
        if any(e.field == "name" for e in r.errors):
            continue
        try:
            values = _normalised(RecordIn.model_validate(r.data))
        except ValidationError as exc:
            errors += len(exc.errors())
            continue
        k = (values["kind"], values["key"])
        if k in kept:
            errors += 1
            continue
        kept[k] = to_entry(SimpleNamespace(id=len(kept) + 1, **values))
    return fmt, list(kept.values()), errors


def _pair(systems: list[dupes.System], p: dupes.Candidate) -> str:
    a, b = systems[p.i], systems[p.j]
    return f"{a.name} ({a.provider}) ⇄ {b.name} ({b.provider}) {p.score}"


def audit_file(path: Path, today: date, shacl: bool) -> dict[str, object]:
    started = time.perf_counter()
    fmt, entries, row_errors = load(path)
    active = rules.activate({"dcat-ap-shacl": {"enabled": shacl}})
    found = rules.audit(entries, active, rules.Context(today))
    t_rules = time.perf_counter() - started
    t0 = time.perf_counter()
    if shacl:
        found += dcat.shacl_findings(entries, dcat.CatalogInfo(path.stem, path.stem, path.stem))
    t_shacl = time.perf_counter() - t0
    t0 = time.perf_counter()
    systems = [
        dupes.System(e.key, e.name, e.summary, e.functions, tuple(i.name for i in e.items), e.provider)
        for e in entries
    ]
    pairs = dupes.find_duplicates(systems, prefixes=JURISDICTIONS, threshold=0.8)
    cross = [p for p in pairs if systems[p.i].provider != systems[p.j].provider]
    t_dupes = time.perf_counter() - t0
    return {
        "file": path.name,
        "format": fmt,
        "records": len(entries),
        "applications": sum(e.kind == "application" for e in entries),
        "row_errors": row_errors,
        "problems": len(found),
        "records_with_problems": len({f.key for f in found}),
        "by_rule": Counter(f.rule_id for f in found),
        "by_field": Counter(f"{f.rule_id}:{f.field}" for f in found),
        "dupe_pairs": len(pairs),
        "dupe_pairs_cross_provider": len(cross),
        "example": next((_pair(systems, p) for p in cross), ""),
        "seconds": {"rules": round(t_rules, 2), "shacl": round(t_shacl, 2), "dupes": round(t_dupes, 2)},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--date", default=date.today().isoformat())
    parser.add_argument("--no-shacl", action="store_true")
    parser.add_argument("--data", type=Path, default=DATA)
    args = parser.parse_args()
    files = sorted(args.data.glob("*.json")) if args.data.is_dir() else []
    if not files:
        print(f"shared catalogs not found at {args.data}: nothing to audit (skipped)")
        return 0
    rule_ids = list(rules.RULES)
    results = [audit_file(f, date.fromisoformat(args.date), not args.no_shacl) for f in files]
    print(f"reference date {args.date}; default rule set{'' if args.no_shacl else ' + dcat-ap-shacl'}\n")
    header = [
        "file",
        "records",
        "row err",
        *rule_ids,
        "problems",
        "records w/ problems",
        "dupe pairs (cross)",
    ]
    print(" | ".join(header))
    for r in results:
        by_rule = r["by_rule"]
        assert isinstance(by_rule, Counter)
        cells = [r["file"], r["records"], r["row_errors"], *(by_rule.get(i, 0) for i in rule_ids)]
        cells += [
            r["problems"],
            r["records_with_problems"],
            f"{r['dupe_pairs']} ({r['dupe_pairs_cross_provider']})",
        ]
        print(" | ".join(str(c) for c in cells))
    print()
    for r in results:
        by_field = r["by_field"]
        assert isinstance(by_field, Counter)
        top = ", ".join(f"{k} {n}" for k, n in by_field.most_common(8))
        print(f"{r['file']}: {top}\n  seconds {r['seconds']}\n  cross-provider example: {r['example']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
