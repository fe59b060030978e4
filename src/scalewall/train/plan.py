"""A whole training run: layout, memory, step time, duration, energy, carbon, cost and data."""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

import numpy as np

from scalewall._errors import InvalidLayout, InvalidParameter
from scalewall.arch.counts import model_flop_per_token, n_active_params, n_params
from scalewall.arch.model import Architecture
from scalewall.catalog import Catalog, get_catalog
from scalewall.evidence import evidence_for
from scalewall.footprint import Footprint, run_footprint
from scalewall.hardware import Accelerator
from scalewall.kernels import DeviceRates, device_rates
from scalewall.train.layout import Layout, check_layout, recipe_for, resolved_options
from scalewall.train.memory import MemoryBreakdown, training_memory
from scalewall.train.search import SearchResult, search_layouts
from scalewall.train.step import StepBreakdown, training_step
from scalewall.units import DAY_S

__all__ = ["DataBudget", "TrainingPlan", "plan_training"]

# Default global batch when none is given: about 4M tokens, as GPT-3 175B (3.2M), Llama 2
# (4M) and OLMo 2 (4M) used; 16M tokens from 4,096 devices up, as Llama 3 405B used on
# 8,192-16,384 H100 (Llama Team 2024, Table 4).
_BATCH_TOKENS_SMALL = 4 * 2**20
_BATCH_TOKENS_LARGE = 16 * 2**20
# When the device count is left to the planner: the smallest power of two (from 8) that
# finishes the run within about three months, the length of the frontier runs above.
_TARGET_DURATION_S = 90 * DAY_S


@dataclass(frozen=True)
class DataBudget:
    """Tokens the run needs against the tokens available."""

    tokens_needed: float
    tokens_available: float
    epochs: float  # passes over the available unique tokens
    source: str

    def to_dict(self) -> dict[str, Any]:
        return dict(tokens_needed=self.tokens_needed, tokens_available=self.tokens_available,
                    epochs=self.epochs, source=self.source)


@dataclass(frozen=True)
class TrainingPlan:
    """Everything the planner predicts for one training run (all values in SI units)."""

    model: Architecture
    accelerator: Accelerator
    layout: Layout
    recipe: str
    n_devices: int
    seq_len: int
    n_tokens: float
    memory: MemoryBreakdown
    step: StepBreakdown
    footprint: Footprint
    data: DataBudget
    rates: DeviceRates
    layout_searched: bool
    region: str
    search: SearchResult | None = None
    goodput: float = 1.0  # share of the run's wall-clock time spent on productive steps

    @property
    def n_steps(self) -> float:
        return self.n_tokens / float(self.step.tokens_per_step)

    def search_summary(self, *, top: int = 5) -> dict[str, Any] | None:
        """The layout search behind this plan: counts, top layouts, Pareto fronts, and why
        the best beats the runner-up."""
        s = self.search
        if s is None:
            return None
        return {
            "objective": s.objective, "n_enumerated": s.n_enumerated, "n_valid": s.n_valid,
            "n_feasible": len(s), "top": s.top(top), "why_best": s.explain(),
            "pareto_time_memory": [s.row(i) for i in s.pareto("memory")],
            "pareto_time_energy": [s.row(i) for i in s.pareto("energy")],
        }

    def to_dict(self, *, top: int = 5) -> dict[str, Any]:
        return {
            "model": self.model.id, "hardware": self.accelerator.id,
            "n_devices": self.n_devices, "seq_len": self.seq_len, "n_tokens": self.n_tokens,
            "n_params": n_params(self.model), "n_active_params": n_active_params(self.model),
            "train_flop": float(model_flop_per_token(self.model, self.seq_len)) * self.n_tokens,
            "n_steps": self.n_steps,
            "layout": self.layout.to_dict(), "recipe": self.recipe,
            "layout_searched": self.layout_searched,
            "calibrated": self.rates.calibrated,
            "region": self.region, "goodput": self.goodput,
            "memory": self.memory.to_dict(), "step": self.step.to_dict(),
            "footprint": self.footprint.to_dict(), "data": self.data.to_dict(),
            "search": self.search_summary(top=top),
            "note": ("calibrated on measured runs of this device" if self.rates.calibrated else
                     "uncalibrated: datasheet rates with sourced efficiencies; see "
                     "`scalewall validate` for the accuracy on published runs"),
            "evidence": evidence_for(self.accelerator.id, "training", moe=self.model.is_moe),
        }


