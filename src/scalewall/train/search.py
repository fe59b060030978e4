"""Enumerate parallel layouts as arrays, evaluate them all at once, keep the feasible ones.

Every candidate goes through the same :func:`~scalewall.train.memory.training_memory` and
:func:`~scalewall.train.step.training_step` that evaluate a single plan: one vectorized call,
no second model.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import TypeVar

import numpy as np

from scalewall._errors import InvalidLayout
from scalewall._types import BoolArray, FloatArray
from scalewall.arch.model import Architecture
from scalewall.hardware import Accelerator, PlannerDefaults
from scalewall.kernels import DeviceRates
from scalewall.train.layout import RECOMPUTE, Layout
from scalewall.train.memory import MemoryBreakdown, training_memory
from scalewall.train.step import StepBreakdown, training_step

__all__ = ["LayoutCandidates", "enumerate_layouts", "search_layouts"]


def _divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


@dataclass(frozen=True)
class LayoutCandidates:
    """Columns of candidate layouts (one entry per candidate)."""

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

    def __len__(self) -> int:
        return int(self.tp.size)

    def layout(self, i: int, *, global_batch: int, base: Layout) -> Layout:
        return Layout(
            **{
                **base.to_dict(),
                "tp": int(self.tp[i]), "pp": int(self.pp[i]), "dp": int(self.dp[i]),
                "cp": int(self.cp[i]), "ep": int(self.ep[i]), "sp": bool(self.sp[i]),
                "vpp": int(self.vpp[i]), "micro_batch": int(self.micro_batch[i]),
                "recompute": RECOMPUTE[int(self.recompute[i])], "zero": int(self.zero[i]),
                "global_batch": global_batch,
            }
        )


def enumerate_layouts(
    arch: Architecture, accelerator: Accelerator, *, n_devices: int, seq_len: int,
    global_batch: int, fixed: dict[str, int | bool | str] | None = None,
) -> tuple[LayoutCandidates, BoolArray, str]:
    """All layouts of ``n_devices`` for ``arch``, as columns, with a validity mask.

    ``fixed`` pins any of the degrees (as given in a published layout). Returns the candidate
    columns, the mask of the valid ones and, when none is valid, the rule that removed the
    last ones.
    """
    fixed = dict(fixed or {})
    node = accelerator.scale_up_domain or accelerator.devices_per_node
    tps = [t for t in _divisors(n_devices) if t <= max(node, 1)]
    pps = [p for p in _divisors(n_devices) if p <= arch.n_pipeline_layers]
    cps = [c for c in _divisors(n_devices) if c <= 32 and seq_len % c == 0]
    eps = [e for e in _divisors(n_devices) if arch.is_moe and arch.n_experts % e == 0] or [1]
    mbs = [1, 2, 4, 8, 16]
    axes: dict[str, list[float]] = {
        "tp": [float(v) for v in tps], "pp": [float(v) for v in pps],
        "cp": [float(v) for v in cps], "ep": [float(v) for v in eps],
        "sp": [0.0, 1.0], "vpp": [1.0, 2.0, 4.0], "micro_batch": [float(v) for v in mbs],
        "recompute": [0.0, 1.0, 2.0], "zero": [1.0],
    }
    for key, value in fixed.items():
        if key == "recompute":
            axes[key] = [float(RECOMPUTE.index(str(value)))]
        elif key in axes:
            axes[key] = [float(value)]
    names = list(axes)
    grids = np.meshgrid(*(np.asarray(axes[n]) for n in names), indexing="ij")
    cols = {n: g.ravel() for n, g in zip(names, grids, strict=True)}
    tp, pp, cp, ep = cols["tp"], cols["pp"], cols["cp"], cols["ep"]
    dp = n_devices / (tp * pp * cp)
    if "dp" in fixed:
        keep_dp = dp == float(fixed["dp"])
    else:
        keep_dp = np.ones_like(dp, dtype=bool)
    L = arch.n_pipeline_layers
    stages = pp * cols["vpp"]
    layers_ok = ((L % stages) == 0) | (((L + 1) % stages) == 0) | (((L + 2) % stages) == 0)
    layers_ok &= stages <= L
    mb = cols["micro_batch"]
    checks: list[tuple[str, BoolArray]] = [
        ("devices = tp*pp*dp*cp", (dp == np.floor(dp)) & keep_dp & (dp >= 1)),
        ("tp divides the heads", (arch.n_heads % tp) == 0),
        ("tp and the key/value heads", ((arch.kv_heads % tp) == 0) | ((tp % arch.kv_heads) == 0)),
        ("pp*vpp divides the layers", layers_ok),
        ("vpp needs pp > 1", (cols["vpp"] == 1) | (pp > 1)),
        ("sequence parallelism needs tp > 1", (cols["sp"] == 0) | (tp > 1)),
        ("ep divides dp*cp", ((dp * cp) % ep) == 0),
        ("global batch divisible by micro_batch*dp", (global_batch % (mb * np.maximum(dp, 1)))
         == 0),
    ]
    m = global_batch / (mb * np.maximum(dp, 1))
    checks.append(("interleaving needs micro-batches divisible by pp",
                   (cols["vpp"] == 1) | ((m % pp) == 0)))
    valid = np.ones_like(tp, dtype=bool)
    reason = ""
    for rule, ok in checks:
        before = valid.any()
        valid &= ok
        if before and not valid.any():
            reason = rule
    cand = LayoutCandidates(
        tp=tp, pp=pp, dp=np.maximum(np.floor(dp), 1.0), cp=cp, ep=ep, sp=cols["sp"],
        vpp=cols["vpp"], micro_batch=mb, recompute=cols["recompute"], zero=cols["zero"],
    )
    return cand, valid, reason


def search_layouts(
    arch: Architecture, accelerator: Accelerator, rates: DeviceRates,
    defaults: PlannerDefaults, *, n_devices: int, seq_len: int, global_batch: int,
    base: Layout, recipe: str, fixed: dict[str, int | bool | str] | None = None,
) -> tuple[Layout, StepBreakdown, MemoryBreakdown]:
    """The fastest layout that fits in memory, with its step and memory breakdowns.

    Raises
    ------
    InvalidLayout
        No candidate is valid or fits; the message names the rule that removed the last
        candidates and the nearest change that would help.
    """
    cand, valid, reason = enumerate_layouts(
        arch, accelerator, n_devices=n_devices, seq_len=seq_len, global_batch=global_batch,
        fixed=fixed,
    )
    if not valid.any():
        raise InvalidLayout(
            f"no valid layout of {n_devices} devices for {arch.label} (seq_len={seq_len}, "
            f"global_batch={global_batch}): the rule '{reason}' removed the last candidates"
        )
    idx = np.flatnonzero(valid)
    c = {k: getattr(cand, k)[idx] for k in ("tp", "pp", "dp", "cp", "ep", "sp", "vpp",
                                            "micro_batch", "recompute", "zero")}
    m = np.floor(global_batch / (c["micro_batch"] * c["dp"]))
    mem = training_memory(
        arch, defaults, capacity_bytes=accelerator.memory_bytes, seq_len=seq_len,
        tp=c["tp"], pp=c["pp"], dp=c["dp"], cp=c["cp"], ep=c["ep"], sp=c["sp"], vpp=c["vpp"],
        micro_batch=c["micro_batch"], n_microbatches=m, recompute=c["recompute"],
        zero=c["zero"], flash_attention=base.flash_attention, dropout=base.dropout,
        precision=base.precision, recipe=recipe,
    )
    step = training_step(
        arch, rates, seq_len=seq_len, global_batch=global_batch, tp=c["tp"], pp=c["pp"],
        dp=c["dp"], cp=c["cp"], ep=c["ep"], sp=c["sp"], vpp=c["vpp"],
        micro_batch=c["micro_batch"], recompute=c["recompute"], zero=c["zero"],
        flash_attention=base.flash_attention, dropout=base.dropout, recipe=recipe,
        overlap_grad_reduce=base.overlap_grad_reduce, overlap_moe_comm=base.overlap_moe_comm,
    )
    fits = np.asarray(mem.feasible, dtype=bool)
    if not fits.any():
        best = int(np.argmin(mem.total_bytes))
        raise InvalidLayout(
            f"no layout of {n_devices} devices fits {arch.label} in "
            f"{accelerator.memory_bytes / 2**30:.0f} GiB per device: the smallest needs "
            f"{float(mem.total_bytes[best]) / 2**30:.1f} GiB; use more devices, full "
            f"recomputation, ZeRO/sharding or a smaller micro-batch"
        )
    times = np.where(fits, step.step_s, np.inf)
    best = int(np.argmin(times))
    pick = LayoutCandidates(**{k: v[best:best + 1] for k, v in c.items()})
    layout = pick.layout(0, global_batch=global_batch, base=base)
    return layout, _index(step, best), _index(mem, best)


_B = TypeVar("_B", StepBreakdown, MemoryBreakdown)


def _index(obj: _B, i: int) -> _B:
    """The ``i``-th candidate of a breakdown evaluated over many."""
    changes = {}
    for f in fields(obj):
        value = getattr(obj, f.name)
        if isinstance(value, np.ndarray) and value.ndim:
            changes[f.name] = value[i]
    return replace(obj, **changes)
