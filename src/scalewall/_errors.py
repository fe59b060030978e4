"""Errors raised by scalewall.

Every error a user can cause derives from :class:`PlannerError`; the CLI and the web app
catch it and print ``ErrorName: message`` without a traceback::

    PlannerError
    ├── UnknownCatalogEntry (also KeyError)    an unknown model, accelerator, region ...
    ├── InvalidParameter (also ValueError)     a value outside its allowed range or set
    │   └── InvalidLayout                      a parallel layout that cannot be built
    ├── CatalogFileError (also ValueError)     a malformed catalog, config.json or CSV file
    ├── MeasureError                           (scalewall.measure) measuring went wrong
    │   └── MeasureUnavailable                 no GPU, NVML or torch for what was asked
    └── RegistryError                          (scalewall.measure) the run registry
        └── RegistryRefused                    a file that is not ours, or a newer schema
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = [
    "CatalogFileError",
    "InvalidLayout",
    "InvalidParameter",
    "PlannerError",
    "UnknownCatalogEntry",
]


class PlannerError(Exception):
    """Base class of every error a user's input can cause."""


class UnknownCatalogEntry(PlannerError, KeyError):
    """A name that is not in the catalog; the message suggests close matches."""

    def __init__(self, kind: str, name: str, known: Iterable[str]) -> None:
        known = sorted(known)
        close = difflib.get_close_matches(name.lower(), known, n=4, cutoff=0.5)
        hint = (
            f"did you mean {', '.join(repr(c) for c in close)}?"
            if close
            else f"known {kind}s: {', '.join(known[:12])}{' ...' if len(known) > 12 else ''}"
        )
        self.kind, self.name, self.close_matches = kind, name, close
        super().__init__(f"unknown {kind} {name!r}; {hint} (see `scalewall catalog list`)")

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class InvalidParameter(PlannerError, ValueError):
    """A parameter outside its allowed range or set of choices."""


class InvalidLayout(InvalidParameter):
    """A parallel layout that cannot be built (divisibility, device count)."""


class CatalogFileError(PlannerError, ValueError):
    """A malformed catalog file, Hugging Face config.json or validation CSV."""
