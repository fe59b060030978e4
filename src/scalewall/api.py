"""Helpers shared by the shells (CLI, web): look up and describe catalog entries."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any

from scalewall._errors import UnknownCatalogEntry
from scalewall.arch.counts import n_active_params, n_params
from scalewall.arch.hf import from_hf_config as read_hf_config
from scalewall.arch.model import Architecture
from scalewall.catalog import get_catalog
from scalewall.hardware import Accelerator, PuePreset, Region
from scalewall.train.plan import plan_training

__all__ = ["describe", "find_entry", "plan_training", "read_hf_config"]


def find_entry(name: str, *, extra_files: Sequence[str | Path] = ()) -> Any:
    """The catalog entry called ``name`` (any kind), or an error listing close matches."""
    cat = get_catalog(extra_files)
    lookups = (cat.accelerator, cat.model, cat.region, cat.pue)
    for lookup in lookups:
        try:
            return lookup(name)
        except UnknownCatalogEntry:
            continue
    names = [*cat.accelerators, *cat.models, *cat.regions, *cat.pue_presets]
    names += [a for acc in cat.accelerators.values() for a in acc.aliases]
    names += [a for model in cat.models.values() for a in model.aliases]
    raise UnknownCatalogEntry("catalog entry", name, names)


def describe(entry: Any) -> dict[str, Any]:
    """A JSON-ready description of a catalog entry, in SI units, with its source."""
    if not is_dataclass(entry):
        raise TypeError(f"not a catalog entry: {entry!r}")
    data = asdict(entry)  # type: ignore[arg-type]
    kind = {Accelerator: "accelerator", Architecture: "model", Region: "region",
            PuePreset: "pue"}.get(type(entry), "entry")
    data = {"kind": kind, **data}
    if isinstance(entry, Architecture):
        data["n_params"] = n_params(entry)
        data["n_active_params"] = n_active_params(entry)
    data["aliases"] = list(data.get("aliases", []))
    return data
