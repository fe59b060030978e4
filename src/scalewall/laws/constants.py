"""Scaling-law constants, text stocks and planning assumptions from ``catalog/laws.toml``.

The file is validated on load with the main catalog's rules (every entry has ``source_url``,
``source_title``, ``retrieved`` and an optional ``note``; unknown keys and bad values are
errors naming file, entry, field, rule and value). Users add or override entries with their own
files (``--laws-catalog FILE`` or ``SCALEWALL_LAWS_CATALOG=FILE[:FILE...]``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from scalewall._errors import CatalogFileError, UnknownCatalogEntry
from scalewall.arch.model import Provenance
from scalewall.catalog import (
    CATALOG_DIR,
    _Entry,
    _resolve,
    constant_entries,
    read_catalog_file,
)

__all__ = [
    "ChinchillaLaw",
    "DataStock",
    "KaplanLaw",
    "LawCatalog",
    "RepetitionConstants",
    "get_laws_catalog",
    "load_laws_catalog",
]

LAWS_FILE = CATALOG_DIR / "laws.toml"
_PARAMS = ("e", "a", "b", "alpha", "beta")


@dataclass(frozen=True)
class ChinchillaLaw:
    """:math:`L(N, D) = E + A/N^\\alpha + B/D^\\beta` (N all parameters, D tokens, L nats/token)."""

    id: str
    name: str
    e: float
    a: float
    b: float
    alpha: float
    beta: float
    ci95: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    provenance: Provenance = field(default_factory=Provenance)
    form: str = "chinchilla"

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "form": self.form, "E": self.e, "A": self.a,
                "B": self.b, "alpha": self.alpha, "beta": self.beta,
                "ci95": {k: list(v) for k, v in self.ci95.items()},
                "source": self.provenance.source_title, "source_url": self.provenance.source_url}


@dataclass(frozen=True)
class KaplanLaw:
    """Kaplan et al. 2020 eq. 1.5 and their compute-efficient model size (N non-embedding)."""

    id: str
    name: str
    n_c: float
    alpha_n: float
    d_c: float
    alpha_d: float
    opt_n_prefactor: float
    opt_n_exponent: float
    provenance: Provenance = field(default_factory=Provenance)
    form: str = "kaplan"

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "form": self.form, "N_c": self.n_c,
                "alpha_N": self.alpha_n, "D_c": self.d_c, "alpha_D": self.alpha_d,
                "opt_n_prefactor": self.opt_n_prefactor, "opt_n_exponent": self.opt_n_exponent,
                "source": self.provenance.source_title, "source_url": self.provenance.source_url}


Law = ChinchillaLaw | KaplanLaw


@dataclass(frozen=True)
class RepetitionConstants:
    """Muennighoff et al. 2023 decay constants of repeated tokens and excess parameters."""

    id: str
    r_d_star: float
    r_n_star: float
    provenance: Provenance = field(default_factory=Provenance)


@dataclass(frozen=True)
class DataStock:
    """A stock of unique tokens: median and interval."""

    id: str
    name: str
    tokens: float
    tokens_low: float
    tokens_high: float
    interval: str
    provenance: Provenance = field(default_factory=Provenance)


@dataclass(frozen=True)
class LawCatalog:
    """All entries of the laws catalog, by id."""

    laws: Mapping[str, Law]
    repetition: Mapping[str, RepetitionConstants]
    stocks: Mapping[str, DataStock]
    assumptions: Mapping[str, float]
    assumption_sources: Mapping[str, Provenance]
    files: tuple[str, ...] = ()

    def law(self, name: str) -> Law:
        return _resolve("scaling law", name, self.laws)

    def chinchilla(self, name: str) -> ChinchillaLaw:
        """A law of the form E + A/N^alpha + B/D^beta (every law but Kaplan's)."""
        law = self.law(name)
        if not isinstance(law, ChinchillaLaw):
            known = [k for k, v in self.laws.items() if isinstance(v, ChinchillaLaw)]
            raise UnknownCatalogEntry("Chinchilla-form scaling law", name, known)
        return law

    def stock(self, name: str) -> DataStock:
        return _resolve("data stock", name, self.stocks)

    def repeat(self, name: str = "muennighoff2023") -> RepetitionConstants:
        return _resolve("repetition fit", name, self.repetition)

    def assumption(self, name: str) -> float:
        if name not in self.assumptions:
            raise UnknownCatalogEntry("laws assumption", name, self.assumptions)
        return self.assumptions[name]


_ASSUMPTIONS = ("max_free_epochs", "synthetic_tokens_per_kept",
                "synthetic_prompt_tokens_per_kept", "decode_batch")


def _interval(entry: _Entry, key: str) -> tuple[float, float] | None:
    value = entry.get(key)
    if value is None:
        return None
    ok = (isinstance(value, list) and len(value) == 2
          and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
          and value[0] <= value[1])
    if not ok:
        raise entry.fail(key, "must be [low, high] with low <= high", value)
    return float(value[0]), float(value[1])


def _law(entry: _Entry, key: str) -> Law:
    form = entry.text("form", required=True, choices=("chinchilla", "kaplan"))
    name = entry.text("name") or key
    prov = entry.provenance()
    law: Law
    if form == "chinchilla":
        v = {p: entry.number(p, required=True) or 0.0 for p in _PARAMS}
        ci = {p: iv for p in _PARAMS if (iv := _interval(entry, f"ci95_{p}")) is not None}
        law = ChinchillaLaw(id=key, name=name, e=v["e"], a=v["a"], b=v["b"], alpha=v["alpha"],
                            beta=v["beta"], ci95=ci, provenance=prov)
    else:
        k = {p: entry.number(p, required=True) or 0.0
             for p in ("n_c", "alpha_n", "d_c", "alpha_d", "opt_n_prefactor", "opt_n_exponent")}
        law = KaplanLaw(id=key, name=name, n_c=k["n_c"], alpha_n=k["alpha_n"], d_c=k["d_c"],
                        alpha_d=k["alpha_d"], opt_n_prefactor=k["opt_n_prefactor"],
                        opt_n_exponent=k["opt_n_exponent"], provenance=prov)
    entry.finish()
    return law


def _repetition(entry: _Entry, key: str) -> RepetitionConstants:
    out = RepetitionConstants(
        id=key, r_d_star=entry.number("r_d_star", required=True) or 0.0,
        r_n_star=entry.number("r_n_star", required=True) or 0.0, provenance=entry.provenance(),
    )
    entry.finish()
    return out


def _stock(entry: _Entry, key: str) -> DataStock:
    tokens = entry.number("tokens", required=True) or 0.0
    low = entry.number("tokens_low") or tokens
    high = entry.number("tokens_high") or tokens
    if not low <= tokens <= high:
        raise entry.fail("tokens_low, tokens, tokens_high", "must be in increasing order",
                         [low, tokens, high])
    out = DataStock(id=key, name=entry.text("name") or key, tokens=tokens, tokens_low=low,
                    tokens_high=high, interval=entry.text("interval") or "point estimate",
                    provenance=entry.provenance())
    entry.finish()
    return out


_SECTIONS = {"laws": _law, "repetition": _repetition, "stocks": _stock}


def load_laws_catalog(extra_files: Sequence[str | Path] = ()) -> LawCatalog:
    """Load ``catalog/laws.toml`` and then each extra file (later entries override earlier).

    Raises
    ------
    CatalogFileError
        A file is missing, not TOML, or breaks the schema; the message names the file, the
        entry, the field, the rule and the value.
    """
    return _load(tuple(str(Path(f)) for f in extra_files))


@lru_cache(maxsize=8)
def _load(extra_files: tuple[str, ...]) -> LawCatalog:
    tables: dict[str, dict[str, Any]] = {name: {} for name in _SECTIONS}
    assumptions: dict[str, float] = {}
    sources: dict[str, Provenance] = {}
    paths = [LAWS_FILE, *(Path(f) for f in extra_files)]
    for path in paths:
        origin, built, data = read_catalog_file(path, _SECTIONS, extra=("assumptions",))
        for section, entries in built.items():
            tables[section].update(entries)
        for name, entry in constant_entries(origin, data, "assumptions", _ASSUMPTIONS):
            assumptions[name] = entry.number("value", required=True) or 0.0
            sources[name] = entry.provenance()
            entry.finish()
    missing = [n for n in _ASSUMPTIONS if n not in assumptions]
    if missing:
        raise CatalogFileError(f"laws.toml: missing assumptions {missing}")
    return LawCatalog(laws=tables["laws"], repetition=tables["repetition"],
                      stocks=tables["stocks"], assumptions=assumptions,
                      assumption_sources=sources, files=tuple(str(p) for p in paths))


def get_laws_catalog(extra_files: Sequence[str | Path] = ()) -> LawCatalog:
    """The laws catalog with ``SCALEWALL_LAWS_CATALOG`` files and ``extra_files`` added."""
    env = os.environ.get("SCALEWALL_LAWS_CATALOG", "")
    return load_laws_catalog([*(f for f in env.split(os.pathsep) if f), *extra_files])