# Layout searches do not depend on the token count or the grid region: a run planned again
# with other tokens or another region reuses the search (the web page and sweeps do this).
_SEARCHES: OrderedDict[tuple[Any, ...], tuple[Catalog, Accelerator, SearchResult]] = (
    OrderedDict())
_MAX_SEARCHES = 64


def _search(arch: Architecture, accel: Accelerator, rates: DeviceRates, cat: Catalog, *,
            n_devices: int, seq_len: int, global_batch: int, base: Layout,
            fixed: dict[str, Any], objective: str, pue: float) -> SearchResult:
    """:func:`search_layouts`, remembered for the last few distinct inputs."""
    key = (arch, accel.id, rates, id(cat), n_devices, seq_len, global_batch, base,
           tuple(sorted(fixed.items())), objective, pue)
    hit = _SEARCHES.get(key)
    if hit is not None and hit[0] is cat and hit[1] is accel:
        _SEARCHES.move_to_end(key)
        return hit[2]
    result = search_layouts(
        arch, accel, rates, cat.defaults, n_devices=n_devices, seq_len=seq_len,
        global_batch=global_batch, base=base, recipe=base.recipe, fixed=fixed,
        objective=objective, pue=pue,
    )
    _SEARCHES[key] = (cat, accel, result)
    if len(_SEARCHES) > _MAX_SEARCHES:
        _SEARCHES.popitem(last=False)
    return result


@lru_cache(maxsize=1)
def _public_text_stock() -> tuple[float, str]:
    """The public-text stock of the laws catalog (Villalobos et al. 2024): median and label."""
    from scalewall.laws.constants import get_laws_catalog

    stock = get_laws_catalog().stocks["villalobos2024"]
    return stock.tokens, (f"{stock.name}, median of {stock.tokens:.0e} ({stock.interval} "
                          f"{stock.tokens_low:.0e}-{stock.tokens_high:.0e}); "
                          f"{stock.provenance.source_url}")


def _pue_value(cat: Catalog, pue: float | str | None) -> float:
    if isinstance(pue, str):
        return cat.pue(pue).pue
    value = pue if pue is not None else cat.defaults.default_pue
    if isinstance(value, bool) or not isinstance(value, int | float) or not 1.0 <= value <= 3.0:
        raise InvalidParameter(f"pue must be a number in [1, 3] or a preset name, got {pue!r}")
    return float(value)


def default_global_batch(n_devices: int, seq_len: int) -> int:
    """About 4M tokens per step (16M from 4,096 devices), in sequences, rounded to the odd part
    of ``n_devices`` times a power of two so that every data-parallel degree of a layout with
    power-of-two tensor and pipeline degrees divides it."""
    target = (_BATCH_TOKENS_LARGE if n_devices >= 4096 else _BATCH_TOKENS_SMALL) / seq_len
    odd = n_devices
    while odd % 2 == 0:
        odd //= 2
    power = max(0, round(float(np.log2(max(target / odd, 1.0)))))
    return int(odd * 2**power)


def _positive_number(name: str, value: Any, *, integer: bool = False) -> None:
    bad = isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value)
    if bad or value <= 0 or (integer and int(value) != value):
        kind = "a positive integer" if integer else "a positive number"
        raise InvalidParameter(f"{name} must be {kind}, got {value!r}")


