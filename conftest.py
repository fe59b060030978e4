"""Doctests run over src/scalewall too; modules whose optional dependencies are absent are
skipped rather than failing collection."""

from __future__ import annotations

import importlib.util

collect_ignore_glob: list[str] = []
for package, dependency in (("web", "fastapi"), ("measure", "torch")):
    if importlib.util.find_spec(dependency) is None:
        collect_ignore_glob.append(f"src/scalewall/{package}/*")
