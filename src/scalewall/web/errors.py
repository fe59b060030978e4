"""Errors the web app answers with 422 (and 413), in FastAPI's validation-error shape.

Every body is ``{"error": Name, "detail": [{"loc", "msg", "type", "field", "rule", "value"}]}``:
``loc``/``msg``/``type`` as FastAPI reports a request that fails validation, plus ``field``
(the request field at fault, where known), ``rule`` (what it broke: ``cap``, ``catalog``,
``range`` ...) and ``value`` (what was received).
"""

from __future__ import annotations

import re
from typing import Any

from scalewall._errors import (
    CatalogFileError,
    InvalidLayout,
    PlannerError,
    UnknownCatalogEntry,
)

__all__ = ["CapExceeded", "cap_detail", "planner_detail"]

# Catalog kinds (as UnknownCatalogEntry names them) -> request field.
_KIND_FIELD = {"accelerator": "hardware", "model": "model", "region": "region",
               "PUE preset": "pue", "catalog entry": "name"}
_FIELD = re.compile(r"^(?:[^:]*: )?(?:--)?([a-z_]+)(?:=| must| exceeds| is| as)")
_GOT = re.compile(r"got (.+?)\)?$")


class CapExceeded(Exception):
    """A request whose computation would exceed a cap of :class:`~scalewall.web.limits.Limits`."""

    def __init__(self, field: str, cap_name: str, cap: float, value: float, what: str) -> None:
        self.field, self.cap_name, self.cap, self.value = field, cap_name, cap, value
        super().__init__(f"{what} is {value:,.0f}, over the cap {cap_name}={cap:,.0f}; "
                         f"reduce {field}")


def cap_detail(exc: CapExceeded) -> dict[str, Any]:
    return {"error": "CapExceeded", "detail": [{
        "loc": ["body", exc.field], "msg": str(exc), "type": "cap_exceeded",
        "field": exc.field, "rule": "cap", "cap": exc.cap_name, "cap_value": exc.cap,
        "value": exc.value,
    }]}


def planner_detail(exc: PlannerError, *, default_field: str | None = None) -> dict[str, Any]:
    """A :class:`PlannerError` as a 422 body; the field is read off the error where the message
    names it (the planners write ``name must ...`` or ``name=value exceeds ...``)."""
    msg = str(exc)
    field: str | None
    value: Any = None
    if isinstance(exc, UnknownCatalogEntry):
        field, rule, value = _KIND_FIELD.get(exc.kind, exc.kind), "catalog", exc.name
        extra: dict[str, Any] = {"suggestions": list(exc.close_matches)}
    else:
        match = _FIELD.match(msg)
        field = match.group(1) if match else default_field
        got = _GOT.search(msg)
        value = got.group(1) if got else None
        rule = ("layout" if isinstance(exc, InvalidLayout) else
                "file" if isinstance(exc, CatalogFileError) else "range")
        extra = {}
    loc: list[str] = ["body", field] if field else ["body"]
    return {"error": type(exc).__name__, "detail": [{
        "loc": loc, "msg": msg, "type": type(exc).__name__, "field": field, "rule": rule,
        "value": value, **extra,
    }]}
