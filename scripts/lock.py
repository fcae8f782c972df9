"""Write requirements.lock: the installed versions of everything pyproject.toml needs (with the dev extra),
followed transitively. Packages in the venv that the project does not need (a training-only torch, a
profiler) stay out. Run after installing a new dependency: ``.venv/bin/python scripts/lock.py``."""

from __future__ import annotations

import re
import sys
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
EXTRAS = ("dev", "cluster")


def _name(req: str) -> str:
    return re.split(r"[\s\[<>=!~;]", req, maxsplit=1)[0].lower().replace("_", "-")


def closure(roots: list[Requirement]) -> dict[str, str]:
    env = default_environment()
    seen: dict[str, str] = {}
    todo = list(roots)
    while todo:
        req = todo.pop()
        key = req.name.lower().replace("_", "-")
        if key in seen or key == "gongzhi":
            continue
        try:
            dist = metadata.distribution(req.name)
        except metadata.PackageNotFoundError:
            sys.exit(f"{req.name} is required but not installed: install the project first")
        seen[key] = f"{dist.metadata['Name']}=={dist.version}"
        for raw in dist.requires or []:
            sub = Requirement(raw)
            extras = {e for e in req.extras} or {""}
            if sub.marker is None or any(sub.marker.evaluate({**env, "extra": e}) for e in extras):
                todo.append(sub)
    return seen


def main() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = [Requirement(r) for r in project["dependencies"]]
    for extra in EXTRAS:
        reqs += [Requirement(r) for r in project.get("optional-dependencies", {}).get(extra, [])]
    pins = sorted(closure(reqs).values(), key=str.lower)
    (ROOT / "requirements.lock").write_text("\n".join(pins) + "\n")
    print(f"requirements.lock: {len(pins)} pinned packages")


if __name__ == "__main__":
    main()
