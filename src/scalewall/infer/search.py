"""Search for the cheapest (or lowest-energy) serving configuration that meets latency targets.

For each accelerator and weight precision (categorical, a short loop), every combination of
attention layout (tensor- or data-parallel over the TP group, for mixture-of-experts models) x
tensor degree x pipeline degree x batch is evaluated in one call of
:func:`scalewall.infer.plan.evaluate_serving`; infeasible cells (memory, TTFT, TPOT) are masked
and the argmin of the objective is taken. Replicas are added until the deployment carries the
offered traffic and the time to first token *under that traffic* meets the target: a request
waits for the decode step in flight to end (half a step on average), then for a free slot of
its replica's batch (a multi-server queue, :mod:`scalewall.infer.queueing`), then for its
prefill. A replica run near saturation queues requests without bound, so the fewest replicas
that carry the traffic are not always enough.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from scalewall._errors import InvalidParameter, PlannerError
from scalewall.arch.model import Architecture
from scalewall.catalog import Catalog, get_catalog
from scalewall.infer.plan import (
    InfeasibleServing,
    draft_for,
    draft_name,
    evaluate_serving,
    footprint_cost_usd,
    kv_precision_for,
    load_footprint,
    plan_serving,
    priced,
    serving_constants,
    serving_rates,
    speculative_acceptance,
)
from scalewall.infer.queueing import ttft_under_load_s
from scalewall.units import BYTES_PER_ELEMENT

__all__ = ["SearchResult", "search_serving"]

_POW2 = 2.0 ** np.arange(0, 11)  # 1 ... 1024
# replica counts tried, as multiples of the fewest that keep each replica below saturation
_REPLICA_STEPS = np.array([1.0, 1.05, 1.1, 1.2, 1.35, 1.5, 1.75, 2.0, 2.5, 3.0, 4.0])


@dataclass(frozen=True)
class SearchResult:
    """The best configuration found, or why none meets the targets."""

    feasible: bool
    objective: str
    best: dict[str, Any] | None
    n_candidates: int
    reason: str = ""
    skipped: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"feasible": self.feasible, "objective": self.objective, "best": self.best,
                "n_candidates": self.n_candidates, "reason": self.reason,
                "skipped": self.skipped}


def search_serving(
    model: str | Architecture,
    *,
    hardware: list[str] | None = None,
    requests_per_s: float,
    prompt: int,
    output: int,
    ttft_s: float,
    tpot_s: float,
    objective: str = "cost",
    precisions: tuple[str, ...] = ("bf16", "fp8", "int8", "int4", "fp4", "mxfp4"),
    max_batch: int = 1024,
    speculative_tokens: int = 0,
    accepted_tokens: float | None = None,
    acceptance_rate: float | None = None,
    draft: str | Architecture | None = None,
    attention_dp_balance: bool = False,
    catalog: Catalog | None = None,
) -> SearchResult:
    """Cheapest (``objective='cost'``) or lowest-energy (``'energy'``) deployment serving
    ``requests_per_s`` requests of ``prompt`` + ``output`` tokens within ``ttft_s`` and
    ``tpot_s``.

    ``ttft_s`` is met by the time to first token at the offered load, queueing included (the
    result reports ``queue_wait_s``, ``ttft_unloaded_s`` and each replica's ``utilization``).
    Both objectives are per second of service at the offered load, as
    :func:`~scalewall.infer.plan.plan_serving` reports them at ``requests_per_s``: cost is
    device-hours at the catalog's cloud rate, else amortised purchase price plus electricity
    (the planner's ownership basis); energy counts each replica's devices at their serving
    power (see :func:`~scalewall.infer.plan.evaluate_serving`) while a request is in it and at
    idle power otherwise, with the host share and the default PUE.
    Accelerators lacking what the objective needs are listed in ``skipped``.
    ``speculative_tokens`` with ``accepted_tokens`` or ``acceptance_rate`` (and ``draft``)
    plans every candidate with speculative decoding (see
    :func:`~scalewall.infer.plan.plan_serving`). Mixture-of-experts models are searched with
    and without attention data parallelism, prefilled rank by rank unless
    ``attention_dp_balance`` (see :func:`~scalewall.infer.plan.evaluate_serving`).

    Raises
    ------
    InvalidParameter for out-of-range arguments; the result is ``feasible=False`` with a
    ``reason`` naming the target missed and by how much when nothing meets the targets.
    """
    cat = catalog or get_catalog()
    arch = cat.model(model) if isinstance(model, str) else model
    for name, value in (("requests_per_s", requests_per_s), ("ttft_s", ttft_s),
                        ("tpot_s", tpot_s)):
        if not value > 0:
            raise InvalidParameter(f"{name} must be > 0, got {value!r}")
    if prompt + output > arch.max_seq_len:
        raise InvalidParameter(
            f"prompt + output = {prompt + output} exceeds the maximum context of {arch.label} "
            f"({arch.max_seq_len})")
    if objective not in ("cost", "energy"):
        raise InvalidParameter(f"objective must be cost or energy, got {objective!r}")
    spec = speculative_acceptance(speculative_tokens, accepted_tokens, acceptance_rate)
    drafter = draft_for(arch, draft, spec[0], cat)
    names = hardware or sorted(cat.accelerators)
    d = cat.defaults
    region = cat.region(d.default_region)
    best: dict[str, Any] | None = None
    best_score = np.inf
    n_cand = 0
    skipped: list[str] = []
    fastest_ttft = fastest_tpot = np.inf
    where_ttft = where_tpot = ""
    # attention data-parallel or not, both in the one evaluation (layout-major, so that a
    # tie keeps the plain layout)
    layouts = np.array([False, True] if arch.is_moe else [False])
    for name in names:
        accel = cat.accelerator(name)
        tdp = accel.tdp_w
        if objective == "cost" and not priced(accel):
            skipped.append(f"{accel.id}: no cloud rate, or price and TDP, in the catalog")
            continue
        if objective == "energy" and tdp is None:
            skipped.append(f"{accel.id}: no TDP in the catalog")
            continue
        for precision in precisions:
            try:
                gemm, attn = serving_rates(accel, cat, precision=precision)
            except PlannerError:
                continue  # the chip lacks this precision
            domain = max(gemm.scale_up_domain, 1)
            linked = bool(gemm.scale_up_bytes_per_s or gemm.scale_out_bytes_per_s)
            # a chip with no published link is searched on one device per replica only
            tps = _POW2[_POW2 <= (min(domain, 64) if linked else 1)]
            pps = _POW2[_POW2 <= (256 if linked else 1)]
            bs = _POW2[_POW2 <= max_batch]
            A, T, P, B = np.meshgrid(layouts, tps, pps, bs, indexing="ij")  # (adp, tp, pp, b)
            m = _evaluate(arch, accel, gemm, attn, cat, T, P, B, prompt, output, precision, A,
                          spec, drafter, attention_dp_balance)
            n_cand += T.size
            fits = np.asarray(m.fits, dtype=bool)
            tpot = np.asarray(m.itl_s)
            # replicas: from the fewest that carry the traffic below saturation up to 4x
            # that, each a queue of `batch` slots held for a cycle (see queueing.py)
            capacity = np.asarray(m.requests_per_s)  # per replica
            r_min = np.floor(requests_per_s / capacity) + 1.0
            R = np.ceil(r_min[..., None] * _REPLICA_STEPS)  # (adp, tp, pp, batch, steps)
            loaded, wait = ttft_under_load_s(
                np.asarray(m.ttft_s)[..., None], np.asarray(m.tpot_s)[..., None],
                batch=B[..., None], arrival_rate=requests_per_s / R,
                cycle_s=np.asarray(m.cycle_s)[..., None])
            if fits.any():
                # with no queue a request still waits for the decode step in flight
                t_all = np.where(fits, (loaded - wait)[..., 0], np.inf)
                i_t = np.argmin(t_all)
                if t_all.flat[i_t] < fastest_ttft:
                    fastest_ttft = float(t_all.flat[i_t])
                    where_ttft = _label(accel.id, precision, bool(A.flat[i_t]))
                p_all = np.where(fits, tpot, np.inf)
                i_p = np.argmin(p_all)
                if p_all.flat[i_p] < fastest_tpot:
                    fastest_tpot = float(p_all.flat[i_p])
                    where_tpot = _label(accel.id, precision, bool(A.flat[i_p]))
            meets = (loaded <= ttft_s) & (fits & (tpot <= tpot_s))[..., None]
            k = np.argmax(meets, axis=-1)[..., None]  # the fewest replicas that meet both
            ok = np.take_along_axis(meets, k, axis=-1)[..., 0]
            replicas = np.take_along_axis(R, k, axis=-1)[..., 0]
            loaded = np.take_along_axis(loaded, k, axis=-1)[..., 0]
            wait = np.take_along_axis(wait, k, axis=-1)[..., 0]
            devices = replicas * T * P
            util = requests_per_s / (capacity * replicas)
            # ranked per second of service ($/s or W): the offered tokens/s is the same for
            # every candidate, and dividing by it first overflows at tiny request rates
            fp, _ = load_footprint(accel, cat, n_devices=devices, activity=m.power_activity,
                                   batch=B, utilization=util, pue=d.default_pue, region=region)
            watts = None if tdp is None else fp.facility_power_w
            usd_s = footprint_cost_usd(fp, accel)  # as the plan reports it at this load
            ranked = usd_s if objective == "cost" else watts
            assert ranked is not None  # chips lacking it were skipped above
            score = np.where(ok, ranked, np.inf)
            i = int(np.argmin(score))
            if score.flat[i] < best_score:
                best_score = float(score.flat[i])
                idx = np.unravel_index(i, T.shape)
                # cost split as the plan splits it: the prefill share of the cycle to input
                # tokens, the rest to output tokens
                share = float(np.asarray(m.batch_prefill_s)[idx] / np.asarray(m.cycle_s)[idx])
                usd = None if usd_s is None else float(usd_s[idx])
                best = {
                    "hardware": accel.id, "precision": precision,
                    "tp": int(T[idx]), "pp": int(P[idx]), "batch": int(B[idx]),
                    "attention_dp": bool(A[idx]),
                    "attention_dp_balance": attention_dp_balance and bool(A[idx]),
                    "speculative_tokens": spec[0],
                    "accepted_tokens": spec[1],
                    "draft": draft_name(drafter),
                    "replicas": int(replicas[idx]), "n_devices": int(devices[idx]),
                    "ttft_s": float(loaded[idx]), "queue_wait_s": float(wait[idx]),
                    "ttft_unloaded_s": float(np.asarray(m.ttft_s)[idx]),
                    "tpot_s": float(tpot[idx]),
                    "utilization": float(util[idx]),
                    "requests_per_s_capacity": float(capacity[idx] * replicas[idx]),
                    "cost_usd_per_input_token": None if usd is None
                    else usd * share / (requests_per_s * max(prompt, 1)),
                    "cost_usd_per_output_token": None if usd is None
                    else usd * (1.0 - share) / (requests_per_s * output),
                    "energy_j_per_output_token": None if watts is None
                    else float(watts[idx]) / (requests_per_s * output),
                }
    if best is None:
        reasons = []
        if fastest_tpot == np.inf:
            reasons.append(f"{arch.label} fits on none of the accelerators searched")
        else:
            if fastest_ttft > ttft_s:
                reasons.append(
                    f"TTFT target {ttft_s * 1e3:.3g} ms not met: the fastest configuration "
                    f"reaches {fastest_ttft * 1e3:.1f} ms ({fastest_ttft / ttft_s - 1:+.0%}) on "
                    f"{where_ttft}")
            if fastest_tpot > tpot_s:
                reasons.append(
                    f"TPOT target {tpot_s * 1e3:.3g} ms not met: the fastest configuration "
                    f"reaches {fastest_tpot * 1e3:.1f} ms ({fastest_tpot / tpot_s - 1:+.0%}) on "
                    f"{where_tpot}")
            if not reasons:
                reasons.append("no single configuration meets both targets at once")
        return SearchResult(False, objective, None, n_cand, "; ".join(reasons), skipped)
    return SearchResult(True, objective, best, n_cand, "", skipped)


def _label(chip: str, precision: str, attention_dp: bool) -> str:
    return f"{chip} {precision}" + (", attention data-parallel" if attention_dp else "")


def _evaluate(arch: Architecture, accel: Any, gemm: Any, attn: Any, cat: Catalog,
              T: np.ndarray, P: np.ndarray, B: np.ndarray, prompt: int, output: int,
              precision: str, attention_dp: Any = False,
              spec: tuple[int, float] = (0, 1.0),
              drafter: Architecture | str = "module", balanced: bool = False) -> Any:
    return evaluate_serving(
        arch, gemm, attention_rates=attn, batch=B, prompt=prompt, output=output, tp=T, pp=P,
        weight_bytes=BYTES_PER_ELEMENT[precision], attention_dp=attention_dp,
        attention_dp_balance=balanced,
        kv_precision=kv_precision_for(precision, accel), speculative_tokens=spec[0],
        accepted_tokens=spec[1], draft=drafter, **serving_constants(accel, cat))


# re-exported for callers that want the single-plan entry beside the search
__all__ += ["InfeasibleServing", "plan_serving"]