def _evaluate(arch: Architecture, accel: Accelerator, rates: DeviceRates, cat: Catalog,
              layout: Layout, recipe: str, seq_len: int) -> tuple[StepBreakdown,
                                                                   MemoryBreakdown]:
    dropout, overlap = resolved_options(arch, layout, recipe)
    mem = training_memory(
        arch, cat.defaults, capacity_bytes=accel.memory_bytes, seq_len=seq_len, tp=layout.tp,
        pp=layout.pp, dp=layout.dp, cp=layout.cp, ep=layout.ep, sp=int(layout.sp),
        vpp=layout.vpp, micro_batch=layout.micro_batch, n_microbatches=layout.n_microbatches,
        recompute=("none", "selective", "full").index(layout.recompute), zero=layout.zero,
        flash_attention=layout.flash_attention, dropout=dropout,
        precision=layout.precision, recipe=recipe,
    )
    step = training_step(
        arch, rates, seq_len=seq_len, global_batch=layout.global_batch or layout.micro_batch,
        tp=layout.tp, pp=layout.pp, dp=layout.dp, cp=layout.cp, ep=layout.ep,
        sp=int(layout.sp), vpp=layout.vpp, micro_batch=layout.micro_batch,
        recompute=("none", "selective", "full").index(layout.recompute), zero=layout.zero,
        flash_attention=layout.flash_attention, dropout=dropout, recipe=recipe,
        overlap_grad_reduce=overlap, prefetch_params=layout.prefetch_params,
        overlap_moe_comm=layout.overlap_moe_comm, precision=layout.precision,
        peak_bf16_flop_per_s=accel.peak_flop_per_s.get("bf16"),
    )
    return step, mem


