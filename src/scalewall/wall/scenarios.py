"""Scenarios: the baseline inputs and named or user-written variations of them, read from TOML.

A scenario file has a ``[scenario]`` table (``name``, ``description``, optional ``base``, the
scenario it modifies, default ``"baseline"``), optional ``[trend]``, ``[inputs.NAME]`` tables
with ``p10``/``p50``/``p90`` (or ``value``), ``scale`` and provenance, and ``[[correlations]]``
(``a``, ``b``, ``spearman``). Built-in scenarios live in ``scalewall/catalog/wall/``. Every
error names the file, the table, the rule and the value, and unknown names get close matches.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from scalewall._errors import CatalogFileError, InvalidParameter, UnknownCatalogEntry
from scalewall.catalog import CATALOG_DIR
from scalewall.wall.inputs import INPUTS, Correlation, Distribution, copula_cholesky

__all__ = ["SCENARIO_DIR", "Scenario", "Trend", "list_scenarios", "load_scenario"]

SCENARIO_DIR = CATALOG_DIR / "wall"
_NOT_SCENARIOS = ("villalobos2024",)
_PROVENANCE = ("source_url", "source_title", "retrieved")
_INPUT_KEYS = {"p10", "p50", "p90", "value", "scale", "note", *_PROVENANCE}
_FLOP_BASES = ("physical", "effective")


@dataclass(frozen=True)
class Trend:
    """Frontier training compute on trend: ``flop_2024 * growth_per_year ** (year - 2024)``."""

    flop_2024: float
    growth_per_year: float
    source_title: str = ""


@dataclass(frozen=True)
class Scenario:
    """Every input distribution, the correlations between them and the trend."""

    name: str
    description: str
    inputs: Mapping[str, Distribution]
    correlations: tuple[Correlation, ...]
    trend: Trend
    flop_basis: str = "physical"
    files: tuple[str, ...] = field(default=())

    def with_inputs(self, **overrides: Distribution) -> Scenario:
        """A copy with some inputs replaced (checked like a scenario file)."""
        unknown = [k for k in overrides if k not in INPUTS]
        if unknown:
            raise _unknown_input(unknown[0], "with_inputs")
        for name, dist in overrides.items():
            dist.check(name, INPUTS[name], where="with_inputs")
        return replace(self, inputs={**self.inputs, **overrides})


def list_scenarios() -> list[str]:
    """Names of the built-in scenarios."""
    return sorted(p.stem for p in SCENARIO_DIR.glob("*.toml") if p.stem not in _NOT_SCENARIOS)


def _unknown_input(name: str, where: str) -> InvalidParameter:
    close = difflib.get_close_matches(name, list(INPUTS), n=3, cutoff=0.6)
    hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else \
        "; see docs/wall.md for the inputs"
    return InvalidParameter(f"{where}: unknown input {name!r}{hint}")


def load_scenario(name_or_path: str | Path) -> Scenario:
    """Load a built-in scenario by name, or a scenario TOML file by path.

    Raises
    ------
    UnknownCatalogEntry
        For a name that is neither a built-in scenario nor an existing file.
    CatalogFileError, InvalidParameter
        For a malformed file: unknown keys or inputs (with close matches), p10 > p50,
        negative quantities, inconsistent correlations.

    Examples
    --------
    >>> load_scenario("baseline").trend.growth_per_year
    4.1
    """
    return _load(name_or_path, seen=())


def _locate(name_or_path: str | Path) -> Path:
    text = str(name_or_path)
    path = Path(text)
    if text.endswith(".toml") or path.exists() or "/" in text:
        if not path.is_file():
            raise CatalogFileError(f"scenario file {text!r} does not exist")
        return path
    builtin = SCENARIO_DIR / f"{text.strip().lower()}.toml"
    if text.strip().lower() in _NOT_SCENARIOS or not builtin.is_file():
        raise UnknownCatalogEntry("scenario", text, list_scenarios())
    return builtin


def _load(name_or_path: str | Path, *, seen: tuple[str, ...]) -> Scenario:
    path = _locate(name_or_path)
    origin = path.name if path.parent == SCENARIO_DIR else str(path)
    if str(path.resolve()) in seen:
        raise CatalogFileError(f"{origin}: scenario bases form a loop ({' -> '.join(seen)})")
    try:
        with path.open("rb") as fh:
            raw = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise CatalogFileError(f"{origin}: not valid TOML: {exc}") from None
    _only(raw, {"scenario", "trend", "inputs", "correlations"}, origin, "top level")
    head = _table(raw.get("scenario", {}), origin, "[scenario]")
    _only(head, {"name", "description", "base", "flop_basis"}, origin, "[scenario]")
    name = _text(head, "name", origin, "[scenario]") or path.stem
    is_root = path.resolve() == (SCENARIO_DIR / "baseline.toml").resolve()
    base: Scenario | None = None
    if not is_root:
        base_name = _text(head, "base", origin, "[scenario]") or "baseline"
        if "/" in base_name or base_name.endswith(".toml"):  # a path, relative to this file
            base_name = str(path.parent / base_name)
        base = _load(base_name, seen=(*seen, str(path.resolve())))
    inputs: dict[str, Distribution] = dict(base.inputs) if base else {}
    raw_inputs = _table(raw.get("inputs", {}), origin, "[inputs]")
    for key, table in raw_inputs.items():
        if key not in INPUTS:
            raise _unknown_input(key, f"{origin}: [inputs]")
        inputs[key] = _distribution(key, _table(table, origin, f"[inputs.{key}]"), origin,
                                    require_source=path.parent == SCENARIO_DIR)
    missing = sorted(set(INPUTS) - set(inputs))
    if missing:
        raise CatalogFileError(f"{origin}: inputs missing: {', '.join(missing)}")
    correlations = {(c.a, c.b): c for c in (base.correlations if base else ())}
    raw_corr = raw.get("correlations", [])
    if not isinstance(raw_corr, list):
        raise CatalogFileError(f"{origin}: [[correlations]] must be an array of tables")
    for i, item in enumerate(raw_corr):
        c = _correlation(_table(item, origin, f"correlations[{i}]"), origin, i)
        for n in (c.a, c.b):
            if n not in INPUTS:
                raise _unknown_input(n, f"{origin}: correlations[{i}]")
        correlations.pop((c.b, c.a), None)
        correlations[(c.a, c.b)] = c
    trend = base.trend if base else None
    if "trend" in raw:
        t = _table(raw["trend"], origin, "[trend]")
        _only(t, {"flop_2024", "growth_per_year", "note", *_PROVENANCE}, origin, "[trend]")
        trend = Trend(
            flop_2024=_positive(t, "flop_2024", origin, "[trend]"),
            growth_per_year=_positive(t, "growth_per_year", origin, "[trend]"),
            source_title=str(t.get("source_title", "")),
        )
    if trend is None:
        raise CatalogFileError(f"{origin}: [trend] is required in the root scenario")
    basis = _text(head, "flop_basis", origin, "[scenario]") or (
        base.flop_basis if base else "physical")
    if basis not in _FLOP_BASES:
        raise CatalogFileError(
            f"{origin}: [scenario] flop_basis must be one of {', '.join(_FLOP_BASES)}, "
            f"got {basis!r}")
    scenario = Scenario(
        name=name,
        description=_text(head, "description", origin, "[scenario]"),
        inputs=inputs,
        correlations=tuple(correlations.values()),
        trend=trend,
        flop_basis=basis,
        files=(*(base.files if base else ()), origin),
    )
    _check_correlations(scenario, origin)
    return scenario


def _check_correlations(scenario: Scenario, origin: str) -> None:
    random = {n for n, d in scenario.inputs.items() if not d.is_constant}
    active = [c for c in scenario.correlations if c.a in random and c.b in random]
    names = sorted({n for c in active for n in (c.a, c.b)})
    if names:
        copula_cholesky(names, active, where=f"{origin}: correlations")


def _only(table: Mapping[str, Any], allowed: set[str], origin: str, where: str) -> None:
    for key in table:
        if key not in allowed:
            close = difflib.get_close_matches(key, sorted(allowed), n=3, cutoff=0.6)
            hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else \
                f"; allowed: {', '.join(sorted(allowed))}"
            raise CatalogFileError(f"{origin}: {where}: unknown key {key!r}{hint}")


def _table(value: Any, origin: str, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise CatalogFileError(f"{origin}: {where} must be a table, got {value!r}")
    return value


def _text(table: Mapping[str, Any], key: str, origin: str, where: str) -> str:
    value = table.get(key, "")
    if not isinstance(value, str):
        raise CatalogFileError(f"{origin}: {where} {key} must be a string, got {value!r}")
    return value


def _number(table: Mapping[str, Any], key: str, origin: str, where: str) -> float:
    value = table.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise CatalogFileError(f"{origin}: {where} {key} must be a number, got {value!r}")
    return float(value)


def _positive(table: Mapping[str, Any], key: str, origin: str, where: str) -> float:
    value = _number(table, key, origin, where)
    if not value > 0:
        raise InvalidParameter(f"{origin}: {where} {key} must be > 0, got {value!r}")
    return value


def _distribution(name: str, table: dict[str, Any], origin: str, *,
                  require_source: bool) -> Distribution:
    where = f"{origin}: [inputs.{name}]"
    _only(table, _INPUT_KEYS, origin, f"[inputs.{name}]")
    if "value" in table:
        if any(k in table for k in ("p10", "p50", "p90")):
            raise CatalogFileError(f"{where}: give either value or p10/p50/p90, not both")
        v = _number(table, "value", origin, f"[inputs.{name}]")
        p10 = p50 = p90 = v
    else:
        absent = [k for k in ("p10", "p50", "p90") if k not in table]
        if absent:
            raise CatalogFileError(f"{where}: {', '.join(absent)} required (or value)")
        p10, p50, p90 = (_number(table, k, origin, f"[inputs.{name}]")
                         for k in ("p10", "p50", "p90"))
    if require_source:
        for key in _PROVENANCE:
            if not _text(table, key, origin, f"[inputs.{name}]"):
                raise CatalogFileError(f"{where}: {key} is required (a string)")
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", str(table["retrieved"])):
            raise CatalogFileError(f"{where}: retrieved must be a date YYYY-MM-DD, got "
                                   f"{table['retrieved']!r}")
    dist = Distribution(
        p10=p10, p50=p50, p90=p90, scale=_text(table, "scale", origin, where) or "log",
        source_url=_text(table, "source_url", origin, where),
        source_title=_text(table, "source_title", origin, where),
        retrieved=_text(table, "retrieved", origin, where),
        note=_text(table, "note", origin, where),
    )
    dist.check(name, INPUTS[name], where=origin)
    return dist


def _correlation(table: dict[str, Any], origin: str, i: int) -> Correlation:
    where = f"correlations[{i}]"
    _only(table, {"a", "b", "spearman", "note", *_PROVENANCE}, origin, where)
    rho = _number(table, "spearman", origin, where)
    if not -1.0 < rho < 1.0:
        raise InvalidParameter(f"{origin}: {where} spearman must be in (-1, 1), got {rho!r}")
    a, b = _text(table, "a", origin, where), _text(table, "b", origin, where)
    if not a or not b or a == b:
        raise CatalogFileError(f"{origin}: {where} needs two different inputs a and b, got "
                               f"{a!r} and {b!r}")
    return Correlation(a=a, b=b, spearman=rho,
                       source_url=str(table.get("source_url", "")),
                       source_title=str(table.get("source_title", "")),
                       retrieved=str(table.get("retrieved", "")),
                       note=str(table.get("note", "")))
