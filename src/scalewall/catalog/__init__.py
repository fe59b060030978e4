"""The catalog: accelerators, models, regions and planner constants, loaded once, in SI units.

Built-in TOML files live beside this module; users add or override entries with their own
files (``--catalog FILE`` or ``SCALEWALL_CATALOG=FILE[:FILE...]``). Every entry is validated on
load and carries its source. See ``docs/catalog.md`` for the format.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

from scalewall._errors import CatalogFileError, InvalidParameter, UnknownCatalogEntry
from scalewall.arch.model import Architecture, Provenance
from scalewall.hardware import Accelerator, PlannerDefaults, PuePreset, Region
from scalewall.units import GB, GIB, KWH_J, MB, MIB, TB, TFLOP, YEAR_S

__all__ = ["CATALOG_DIR", "Catalog", "get_catalog", "load_catalog"]

CATALOG_DIR = Path(__file__).parent
_BUILTIN_FILES = ("accelerators.toml", "models.toml", "regions.toml", "defaults.toml")
_ID = re.compile(r"^[a-z0-9][a-z0-9.\-_]*$")
_PROVENANCE_KEYS = ("source_url", "source_title", "retrieved")
_PRECISIONS = ("fp32", "tf32", "bf16", "fp16", "fp8", "int8", "int4", "fp4", "mxfp4")


@dataclass(frozen=True)
class Catalog:
    """All catalog entries, by id, with alias resolution and close-match suggestions."""

    accelerators: Mapping[str, Accelerator]
    models: Mapping[str, Architecture]
    regions: Mapping[str, Region]
    pue_presets: Mapping[str, PuePreset]
    defaults: PlannerDefaults
    files: tuple[str, ...] = ()

    def accelerator(self, name: str) -> Accelerator:
        return _resolve("accelerator", name, self.accelerators)

    def model(self, name: str) -> Architecture:
        return _resolve("model", name, self.models)

    def region(self, name: str) -> Region:
        return _resolve("region", name, self.regions)

    def pue(self, name: str) -> PuePreset:
        return _resolve("PUE preset", name, self.pue_presets)


_E = TypeVar("_E")


def _resolve(kind: str, name: str, entries: Mapping[str, _E]) -> _E:
    key = name.strip().lower()
    if key in entries:
        return entries[key]
    for entry in entries.values():
        if key in getattr(entry, "aliases", ()):
            return entry
    names = list(entries)
    names += [a for e in entries.values() for a in getattr(e, "aliases", ())]
    raise UnknownCatalogEntry(kind, name, names)


# --- field checking -----------------------------------------------------------------------

class _Entry:
    """Reads one TOML table; every error names file, entry, field, rule and value."""

    def __init__(self, origin: str, section: str, key: str, table: Any) -> None:
        self.where = f"{origin}: [{section}.{key}]"
        if not isinstance(table, dict):
            raise CatalogFileError(f"{self.where} must be a table, got {type(table).__name__}")
        self.table: dict[str, Any] = table
        self.used: set[str] = set()

    def fail(self, key: str, rule: str, value: Any) -> CatalogFileError:
        return CatalogFileError(f"{self.where} {key}: {rule}, got {value!r}")

    def get(self, key: str) -> Any:
        self.used.add(key)
        return self.table.get(key)

    def number(
        self, key: str, *, scale: float = 1.0, required: bool = False, positive: bool = True,
        low: float | None = None, high: float | None = None,
    ) -> float | None:
        value = self.get(key)
        if value is None:
            if required:
                raise self.fail(key, "is required (a number)", None)
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(key, "must be a number", value)
        if positive and not value > 0:
            raise self.fail(key, "must be > 0", value)
        if (low is not None and value < low) or (high is not None and value > high):
            rule = (f"must be >= {low}" if high is None else f"must be <= {high}"
                    if low is None else f"must be in [{low}, {high}]")
            raise self.fail(key, rule, value)
        return float(value) * scale

    def integer(self, key: str, *, required: bool = False, minimum: int = 1) -> int | None:
        value = self.get(key)
        if value is None:
            if required:
                raise self.fail(key, "is required (an integer)", None)
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise self.fail(key, f"must be an integer >= {minimum}", value)
        return value

    def text(self, key: str, *, required: bool = False, choices: Sequence[str] = ()) -> str:
        value = self.get(key)
        if value is None:
            if required:
                raise self.fail(key, "is required (a string)", None)
            return ""
        if not isinstance(value, str):
            raise self.fail(key, "must be a string", value)
        if choices and value not in choices:
            raise self.fail(key, f"must be one of {', '.join(choices)}", value)
        return value

    def flag(self, key: str, default: bool = False) -> bool:
        value = self.get(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise self.fail(key, "must be true or false", value)
        return value

    def either(self, pairs: Sequence[tuple[str, float]], *, required: bool = False) -> float | None:
        """One of several keys that differ only in unit (``memory_gb`` or ``memory_gib``)."""
        given = [(k, s) for k, s in pairs if self.table.get(k) is not None]
        if len(given) > 1:
            names = " and ".join(k for k, _ in given)
            raise self.fail(names, "give only one of these", [self.table[k] for k, _ in given])
        if not given:
            if required:
                raise self.fail(" or ".join(k for k, _ in pairs), "is required", None)
            return None
        key, scale = given[0]
        return self.number(key, scale=scale)

    def provenance(self) -> Provenance:
        for key in _PROVENANCE_KEYS:
            self.text(key, required=True)
        retrieved = self.text("retrieved")
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", retrieved):
            raise self.fail("retrieved", "must be a date YYYY-MM-DD", retrieved)
        return Provenance(
            source_url=self.text("source_url"),
            source_title=self.text("source_title"),
            retrieved=retrieved,
            note=self.text("note"),
        )

    def aliases(self) -> tuple[str, ...]:
        value = self.get("aliases") or []
        if not isinstance(value, list) or not all(isinstance(a, str) for a in value):
            raise self.fail("aliases", "must be a list of strings", value)
        return tuple(a.lower() for a in value)

    def finish(self, extra_allowed: Iterable[str] = ()) -> None:
        unknown = set(self.table) - self.used - set(extra_allowed)
        if unknown:
            raise CatalogFileError(f"{self.where}: unknown keys {sorted(unknown)}")


def _accelerator(entry: _Entry, key: str) -> Accelerator:
    # a chip whose dense rate is unpublished (Cerebras) loads, and planning on it says why not
    peaks_raw = entry.get("peak_tflop_per_s") or {}
    if not isinstance(peaks_raw, dict):
        raise entry.fail("peak_tflop_per_s", "must be a table of precision = TFLOP/s", peaks_raw)
    peaks: dict[str, float] = {}
    for precision, value in peaks_raw.items():
        if precision not in _PRECISIONS:
            raise entry.fail(f"peak_tflop_per_s.{precision}",
                             f"precision must be one of {', '.join(_PRECISIONS)}", precision)
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise entry.fail(f"peak_tflop_per_s.{precision}", "must be a number > 0", value)
        peaks[precision] = float(value) * TFLOP
    memory = entry.either([("memory_gb", GB), ("memory_gib", GIB)], required=True)
    bandwidth = entry.either(
        [("memory_bandwidth_tb_per_s", TB), ("memory_bandwidth_gb_per_s", GB)], required=True
    )
    sram = entry.either([("sram_mb", MB), ("sram_mib", MIB)]) or 0.0
    accel = Accelerator(
        id=key,
        name=entry.text("name", required=True),
        vendor=entry.text("vendor"),
        kind=entry.text("kind", required=True, choices=("gpu", "tpu", "asic", "lpu", "wafer")),
        year=entry.integer("year", minimum=1990) or 0,
        peak_flop_per_s=peaks,
        memory_bytes=memory or 0.0,
        memory_bandwidth_bytes_per_s=bandwidth or 0.0,
        dma_bytes_per_s=entry.number("dma_bandwidth_tb_per_s", scale=TB),
        memory_bandwidth_efficiency=entry.number("memory_bandwidth_efficiency", high=1.0),
        sram_bytes=sram,
        scale_up_bytes_per_s=entry.number("scale_up_gb_per_s", scale=GB) or 0.0,
        scale_up_efficiency=entry.number("scale_up_efficiency", high=1.0),
        scale_up_domain=entry.integer("scale_up_domain") or 1,
        scale_out_bytes_per_s=entry.number("scale_out_gb_per_s", scale=GB) or 0.0,
        devices_per_node=entry.integer("devices_per_node") or 1,
        collective_latency_s=entry.number("collective_latency_us", scale=1e-6),
        n_compute_units=entry.integer("n_compute_units"),
        matmul_efficiency=entry.number("matmul_efficiency", high=1.0),
        matmul_efficiency_by_precision=_efficiency_by_precision(entry, peaks),
        attention_efficiency=entry.number("attention_efficiency", high=1.0),
        tdp_w=entry.number("tdp_w"),
        idle_w=entry.number("idle_w"),
        price_usd=entry.number("price_usd"),
        cloud_usd_per_hour=entry.number("cloud_usd_per_hour"),
        aliases=entry.aliases(),
        provenance=entry.provenance(),
    )
    entry.finish()
    return accel


def _efficiency_by_precision(entry: _Entry, peaks: dict[str, float]) -> dict[str, float]:
    key = "matmul_efficiency_by_precision"
    raw = entry.get(key) or {}
    if not isinstance(raw, dict):
        raise entry.fail(key, "must be a table of precision = share of that peak", raw)
    out: dict[str, float] = {}
    for precision, value in raw.items():
        if precision not in peaks:
            have = ", ".join(sorted(peaks)) or "none"
            raise entry.fail(f"{key}.{precision}",
                             f"must name a precision in peak_tflop_per_s ({have})", precision)
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 1:
            raise entry.fail(f"{key}.{precision}", "must be a number in (0, 1]", value)
        out[precision] = float(value)
    return out


_MODEL_INT_FIELDS = {
    f.name for f in fields(Architecture)
    if f.type in ("int", "int | None")
}
_MODEL_BOOL_FIELDS = {f.name for f in fields(Architecture) if f.type == "bool"}


def _model(entry: _Entry, key: str) -> Architecture:
    kwargs: dict[str, Any] = {}
    for name in sorted(_MODEL_INT_FIELDS):
        required = name in ("n_layers", "hidden_size", "n_heads", "ffn_size", "vocab_size")
        minimum = 0 if name.startswith(("n_experts", "n_active", "n_shared", "n_dense", "n_ssm",
                                        "q_lora", "kv_lora", "qk_", "v_head", "n_mtp",
                                        "n_expert_groups", "topk_groups")) else 1
        value = entry.integer(name, required=required, minimum=minimum)
        if value is not None:
            kwargs[name] = value
    for name in sorted(_MODEL_BOOL_FIELDS):
        if name in entry.table:
            kwargs[name] = entry.flag(name)
    for name in ("mlp", "position", "norm"):
        if name in entry.table:
            kwargs[name] = entry.text(name)
    for name in ("train_tokens", "published_params", "published_active_params"):
        amount = entry.number(name)
        if amount is not None:
            kwargs[name] = amount
    cv = entry.number("expert_load_cv", positive=False, low=0.0, high=10.0)
    if cv is not None:
        kwargs["expert_load_cv"] = cv
    try:
        model = Architecture(
            id=key,
            name=entry.text("name", required=True),
            family=entry.text("family"),
            aliases=entry.aliases(),
            provenance=entry.provenance(),
            **kwargs,
        )
    except InvalidParameter as exc:
        raise CatalogFileError(f"{entry.where}: {exc}") from None
    entry.finish()
    return model


def _region(entry: _Entry, key: str) -> Region:
    region = Region(
        id=key,
        name=entry.text("name", required=True),
        grid_g_per_j=(entry.number("grid_g_per_kwh", required=True, positive=False, low=0.0)
                      or 0.0) / KWH_J,
        electricity_usd_per_j=_per_j(entry.number("electricity_usd_per_kwh")),
        year=entry.integer("year", minimum=1990),
        provenance=entry.provenance(),
    )
    entry.finish()
    return region


def _per_j(value: float | None) -> float | None:
    return None if value is None else value / KWH_J


def _pue(entry: _Entry, key: str) -> PuePreset:
    preset = PuePreset(id=key, pue=entry.number("pue", required=True, low=1.0, high=3.0) or 1.0,
                       provenance=entry.provenance())
    entry.finish(("name",))
    return preset


_SECTIONS: dict[str, Callable[[_Entry, str], Any]] = {
    "accelerators": _accelerator,
    "models": _model,
    "regions": _region,
    "pue": _pue,
}

# name in defaults.toml -> (PlannerDefaults field, scale to SI)
_DEFAULTS = {
    "matmul_efficiency": ("matmul_efficiency", 1.0),
    "memory_bandwidth_efficiency": ("memory_bandwidth_efficiency", 1.0),
    "scale_up_efficiency": ("scale_up_efficiency", 1.0),
    "scale_out_efficiency": ("scale_out_efficiency", 1.0),
    "collective_latency_us": ("collective_latency_s", 1e-6),
    "kernel_launch_us": ("kernel_launch_s", 1e-6),
    "wave_overhead_us": ("wave_overhead_s", 1e-6),
    "attention_efficiency": ("attention_efficiency", 1.0),
    "idle_fraction_of_tdp": ("idle_fraction_of_tdp", 1.0),
    "host_power_fraction_of_tdp": ("host_power_fraction_of_tdp", 1.0),
    "goodput": ("goodput", 1.0),
    "framework_reserved_gib": ("framework_reserved_bytes", GIB),
    "fragmentation_fraction": ("fragmentation_fraction", 1.0),
    "hardware_lifetime_years": ("hardware_lifetime_s", YEAR_S),
    "capex_overhead_factor": ("capex_overhead_factor", 1.0),
    "default_pue": ("default_pue", 1.0),
    "default_region": ("default_region", 1.0),
    "sustained_compute_fraction": ("sustained_compute_fraction", 1.0),
    "memory_bound_power_fraction": ("memory_bound_power_fraction", 1.0),
    "request_overhead_ms": ("request_overhead_s", 1e-3),
    "host_time_per_sequence_us": ("host_time_per_sequence_s", 1e-6),
    "ridge_exponent": ("ridge_exponent", 1.0),
    "max_tokens_per_iteration": ("max_tokens_per_iteration", 1.0),
}


# planner constants with a floor beyond "a positive number"
_DEFAULTS_LOW = {"ridge_exponent": 1.0}  # a p-norm: p >= 1 (inf: the plain max)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except OSError as exc:
        raise CatalogFileError(f"{path}: cannot read catalog file ({exc.strerror})") from None
    except tomllib.TOMLDecodeError as exc:
        raise CatalogFileError(f"{path}: not valid TOML ({exc})") from None


def read_catalog_file(
    path: Path, sections: Mapping[str, Callable[[_Entry, str], Any]], *,
    extra: Sequence[str] = (),
) -> tuple[str, dict[str, dict[str, Any]], dict[str, Any]]:
    """Read one catalog TOML file and build every entry of ``sections`` with its builder.

    Ids are checked, and every error names the file, the entry, the field, the rule and the
    value. Returns the file's display name, the built entries per section, and the raw data
    (whose ``extra`` sections the caller reads itself).
    """
    data = _read_toml(path)
    origin = path.name if path.parent == CATALOG_DIR else str(path)
    unknown = set(data) - set(sections) - set(extra)
    if unknown:
        raise CatalogFileError(
            f"{origin}: unknown sections {sorted(unknown)}; allowed: "
            f"{', '.join([*sections, *extra])}"
        )
    built: dict[str, dict[str, Any]] = {name: {} for name in sections}
    for section, build in sections.items():
        section_table = data.get(section, {})
        if not isinstance(section_table, dict):
            raise CatalogFileError(f"{origin}: [{section}] must be a table")
        for key, table in section_table.items():
            if not _ID.match(key):
                raise CatalogFileError(
                    f"{origin}: [{section}.{key}] id must be lowercase letters, digits, "
                    f"'.', '-' or '_', got {key!r}"
                )
            built[section][key] = build(_Entry(origin, section, key, table), key)
    return origin, built, data


def constant_entries(origin: str, data: Mapping[str, Any], section: str,
                     known: Iterable[str]) -> Iterable[tuple[str, _Entry]]:
    """The ``[section.<name>]`` tables of named constants in a file's data, each checked
    against the ``known`` names; the caller reads ``value`` and the provenance."""
    known = list(known)
    for name, table in data.get(section, {}).items():
        entry = _Entry(origin, section, name, table)
        if name not in known:
            raise CatalogFileError(f"{entry.where}: unknown {section} entry; known: "
                                   f"{', '.join(known)}")
        yield name, entry


def load_catalog(extra_files: Sequence[str | Path] = ()) -> Catalog:
    """Load the built-in catalog and then each extra file (later entries override earlier ones).

    Raises
    ------
    CatalogFileError
        A file is missing, not TOML, or has an entry that breaks the schema; the message names
        the file, the entry, the field, the rule and the value.
    """
    return _load(tuple(str(Path(f)) for f in extra_files))


@lru_cache(maxsize=8)
def _load(extra_files: tuple[str, ...]) -> Catalog:
    tables: dict[str, dict[str, Any]] = {name: {} for name in _SECTIONS}
    planner: dict[str, Any] = {}
    sources: dict[str, Provenance] = {}
    paths = [CATALOG_DIR / name for name in _BUILTIN_FILES] + [Path(f) for f in extra_files]
    for path in paths:
        origin, built, data = read_catalog_file(path, _SECTIONS, extra=("planner",))
        for section, entries in built.items():
            tables[section].update(entries)
        for name, entry in constant_entries(origin, data, "planner", _DEFAULTS):
            field_name, scale = _DEFAULTS[name]
            value = entry.get("value")
            if field_name == "default_region":
                planner[field_name] = entry.text("value", required=True)
            else:
                planner[field_name] = entry.number("value", required=True, scale=scale,
                                                   low=_DEFAULTS_LOW.get(name))
            sources[field_name] = entry.provenance()
            entry.finish()
            del value
    missing = [n for n, (f, _) in _DEFAULTS.items() if f not in planner]
    if missing:
        raise CatalogFileError(f"defaults.toml: missing planner constants {missing}")
    return Catalog(
        accelerators=tables["accelerators"],
        models=tables["models"],
        regions=tables["regions"],
        pue_presets=tables["pue"],
        defaults=PlannerDefaults(sources=sources, **planner),
        files=tuple(str(p) for p in paths),
    )


def get_catalog(extra_files: Sequence[str | Path] = ()) -> Catalog:
    """The catalog with the files named in ``SCALEWALL_CATALOG`` and ``extra_files`` added."""
    env = os.environ.get("SCALEWALL_CATALOG", "")
    env_files = [f for f in env.split(os.pathsep) if f]
    return load_catalog([*env_files, *extra_files])
