"""Turn results into strict JSON: numpy scalars and arrays to Python, non-finite floats to null."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np

__all__ = ["dumps", "jsonable"]


def jsonable(value: Any) -> Any:
    """``value`` with every float finite or None, numpy types as Python types."""
    if isinstance(value, bool | str | None):
        return value
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if isinstance(value, np.generic):
        return jsonable(value.item())
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, int):
        return value
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    return str(value)


def dumps(value: Any) -> bytes:
    """Compact strict JSON of ``value`` (see :func:`jsonable`)."""
    return json.dumps(jsonable(value), allow_nan=False, separators=(",", ":")).encode()
