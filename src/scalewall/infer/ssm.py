"""State-space and hybrid models against a transformer of the same shape, when serving.

A Mamba-style layer keeps a fixed-size recurrent state per sequence instead of a KV cache that
grows with the context, so at long context a hybrid holds more sequences per device and reads
fewer bytes per decode step. :func:`compare_state_space` evaluates both with the one serving
model (:func:`scalewall.infer.plan.evaluate_serving`) over an array of contexts.

References
----------
.. [1] O. Lieber et al., "Jamba: A Hybrid Transformer-Mamba Language Model", 2024,
   arXiv:2403.19887 (one attention layer in eight; 8x smaller KV cache).
.. [2] T. Dao, A. Gu, "Transformers are SSMs", ICML 2024, arXiv:2405.21060.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from scalewall._errors import InvalidParameter
from scalewall._types import ArrayLike, FloatArray
from scalewall.arch.counts import n_params
from scalewall.arch.model import Architecture
from scalewall.catalog import Catalog, get_catalog
from scalewall.footprint import amortised_usd_per_s
from scalewall.infer.plan import (
    evaluate_serving,
    kv_precision_for,
    serving_constants,
    serving_rates,
    usable_bytes,
)
from scalewall.infer.step import kv_bytes_per_sequence_per_device
from scalewall.units import BYTES_PER_ELEMENT, HOUR_S

__all__ = ["StateSpaceComparison", "compare_state_space", "hybrid_of"]


def hybrid_of(arch: Architecture, *, attention_every: int = 8,
              equal_params: bool = True) -> Architecture:
    """``arch`` with all but one layer in ``attention_every`` turned into Mamba-2 layers
    (Jamba's 1:7 ratio for 8) [1]_; ``attention_every = 0`` gives a pure SSM.

    A Mamba-2 layer (expand 2) holds more weights than a grouped-query attention layer, so at
    the same depth the hybrid is larger (Llama 3.1 8B's shape: 9.7B against 8.0B). With
    ``equal_params`` (default) it keeps the width and drops layers until its parameter count is
    the closest to ``arch``'s, so the comparison is against a transformer of equal size.
    """
    if attention_every < 0:
        raise InvalidParameter(f"attention_every must be >= 0, got {attention_every!r}")

    def build(n_layers: int) -> Architecture:
        n_attn = 0 if attention_every == 0 else max(n_layers // attention_every, 1)
        return arch.replace(id=f"{arch.id or 'custom'}-hybrid", name=f"{arch.label} (hybrid)",
                            n_layers=n_layers, n_ssm_layers=n_layers - n_attn)

    if not equal_params:
        return build(arch.n_layers)
    # parameters are affine in the two layer counts: three counts give the coefficients, and
    # every depth is then scored at once
    one = n_params(arch.replace(n_layers=1, n_ssm_layers=0))  # a single attention layer
    attn = n_params(arch.replace(n_layers=2, n_ssm_layers=0)) - one
    ssm = n_params(arch.replace(n_layers=2, n_ssm_layers=1)) - one
    n = np.arange(1, arch.n_layers + 1)
    n_attn = (np.zeros_like(n) if attention_every == 0
              else np.maximum(n // max(attention_every, 1), 1))
    params = one + (n_attn - 1) * attn + (n - n_attn) * ssm
    return build(int(n[np.argmin(np.abs(params - n_params(arch)))]))


@dataclass(frozen=True)
class StateSpaceComparison:
    """Per-sequence memory and decode cost of a transformer and a hybrid, over contexts
    (memory per sequence over the whole replica; tokens/s and cost per device)."""

    context: FloatArray
    transformer_params: int
    hybrid_params: int
    transformer_bytes_per_sequence: FloatArray
    hybrid_bytes_per_sequence: FloatArray
    transformer_max_batch: FloatArray  # sequences that fit (<= the cap), 0 if not one
    hybrid_max_batch: FloatArray
    transformer_tpot_s: FloatArray  # at the same batch
    hybrid_tpot_s: FloatArray
    transformer_tokens_per_s_per_device: FloatArray  # each at its own maximum batch (<= cap)
    hybrid_tokens_per_s_per_device: FloatArray
    usd_per_device_hour: float | None = None  # cloud rate, else amortised price (no power)
    n_devices: int = 1  # of the tensor-parallel replica each model is served on
    hardware: str = ""
    precision: str = "bf16"
    hybrid_layers: int = 0
    hybrid_attention_layers: int = 0

    @property
    def memory_ratio(self) -> FloatArray:
        out: FloatArray = self.hybrid_bytes_per_sequence / self.transformer_bytes_per_sequence
        return out

    @property
    def throughput_ratio(self) -> FloatArray:
        """Hybrid over transformer tokens/s per device; inf where no transformer sequence fits
        (and the hybrid's does)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            out: FloatArray = (np.asarray(self.hybrid_tokens_per_s_per_device)
                               / np.asarray(self.transformer_tokens_per_s_per_device))
        return out

    def usd_per_million_tokens(self, tokens_per_s: FloatArray) -> FloatArray | None:
        """$ per million output tokens of one device at ``tokens_per_s``; None without a rate,
        inf where nothing fits."""
        if self.usd_per_device_hour is None:
            return None
        with np.errstate(divide="ignore"):
            out: FloatArray = self.usd_per_device_hour / HOUR_S / np.asarray(tokens_per_s) * 1e6
        return out

    @property
    def cheaper_from(self) -> float | None:
        """The shortest context compared at which the hybrid decodes more tokens/s per device
        (so costs less per token) than the transformer; None if it never does here."""
        better = np.flatnonzero(np.asarray(self.throughput_ratio) > 1.0)
        return float(np.asarray(self.context)[better[0]]) if better.size else None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            f.name: (np.asarray(v).tolist() if isinstance(v, np.ndarray) else v)
            for f in fields(self) for v in [getattr(self, f.name)]}
        out["memory_ratio"] = np.asarray(self.memory_ratio).tolist()
        out["throughput_ratio"] = _finite_or_none(self.throughput_ratio)
        for name in ("transformer", "hybrid"):
            cost = self.usd_per_million_tokens(getattr(self, f"{name}_tokens_per_s_per_device"))
            out[f"{name}_usd_per_million_tokens"] = None if cost is None else _finite_or_none(
                cost)
        out["cheaper_from"] = self.cheaper_from
        return out


# what to suggest when the weights do not fit on the devices compared
_LOWER_PRECISIONS = {"bf16": "fp8, int8, int4 or fp4", "fp16": "fp8, int8, int4 or fp4",
                     "fp8": "int4 or fp4", "int8": "int4 or fp4"}


def _finite_or_none(x: FloatArray) -> list[float | None]:
    """JSON-safe list: None where a ratio or cost is undefined (nothing fits)."""
    return [float(v) if np.isfinite(v) else None for v in np.asarray(x, dtype=float).ravel()]


def _hold_a_sequence(transformer: Architecture, hybrid: Architecture, gemm: Any, attn: Any,
                     n: list[int], context: float, batch: int, precision: str,
                     kv_precision: str, consts: dict[str, Any]) -> list[int]:
    """Those of the replica sizes ``n`` that hold each model's weights, a ``batch``-sequence
    step's workspace and one sequence of ``context`` tokens (the comparison's ``max_batch``
    is at least 1), all sizes in one evaluation per model."""
    size = np.asarray(n, dtype=float)
    ok = np.ones(size.shape, dtype=bool)
    for arch in (transformer, hybrid):
        ok &= np.asarray(evaluate_serving(
            arch, gemm, attention_rates=attn, batch=float(batch), prompt=context, output=1.0,
            context=context, tp=size, n_devices=size,
            weight_bytes=BYTES_PER_ELEMENT[precision], kv_precision=kv_precision,
            **consts).max_batch) >= 1.0
    return [k for k, keep in zip(n, ok, strict=True) if keep]


def compare_state_space(
    transformer: str | Architecture, hardware: str, *, context: ArrayLike,
    hybrid: Architecture | None = None, batch: int = 16, max_batch: int = 1024,
    precision: str = "bf16", n_devices: int | None = None, catalog: Catalog | None = None,
) -> StateSpaceComparison:
    """Serve ``transformer`` and its hybrid (default :func:`hybrid_of`) on one replica.

    Parameters
    ----------
    context : [tokens] array of decode contexts (the prompt; one output token per step).
    batch : sequences for the same-batch step-time comparison.
    max_batch : cap on the batch when each model runs at the most sequences that fit.
    n_devices : devices of the replica, tensor-parallel within the chip's scale-up domain;
        default the fewest (a power of two) that hold both models' weights and one sequence
        of the shortest context of each (else the fewest that hold the weights).

    Returns
    -------
    StateSpaceComparison; its ``memory_ratio`` and ``throughput_ratio`` say by how much the
    hybrid is smaller and faster per device at each context, ``cheaper_from`` from which
    context it costs less per token, and ``to_dict`` gives $ per million output tokens of each
    (one device at the catalog's cloud rate, else its amortised price).

    Examples
    --------
    >>> c = compare_state_space("llama-3.1-8b", "h100-sxm", context=[256, 1024, 4096, 32768])
    >>> [round(float(r), 1) for r in c.throughput_ratio], c.cheaper_from
    ([0.6, 1.2, 3.1, 8.4], 1024.0)
    """
    cat = catalog or get_catalog()
    base = cat.model(transformer) if isinstance(transformer, str) else transformer
    hyb = hybrid or hybrid_of(base)
    accel = cat.accelerator(hardware)
    gemm, attn = serving_rates(accel, cat, precision=precision)
    kv_p = kv_precision_for(precision, accel)
    s = np.asarray(context, dtype=float)
    long_base = base.replace(max_seq_len=max(base.max_seq_len, int(s.max()) + 1))
    long_hyb = hyb.replace(max_seq_len=max(hyb.max_seq_len, int(s.max()) + 1))
    consts = serving_constants(accel, cat)
    usable = usable_bytes(consts)
    domain = max(accel.scale_up_domain, 1) if accel.scale_up_bytes_per_s else 1
    weights = max(n_params(base), n_params(hyb)) * BYTES_PER_ELEMENT[precision]
    if n_devices is None:
        fits = [n for n in (2**k for k in range(11)) if n <= domain and weights / n < usable]
        # a replica that holds the weights but not one sequence compares nothing
        if fits:
            fits = _hold_a_sequence(long_base, long_hyb, gemm, attn, fits, float(s.min()),
                                    batch, precision, kv_p, consts) or fits
        if not fits:
            lower = _LOWER_PRECISIONS.get(precision)
            hint = (f"compare at a lower precision ({lower}) or with a smaller model" if lower
                    else "compare a smaller model")
            raise InvalidParameter(
                f"the weights of {base.label} at {precision} need {weights / 1e9:.1f} GB, more "
                f"than the {usable * domain / 1e9:.1f} GB usable on {domain} x {accel.id} (one "
                f"tensor-parallel replica within the chip's scale-up domain): {hint}")
        n_devices = fits[0]
    elif not 1 <= n_devices <= domain or isinstance(n_devices, bool):
        raise InvalidParameter(
            f"n_devices must be in [1, {domain}] (tensor parallel within the scale-up domain of "
            f"{accel.id}), got {n_devices!r}")
    n = float(n_devices)

    def run(arch: Architecture) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
        per_seq = kv_bytes_per_sequence_per_device(arch, context=s, kv_precision=kv_p)
        common = dict(attention_rates=attn, prompt=s, output=1.0, context=s, tp=n,
                      n_devices=n, weight_bytes=BYTES_PER_ELEMENT[precision],
                      kv_precision=kv_p, **consts)
        fixed = evaluate_serving(arch, gemm, batch=batch, **common)
        if float(np.asarray(fixed.weights_bytes_per_device).max()) >= usable:
            raise InvalidParameter(
                f"the weights of {arch.label} at {precision} do not fit on {n_devices} x "
                f"{accel.id}: use more devices or a lower precision")
        room = np.minimum(np.asarray(fixed.max_batch), float(max_batch))  # 0: none fits
        cap = np.maximum(room, 1.0)
        full = evaluate_serving(arch, gemm, batch=cap, **common)
        # decode tokens/s per device at the most sequences that fit; 0 where none fits
        tps: FloatArray = np.where(room >= 1.0, cap / np.asarray(full.tpot_s) / n, 0.0)
        return per_seq, room, np.asarray(fixed.tpot_s), tps

    t_mem, t_cap, t_tpot, t_tps = run(long_base)
    h_mem, h_cap, h_tpot, h_tps = run(long_hyb)
    d = cat.defaults
    hourly = accel.cloud_usd_per_hour
    if hourly is None and accel.price_usd is not None:  # ownership: the price, no power
        hourly = HOUR_S * amortised_usd_per_s(accel.price_usd,
                                              capex_overhead_factor=d.capex_overhead_factor,
                                              hardware_lifetime_s=d.hardware_lifetime_s)
    return StateSpaceComparison(
        context=s, transformer_params=n_params(base), hybrid_params=n_params(hyb),
        transformer_bytes_per_sequence=t_mem, hybrid_bytes_per_sequence=h_mem,
        transformer_max_batch=t_cap, hybrid_max_batch=h_cap, transformer_tpot_s=t_tpot,
        hybrid_tpot_s=h_tpot, transformer_tokens_per_s_per_device=t_tps,
        hybrid_tokens_per_s_per_device=h_tps, usd_per_device_hour=hourly,
        n_devices=n_devices, hardware=accel.id, precision=precision,
        hybrid_layers=hyb.n_layers, hybrid_attention_layers=hyb.n_attention_layers,
    )
