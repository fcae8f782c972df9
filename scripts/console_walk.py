"""Walk a running console as each role, in both languages, on a desk and a phone, and count what a user
should not see: pages that fail, stored codes and English words on zh-CN pages, tables wider than their card.

    python scripts/console_walk.py http://127.0.0.1:8021 [--shots DIR]

Needs the demo (``gongzhi demo``: password gongzhi-demo, region gongshu) and Debian's chromium, driven
through Playwright as in tests/web/test_browser.py. It visits the navigation of each role, one level of
links below it (one page per URL shape), and the public pages. A finding is a hint to look at the page:
data (names, titles the detectors write) can contain English too.
"""

from __future__ import annotations

import re
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

ROLES = ["gs_admin", "gs_dispatcher", "gs_urban", "gs_supervisor", "gs_viewer", "anon"]
PUBLIC = ["/intake/gongshu/", "/village/gongshu/dq01/opinions"]
WIDTHS = {"desk": {"width": 1366, "height": 900}, "phone": {"width": 390, "height": 844}}
SKIP = ("/logout", "/lang/", "/theme/", "/live/", "export", "report", ".csv", ".xlsx", ".json", "/files/")
CODE = re.compile(r"\b[a-z]+(?:[_.][a-z]+)+\b")  # string_offline, pv.soiling, intake:web is caught as intake
WORD = re.compile(r"\b[A-Za-z][a-z]{2,}\b")
PAGE = """() => {
  const texts = [], walker = document.createTreeWalker(document.querySelector('main') || document.body, 4);
  for (let n; (n = walker.nextNode()); ) {
    const p = n.parentElement, t = n.textContent.trim();
    const shown = p && p.offsetParent !== null && !['SCRIPT', 'STYLE', 'CODE', 'PRE'].includes(p.tagName);
    if (t && shown) texts.push(t);
  }
  const spill = [...document.querySelectorAll('main .card table')].filter(t =>
    t.getBoundingClientRect().right > t.closest('.card').getBoundingClientRect().right + 1).length;
  const links = [...document.querySelectorAll('main a[href], nav a[href]')].map(a => a.getAttribute('href'));
  return {texts, spill, links};
}"""


def shape(path: str) -> str:
    return re.sub(r"/\d+", "/N", path.split("?")[0]) + (
        "?" + path.split("?")[1].split("=")[0] if "?" in path else ""
    )


def walk(
    browser: Any, base: str, role: str, lang: str, width: str, shots: Path | None
) -> list[dict[str, Any]]:
    context = browser.new_context(viewport=WIDTHS[width])
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{base}/lang/{lang}?next=/login")
    start = list(PUBLIC)
    if role != "anon":
        page.fill("#username", role)
        page.fill("#password", "gongzhi-demo")
        page.press("#password", "Enter")
        page.wait_for_url(base + "/")
        start = ["/", *page.eval_on_selector_all("nav#nav a", "es => es.map(e => e.getAttribute('href'))")]
    seen, queue, rows = set(), list(start), []
    while queue:
        path = queue.pop(0)
        if urlparse(path).netloc or not path.startswith("/") or any(s in path for s in SKIP):
            continue
        if shape(path) in seen:
            continue
        seen.add(shape(path))
        response = page.goto(base + path)
        found = page.evaluate(PAGE)
        text = " ".join(found["texts"])
        rows.append(
            {
                "page": shape(path),
                "status": response.status if response else 0,
                "codes": set(CODE.findall(text)),
                "english": set(WORD.findall(text)) if lang == "zh_CN" else set(),
                "spill": found["spill"],
                "errors": list(errors),
            }
        )
        errors.clear()
        if shots:
            name = f"{role}-{lang}-{width}-{shape(path).strip('/').replace('/', '_') or 'home'}.png"
            page.screenshot(path=str(shots / name), full_page=True)
        if path in start:
            queue += [h for h in found["links"] if h]
    context.close()
    return rows


def main(argv: list[str]) -> int:
    from playwright.sync_api import sync_playwright

    base = argv[0].rstrip("/") if argv else "http://127.0.0.1:8021"
    shots = Path(argv[argv.index("--shots") + 1]) if "--shots" in argv else None
    if shots:
        shots.mkdir(parents=True, exist_ok=True)
    totals: dict[str, Any] = defaultdict(int)
    codes: dict[str, set[str]] = defaultdict(set)
    english: dict[str, set[str]] = defaultdict(set)
    spills: dict[str, int] = defaultdict(int)
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"]
        )
        for role in ROLES:
            for lang in ("zh_CN", "en"):
                for width in WIDTHS:
                    for row in walk(browser, base, role, lang, width, shots):
                        totals["pages"] += 1
                        totals["failed"] += row["status"] >= 400
                        totals["script errors"] += len(row["errors"])
                        totals["tables wider than their card"] += row["spill"]
                        spills[f"{row['page']} ({lang}, {width})"] += row["spill"]
                        if lang == "zh_CN":
                            codes[row["page"]] |= row["codes"]
                            english[row["page"]] |= row["english"]
                            totals["zh-CN pages with English words"] += bool(row["english"])
        browser.close()
    for key, value in totals.items():
        print(f"{key:40} {value}")
    print(f"{'zh-CN page shapes showing codes':40} {sum(1 for v in codes.values() if v)} of {len(codes)}")
    print(f"{'distinct codes on zh-CN pages':40} {len(set().union(*codes.values()))}")
    print(f"{'distinct English words on zh-CN pages':40} {len(set().union(*english.values()))}")
    for title, table in (("codes", codes), ("English words", english)):
        print(f"zh-CN {title} by page:")
        for page_shape, found in sorted(table.items()):
            if found:
                print(f"  {page_shape}: {', '.join(sorted(found))[:150]}")
    print("tables wider than their card:", ", ".join(f"{k} {v}" for k, v in sorted(spills.items()) if v))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
