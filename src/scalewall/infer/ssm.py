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
from scalewall.infer.plan import evaluate_serving, kv_precision_for, serving_rates
from scalewall.infer.step import kv_bytes_per_sequence_per_device
from scalewall.units import BYTES_PER_ELEMENT

__all__ = ["StateSpaceComparison", "compare_state_space", "hybrid_of"]


def hybrid_of(arch: Architecture, *, attention_every: int = 8) -> Architecture:
    """``arch`` with all but one layer in ``attention_every`` turned into Mamba-2 layers
    (Jamba's 1:7 ratio for 8) [1]_; ``attention_every = 0`` gives a pure SSM."""
    if attention_every < 0:
        raise InvalidParameter(f"attention_every must be >= 0, got {attention_every!r}")
    n_attn = 0 if attention_every == 0 else max(arch.n_layers // attention_every, 1)
    return arch.replace(id=f"{arch.id or 'custom'}-hybrid", name=f"{arch.label} (hybrid)",
                        n_ssm_layers=arch.n_layers - n_attn)


@dataclass(frozen=True)
class StateSpaceComparison:
    """Per-sequence memory and decode cost of a transformer and a hybrid, over contexts."""

    context: FloatArray
    transformer_params: int
    hybrid_params: int
    transformer_bytes_per_sequence: FloatArray
    hybrid_bytes_per_sequence: FloatArray
    transformer_max_batch: FloatArray
    hybrid_max_batch: FloatArray
    transformer_tpot_s: FloatArray  # at the same batch
    hybrid_tpot_s: FloatArray
    transformer_tokens_per_s_per_device: FloatArray  # each at its own maximum batch (<= cap)
    hybrid_tokens_per_s_per_device: FloatArray

    @property
    def memory_ratio(self) -> FloatArray:
        out: FloatArray = self.hybrid_bytes_per_sequence / self.transformer_bytes_per_sequence
        return out

    @property
    def throughput_ratio(self) -> FloatArray:
        out: FloatArray = (self.hybrid_tokens_per_s_per_device
                           / self.transformer_tokens_per_s_per_device)
        return out

    def to_dict(self) -> dict[str, Any]:
        out = {f.name: np.asarray(getattr(self, f.name)).tolist() for f in fields(self)}
        out["memory_ratio"] = np.asarray(self.memory_ratio).tolist()
        out["throughput_ratio"] = np.asarray(self.throughput_ratio).tolist()
        return out


def compare_state_space(
    transformer: str | Architecture, hardware: str, *, context: ArrayLike,
    hybrid: Architecture | None = None, batch: int = 16, max_batch: int = 1024,
    precision: str = "bf16", catalog: Catalog | None = None,
) -> StateSpaceComparison:
    """Serve ``transformer`` and its hybrid (default :func:`hybrid_of`) on one device.

    Parameters
    ----------
    context : [tokens] array of decode contexts (the prompt; one output token per step).
    batch : sequences for the same-batch step-time comparison.
    max_batch : cap on the batch when each model runs at the most sequences that fit.

    Returns
    -------
    StateSpaceComparison; its ``memory_ratio`` and ``throughput_ratio`` say by how much the
    hybrid is smaller and faster per device at each context.
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
    reserve = cat.defaults.framework_reserved_bytes if accel.kind == "gpu" else 0.0

    def run(arch: Architecture) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
        per_seq = kv_bytes_per_sequence_per_device(arch, context=s, kv_precision=kv_p)
        common = dict(attention_rates=attn, prompt=s, output=1.0, context=s,
                      weight_bytes=BYTES_PER_ELEMENT[precision], kv_precision=kv_p,
                      capacity_bytes=accel.memory_bytes, reserved_bytes=reserve,
                      fragmentation=cat.defaults.fragmentation_fraction)
        fixed = evaluate_serving(arch, gemm, batch=batch, **common)  # type: ignore[arg-type]
        cap = np.clip(np.asarray(fixed.max_batch), 1.0, float(max_batch))
        full = evaluate_serving(arch, gemm, batch=cap, **common)  # type: ignore[arg-type]
        tps: FloatArray = cap / np.asarray(full.tpot_s)  # decode tokens/s at full batch
        return per_seq, cap, np.asarray(fixed.tpot_s), tps

    t_mem, t_cap, t_tpot, t_tps = run(long_base)
    h_mem, h_cap, h_tpot, h_tps = run(long_hyb)
    return StateSpaceComparison(
        context=s, transformer_params=n_params(base), hybrid_params=n_params(hyb),
        transformer_bytes_per_sequence=t_mem, hybrid_bytes_per_sequence=h_mem,
        transformer_max_batch=t_cap, hybrid_max_batch=h_cap, transformer_tpot_s=t_tpot,
        hybrid_tpot_s=h_tpot, transformer_tokens_per_s_per_device=t_tps,
        hybrid_tokens_per_s_per_device=h_tps,
    )
