"""Enumerate parallel layouts as arrays, evaluate them all at once, keep the feasible ones.

Every candidate goes through the same :func:`~scalewall.train.memory.training_memory` and
:func:`~scalewall.train.step.training_step` that evaluate a single plan: one vectorized call,
no second model. Candidates are ranked by step time, cost or energy per step; the result keeps
all feasible ones, so the top k, the Pareto fronts and the rank of any given layout follow.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any, TypeVar

import numpy as np

from scalewall._errors import InvalidLayout, InvalidParameter
from scalewall._types import BoolArray, FloatArray
from scalewall.arch.model import Architecture
from scalewall.footprint import run_footprint
from scalewall.hardware import Accelerator, PlannerDefaults
from scalewall.kernels import DeviceRates
from scalewall.train.layout import RECOMPUTE, Layout, resolved_options
from scalewall.train.memory import MemoryBreakdown, training_memory
from scalewall.train.step import StepBreakdown, training_step

__all__ = [
    "OBJECTIVES",
    "LayoutCandidates",
    "SearchResult",
    "enumerate_layouts",
    "search_layouts",
]

#: What a search can minimise, per optimizer step.
OBJECTIVES: tuple[str, ...] = ("time", "cost", "energy")
_AXES = ("tp", "pp", "dp", "cp", "ep", "sp", "vpp", "micro_batch", "recompute", "zero")
_COLUMNS = (*_AXES, "global_batch")
# Micro-batch sizes and interleaving factors tried when not pinned.
_MICRO_BATCHES = (1, 2, 4, 8, 16)
_VPP = (1, 2, 4)
# Context parallelism beyond 32 ranks is not used by any published run we know of.
_MAX_CP = 32


def _divisors(n: int) -> list[int]:
    small = [d for d in range(1, int(n**0.5) + 1) if n % d == 0]
    return sorted(set(small + [n // d for d in small]))


@dataclass(frozen=True)
class LayoutCandidates:
    """Columns of candidate layouts, one entry per candidate (floats, for broadcasting)."""

    tp: FloatArray
    pp: FloatArray
    dp: FloatArray
    cp: FloatArray
    ep: FloatArray
    sp: FloatArray
    vpp: FloatArray
    micro_batch: FloatArray
    recompute: FloatArray
    zero: FloatArray
    global_batch: FloatArray  # sequences per step

    def __len__(self) -> int:
        return int(self.tp.size)

    def take(self, index: Any) -> LayoutCandidates:
        return LayoutCandidates(**{a: getattr(self, a)[index] for a in _COLUMNS})

    def layout(self, i: int, *, base: Layout) -> Layout:
        return replace(
            base,
            tp=int(self.tp[i]), pp=int(self.pp[i]), dp=int(self.dp[i]), cp=int(self.cp[i]),
            ep=int(self.ep[i]), sp=bool(self.sp[i]), vpp=int(self.vpp[i]),
            micro_batch=int(self.micro_batch[i]), recompute=RECOMPUTE[int(self.recompute[i])],
            zero=int(self.zero[i]), global_batch=int(self.global_batch[i]),
        )


def enumerate_layouts(
    arch: Architecture, accelerator: Accelerator, *, n_devices: int, seq_len: int,
    global_batch: int, fixed: dict[str, Any] | None = None, round_batch: bool = False,
) -> tuple[LayoutCandidates, BoolArray, list[tuple[str, int]]]:
    """All layouts of ``n_devices`` for ``arch``, as columns, with a validity mask.

    ``fixed`` pins any degree or option (as a published layout does). With ``round_batch``,
    each candidate takes the largest global batch up to ``global_batch`` that its
    ``micro_batch * dp`` divides (as Calculon's search does); otherwise the batch is exact and
    must be divisible. Returns the candidate
    columns, the mask of the valid ones, and for each rule the number of candidates still
    valid after it (so an empty result can say which rule removed the last ones).
    """
    fixed = dict(fixed or {})
    node = max(accelerator.scale_up_domain, accelerator.devices_per_node, 1)
    divisors = _divisors(n_devices)
    axes: dict[str, list[float]] = {
        "tp": [float(t) for t in divisors if t <= node and arch.n_heads % t == 0],
        "pp": [float(p) for p in divisors if p <= arch.n_pipeline_layers],
        "cp": [float(c) for c in divisors if c <= _MAX_CP and seq_len % c == 0],
        "ep": [float(e) for e in divisors if arch.is_moe and arch.n_experts % e == 0] or [1.0],
        "sp": [0.0, 1.0],
        "vpp": [float(v) for v in _VPP],
        "micro_batch": [float(b) for b in _MICRO_BATCHES],
        "recompute": [0.0, 1.0, 2.0],
        "zero": [0.0, 1.0, 2.0, 3.0],
    }
    for key, value in fixed.items():
        values = list(value) if isinstance(value, list | tuple) else [value]
        if key == "recompute":
            axes[key] = [float(RECOMPUTE.index(str(v))) for v in values]
        elif key in axes:
            axes[key] = [float(v) for v in values]
    names = list(axes)
    grids = np.meshgrid(*(np.asarray(axes[n]) for n in names), indexing="ij")
    cols = {n: g.ravel() for n, g in zip(names, grids, strict=True)}
    tp, pp, cp, ep = cols["tp"], cols["pp"], cols["cp"], cols["ep"]
    mb, vpp = cols["micro_batch"], cols["vpp"]
    dp_exact = n_devices / (tp * pp * cp)
    dp = np.maximum(np.floor(dp_exact), 1.0)
    n_pipe = arch.n_pipeline_layers
    stages = pp * vpp
    layers_ok = stages <= n_pipe
    layers_ok &= ((n_pipe % stages) == 0) | (((n_pipe + 1) % stages) == 0) | (
        ((n_pipe + 2) % stages) == 0)
    if round_batch:
        gb = np.floor(global_batch / (mb * dp)) * mb * dp
    else:
        gb = np.full_like(tp, float(global_batch))
    m = gb / (mb * dp)
    rules: list[tuple[str, BoolArray]] = [
        ("devices = tp*pp*dp*cp", dp == dp_exact),
        ("dp as pinned", dp == float(fixed["dp"]) if "dp" in fixed else np.ones_like(dp, bool)),
        ("tp and the key/value heads",
         ((arch.kv_heads % tp) == 0) | ((tp % arch.kv_heads) == 0)),
        ("pp*vpp divides the layers", layers_ok),
        ("interleaving needs pp > 1", (vpp == 1) | (pp > 1)),
        ("sequence parallelism needs tp > 1", (cols["sp"] == 0) | (tp > 1)),
        ("ep divides dp*cp", ((dp * cp) % ep) == 0),
        ("global batch divisible by micro_batch*dp", (gb >= mb * dp) & ((gb % (mb * dp)) == 0)),
        ("interleaving needs micro-batches divisible by pp", (vpp == 1) | ((m % pp) == 0)),
    ]
    valid = np.ones_like(tp, dtype=bool)
    survivors: list[tuple[str, int]] = []
    for rule, ok in rules:
        valid &= ok
        survivors.append((rule, int(valid.sum())))
    cand = LayoutCandidates(tp=tp, pp=pp, dp=dp, cp=cp, ep=ep, sp=cols["sp"], vpp=vpp,
                            micro_batch=mb, recompute=cols["recompute"], zero=cols["zero"],
                            global_batch=gb)
    return cand, valid, survivors


_B = TypeVar("_B", StepBreakdown, MemoryBreakdown)


def _take(obj: _B, index: Any) -> _B:
    """Some candidates of a breakdown evaluated over many."""
    changes: dict[str, Any] = {}
    for f in fields(obj):
        value = getattr(obj, f.name)
        if isinstance(value, np.ndarray) and value.ndim:
            changes[f.name] = value[index]
    return replace(obj, **changes)


_BREAKDOWN = (
    ("gemm_s", "matrix multiplies"), ("attention_s", "attention"),
    ("elementwise_s", "memory-bound kernels"), ("tp_comm_s", "tensor-parallel comm"),
    ("cp_comm_s", "context-parallel comm"), ("ep_comm_s", "expert all-to-all"),
    ("pp_comm_s", "pipeline sends"), ("bubble_s", "pipeline bubble"),
    ("dp_comm_s", "data-parallel sync"), ("optimizer_s", "optimizer"),
)


@dataclass(frozen=True)
class SearchResult:
    """Every feasible layout, best first by the objective, with its breakdowns."""

    candidates: LayoutCandidates
    step: StepBreakdown
    memory: MemoryBreakdown
    energy_j_per_step: FloatArray
    cost_usd_per_step: FloatArray
    objective: str
    base: Layout
    n_enumerated: int
    n_valid: int

    def __len__(self) -> int:
        return len(self.candidates)

    @property
    def score(self) -> FloatArray:
        """The objective per sequence trained (per step when every batch is the same)."""
        per_step = {"time": self.step.step_s, "cost": self.cost_usd_per_step,
                    "energy": self.energy_j_per_step}[self.objective]
        out: FloatArray = per_step / self.candidates.global_batch
        return out

    def layout(self, i: int = 0) -> Layout:
        return self.candidates.layout(i, base=self.base)

    def best(self) -> tuple[Layout, StepBreakdown, MemoryBreakdown]:
        return self.layout(0), _take(self.step, 0), _take(self.memory, 0)

    def row(self, i: int) -> dict[str, Any]:
        """One candidate as a flat JSON-ready record."""
        lay = self.layout(i)
        out: dict[str, Any] = {"rank": i + 1, **{a: getattr(lay, a) for a in _COLUMNS}}
        out["step_s"] = float(self.step.step_s[i])
        out["mfu"] = float(self.step.mfu[i])
        out["memory_bytes"] = float(self.memory.total_bytes[i])
        out["memory_headroom_bytes"] = float(self.memory.capacity_bytes
                                             - self.memory.total_bytes[i])
        out["energy_j_per_step"] = float(self.energy_j_per_step[i])
        out["cost_usd_per_step"] = float(self.cost_usd_per_step[i])
        out["breakdown_s"] = {k: float(getattr(self.step, k)[i]) for k, _ in _BREAKDOWN}
        return out

    def top(self, k: int = 5) -> list[dict[str, Any]]:
        return [self.row(i) for i in range(min(k, len(self)))]

    def pareto(self, against: str = "memory") -> list[int]:
        """Indices of the layouts no other beats on both step time and ``against``
        (``memory``: more headroom is better; ``energy``: less energy per step is better)."""
        t = self.step.step_s
        other = -(self.memory.capacity_bytes - self.memory.total_bytes) if against == "memory" \
            else self.energy_j_per_step
        if against not in ("memory", "energy"):
            raise InvalidParameter(f"pareto against must be memory or energy, got {against!r}")
        order = np.lexsort((other, t))  # by time, then by the other
        front: list[int] = []
        best_other = np.inf
        for i in order:  # one pass over the sorted candidates
            if other[i] < best_other:
                front.append(int(i))
                best_other = other[i]
        return front

    def explain(self) -> str:
        """Why the best layout beats the runner-up (the first layout that scores worse): the
        choices that differ and the parts of the step whose time differs most."""
        score = self.score
        worse = np.flatnonzero(score > score[0] * (1 + 1e-9))
        ties = (int(worse[0]) if worse.size else len(self)) - 1
        tie_note = f"; {ties} other layouts tie with it" if ties else ""
        if not worse.size:
            return "all feasible layouts tie" if len(self) > 1 else "only one layout is feasible"
        j = int(worse[0])
        a, b = self.layout(0), self.layout(j)
        changed = [f"{k} {getattr(a, k)} vs {getattr(b, k)}" for k in _AXES
                   if getattr(a, k) != getattr(b, k)]
        diffs = sorted(((float(getattr(self.step, k)[j] - getattr(self.step, k)[0]), label)
                        for k, label in _BREAKDOWN), reverse=True)
        gains = [f"{label} {d * 1e3:+.1f} ms" for d, label in diffs if abs(d) > 1e-6][:3]
        unit = {"time": "s", "cost": "USD", "energy": "J"}[self.objective]
        margin = float((score[j] - score[0]) * self.candidates.global_batch[0])
        return (f"the best beats the runner-up (#{j + 1}) by {margin:.4g} {unit} per step "
                f"({self.objective}){tie_note}; they differ in {', '.join(changed)}; the "
                f"runner-up spends more on {', '.join(gains) or 'nothing measurable'}")

    def rank_of(self, pinned: dict[str, Any]) -> tuple[int, float] | None:
        """Best rank (1-based) of the feasible layouts that match ``pinned`` degrees, and the
        share of feasible layouts at or above it; ``None`` when none matches."""
        match = np.ones(len(self), dtype=bool)
        for key, value in pinned.items():
            col = getattr(self.candidates, key)
            target = float(RECOMPUTE.index(value)) if key == "recompute" else float(value)
            match &= col == target
        hits = np.flatnonzero(match)
        if hits.size == 0:
            return None
        rank = int(hits[0]) + 1
        return rank, rank / len(self)


def search_layouts(
    arch: Architecture, accelerator: Accelerator, rates: DeviceRates,
    defaults: PlannerDefaults, *, n_devices: int, seq_len: int, global_batch: int,
    base: Layout, recipe: str, fixed: dict[str, Any] | None = None, objective: str = "time",
    pue: float = 1.0, round_batch: bool = False,
) -> SearchResult:
    """Every feasible layout of ``n_devices``, ranked by ``objective`` (time, cost or energy
    per optimizer step).

    Raises
    ------
    InvalidLayout
        No candidate is valid or fits; the message names the rule that removed the last
        candidates and the nearest change that would help.
    """
    if objective not in OBJECTIVES:
        raise InvalidParameter(
            f"objective must be one of {', '.join(OBJECTIVES)}, got {objective!r}"
        )
    cand, valid, survivors = enumerate_layouts(
        arch, accelerator, n_devices=n_devices, seq_len=seq_len, global_batch=global_batch,
        fixed=fixed, round_batch=round_batch,
    )
    if not valid.any():
        last = next((rule for rule, n in survivors if n == 0), "enumeration")
        raise InvalidLayout(
            f"no valid layout of {n_devices} devices for {arch.label} (seq_len={seq_len}, "
            f"global_batch={global_batch}): the rule '{last}' removed the last candidates; "
            f"{_nearest_change(last, n_devices, global_batch)}"
        )
    c = cand.take(np.flatnonzero(valid))
    # recipe "auto" is per candidate: Megatron-style bookkeeping under model parallelism,
    # PyTorch AMP otherwise (scalewall.train.layout.recipe_for)
    mp = c.tp * c.pp > 1
    if recipe == "auto":
        c = c.take(np.concatenate([np.flatnonzero(mp), np.flatnonzero(~mp)]))
        n_mp = int(mp.sum())
        groups = [(slice(0, n_mp), "megatron"), (slice(n_mp, len(c)), "pytorch")]
    else:
        groups = [(slice(0, len(c)), recipe)]
    mem = _concat([_memory(arch, accelerator, defaults, c.take(sl), seq_len=seq_len,
                           base=base, recipe=r)
                   for sl, r in groups if sl.stop > sl.start])
    fits = np.asarray(mem.feasible, dtype=bool)
    if not fits.any():
        smallest = float(np.min(mem.total_bytes))
        raise InvalidLayout(
            f"no layout of {n_devices} devices fits {arch.label} in "
            f"{accelerator.memory_bytes / 2**30:.0f} GiB per device: the smallest needs "
            f"{smallest / 2**30:.1f} GiB (memory removed the last candidates); use about "
            f"{int(np.ceil(n_devices * smallest / accelerator.memory_bytes))} devices or more, "
            f"or allow full recomputation, ZeRO-3 or a smaller micro-batch"
        )
    # step time only for the layouts that fit, group by group
    steps = []
    for sl, r in groups:
        keep_g = np.flatnonzero(fits[sl]) + (sl.start or 0)
        if keep_g.size:
            steps.append(_step(arch, accelerator, rates, c.take(keep_g), seq_len=seq_len,
                               base=base, recipe=r))
    keep = np.flatnonzero(fits)
    c, mem = c.take(keep), _take(mem, keep)
    step = _concat(steps)
    # one step of every candidate, as the plan's footprint counts a run (rental, else the
    # amortised purchase without electricity)
    fp = run_footprint(
        n_devices=n_devices, duration_s=step.step_s,
        activity=(step.gemm_s + step.attention_s + step.elementwise_s) / step.step_s,
        tdp_w=accelerator.tdp_w or 0.0,
        idle_w=accelerator.idle_power_w(defaults.idle_fraction_of_tdp),
        host_fraction_of_tdp=defaults.host_power_fraction_of_tdp, pue=pue, grid_g_per_j=0.0,
        cloud_usd_per_hour=accelerator.cloud_usd_per_hour, price_usd=accelerator.price_usd,
        capex_overhead_factor=defaults.capex_overhead_factor,
        hardware_lifetime_s=defaults.hardware_lifetime_s,
    )
    energy = fp.energy_j
    cost = fp.cost_usd if fp.cost_usd is not None else np.full_like(step.step_s, np.nan)
    score = {"time": step.step_s, "cost": cost, "energy": energy}[objective]
    if objective == "cost" and np.isnan(score).all():
        raise InvalidParameter(
            f"objective 'cost' needs a price for {accelerator.id} (cloud_usd_per_hour or "
            f"price_usd in the catalog)"
        )
    order = np.lexsort((step.step_s, score / c.global_batch))  # per sequence; ties by time
    return SearchResult(
        candidates=c.take(order), step=_take(step, order), memory=_take(mem, order),
        energy_j_per_step=energy[order], cost_usd_per_step=cost[order], objective=objective,
        base=base, n_enumerated=len(cand),
        n_valid=int(valid.sum()),
    )


def _memory(
    arch: Architecture, accelerator: Accelerator, defaults: PlannerDefaults,
    c: LayoutCandidates, *, seq_len: int, base: Layout, recipe: str,
) -> MemoryBreakdown:
    """Memory of candidates ``c`` under one recipe: the single-plan function on arrays."""
    return training_memory(
        arch, defaults, capacity_bytes=accelerator.memory_bytes, seq_len=seq_len,
        tp=c.tp, pp=c.pp, dp=c.dp, cp=c.cp, ep=c.ep, sp=c.sp, vpp=c.vpp,
        micro_batch=c.micro_batch, n_microbatches=c.global_batch / (c.micro_batch * c.dp),
        recompute=c.recompute, zero=c.zero, flash_attention=base.flash_attention,
        dropout=resolved_options(arch, base, recipe)[0], precision=base.precision,
        recipe=recipe,
    )


def _step(
    arch: Architecture, accelerator: Accelerator, rates: DeviceRates, c: LayoutCandidates, *,
    seq_len: int, base: Layout, recipe: str,
) -> StepBreakdown:
    """Step time of candidates ``c`` under one recipe: the single-plan function on arrays."""
    dropout, overlap = resolved_options(arch, base, recipe)
    return training_step(
        arch, rates, seq_len=seq_len, global_batch=c.global_batch, tp=c.tp, pp=c.pp, dp=c.dp,
        cp=c.cp, ep=c.ep, sp=c.sp, vpp=c.vpp, micro_batch=c.micro_batch,
        recompute=c.recompute, zero=c.zero, flash_attention=base.flash_attention,
        dropout=dropout, recipe=recipe, overlap_grad_reduce=overlap,
        prefetch_params=base.prefetch_params,
        overlap_moe_comm=base.overlap_moe_comm, precision=base.precision,
        peak_bf16_flop_per_s=accelerator.peak_flop_per_s.get("bf16"),
    )


def _concat_candidates(parts: list[LayoutCandidates]) -> LayoutCandidates:
    return LayoutCandidates(**{a: np.concatenate([getattr(p, a) for p in parts])
                               for a in _COLUMNS})


def _concat(parts: list[_B]) -> _B:
    if len(parts) == 1:
        return parts[0]
    changes: dict[str, Any] = {}
    for f in fields(parts[0]):
        value = getattr(parts[0], f.name)
        if isinstance(value, np.ndarray) and value.ndim:
            changes[f.name] = np.concatenate([getattr(p, f.name) for p in parts])
    return replace(parts[0], **changes)


def _nearest_change(rule: str, n_devices: int, global_batch: int) -> str:
    if "global batch" in rule or "micro-batches" in rule:
        return (f"choose a global batch that is a multiple of the data-parallel degree "
                f"(for example a multiple of {n_devices}) or a smaller micro-batch")
    if "devices" in rule or "dp" in rule:
        return "choose a device count with more small factors (a power of two times 3 or 5)"
    if "layers" in rule:
        return "pin a pipeline degree that divides the layers"
    return "relax the pinned options"
