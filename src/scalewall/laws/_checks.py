"""Validation at the public boundary of scalewall.laws: messages name function, parameter,
rule and value."""

from __future__ import annotations

from typing import Any

import numpy as np

from scalewall._errors import InvalidParameter


def check_positive(function: str, name: str, value: Any, *, allow_zero: bool = False) -> None:
    """Raise InvalidParameter unless every element of ``value`` is finite and > 0 (>= 0)."""
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise InvalidParameter(
            f"{function}: {name} must be a number or an array of numbers, got {value!r}"
        ) from None
    bad = ~np.isfinite(arr) | ((arr < 0) if allow_zero else (arr <= 0))
    if np.any(bad):
        first = arr[bad].flat[0] if arr.ndim else float(arr)
        rule = ">= 0" if allow_zero else "> 0"
        where = "" if arr.ndim == 0 else f" (first offending element {first!r})"
        shown = value if arr.ndim == 0 else first
        raise InvalidParameter(
            f"{function}: {name} must be finite and {rule}, got {shown!r}{where}"
        )


def as_float(value: Any) -> Any:
    """A float for a 0-d result (scalar in gives scalar out), else the array."""
    arr = np.asarray(value, dtype=float)
    return float(arr) if arr.ndim == 0 else arr
