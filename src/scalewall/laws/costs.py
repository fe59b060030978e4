"""What FLOP cost on real hardware: inference and synthetic-data generation, and the
loss-optimal model for a budget in dollars, MWh or days on a given cluster.

Inference is priced by :func:`inference_cost`, the ONE place that converts generated and
prompt tokens into device-time, energy and dollars. Until ``scalewall.infer`` (the inference
planner) exists it is a roofline estimate: prefill at the achievable matmul rate; decode one
step per ``decode_batch`` tokens, each step the larger of reading the weights once at the
achievable memory bandwidth and ``2 N`` FLOP per token at the achievable matmul rate (Pope et
al. 2022); KV-cache reads and communication are ignored. Energy, carbon and cost go through
:func:`scalewall.footprint.run_footprint` with the training planner's device constants.
Training budgets go through :func:`scalewall.train.plan.plan_training`.

References
----------
.. [1] R. Pope et al., "Efficiently Scaling Transformer Inference", 2022, arXiv:2211.05102.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from scalewall._errors import InvalidParameter
from scalewall._types import ArrayLike
from scalewall.arch.counts import n_params as count_params
from scalewall.arch.model import Architecture
from scalewall.catalog import Catalog, get_catalog
from scalewall.footprint import run_footprint
from scalewall.hardware import Accelerator
from scalewall.kernels import device_rates
from scalewall.laws._checks import as_float, check_positive
from scalewall.laws.constants import ChinchillaLaw, LawCatalog, get_laws_catalog
from scalewall.laws.parametric import (
    FLOP_PER_PARAM_TOKEN,
    compute_optimal_chinchilla,
    loss_chinchilla,
)
from scalewall.units import BYTES_PER_ELEMENT

__all__ = [
    "INFERENCE_METHOD",
    "BudgetOptimum",
    "InferenceCost",
    "inference_cost",
    "optimal_for_budget",
    "proxy_architecture",
]

INFERENCE_METHOD = (
    "roofline estimate (prefill at the achievable matmul rate; decode the larger of weight "
    "reads at achievable bandwidth and 2N FLOP/token, per decode batch); will route through "
    "the inference planner (scalewall.infer) when it exists"
)


@dataclass(frozen=True)
class InferenceCost:
    """Device-time, energy and money of generating tokens (all SI units)."""

    flop: Any
    device_s: Any
    device_hours: Any
    energy_j: Any
    co2_g: Any
    cost_usd: Any  # rental; None when the chip has no cloud price
    accelerator: str
    decode_batch: float
    method: str = INFERENCE_METHOD

    def to_dict(self) -> dict[str, Any]:
        return {k: (v if isinstance(v, str) or v is None else np.asarray(v).tolist())
                for k, v in self.__dict__.items()}


def inference_cost(
    n_params: ArrayLike, n_output_tokens: ArrayLike, n_prompt_tokens: ArrayLike = 0.0, *,
    hardware: str | Accelerator, decode_batch: float, precision: str = "bf16",
    catalog: Catalog | None = None,
) -> InferenceCost:
    """Cost of generating ``n_output_tokens`` after ``n_prompt_tokens`` with a dense model.

    Parameters
    ----------
    n_params : [parameters] active parameters of the serving model.
    n_output_tokens, n_prompt_tokens : [tokens] generated and prompt (prefill) tokens.
    hardware : catalog accelerator; decode_batch : sequences decoded per step and device.
    precision : weights' precision for the bandwidth term and the matmul rate.

    Returns
    -------
    InferenceCost : FLOP, device-seconds, device-hours, energy [J], CO2 [g], rental [USD].

    Notes
    -----
    .. math:: t = \\frac{2 N P}{R} + \\frac{T}{b}\\max\\left(\\frac{N\\,s}{W},
              \\frac{2 N b}{R}\\right)

    with P prompt and T output tokens, R the achievable matmul rate [FLOP/s], W the achievable
    memory bandwidth [bytes/s], s bytes per weight and b the decode batch; FLOP = 2N(P + T)
    (Sardana et al. 2024, Sec. 2; Pope et al. 2022).
    """
    check_positive("inference_cost", "n_params", n_params)
    check_positive("inference_cost", "n_output_tokens", n_output_tokens, allow_zero=True)
    check_positive("inference_cost", "n_prompt_tokens", n_prompt_tokens, allow_zero=True)
    check_positive("inference_cost", "decode_batch", decode_batch)
    cat = catalog or get_catalog()
    accel = cat.accelerator(hardware) if isinstance(hardware, str) else hardware
    rates = device_rates(accel, cat.defaults, precision=precision)
    flop_rate = rates.peak_flop_per_s * rates.matmul_efficiency
    n = np.asarray(n_params, dtype=float)
    out = np.asarray(n_output_tokens, dtype=float)
    prompt = np.asarray(n_prompt_tokens, dtype=float)
    weight_read_s = n * BYTES_PER_ELEMENT.get(precision, 2.0) / rates.memory_bandwidth_bytes_per_s
    decode_compute_s = 2.0 * n * decode_batch / flop_rate
    step_s = np.maximum(weight_read_s, decode_compute_s)
    prefill_s = 2.0 * n * prompt / flop_rate
    decode_s = out / decode_batch * step_s
    device_s = prefill_s + decode_s
    busy_s = prefill_s + out / decode_batch * decode_compute_s
    activity = np.where(device_s > 0, busy_s / np.where(device_s > 0, device_s, 1.0), 0.0)
    d = cat.defaults
    region = cat.region(d.default_region)
    tdp = accel.tdp_w or 0.0
    idle = accel.idle_power_w(d.idle_fraction_of_tdp)
    fp = run_footprint(
        n_devices=1.0, duration_s=device_s, activity=activity, tdp_w=tdp, idle_w=idle,
        host_fraction_of_tdp=d.host_power_fraction_of_tdp, pue=d.default_pue,
        grid_g_per_j=region.grid_g_per_j, electricity_usd_per_j=region.electricity_usd_per_j,
        cloud_usd_per_hour=accel.cloud_usd_per_hour, price_usd=accel.price_usd,
        capex_overhead_factor=d.capex_overhead_factor,
        hardware_lifetime_s=d.hardware_lifetime_s,
    )
    return InferenceCost(
        flop=as_float(2.0 * n * (out + prompt)), device_s=as_float(device_s),
        device_hours=as_float(fp.device_hours), energy_j=as_float(fp.energy_j),
        co2_g=as_float(fp.co2_g),
        cost_usd=None if fp.rental_cost_usd is None else as_float(fp.rental_cost_usd),
        accelerator=accel.id, decode_batch=float(decode_batch),
    )


# --- training budgets through the planner ---------------------------------------------------

# Proxy shape for a parameter count: a Llama-style decoder (SwiGLU, RMSNorm, RoPE, 32k
# vocabulary) with width about 100x depth, the aspect ratio of Chinchilla (8192 / 80) and
# Llama 2 70B (8192 / 80); heads of 128.
_ASPECT = 100.0
_HEAD = 128
_VOCAB = 32_000


def proxy_architecture(n_params: float, *, seq_len: int = 2048) -> Architecture:
    """A dense decoder of about ``n_params`` parameters, for planning a law's optimum.

    Examples
    --------
    >>> arch = proxy_architecture(70e9)
    >>> arch.n_layers, arch.hidden_size
    (83, 8320)
    """
    check_positive("proxy_architecture", "n_params", n_params)
    # 12 h^2 parameters per layer (4 h^2 attention, 3 h (8h/3) SwiGLU); L = h / 100
    hidden = max(_HEAD * 2, round((n_params * _ASPECT / 12.0) ** (1 / 3) / _HEAD) * _HEAD)
    ffn = round(8 * hidden / 3 / 256) * 256
    per_layer = 4 * hidden**2 + 3 * hidden * ffn
    layers = max(1, round((n_params - 2 * _VOCAB * hidden) / per_layer))
    return Architecture(
        id=f"proxy-{n_params:.3g}", name=f"proxy dense decoder ({n_params:.3g} parameters)",
        n_layers=layers, hidden_size=hidden, n_heads=hidden // _HEAD, ffn_size=ffn,
        vocab_size=_VOCAB, mlp="swiglu", norm="rmsnorm", position="rope",
        max_seq_len=seq_len,
    )


@dataclass(frozen=True)
class BudgetOptimum:
    """The loss-optimal model for a budget on a cluster, with its planned run."""

    law: str
    budget_kind: str  # usd, mwh or days
    budget: float
    hardware: str
    n_devices: int
    train_flop: float
    n_params: float
    n_tokens: float
    loss: float
    plan: dict[str, Any]
    iterations: int

    def to_dict(self) -> dict[str, Any]:
        return {**{k: v for k, v in self.__dict__.items() if k != "plan"},
                "tokens_per_param": self.n_tokens / self.n_params, "plan": self.plan}


_BUDGET_UNITS = {"usd": 1.0, "mwh": 3.6e9, "days": 86400.0}


def optimal_for_budget(
    budget: float, *, kind: str, hardware: str, n_devices: int,
    law: str | ChinchillaLaw = "hoffmann2022", catalog: Catalog | None = None,
    laws_catalog: LawCatalog | None = None, max_iterations: int = 12,
) -> BudgetOptimum:
    """The compute-optimal model whose planned training run spends ``budget``.

    Parameters
    ----------
    budget : amount in the unit of ``kind``: ``usd`` (rental dollars), ``mwh`` (facility
        energy) or ``days`` (wall-clock).
    hardware, n_devices : the cluster (catalog accelerator and device count).
    law : Chinchilla-form law giving N_opt(C) and the loss.

    Notes
    -----
    A fixed point: take the compute-optimal N, D for a FLOP budget C (Hoffmann et al. 2022,
    eq. 4), plan training a proxy architecture of N parameters on D tokens with
    :func:`scalewall.train.plan.plan_training`, read the budget it spends per FLOP, rescale C,
    repeat until the shape stops changing, then scale the tokens to spend the budget
    exactly (at a fixed shape and layout, time, energy and cost are linear in tokens).

    Raises
    ------
    InvalidParameter
        A non-positive budget or device count, an unknown kind, a chip without a cloud price
        for a dollar budget.
    """
    from scalewall.train.plan import plan_training

    if kind not in _BUDGET_UNITS:
        raise InvalidParameter(
            f"optimal_for_budget: kind must be one of {', '.join(_BUDGET_UNITS)}, got {kind!r}"
        )
    check_positive("optimal_for_budget", "budget", budget)
    if isinstance(n_devices, bool) or not isinstance(n_devices, int) or n_devices < 1:
        raise InvalidParameter(
            f"optimal_for_budget: n_devices must be a positive integer, got {n_devices!r}"
        )
    cat = catalog or get_catalog()
    lcat = laws_catalog or get_laws_catalog()
    c = law if isinstance(law, ChinchillaLaw) else lcat.chinchilla(law)
    accel = cat.accelerator(hardware)
    if kind == "usd" and accel.cloud_usd_per_hour is None:
        raise InvalidParameter(
            f"optimal_for_budget: {accel.id} has no cloud_usd_per_hour in the catalog, so a "
            f"dollar budget cannot be priced; use --budget-mwh or --budget-days, or add the "
            f"price with --catalog FILE"
        )
    target = budget * _BUDGET_UNITS[kind]
    flop = 1e21
    plan = None
    seen: list[Architecture] = []
    n_arch = d = ratio = 0.0
    iteration = 0
    for iteration in range(1, max_iterations + 1):  # noqa: B007 (reported)
        n, _ = compute_optimal_chinchilla(flop, a=c.a, b=c.b, alpha=c.alpha, beta=c.beta)
        arch = proxy_architecture(float(n))
        n_arch = float(count_params(arch))
        d = flop / (FLOP_PER_PARAM_TOKEN * n_arch)
        plan = plan_training(arch, accel, n_devices=n_devices, n_tokens=float(d), catalog=cat)
        fp = plan.footprint
        spent = {"usd": fp.rental_cost_usd, "mwh": fp.energy_j, "days": fp.duration_s}[kind]
        ratio = target / float(np.asarray(spent))
        flop = flop * ratio
        if arch in seen:  # the shape stops moving (or cycles between two roundings)
            break
        seen.append(arch)
    assert plan is not None  # the loop runs at least once
    # At a fixed shape and layout every whole-run figure is linear in the tokens.
    d *= ratio
    fp = plan.footprint
    return BudgetOptimum(
        law=c.id, budget_kind=kind, budget=float(budget), hardware=accel.id,
        n_devices=n_devices, train_flop=float(FLOP_PER_PARAM_TOKEN * n_arch * d),
        n_params=n_arch, n_tokens=float(d),
        loss=float(loss_chinchilla(n_arch, d, e=c.e, a=c.a, b=c.b, alpha=c.alpha,
                                   beta=c.beta)),
        plan={"model": plan.model.label, "n_layers": plan.model.n_layers,
              "hidden_size": plan.model.hidden_size, "layout": plan.layout.to_dict(),
              "mfu": float(plan.step.mfu),
              "days": float(fp.duration_s) * ratio / 86400,
              "device_hours": float(fp.device_hours) * ratio,
              "energy_mwh": float(fp.energy_j) * ratio / 3.6e9,
              "rental_cost_usd": None if fp.rental_cost_usd is None
              else float(fp.rental_cost_usd) * ratio},
        iterations=iteration,
    )
