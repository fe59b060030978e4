"""Errors, optional imports and small helpers shared by the measurement modules.

Error tree (all under :class:`scalewall._errors.PlannerError`, so the CLI prints them as
``ErrorName: message``)::

    PlannerError
    └── MeasureError                    a measurement cannot be taken or stored
        ├── MeasureUnavailable          PyTorch (or a GPU) that the measurement needs is absent
        └── RegistryError               the run registry cannot be used
            └── RegistryRefused         the file is not ours, or from a newer schema: untouched
"""

from __future__ import annotations

import importlib
import math
import sys
from typing import Any

from scalewall._errors import PlannerError

__all__ = [
    "MeasureError",
    "MeasureUnavailable",
    "RegistryError",
    "RegistryRefused",
    "import_torch",
    "jsonable",
    "notice",
]


class MeasureError(PlannerError):
    """A measurement that cannot be taken, stored or compared."""


class MeasureUnavailable(MeasureError):
    """A dependency of the measurement (PyTorch, a CUDA GPU, several GPUs) is missing."""


class RegistryError(MeasureError):
    """The run registry cannot be opened or does not hold what was asked for."""


class RegistryRefused(RegistryError):
    """A registry file that is not a scalewall registry, or was written by a newer scalewall.

    The file is never modified."""


def import_torch() -> Any:
    """PyTorch, imported on first use (it is an optional extra: ``scalewall[measure]``).

    Typed ``Any`` on purpose: the package type-checks without PyTorch installed.
    """
    try:
        return importlib.import_module("torch")
    except ImportError:
        raise MeasureUnavailable(
            "this measurement needs PyTorch; install it with `pip install 'scalewall[measure]'`"
        ) from None


def notice(message: str) -> None:
    """One line on standard error, for conditions that degrade but do not stop a measurement."""
    sys.stderr.write(f"scalewall: {message}\n")
    sys.stderr.flush()


def jsonable(value: Any) -> Any:
    """``value`` with non-finite floats replaced by ``None`` (strict JSON has no NaN)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value
