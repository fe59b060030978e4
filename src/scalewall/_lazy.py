"""Lazy re-exports for package ``__init__`` modules.

A package lists its public names and the submodule each comes from; the submodule is imported
on first use. ``import scalewall.laws.cli`` (for the command line) then costs nothing for
the rest of ``scalewall.laws``, which keeps ``scalewall train`` under its start-up budget.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def lazy_getattr(package: str, exports: dict[str, str],
                 namespace: dict[str, Any]) -> Callable[[str], Any]:
    """A module-level ``__getattr__`` importing ``exports[name]`` on first access."""

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    return __getattr__
