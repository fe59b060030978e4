"""Pieces every command module shares: JSON output, user errors, amounts like ``15.6T``."""

from __future__ import annotations

import json
import math
import re
import sys
from typing import Any, NoReturn

import numpy as np
import typer
from rich.console import Console
from rich.markup import escape

from scalewall._errors import InvalidParameter

__all__ = ["err_console", "fail", "jsonable", "parse_amount", "print_json"]

err_console = Console(stderr=True)
_SUFFIX = {"": 1.0, "k": 1e3, "m": 1e6, "b": 1e9, "g": 1e9, "t": 1e12, "p": 1e15}


def fail(exc: Exception) -> NoReturn:
    """Print ``ErrorName: message`` on stderr and exit 1 (no traceback for a user's mistake)."""
    # the message is text, not markup: "[planner.x]" in a catalog error is a location
    err_console.print(f"[red]{type(exc).__name__}[/red]: {escape(str(exc))}", highlight=False,
                      soft_wrap=True)
    raise typer.Exit(1)


def jsonable(value: Any) -> Any:
    """``value`` with numpy types made plain and non-finite floats made ``None``."""
    if isinstance(value, float | np.floating):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def print_json(obj: Any) -> None:
    """One JSON object on stdout."""
    sys.stdout.write(json.dumps(jsonable(obj), indent=2, allow_nan=False) + "\n")


def parse_amount(text: str, *, name: str) -> float:
    """``15.6T`` -> 1.56e13; plain numbers and exponents also work (K, M, B/G, T, P)."""
    match = re.fullmatch(r"\s*([0-9.]+(?:e[+-]?\d+)?)\s*([kmbgtp]?)\s*", str(text).lower())
    value = math.nan
    if match:
        try:
            value = float(match.group(1)) * _SUFFIX[match.group(2)]
        except ValueError:
            value = math.nan
    if not (value > 0 and math.isfinite(value)):
        raise InvalidParameter(
            f"--{name} must be a positive number, optionally with K, M, B, T or P (e.g. 15.6T "
            f"or 1e24), got {text!r}"
        )
    return value
