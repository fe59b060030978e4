"""Parallel layout of a training run and the rules that make one buildable."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

import numpy as np

from scalewall._errors import InvalidLayout, InvalidParameter
from scalewall._types import ArrayLike, as_float, where
from scalewall.arch.model import Architecture
from scalewall.units import PRECISIONS

__all__ = ["RECIPES", "RECOMPUTE", "Layout", "check_layout", "recipe_for", "resolved_options",
           "stage_layers"]

#: Activation recomputation modes, coded 0/1/2 in the vectorized kernels.
RECOMPUTE: tuple[str, ...] = ("none", "selective", "full")
#: Mixed-precision bookkeeping of the training framework:
#: ``megatron``: bf16 weights, fp32 master weights, a persistent fp32 gradient buffer, Adam
#: moments in fp32 (18 bytes per parameter; Megatron-LM, NeMo, DeepSpeed);
#: ``pytorch``: fp32 weights under autocast with bf16 copies cached per step, fp32 gradients
#: allocated during backward, Adam moments in fp32 (PyTorch AMP, FSDP with fp32 shards).
RECIPES: tuple[str, ...] = ("megatron", "pytorch")


@dataclass(frozen=True)
class Layout:
    """How a training step is split over devices, and the memory-saving options in force.

    Parallel degrees: tensor ``tp``, pipeline ``pp`` (``vpp`` virtual stages per device for the
    interleaved schedule), data ``dp``, context ``cp`` and expert ``ep`` (carved out of
    ``dp * cp``). ``global_batch`` and ``micro_batch`` are in sequences.
    """

    tp: int = 1
    pp: int = 1
    dp: int = 1
    cp: int = 1
    ep: int = 1
    sp: bool = False
    vpp: int = 1
    micro_batch: int = 1
    global_batch: int | None = None
    recompute: str = "none"
    zero: int = 1
    flash_attention: bool = True
    dropout: bool | None = None  # None: as the model's family trains (Architecture)
    precision: str = "bf16"
    recipe: str = "auto"
    # gradient reduction overlapped with backward, as PyTorch DDP/FSDP do and Megatron-LM's
    # recommended configurations (--overlap-grad-reduce) have done since 2023
    overlap_grad_reduce: bool = True
    # ZeRO-3 gathers the next layer's weights during this layer's compute (DeepSpeed's
    # stage-3 prefetch, FSDP's forward/backward prefetch)
    prefetch_params: bool = True
    overlap_moe_comm: bool = False  # expert all-to-all hidden behind another micro-batch

    @property
    def n_devices(self) -> int:
        return self.tp * self.pp * self.dp * self.cp

    @property
    def n_microbatches(self) -> int:
        """Micro-batches per step on each pipeline."""
        return (self.global_batch or self.micro_batch * self.dp) // (self.micro_batch * self.dp)

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def stage_layers(n_layers: int, pp: ArrayLike) -> tuple[Any, Any, Any]:
    """Layers on the first, a middle and the last pipeline stage.

    When ``pp`` divides the layers, every stage has ``L/p``. When it divides ``L + 1`` or
    ``L + 2``, the embedding (and the loss) take a layer's slot on the first (and last) stage,
    as Megatron-LM's account-for-embedding/loss options and Llama 3's 126 layers on 16 stages
    do. Otherwise stages hold ``ceil(L/p)`` at most.
    """
    L = float(n_layers)
    if not isinstance(pp, np.ndarray):  # one plan: plain arithmetic
        p1 = float(pp)
        if p1 == 1:
            return L, L, L
        if L % p1 == 0:
            return L / p1, L / p1, L / p1
        for extra in (1.0, 2.0):
            if (L + extra) % p1 == 0:
                mid = (L + extra) / p1
                return mid - 1.0, mid, mid - 1.0 if extra == 2.0 else mid
        mid = float(np.ceil(L / p1))
        return mid, mid, mid
    p = as_float(pp)
    even = (L % p) == 0
    plus1 = ~even & (((L + 1) % p) == 0)
    plus2 = ~even & ~plus1 & (((L + 2) % p) == 0)
    middle = where(even, L / p, where(plus1, (L + 1) / p,
                                            where(plus2, (L + 2) / p, np.ceil(L / p))))
    first = where(plus1 | plus2, middle - 1.0, middle)
    last = where(plus2, middle - 1.0, middle)
    first = where(p == 1, L, first)
    last = where(p == 1, L, last)
    return first, middle, last


def resolved_options(arch: Architecture, layout: Layout, recipe: str) -> tuple[bool, bool]:
    """(dropout, overlap_grad_reduce) with their defaults filled in."""
    dropout = layout.dropout if layout.dropout is not None else arch.dropout
    return dropout, layout.overlap_grad_reduce


def recipe_for(layout: Layout) -> str:
    """The framework bookkeeping in force: ``auto`` means Megatron-style under model
    parallelism (tensor or pipeline), plain PyTorch AMP otherwise."""
    if layout.recipe != "auto":
        return layout.recipe
    return "megatron" if layout.tp * layout.pp > 1 else "pytorch"


def _positive(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidParameter(f"layout.{name} must be a positive integer, got {value!r}")


def check_layout(
    arch: Architecture, layout: Layout, *, n_devices: int, seq_len: int
) -> Layout:
    """Check that ``layout`` can be built for ``arch`` on ``n_devices``; return it with the
    global batch filled in. Every error names the field, the rule and the values.

    Raises
    ------
    InvalidLayout
        Divisibility or device-count rules broken.
    InvalidParameter
        A non-positive degree, an unknown mode or precision.
    """
    for name in ("tp", "pp", "dp", "cp", "ep", "vpp", "micro_batch"):
        _positive(name, getattr(layout, name))
    _positive("devices", n_devices)
    _positive("seq_len", seq_len)
    if layout.global_batch is not None:
        _positive("global_batch", layout.global_batch)
    if layout.recompute not in RECOMPUTE:
        raise InvalidParameter(
            f"layout.recompute must be one of {', '.join(RECOMPUTE)}, got {layout.recompute!r}"
        )
    if layout.recipe not in (*RECIPES, "auto"):
        raise InvalidParameter(
            f"layout.recipe must be one of auto, {', '.join(RECIPES)}, got {layout.recipe!r}"
        )
    if layout.precision not in PRECISIONS or layout.precision not in ("bf16", "fp16", "fp8"):
        raise InvalidParameter(
            f"training precision must be one of bf16, fp16, fp8, got {layout.precision!r}"
        )
    if isinstance(layout.zero, bool) or layout.zero not in (0, 1, 2, 3):
        raise InvalidParameter(f"layout.zero must be 0, 1, 2 or 3, got {layout.zero!r}")
    tp, pp, dp, cp, ep = layout.tp, layout.pp, layout.dp, layout.cp, layout.ep
    if tp * pp * dp * cp != n_devices:
        raise InvalidLayout(
            f"devices must equal tp*pp*dp*cp: {tp}*{pp}*{dp}*{cp} = {tp * pp * dp * cp}, "
            f"got devices={n_devices}"
        )
    if arch.n_heads % tp:
        raise InvalidLayout(f"tp={tp} must divide the attention heads ({arch.n_heads})")
    if arch.kv_heads % tp and tp % arch.kv_heads:
        raise InvalidLayout(
            f"tp={tp} must divide, or be a multiple of, the key/value heads ({arch.kv_heads})"
        )
    stages = pp * layout.vpp
    n_pipe = arch.n_pipeline_layers
    if n_pipe < stages or all((n_pipe + extra) % stages for extra in (0, 1, 2)):
        raise InvalidLayout(
            f"pp*vpp={stages} must divide the layers ({n_pipe}), or divide them plus one or two "
            f"(the embedding and the loss counted as a layer each, as Megatron-LM's "
            f"account-for-embedding/loss options do)"
        )
    if layout.vpp > 1 and pp == 1:
        raise InvalidLayout(f"vpp={layout.vpp} (interleaving) needs pp > 1, got pp=1")
    if seq_len % cp:
        raise InvalidLayout(f"cp={cp} must divide the sequence length ({seq_len})")
    if seq_len > arch.max_seq_len:
        raise InvalidParameter(
            f"seq_len={seq_len} exceeds the model's maximum context ({arch.max_seq_len})"
        )
    arch.check_expert_parallel(ep)
    if ep > 1 and (dp * cp) % ep:
        raise InvalidLayout(f"ep={ep} must divide dp*cp={dp * cp}")
    global_batch = layout.global_batch or layout.micro_batch * dp
    if global_batch % (layout.micro_batch * dp):
        raise InvalidLayout(
            f"global_batch={global_batch} must be divisible by micro_batch*dp="
            f"{layout.micro_batch}*{dp}={layout.micro_batch * dp}"
        )
    m = global_batch // (layout.micro_batch * dp)
    if layout.vpp > 1 and m % pp:
        raise InvalidLayout(
            f"the interleaved schedule needs micro-batches per step ({m}) divisible by pp={pp}"
        )
    if layout.global_batch == global_batch:
        return layout
    return replace(layout, global_batch=global_batch)