def plan_training(
    model: str | Architecture,
    hardware: str | Accelerator,
    *,
    n_devices: int | None = None,
    n_tokens: float | None = None,
    seq_len: int | None = None,
    global_batch: int | None = None,
    layout: Layout | None = None,
    fixed: dict[str, Any] | None = None,
    region: str | None = None,
    pue: float | str | None = None,
    unique_tokens: float | None = None,
    rates: DeviceRates | None = None,
    objective: str = "time",
    goodput: float | None = None,
    catalog: Catalog | None = None,
) -> TrainingPlan:
    """Plan a training run of ``model`` on ``n_devices`` of ``hardware``.

    Parameters
    ----------
    model, hardware : catalog names (or objects).
    n_devices : devices; default the smallest power of two from 8 that trains in about 90 days.
    n_tokens : training tokens; default the model's published count, else 20 per parameter.
    seq_len : [tokens]; default the model's pre-training length.
    global_batch : [sequences]; default about 4M tokens (16M from 4,096 devices).
    layout : a complete layout to evaluate as given (checked), or
    fixed : layout fields to pin (``tp``, ``pp``, ``recompute`` ...) while the planner
        searches the rest for the fastest layout that fits.
    region : grid region for carbon and electricity price; pue : a number or a preset name.
    unique_tokens : tokens available (default the public text stock, Villalobos et al. 2024).
    goodput : share of wall-clock time spent on productive steps, in (0, 1]; default the
        catalog's planner constant (failures, restarts and checkpoints take the rest). 1 gives
        the failure-free estimate papers quote as ``8TP/(nX)`` (Narayanan et al. 2021, eq. 4).

    Raises
    ------
    UnknownCatalogEntry, InvalidParameter, InvalidLayout
    """
    cat = catalog or get_catalog()
    arch = cat.model(model) if isinstance(model, str) else model
    accel = cat.accelerator(hardware) if isinstance(hardware, str) else hardware
    seq = seq_len if seq_len is not None else arch.seq_len
    _positive_number("seq_len", seq, integer=True)
    if seq > arch.max_seq_len:
        raise InvalidParameter(
            f"seq_len={seq} exceeds the model's maximum context ({arch.max_seq_len})"
        )
    tokens = n_tokens if n_tokens is not None else (arch.train_tokens or 20.0 * n_params(arch))
    _positive_number("tokens", tokens)
    if n_devices is not None:
        _positive_number("devices", n_devices, integer=True)
    if goodput is not None:
        _positive_number("goodput", goodput)
        if goodput > 1:
            raise InvalidParameter(f"goodput must be in (0, 1], got {goodput!r}")
    if global_batch is not None:
        _positive_number("global_batch", global_batch, integer=True)
    base = layout or Layout(**{k: v for k, v in (fixed or {}).items()
                               if k in ("flash_attention", "dropout", "precision", "recipe",
                                        "overlap_grad_reduce", "prefetch_params",
                                        "overlap_moe_comm")})
    dev_rates = rates or device_rates(accel, cat.defaults, precision=base.precision)
    if (n_devices or 2) > 1 and not (accel.scale_up_bytes_per_s or accel.scale_out_bytes_per_s):
        raise InvalidParameter(
            f"{accel.id} has no published scale-up or scale-out bandwidth (scale_up_gb_per_s, "
            f"scale_out_gb_per_s), so a multi-device run cannot be planned; add them with "
            f"--catalog FILE"
        )

    if n_devices is None:
        plan = None
        for exponent in range(3, 18):
            try:
                plan = plan_training(
                    arch, accel, n_devices=2**exponent, n_tokens=tokens, seq_len=seq,
                    global_batch=global_batch, layout=layout, fixed=fixed, region=region,
                    pue=pue, unique_tokens=unique_tokens, rates=rates, objective=objective,
                    goodput=goodput, catalog=cat,
                )
            except InvalidLayout:
                continue
            if float(plan.footprint.duration_s) <= _TARGET_DURATION_S:
                return plan
        if plan is None:
            raise InvalidLayout(f"no device count up to 131,072 {accel.id} can train {arch.label}")
        return plan

    if global_batch is None:
        global_batch = default_global_batch(n_devices, seq)
    recipe = recipe_for(base)
    searched = layout is None
    search: SearchResult | None = None
    if layout is not None:
        whole = layout if layout.global_batch else replace(layout, global_batch=global_batch)
        lay = check_layout(arch, whole, n_devices=n_devices, seq_len=seq)
        recipe = recipe_for(lay)
        step, mem = _evaluate(arch, accel, dev_rates, cat, lay, recipe, seq)
    else:
        pinned = {k: v for k, v in (fixed or {}).items()
                  if k in ("tp", "pp", "dp", "cp", "ep", "sp", "vpp", "micro_batch",
                           "recompute", "zero")}
        search = _search(
            arch, accel, dev_rates, cat, n_devices=n_devices, seq_len=seq,
            global_batch=global_batch, base=base, fixed=pinned, objective=objective,
            pue=_pue_value(cat, pue),
        )
        lay = search.layout(0)
        recipe = recipe_for(lay)
        step, mem = _evaluate(arch, accel, dev_rates, cat, lay, recipe, seq)

    d = cat.defaults
    productive = goodput or d.goodput
    duration = tokens / float(step.tokens_per_s) / productive
    busy = (step.gemm_s + step.attention_s + step.elementwise_s) / step.step_s
    region_entry = cat.region(region or d.default_region)
    pue_value = _pue_value(cat, pue)
    # no published power figure: energy, carbon and electricity come out as unknown (NaN)
    tdp = accel.tdp_w if accel.tdp_w is not None else float("nan")
    idle = accel.idle_power_w(d.idle_fraction_of_tdp)
    fp = run_footprint(
        n_devices=n_devices, duration_s=duration, activity=busy, tdp_w=tdp, idle_w=idle,
        host_fraction_of_tdp=d.host_power_fraction_of_tdp, pue=pue_value,
        grid_g_per_j=region_entry.grid_g_per_j,
        electricity_usd_per_j=region_entry.electricity_usd_per_j,
        cloud_usd_per_hour=accel.cloud_usd_per_hour, price_usd=accel.price_usd,
        capex_overhead_factor=d.capex_overhead_factor,
        hardware_lifetime_s=d.hardware_lifetime_s,
    )
    if unique_tokens is not None:
        _positive_number("unique_tokens", unique_tokens)
        available, source = float(unique_tokens), "user"
    else:
        available, source = _public_text_stock()
    data = DataBudget(tokens_needed=tokens, tokens_available=available,
                      epochs=tokens / available, source=source)
    return TrainingPlan(
        model=arch, accelerator=accel, layout=lay, recipe=recipe, n_devices=n_devices,
        seq_len=seq, n_tokens=tokens, memory=mem, step=step, footprint=fp, data=data,
        rates=dev_rates, layout_searched=searched, region=region_entry.id, search=search,
        goodput=productive,
    )
