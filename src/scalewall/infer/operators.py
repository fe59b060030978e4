"""Roofline of one layer's matrix multiplies in a decode step or a prefill, GEMM by GEMM.

For each weight matrix of the average layer (:func:`scalewall.arch.gemms.layer_gemm_groups`):
the FLOP and bytes one device moves, the arithmetic intensity against the device's ridge point
(achievable FLOP/s over achievable bytes/s), which bound it sits under, and its time from the
same kernel model the step times use (:func:`scalewall.kernels.split_k_matmul_time_s`), so the
rows add up to the step's matrix-multiply time. Attention follows with its FLOP, bytes and
intensity (the step computes them), and the rest of the step (memory-bound kernels,
collectives, the output head) by its time alone.

This is the per-operator view LLM-Viewer draws (Yuan et al., "LLM Inference Unveiled: Survey
and Roofline Model Insights", 2024, arXiv:2402.16363), on this project's kernel model.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from scalewall.arch.counts import expert_load_factor
from scalewall.arch.gemms import layer_gemm_groups, layer_gemm_names
from scalewall.arch.model import Architecture
from scalewall.infer.step import (
    ACTIVATION_BYTES,
    StepTime,
    element_bytes,
    prefill,
    routed_experts,
)
from scalewall.kernels import DeviceRates, split_k_matmul_time_s

if TYPE_CHECKING:
    from scalewall.catalog import Catalog
    from scalewall.infer.plan import ServingPlan

__all__ = ["Operator", "gemm_operators", "operator_table", "plan_operators"]


@dataclass(frozen=True)
class Operator:
    """One operator of the average layer on one device [SI units]."""

    name: str
    per_layer: float  # occurrences in the average layer (a share for MoE or hybrid layers)
    m: float  # tokens through it (rows of the activation)
    n: float  # output columns on this device
    k: float  # reduction depth on this device
    flop: float  # per occurrence
    bytes: float  # weights, inputs and outputs, per occurrence
    time_s: float  # per occurrence
    bound: str  # "compute" or "memory" (the larger of the two times)
    groups: float = 1.0  # same-shaped GEMMs in the one launch (the touched routed experts)

    @property
    def intensity(self) -> float:
        """Arithmetic intensity [FLOP/B]."""
        return self.flop / self.bytes if self.bytes else float("inf")

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "intensity": self.intensity}


def _ridge_flop_per_byte(rates: DeviceRates) -> float:
    """Arithmetic intensity at which the achievable compute and memory roofs meet [FLOP/B]."""
    return rates.peak_flop_per_s * rates.matmul_efficiency / rates.memory_bandwidth_bytes_per_s


def _gemm(name: str, per_layer: float, m: float, n: float, k: float, rates: DeviceRates,
          weight_bytes: float, groups: float = 1.0) -> Operator:
    flop = 2.0 * m * n * k * groups
    moved = (k * n * weight_bytes + (m * k + m * n) * ACTIVATION_BYTES) * groups
    time = float(split_k_matmul_time_s(m, n, k, rates, operand_bytes=weight_bytes,
                                       groups=groups))
    bound = "compute" if flop / moved > _ridge_flop_per_byte(rates) else "memory"
    return Operator(name, per_layer, m, n, k, flop, moved, time, bound, groups)


def gemm_operators(arch: Architecture, rates: DeviceRates, *, tokens: float, tp: int = 1,
                   weight_bytes: float, attn_tokens: float | None = None,
                   ep: int = 1) -> list[Operator]:
    """The matrix multiplies of the average layer for ``tokens`` tokens on one device of a
    ``tp``-way tensor-parallel replica, as :func:`scalewall.infer.step` times them; with
    ``attn_tokens`` (attention data parallelism) the attention projections are unsplit and
    run on that many tokens, the device's own.

    Routed experts: of ``E`` experts each token picks ``k``, so ``tokens`` touch
    :math:`E(1 - (1 - k/E)^T)` of them, each running :math:`Tk/E_{touched}` tokens (``m``);
    each ``experts_*`` row is one grouped GEMM over the touched experts (``groups``), FLOP and
    bytes summed over them, at the busiest of ``ep`` ranks' share of the tokens
    (:func:`~scalewall.arch.counts.expert_load_factor`).
    """
    groups = layer_gemm_groups(arch, routed_experts=False)
    names = layer_gemm_names(arch)
    if [len(g.shapes) for g in groups] != [len(n) for n in names]:
        raise AssertionError(f"operator names do not match the GEMM groups of {arch.label}")
    out: list[Operator] = []
    for group, labels in zip(groups, names, strict=True):
        t, m_tok = tp, tokens
        if group.role == "attention" and attn_tokens is not None:
            t, m_tok = 1, attn_tokens
        for (k, n, split), label in zip(group.shapes, labels, strict=True):
            out.append(_gemm(label, group.share, m_tok, n / t if split == "n" else n,
                             k / t if split == "k" else k, rates, weight_bytes))
    if arch.is_moe:
        touched, m = (float(x) for x in routed_experts(arch, tokens))
        m *= float(expert_load_factor(arch, ep))
        h, f = float(arch.hidden_size), float(arch.expert_ffn_size)
        up = 2.0 if arch.mlp == "swiglu" else 1.0
        share = arch.n_moe_layers / arch.n_layers
        out.append(_gemm("experts_up", share, m, up * f / tp, h, rates, weight_bytes, touched))
        out.append(_gemm("experts_down", share, m, h, f / tp, rates, weight_bytes, touched))
    return out


def operator_table(arch: Architecture, rates: DeviceRates, step: StepTime, *, tokens: float,
                   tp: int = 1, weight_bytes: float,
                   attn_tokens: float | None = None, ep: int = 1) -> dict[str, Any]:
    """The GEMM rows of :func:`gemm_operators` and the rest of ``step`` (one step of
    ``tokens`` tokens on one device, e.g. from :func:`~scalewall.infer.step.decode_step`), each
    with its share of the step time."""
    gemms = gemm_operators(arch, rates, tokens=tokens, tp=tp, weight_bytes=weight_bytes,
                           attn_tokens=attn_tokens, ep=ep)
    L = float(arch.n_layers)
    step_s = float(np.asarray(step.step_s))
    layers_gemm = L * sum(g.per_layer * g.time_s for g in gemms)
    rest = {
        "output_head": float(np.asarray(step.gemm_s)) - layers_gemm,
        "attention": float(np.asarray(step.attention_s)),
        "elementwise": float(np.asarray(step.elementwise_s)),
        "collectives": float(np.asarray(step.comm_s)),
    }
    rows = [{**g.to_dict(), "step_share": L * g.per_layer * g.time_s / step_s} for g in gemms]
    a_flop, a_bytes = (float(np.asarray(x)) for x in (step.attention_flop, step.attention_bytes))
    roof = rates.peak_flop_per_s * rates.matmul_efficiency
    return {"step_s": step_s, "compute_roof_flop_per_s": roof,
            "memory_roof_bytes_per_s": rates.memory_bandwidth_bytes_per_s,
            "ridge_flop_per_byte": _ridge_flop_per_byte(rates),
            "gemms": rows,
            "attention": {"flop": a_flop, "bytes": a_bytes,
                          "intensity": a_flop / a_bytes if a_bytes else None,
                          "time_s": rest["attention"]},
            "rest": [{"name": k, "time_s": v, "step_share": v / step_s}
                     for k, v in rest.items()]}


def plan_operators(plan: ServingPlan, catalog: Catalog,
                   rates: DeviceRates | None = None) -> dict[str, Any]:
    """:func:`operator_table` of ``plan``'s decode step (its own, one micro-batch at the mean
    decode context; a speculative plan's verification of ``k + 1`` tokens per sequence) and of
    one prompt's prefill, on one device of its replica; ``rates``: a
    calibration's, as :func:`~scalewall.infer.plan.plan_serving` takes them."""
    from scalewall.infer.plan import calibrated_serving_rates, serving_rates

    arch = plan.model
    gemm, attn = serving_rates(plan.accelerator, catalog, precision=plan.precision)
    if rates is not None:
        gemm, attn = calibrated_serving_rates(attn, rates)
    wb = element_bytes(plan.precision)
    prompt = max(plan.prompt, 1)
    dec = plan.metrics.decode  # the steps the plan chose, already evaluated
    pre = plan.metrics.prefill if plan.prompt else prefill(  # a prompt of 0: show one token
        arch, gemm, batch=1, prompt=prompt, weight_bytes=wb, tp=plan.tp, pp=plan.pp,
        ep=plan.ep, attention_rates=attn, attention_dp=plan.attention_dp)
    mb = plan.batch / min(plan.batch, plan.pp)  # sequences per micro-batch
    q = plan.speculative_tokens + 1.0  # query tokens per sequence (a speculative step's k + 1)
    dp = plan.attention_dp
    return {
        "decode": operator_table(arch, gemm, dec, tokens=mb * q, tp=plan.tp, weight_bytes=wb,
                                 attn_tokens=float(np.ceil(mb / plan.tp)) * q if dp else None,
                                 ep=plan.ep),
        "prefill": operator_table(arch, gemm, pre, tokens=prompt, tp=plan.tp,
                                  weight_bytes=wb, attn_tokens=float(prompt) if dp else None,
                                  ep=plan.ep),
    }
