"""A serving deployment: latency, throughput, memory, cost and energy per token.

A *replica* is ``tp * pp`` devices holding one copy of the weights; a *deployment* of
``n_devices`` runs ``dp = n_devices / (tp * pp)`` replicas side by side. Throughputs named
``decode_tokens_per_s`` are output tokens per second of the whole deployment; ``per_device``
divides by ``n_devices`` and ``per_user`` is one sequence's rate, ``1 / tpot_s``.

Continuous batching at a concurrency of ``batch`` sequences per replica is modelled in steady
state: every request is prefilled (``prompt`` tokens) and then decodes ``output`` tokens at a
context that grows from ``prompt`` to ``prompt + output``, on average ``prompt + output / 2``
(decode time is linear in context, so the mean context gives the mean step). Per cycle of
``batch`` requests the replica spends :math:`t_{prefill}(b) + t_{host} + o\\,t_{decode}(b)`, with
:math:`t_{host}` the serving engine's host time per prefill (``request_overhead_ms`` in the
catalog's planner constants). With an offered load, :mod:`scalewall.infer.queueing` adds the
wait for a free slot.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from scalewall._errors import InvalidLayout, InvalidParameter, PlannerError
from scalewall._types import ArrayLike, BoolArray, BoolLike, FloatArray, where
from scalewall.arch.counts import n_active_params, n_params
from scalewall.arch.model import Architecture
from scalewall.catalog import Catalog, get_catalog
from scalewall.evidence import evidence_for
from scalewall.footprint import Footprint, run_footprint
from scalewall.hardware import Accelerator, Region
from scalewall.infer.queueing import busy_fraction, ttft_under_load_s
from scalewall.infer.step import (
    StepTime,
    decode_step,
    draft_token_s,
    kv_bytes_per_sequence_per_device,
    prefill,
    weight_bytes_per_device,
)
from scalewall.kernels import DeviceRates, device_rates
from scalewall.units import BYTES_PER_ELEMENT

__all__ = [
    "MOE_DISPATCH",
    "PEAK_BATCHES",
    "WEIGHT_PRECISIONS",
    "InfeasibleServing",
    "ServingMetrics",
    "ServingPlan",
    "evaluate_serving",
    "plan_serving",
    "serving_rates",
]

WEIGHT_PRECISIONS = ("bf16", "fp16", "fp8", "int8", "int4", "fp4", "mxfp4")
#: How a mixture-of-experts layer reaches experts on ranks that do not hold the token.
MOE_DISPATCH = ("all-to-all", "all-gather")
#: Batches ``plan_serving(batch=None)`` chooses among: powers of two, 1 ... 4096.
PEAK_BATCHES = 2.0 ** np.arange(13)


class InfeasibleServing(PlannerError):
    """No configuration serves the model under the constraints given; the message says which
    constraint fails and by how much."""


def _sixteen_bit(accel: Accelerator) -> str:
    for p in ("bf16", "fp16"):
        if p in accel.peak_flop_per_s:
            return p
    accel.peak("bf16")  # raises, naming the precisions the chip has
    return "bf16"


def calibrated_serving_rates(attention: DeviceRates, calibrated: DeviceRates
                             ) -> tuple[DeviceRates, DeviceRates]:
    """GEMM and attention rates from a calibration (``scalewall calibrate``): the GEMMs take
    the calibrated rates; attention keeps its kernel's efficiency but takes the calibrated
    memory bandwidth and kernel overhead."""
    return calibrated, dataclasses.replace(
        attention, matmul_efficiency=calibrated.matmul_efficiency,
        memory_bandwidth_bytes_per_s=calibrated.memory_bandwidth_bytes_per_s,
        kernel_launch_s=calibrated.kernel_launch_s, calibrated=True)


def compute_precision(accel: Accelerator, precision: str) -> str:
    """Precision the GEMMs run at for stored ``precision`` weights.

    bf16/fp16 run at 16-bit (either, whichever the chip has: the same bytes and rate class);
    fp8 and int8 run W8A8 at the chip's 8-bit rate and need it; fp4 (NVFP4, Blackwell) and
    mxfp4 (OCP MX, Blackwell and CDNA 4) run W4A4 at the chip's rate for that format and need
    it; int4 runs W4A16 (weights dequantised in the GEMM, as AWQ/GPTQ kernels do) at the
    16-bit rate.
    """
    if precision not in WEIGHT_PRECISIONS:
        raise InvalidParameter(
            f"precision must be one of {', '.join(WEIGHT_PRECISIONS)}, got {precision!r}")
    if precision in ("fp8", "int8", "fp4", "mxfp4"):
        if precision not in accel.peak_flop_per_s:
            have = ", ".join(sorted(accel.peak_flop_per_s)) or "no published dense rate"
            raise InvalidParameter(
                f"precision {precision!r} is not supported by {accel.id} (it has: {have}); "
                f"choose one of those, or int4 (W4A16)")
        return precision
    return precision if precision in accel.peak_flop_per_s else _sixteen_bit(accel)


def serving_rates(
    accel: Accelerator, cat: Catalog, *, precision: str
) -> tuple[DeviceRates, DeviceRates]:
    """Achievable rates for the GEMMs and for attention (16-bit) of ``accel``.

    An ``lpu`` chip pays no kernel-launch or wave cost: its program is scheduled statically by
    the compiler (its chip-to-chip network comes from its catalog entry, like any chip's).
    """
    compute = compute_precision(accel, precision)
    gemm = device_rates(accel, cat.defaults, precision=compute)
    attention = device_rates(accel, cat.defaults, precision=_sixteen_bit(accel))
    if accel.kind == "lpu":
        changes: dict[str, Any] = dict(kernel_launch_s=0.0, wave_overhead_s=0.0)
        gemm = dataclasses.replace(gemm, **changes)
        attention = dataclasses.replace(attention, **changes)
    return gemm, attention


def kv_precision_for(precision: str, accel: Accelerator) -> str:
    """Default KV-cache precision: 8-bit with 8-bit weights (fp8/int8 KV, as TensorRT-LLM and
    vLLM offer), fp8 with 4-bit floating-point weights (as NVIDIA's FP4 MLPerf configurations
    and AMD's MXFP4 ones run), else the chip's 16-bit type."""
    if precision in ("fp4", "mxfp4"):
        return "fp8"
    return precision if precision in ("fp8", "int8") else _sixteen_bit(accel)


@dataclass(frozen=True)
class ServingMetrics:
    """Everything :func:`evaluate_serving` predicts, as arrays over the candidates [SI]."""

    weights_bytes_per_device: FloatArray
    kv_bytes_per_device: FloatArray
    workspace_bytes_per_device: FloatArray
    memory_bytes_per_device: FloatArray
    capacity_bytes: float
    fits: BoolArray
    max_batch: FloatArray  # sequences per replica at context prompt + output
    max_context: FloatArray  # tokens per sequence at this batch
    ttft_s: FloatArray  # one prompt's prefill
    batch_prefill_s: FloatArray  # all ``batch`` prompts prefilled together
    tpot_s: FloatArray  # decode step at the mean context: the larger of GPU and host time
    decode_host_s: FloatArray  # the serving engine's host time per decode step
    itl_s: FloatArray  # mean inter-token latency a user sees: decode steps + others' prefills
    cycle_s: FloatArray  # prefill of the batch plus its ``output`` decode steps
    decode_tokens_per_s: FloatArray  # output tokens/s of the deployment
    tokens_per_s_per_device: FloatArray
    tokens_per_s_per_user: FloatArray
    requests_per_s: FloatArray  # of the deployment
    power_activity: FloatArray  # [0-1] between idle and TDP power, over the cycle
    decode: StepTime
    batch_prefill: StepTime  # the cycle's prompts, all its forward passes
    prefill: StepTime  # one prompt alone (the time to first token's kernels)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in fields(self):
            v = getattr(self, f.name)
            out[f.name] = v.to_dict() if isinstance(v, StepTime) else np.asarray(v).tolist()
        return out


def evaluate_serving(
    arch: Architecture, rates: DeviceRates, *, attention_rates: DeviceRates | None = None,
    batch: ArrayLike, prompt: ArrayLike, output: ArrayLike, context: ArrayLike | None = None,
    tp: ArrayLike = 1, pp: ArrayLike = 1, ep: ArrayLike = 1, n_devices: ArrayLike | None = None,
    weight_bytes: float, kv_precision: str, capacity_bytes: float, reserved_bytes: float = 0.0,
    fragmentation: float = 0.0, grouped_kv_reads: bool = True,
    memory_bound_power_fraction: float = 1.0, request_overhead_s: ArrayLike = 0.0,
    max_tokens_per_iteration: float = float("inf"), attention_dp: BoolLike = False,
    host_time_per_sequence_s: ArrayLike = 0.0, speculative_tokens: ArrayLike = 0,
    accepted_tokens: ArrayLike = 1.0, draft: Architecture | str = "module",
    moe_dispatch: str = "all-to-all", attention_dp_balance: bool = False,
    first_token_in_decode: bool = False,
) -> ServingMetrics:
    """Latency, throughput and memory of serving, vectorized over every numeric argument.

    Parameters
    ----------
    arch : Architecture
    rates, attention_rates : achievable device rates for the GEMMs and for attention.
    batch : [sequences] concurrent per replica. prompt, output : [tokens] per request.
    context : [tokens] decode context; default ``prompt + output / 2`` (the mean).
    tp, pp, ep : parallel degrees of a replica. n_devices : deployment size (default one
        replica, ``tp * pp``).
    weight_bytes : [B/parameter]; kv_precision : KV cache precision.
    capacity_bytes : [B] device memory; reserved_bytes : [B] runtime reserve per device;
    fragmentation : share of memory the allocator cannot use.
    grouped_kv_reads : decode attention reads each key/value head once per query group
        (see :func:`~scalewall.infer.step.decode_step`).
    memory_bound_power_fraction : share of a device's idle-to-TDP power range it draws while
        its memory streams at full bandwidth (``power_activity``; see Notes); the planner
        passes the catalog's (0.6), and the default 1 puts every busy second at TDP.
    request_overhead_s : [s] host time per prefill iteration in which the devices wait
        (scheduling, input preparation, sampling the first token); added to the time to first
        token and to each forward pass of a cycle's batched prefill. The planner passes the
        catalog's (0.9 ms, measured by Vidur on a vLLM-based engine); the default 0 is kernels
        only.
    host_time_per_sequence_s : [s] the engine's host (CPU) time per running sequence per
        decode step (scheduling, input preparation, sampling). Engines overlap it with the
        devices' work, so a decode step takes the larger of the two; it binds for models with
        little work per token at batches in the thousands. The planner passes the catalog's
        (29.4 us, TensorRT-LLM's measured host step); the default 0 is kernels only.
    max_tokens_per_iteration : [tokens] the most one forward pass takes (each rank's, under
        attention data parallelism); a batch's prompts are prefilled a pass at a time, as many
        whole prompts as this holds and at least one, which bounds the workspace and sets the
        size of the prefill GEMMs: a mixture-of-experts layer reads its touched experts once
        per pass, each of them running only its share of the pass's tokens. The planner passes
        the catalog's (8,192, TensorRT-LLM's default); the default is unbounded.
    attention_dp : attention data-parallel across each replica's ``tp`` devices (see
        :func:`~scalewall.infer.step.decode_step`): attention weights on every device, each
        device's cache only its own sequences'. A bool, or an array that broadcasts with the
        other candidates' arguments (both layouts in one evaluation).
    moe_dispatch : how a mixture-of-experts layer reaches experts on ranks that do not hold the
        token, under attention data parallelism or ``ep > tp``: ``"all-to-all"`` (default;
        DeepEP, TensorRT-LLM's NVLink all-to-all) or ``"all-gather"`` (attention data
        parallelism only: every rank takes the group's tokens, as TensorRT-LLM did up to 2025
        without multi-node NVLink and SGLang does without DeepEP); see
        :func:`~scalewall.infer.step.decode_step`.
    attention_dp_balance : under attention data parallelism, whether the engine holds each
        rank's prompts until every rank has some and prefills them in the same forward passes
        (TensorRT-LLM's ``attention_dp_config.enable_balance``). Without (default, as engines
        schedule by default) each rank prefills in a pass of its own while the others wait
        for it at the MoE layer's exchange: a pass takes as long as its slowest rank
        (TensorRT-LLM tech blog 10, "ADP Balance Strategy": one rank's context phase with the
        others' generation sets the iteration's time; DeepSeek-V3 on 8 GB200 at 803/3,653
        tokens ran 1.33x faster balanced).
    first_token_in_decode : whether the engine prefills all of a prompt but its last token and
        runs that one in the next decode step, which emits the first output token
        (LMDeploy's TurboMind up to v0.1: ``LlamaBatch::ContextDecode`` skips the last input
        token, "will process with decoder later"): the time to first token is then the
        prefill of :math:`s_p - 1` tokens (none for a one-token prompt) and one decode step.
        Default False: the prefill's last token gives the first output token, as vLLM, SGLang
        and TensorRT-LLM do.
    speculative_tokens : [tokens] drafted per step, one draft call per token, then verified with
        the token after them in one step of ``k + 1`` query tokens per sequence; 0 (default)
        for plain decoding.
    draft : what drafts them: ``"module"`` (default), a one-layer draft module (DeepSeek-V3's
        multi-token prediction, EAGLE; :func:`~scalewall.infer.step.draft_token_s`), which
        adds one layer's weights and KV cache; ``"ngram"``, prompt lookup (no model, no
        device time); or a draft model's :class:`Architecture`, a decode step of that model at
        the same batch and layout per token, its weights and cache held beside the target's.
    accepted_tokens : [tokens] emitted per sequence per verified step, :math:`1 \\le \\tau
        \\le k + 1`: the mean acceptance length engines report, or
        :math:`(1 - \\alpha^{k+1})/(1 - \\alpha)` for a per-token acceptance rate
        :math:`\\alpha` (Leviathan et al. 2023, arXiv:2211.17192, Eq. 1). The time per
        output token is the step's time (drafts, verification, host) over :math:`\\tau`.

    Returns
    -------
    ServingMetrics

    Notes
    -----
    Memory per device: weights :math:`N b_w / (t p)`, KV cache
    :math:`b\\,(s_p + s_o)\\,2 L a_{kv} d\\,b_{kv} / (\\min(t, a_{kv})\\,p)`, and a prefill
    workspace of the activations of the prompts one forward pass holds,
    :math:`\\min(b\\,s_p, C)\\,(4h + 3f/t)` 16-bit values (:math:`C`:
    ``max_tokens_per_iteration``; :math:`f` the MLP width, :math:`k` routed experts' plus the
    shared ones' for mixture-of-experts layers).
    Throughput: :math:`b\\,o / (n\\,t_{prefill}(b/n) + o\\,t_{decode}(b, s_p + o/2))` per
    replica, over the :math:`n` forward passes the prompts take,
    with :math:`t_{decode} = \\max(t_{devices}, c\\,b)` (:math:`c`: host time per sequence).
    Without chunked prefill, the prefills of the other :math:`b - 1` requests of a cycle stall
    every running sequence, so the inter-token latency a user sees is
    :math:`t_{decode} + t_{prefill}(b)(b-1)/(b\\,o)`.
    Power follows the energy roofline of Choi et al. [1]_: a device draws idle power, plus
    energy per FLOP and per byte moved. Here the FLOP term reaches the TDP when the tensor
    cores run at their sustained rate for the whole cycle, and the memory term is a fraction
    :math:`\\beta` of the idle-to-TDP range when memory streams at its achievable bandwidth;
    the sum is capped at TDP (the board's power limit lowers clocks beyond it). With
    :math:`t_F = F/(R\\eta)` the tensor-core time of the cycle's FLOP per device and
    :math:`t_k` its kernel time, collectives included (memory taken as busy throughout:
    exact for memory-bound kernels and for collectives, which stream their buffers through
    memory and over the links; compute-bound kernels reach the cap either way), the activity
    between idle and TDP is :math:`u = \\min(1, (t_F + \\beta\\,t_k)/t_{cycle})`; pipeline
    bubbles run at idle.

    References
    ----------
    .. [1] J. W. Choi, D. Bedard, R. Fowler, R. Vuduc, "A roofline model of energy", IPDPS
       2013, doi:10.1109/IPDPS.2013.77.

    Examples
    --------
    >>> from scalewall.catalog import get_catalog
    >>> cat = get_catalog()
    >>> arch = cat.model("llama-3-8b")
    >>> gemm, attn = serving_rates(cat.accelerator("h200-sxm"), cat, precision="bf16")
    >>> m = evaluate_serving(arch, gemm, attention_rates=attn, batch=1, prompt=1024, output=1,
    ...                      context=1024, weight_bytes=2.0, kv_precision="bf16",
    ...                      capacity_bytes=141e9)
    >>> round(float(m.tpot_s) * 1e3, 1)  # measured on one H200: 5.3 ms (shared/validation)
    5.1
    """
    b = np.asarray(batch, dtype=float)
    sp, so = np.asarray(prompt, dtype=float), np.asarray(output, dtype=float)
    ctx = sp + so / 2.0 if context is None else np.asarray(context, dtype=float)
    tp_, pp_, ep_ = (np.asarray(x, dtype=float) for x in (tp, pp, ep))
    replica = tp_ * pp_
    devices = replica if n_devices is None else np.asarray(n_devices, dtype=float)
    dp = devices / replica
    weights = weight_bytes_per_device(arch, weight_bytes=weight_bytes, tp=tp_, pp=pp_,
                                      attention_dp=attention_dp)
    per_seq_full = kv_bytes_per_sequence_per_device(
        arch, context=sp + so, kv_precision=kv_precision, tp=tp_, pp=pp_,
        attention_dp=attention_dp)
    k_spec = np.asarray(speculative_tokens, dtype=float)
    tau = np.asarray(accepted_tokens, dtype=float)
    drafting = bool(np.any(k_spec > 0)) and draft != "ngram"
    # a draft model beside the target, else the draft module (or none)
    draft_model = draft if drafting and isinstance(draft, Architecture) else None
    if draft_model is not None:
        weights = weights + np.where(k_spec > 0, weight_bytes_per_device(
            draft_model, weight_bytes=weight_bytes, tp=tp_, pp=pp_), 0.0)
        per_seq_full = per_seq_full + np.where(k_spec > 0, kv_bytes_per_sequence_per_device(
            draft_model, context=sp + so, kv_precision=kv_precision, tp=tp_, pp=pp_), 0.0)
    elif drafting:  # the draft module: one more layer of weights and of cache
        weights = weights + np.where(k_spec > 0, n_params(arch) / arch.n_layers * weight_bytes
                                     / (tp_ * pp_), 0.0)
        per_seq_full = per_seq_full * np.where(k_spec > 0, 1.0 + 1.0 / arch.n_layers, 1.0)
    kv = b * per_seq_full
    h = float(arch.hidden_size)
    # MLP intermediate per token: each routed token's k expert copies (and shared experts)
    f = float(arch.expert_ffn_size * (arch.n_active_experts + arch.n_shared_experts)
              if arch.is_moe else arch.ffn_size)
    # one forward pass holds the batch's prompts together, up to the engine's token budget
    workspace = np.minimum(b * sp, max_tokens_per_iteration) * (4.0 * h + 3.0 * f / tp_) * 2.0
    usable = capacity_bytes * (1.0 - fragmentation) - reserved_bytes
    memory = weights + kv + workspace
    fits = memory <= usable
    free = usable - weights - workspace
    max_batch = np.floor(np.maximum(free, 0.0) / per_seq_full)
    per_token = kv_bytes_per_sequence_per_device(
        arch, context=1.0, kv_precision=kv_precision, tp=tp_, pp=pp_, attention_dp=attention_dp)
    state = per_token - kv_bytes_per_sequence_per_device(
        arch, context=0.0, kv_precision=kv_precision, tp=tp_, pp=pp_, attention_dp=attention_dp)
    fixed = per_token - state
    with np.errstate(divide="ignore", invalid="ignore"):
        max_context = np.where(state > 0, np.floor((free / b - fixed) / state), np.inf)
    max_context = np.minimum(np.maximum(max_context, 0.0), float(arch.max_seq_len))

    # the tokens the prefill runs: all of the prompt, or all but the last one (whose decode
    # step emits the first token; a one-token prompt has no prefill then)
    pre = np.maximum(sp - 1.0, 0.0) if first_token_in_decode else sp
    prefills = (pre > 0) | (not first_token_in_decode)
    one = prefill(arch, rates, batch=1.0, prompt=pre, weight_bytes=weight_bytes, tp=tp_, pp=pp_,
                  ep=ep_, attention_rates=attention_rates, attention_dp=attention_dp,
                  moe_dispatch=moe_dispatch)
    # the engine prefills the cycle's prompts a forward pass at a time, as many whole prompts
    # as its token budget holds (at least one); under attention data parallelism every rank
    # schedules its own requests against its own budget
    whole = np.maximum(1.0, np.floor(max_tokens_per_iteration / np.maximum(sp, 1.0)))
    own = where(attention_dp, b / tp_, b)  # prompts each scheduler prefills per cycle
    per_rank_pass = np.minimum(own, whole)
    rank_passes = own / per_rank_pass
    passes, spread = _prefill_passes(rank_passes, tp_, so / tau, attention_dp,
                                     attention_dp_balance)
    many = one if b.ndim == 0 and float(b) == 1.0 else prefill(
        arch, rates, batch=spread * per_rank_pass, prompt=pre, weight_bytes=weight_bytes,
        tp=tp_, pp=pp_, ep=ep_, attention_rates=attention_rates, attention_dp=attention_dp,
        passes=passes, moe_dispatch=moe_dispatch, spread=spread)
    step_kw: dict[str, Any] = dict(
        batch=b, context=ctx, weight_bytes=weight_bytes, kv_precision=kv_precision, tp=tp_,
        pp=pp_, ep=ep_, grouped_kv_reads=grouped_kv_reads, attention_dp=attention_dp,
        moe_dispatch=moe_dispatch)
    dec = decode_step(arch, rates, query_tokens=k_spec + 1.0, **step_kw)
    drafts: Any = 0.0
    if draft_model is not None:
        drafts = k_spec * decode_step(draft_model, rates, **{**step_kw, "ep": 1.0,
                                                              "attention_dp": False}).step_s
    elif drafting:
        drafts = k_spec * draft_token_s(decode_step(arch, rates, **step_kw), arch)
    overhead = np.asarray(request_overhead_s, dtype=float)
    # the engine's host work per decode step, overlapped with the devices': one scheduler per
    # replica, or per rank under attention data parallelism
    scheduled = np.ceil(own)
    host_work = np.asarray(host_time_per_sequence_s, dtype=float) * scheduled
    verify = np.maximum(dec.step_s + drafts, host_work)  # a step: drafts, then verification
    step = verify / tau  # per output token
    host = np.broadcast_to(host_work, np.shape(step)).copy()
    # the cycle's output tokens take ``so`` steps after the prefill either way (the prefill's
    # token and so - 1 steps, counted as so; or so steps, the first emitting the first token)
    first = verify if first_token_in_decode else 0.0
    stall = np.where(prefills, many.step_s, 0.0) + passes * overhead  # the cycle's prefill
    ttft = np.where(prefills, one.step_s, 0.0) + overhead + first
    batch_prefill = stall + first
    cycle = stall + so * step
    replica_tps = b * so / cycle
    # per device: kernel time (collectives included), and the tensor-core time of the FLOP
    steps = so / tau
    kernel_s = (np.where(prefills, many.gemm_s + many.attention_s + many.elementwise_s
                         + many.comm_s, 0.0)
                + steps * (dec.gemm_s + dec.attention_s + dec.elementwise_s + dec.comm_s
                           + drafts)) / pp_
    flop = np.where(prefills, many.flop, 0.0) + steps * dec.flop
    flop_s = np.minimum(flop / (replica * rates.peak_flop_per_s * rates.matmul_efficiency),
                        kernel_s)
    activity = (flop_s + memory_bound_power_fraction * kernel_s) / cycle
    return ServingMetrics(
        weights_bytes_per_device=weights, kv_bytes_per_device=kv,
        workspace_bytes_per_device=workspace, memory_bytes_per_device=memory,
        capacity_bytes=capacity_bytes, fits=fits, max_batch=max_batch, max_context=max_context,
        ttft_s=ttft, batch_prefill_s=batch_prefill, tpot_s=step, decode_host_s=host,
        itl_s=(stall * (b - 1.0) / b + so * step) / so, cycle_s=cycle,
        decode_tokens_per_s=replica_tps * dp, tokens_per_s_per_device=replica_tps / replica,
        tokens_per_s_per_user=1.0 / step, requests_per_s=b / cycle * dp,
        power_activity=np.clip(activity, 0.0, 1.0),
        decode=dec, batch_prefill=many, prefill=one,
    )


def _prefill_passes(rank_passes: FloatArray, tp: FloatArray, steps: FloatArray,
                    attention_dp: BoolLike, balanced: bool) -> tuple[FloatArray, FloatArray]:
    r"""Forward passes of a cycle that carry prompts, and how many ranks' prompts each carries.

    Without attention data parallelism the replica's one scheduler fills ``rank_passes``
    passes; with it, balanced, every pass holds every rank's share: ``rank_passes`` passes of
    ``tp`` ranks. Unbalanced, each rank schedules its own prompts, and a pass in which one
    rank prefills takes that rank's time on all of them, since the others wait at the MoE
    layer's exchange (TensorRT-LLM tech blog 10, "ADP Balance Strategy"). With each rank's
    :math:`n` prompt passes falling on iterations of their own among the cycle's
    :math:`N = \max(\text{steps}, n)`, independently of the other ranks', the iterations
    that hold a prompt number

    .. math:: P = N\,[1 - (1 - n/N)^{t}]

    in expectation, from :math:`t n` when prompts are rare (decode-heavy: one rank at a time,
    the blog's worst case) to :math:`n` when every iteration holds one on every rank
    (prefill-heavy), each pass carrying :math:`t n / P` ranks' prompts.
    """
    n = np.asarray(rank_passes, dtype=float)
    t = np.asarray(tp, dtype=float)
    if balanced:
        return n * np.ones_like(t), where(attention_dp, t, np.ones_like(t))
    N = np.maximum(np.asarray(steps, dtype=float), n)
    P = N * (1.0 - (1.0 - n / N) ** t)
    passes: FloatArray = where(attention_dp, P, n * np.ones_like(t))
    spread: FloatArray = where(attention_dp, t * n / P, np.ones_like(t))
    return passes, spread


@dataclass(frozen=True)
class ServingPlan:
    """One deployment's predicted serving figures (SI units; see the module docstring)."""

    model: Architecture
    accelerator: Accelerator
    precision: str
    kv_precision: str
    n_devices: int
    tp: int
    pp: int
    dp: int
    ep: int
    batch: int
    prompt: int
    output: int
    context: float
    metrics: ServingMetrics
    cost_usd_per_input_token: float | None
    cost_usd_per_output_token: float | None
    price_basis: str
    power_w: float | None  # deployment, host and PUE included
    energy_j_per_token: float | None  # per output token, the whole request's energy
    device_energy_j_per_token: float | None  # the same, accelerator boards only (no host, PUE)
    device_power_w: float | None  # mean power of one accelerator board while serving
    energy_j_per_request: float | None
    reasons: tuple[str, ...]  # why the deployment does not fit, if it does not
    calibrated: bool = False
    grouped_kv_reads: bool = True  # decode attention reads each KV head once per query group
    attention_dp: bool = False  # attention data-parallel across each replica's tp devices
    moe_dispatch: str = "all-to-all"  # how routed tokens reach other ranks' experts
    attention_dp_balance: bool = False  # ranks prefill in the same forward passes
    first_token_in_decode: bool = False  # the prompt's last token runs in a decode step
    request_overhead_s: float = 0.0  # serving-engine host time per prefill, in ttft_s
    host_time_per_sequence_s: float = 0.0  # its host time per running sequence per step
    speculative_tokens: int = 0  # drafted per step
    accepted_tokens: float = 1.0  # emitted per sequence per step
    draft: str = "module"  # what drafts them: module, ngram or a draft model's id
    requests_per_s: float | None = None  # offered load, when given
    utilization: float | None = None  # of the replicas' capacity at that load
    queue_wait_s: float | None = None  # mean wait for a free slot at that load
    ttft_loaded_s: float | None = None  # mean time to first token at that load
    at_load: dict[str, float | None] | None = None  # cost and energy at that load (see to_dict)

    @property
    def feasible(self) -> bool:
        return not self.reasons

    @property
    def host_bound(self) -> bool:
        """The engine's host work per decode step outlasts the devices'."""
        return bool(np.asarray(self.metrics.decode_host_s) > np.asarray(self.metrics.decode.step_s))

    def to_dict(self) -> dict[str, Any]:
        m = self.metrics

        def f(x: Any) -> float:
            return float(np.asarray(x))

        return {
            "model": self.model.id, "hardware": self.accelerator.id,
            "n_params": n_params(self.model), "n_active_params": n_active_params(self.model),
            "precision": self.precision, "kv_precision": self.kv_precision,
            "n_devices": self.n_devices, "tp": self.tp, "pp": self.pp, "dp": self.dp,
            "ep": self.ep, "batch": self.batch, "prompt": self.prompt, "output": self.output,
            "decode_context": self.context, "feasible": self.feasible,
            "calibrated": self.calibrated, "grouped_kv_reads": self.grouped_kv_reads,
            "attention_dp": self.attention_dp, "moe_dispatch": self.moe_dispatch,
            "attention_dp_balance": self.attention_dp_balance,
            "first_token_in_decode": self.first_token_in_decode,
            "request_overhead_s": self.request_overhead_s,
            "host_time_per_sequence_s": self.host_time_per_sequence_s,
            "decode_host_s": f(m.decode_host_s), "host_bound": self.host_bound,
            "speculative_tokens": self.speculative_tokens,
            "accepted_tokens": self.accepted_tokens, "draft": self.draft,
            "load": None if self.requests_per_s is None else {
                "requests_per_s": self.requests_per_s, "utilization": self.utilization,
                "queue_wait_s": self.queue_wait_s, "ttft_s": self.ttft_loaded_s,
                **(self.at_load or {})},
            "reasons": list(self.reasons),
            "memory": {
                "weights_bytes_per_device": f(m.weights_bytes_per_device),
                "kv_bytes_per_device": f(m.kv_bytes_per_device),
                "workspace_bytes_per_device": f(m.workspace_bytes_per_device),
                "total_bytes_per_device": f(m.memory_bytes_per_device),
                "capacity_bytes": m.capacity_bytes,
                "max_batch": f(m.max_batch), "max_context": f(m.max_context),
            },
            "ttft_s": f(m.ttft_s), "batch_prefill_s": f(m.batch_prefill_s),
            "tpot_s": f(m.tpot_s), "itl_s": f(m.itl_s),
            "decode_tokens_per_s": f(m.decode_tokens_per_s),
            "tokens_per_s_per_device": f(m.tokens_per_s_per_device),
            "tokens_per_s_per_user": f(m.tokens_per_s_per_user),
            "requests_per_s": f(m.requests_per_s),
            "cost_usd_per_input_token": self.cost_usd_per_input_token,
            "cost_usd_per_output_token": self.cost_usd_per_output_token,
            "price_basis": self.price_basis,
            "power_w": self.power_w,
            "energy_j_per_token": self.energy_j_per_token,
            "device_energy_j_per_token": self.device_energy_j_per_token,
            "device_power_w": self.device_power_w,
            "power_activity": f(m.power_activity),
            "energy_j_per_request": self.energy_j_per_request,
            "decode_step": m.decode.to_dict(), "batch_prefill": m.batch_prefill.to_dict(),
            "evidence": evidence_for(self.accelerator.id, "serving", moe=self.model.is_moe),
        }


def _check_int(name: str, value: Any, *, minimum: int = 1) -> int:
    bad = isinstance(value, bool) or not isinstance(value, int | float | np.integer)
    if bad or not np.isfinite(value) or int(value) != value or value < minimum:
        raise InvalidParameter(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


def serving_constants(accel: Accelerator, cat: Catalog) -> dict[str, Any]:
    """The catalog's constants :func:`evaluate_serving` takes for ``accel``: its memory, the
    runtime reserve (CUDA context, workspaces) and allocator fragmentation on GPUs (none where
    memory is compiler-allocated: TPU, LPU, wafer), the memory-bound power share, an engine's
    tokens per iteration, and its host time per prefill and per running sequence."""
    d = cat.defaults
    gpu = accel.kind == "gpu"
    return dict(capacity_bytes=accel.memory_bytes,
                reserved_bytes=d.framework_reserved_bytes if gpu else 0.0,
                fragmentation=d.fragmentation_fraction if gpu else 0.0,
                memory_bound_power_fraction=d.memory_bound_power_fraction,
                max_tokens_per_iteration=d.max_tokens_per_iteration,
                request_overhead_s=d.request_overhead_s,
                host_time_per_sequence_s=d.host_time_per_sequence_s)


def usable_bytes(constants: dict[str, Any]) -> float:
    """Device memory left for weights, cache and workspace under ``constants`` [B]."""
    return float(constants["capacity_bytes"] * (1.0 - constants["fragmentation"])
                 - constants["reserved_bytes"])


def plan_serving(
    model: str | Architecture,
    hardware: str | Accelerator,
    *,
    n_devices: int = 1,
    batch: int | None = 1,
    prompt: int = 1024,
    output: int = 256,
    context: float | None = None,
    precision: str = "bf16",
    kv_precision: str | None = None,
    tp: int | None = None,
    pp: int | None = None,
    ep: int = 1,
    objective: str = "latency",
    region: str | None = None,
    pue: float | None = None,
    rates: DeviceRates | None = None,
    grouped_kv_reads: bool = True,
    attention_dp: bool = False,
    request_overhead_s: float | None = None,
    host_time_per_sequence_s: float | None = None,
    requests_per_s: float | None = None,
    speculative_tokens: int = 0,
    accepted_tokens: float | None = None,
    acceptance_rate: float | None = None,
    draft: str | Architecture | None = None,
    moe_dispatch: str = "all-to-all",
    attention_dp_balance: bool = False,
    first_token_in_decode: bool = False,
    catalog: Catalog | None = None,
) -> ServingPlan:
    """Plan serving ``model`` on ``n_devices`` of ``hardware``.

    Parameters
    ----------
    model, hardware : catalog names (or objects).
    n_devices : devices in the deployment (``tp * pp * dp``).
    batch : concurrent sequences per replica; ``None``: the power of two up to 4,096 that fits
        and best serves ``objective`` (the highest throughput, or batch 1 for latency), chosen
        with the layout in one evaluation. prompt, output : [tokens] per request.
    context : [tokens] decode context; default the mean, ``prompt + output / 2``.
    precision : weight precision (bf16, fp16, fp8, int8, int4, fp4, mxfp4); kv_precision :
        default 8-bit with 8- or 4-bit floating-point weights, else 16-bit.
    tp, pp : parallel degrees; the ones left out are chosen among the divisors of
        ``n_devices`` that fit, for the lowest time per output token (``objective='latency'``)
        or the highest throughput (``'throughput'``). ep : expert-parallel degree (MoE).
    region, pue : grid region (electricity price) and PUE for energy and ownership cost.
    grouped_kv_reads : the decode attention kernel reads each key/value head once per group
        of query heads (default, kernels since 2024); False for the per-query-head kernels of
        2023 (see :func:`~scalewall.infer.step.decode_step`).
    attention_dp : attention data-parallel across each replica's ``tp`` devices, as SGLang's
        ``--enable-dp-attention`` and TensorRT-LLM's ``enable_attention_dp`` run mixture-of-
        experts models: each device attends its own sequences with every head, holds a whole
        copy of the attention weights and only its own sequences' cache (no KV head or MLA
        latent copied across the group); the experts stay split (``ep``).
    request_overhead_s : [s] serving-engine host time per prefill (see
        :func:`evaluate_serving`); default the catalog's ``request_overhead_ms``, 0 for
        kernels alone.
    host_time_per_sequence_s : [s] serving-engine host time per running sequence per decode
        step (see :func:`evaluate_serving`); default the catalog's
        ``host_time_per_sequence_us``, 0 for kernels alone.
    requests_per_s : offered load [requests/s], spread over the ``dp`` replicas: adds the
        utilization, the mean wait for a free slot and the mean time to first token at that
        load (:func:`~scalewall.infer.queueing.ttft_under_load_s`); a load beyond the
        deployment's capacity is reported as a reason it does not serve.
    speculative_tokens : tokens drafted per step by a one-layer draft module (multi-token
        prediction, EAGLE) and verified in one step (see :func:`evaluate_serving`); 0 for
        plain decoding. With it, give the acceptance as ``accepted_tokens`` (mean tokens
        emitted per step, 1 to ``speculative_tokens + 1``, as engines report it) or as
        ``acceptance_rate`` (per drafted token, in [0, 1)).
    draft : what drafts the tokens (see :func:`evaluate_serving`): ``"module"`` (default, a
        one-layer draft module), ``"ngram"`` (prompt lookup, free), or a catalog model name
        or :class:`Architecture` of the same vocabulary (a separate draft model).
    moe_dispatch : ``"all-to-all"`` (default) or ``"all-gather"``: how routed tokens reach
        experts on ranks that do not hold them, under attention data parallelism (see
        :func:`evaluate_serving`); engines differ, and so do their versions.
    attention_dp_balance : under attention data parallelism, whether the engine prefills every
        rank's prompts in the same forward passes (TensorRT-LLM's ``enable_balance``); by
        default each rank prefills in passes of its own, which the others wait for (see
        :func:`evaluate_serving`).
    first_token_in_decode : the engine prefills all but the prompt's last token, which the
        next decode step runs to emit the first token (LMDeploy's TurboMind up to v0.1; see
        :func:`evaluate_serving`); default False, as vLLM, SGLang and
        TensorRT-LLM.

    Raises
    ------
    UnknownCatalogEntry, InvalidParameter (context beyond the model's maximum, precision the
    chip lacks), InvalidLayout, InfeasibleServing (nothing fits, even at one token).
    """
    cat = catalog or get_catalog()
    arch = cat.model(model) if isinstance(model, str) else model
    accel = cat.accelerator(hardware) if isinstance(hardware, str) else hardware
    n_dev = _check_int("n_devices", n_devices)
    b = None if batch is None else _check_int("batch", batch)
    sp = _check_int("prompt", prompt, minimum=0)
    so = _check_int("output", output)
    ep_ = _check_int("ep", ep)
    if sp + so > arch.max_seq_len:
        raise InvalidParameter(
            f"prompt + output = {sp + so} tokens exceeds the maximum context of {arch.label} "
            f"({arch.max_seq_len} tokens)")
    if context is not None and not 0 <= context <= arch.max_seq_len:
        raise InvalidParameter(
            f"context must be in [0, {arch.max_seq_len}] (the model's maximum), got {context!r}")
    if objective not in ("latency", "throughput"):
        raise InvalidParameter(f"objective must be latency or throughput, got {objective!r}")
    overhead = (cat.defaults.request_overhead_s if request_overhead_s is None
                else float(request_overhead_s))
    if not 0.0 <= overhead <= 10.0:
        raise InvalidParameter(
            f"request_overhead_s must be in [0, 10] seconds, got {request_overhead_s!r}")
    host = (cat.defaults.host_time_per_sequence_s if host_time_per_sequence_s is None
            else float(host_time_per_sequence_s))
    if not 0.0 <= host <= 0.01:
        raise InvalidParameter(f"host_time_per_sequence_s must be in [0, 0.01] seconds, got "
                               f"{host_time_per_sequence_s!r}")
    check_moe_dispatch(moe_dispatch)
    k_spec, tau = speculative_acceptance(speculative_tokens, accepted_tokens, acceptance_rate)
    drafter = draft_for(arch, draft, k_spec, cat)
    if requests_per_s is not None and not 0.0 < requests_per_s <= 1e9:
        raise InvalidParameter(
            f"requests_per_s must be in (0, 1e9], got {requests_per_s!r}")
    gemm, attn = serving_rates(accel, cat, precision=precision)
    if rates is not None:
        gemm, attn = calibrated_serving_rates(attn, rates)
    kv_p = kv_precision or kv_precision_for(precision, accel)
    if kv_p not in BYTES_PER_ELEMENT:
        raise InvalidParameter(
            f"kv_precision must be one of {', '.join(BYTES_PER_ELEMENT)}, got {kv_p!r}")
    if n_dev > 1 and not (gemm.scale_up_bytes_per_s or gemm.scale_out_bytes_per_s):
        raise InvalidParameter(
            f"{accel.id} has no published scale-up or scale-out bandwidth, so a multi-device "
            f"deployment cannot be planned; add them with --catalog FILE")
    tp = None if tp is None else _check_int("tp", tp)
    pp = None if pp is None else _check_int("pp", pp)
    tps = [tp] if tp is not None else _divisors(n_dev)
    cands = [(t, p) for t in tps for p in ([pp] if pp is not None else _divisors(n_dev // t)
                                           if n_dev % t == 0 else [])
             if n_dev % (t * p) == 0]
    if not cands:
        raise InvalidLayout(
            f"tp={tp} x pp={pp} must divide n_devices={n_dev}")
    arch.check_expert_parallel(ep_)
    if arch.is_moe and ep_ > 1 and any(t % ep_ and ep_ % t for t, _ in cands):
        raise InvalidLayout(f"ep={ep_} must divide or be a multiple of tp")
    batches = PEAK_BATCHES if b is None else np.array([float(b)])
    T = np.repeat([float(c[0]) for c in cands], batches.size)
    P = np.repeat([float(c[1]) for c in cands], batches.size)
    B = np.tile(batches, len(cands))
    consts = {**serving_constants(accel, cat), "request_overhead_s": overhead,
              "host_time_per_sequence_s": host}
    wbytes = BYTES_PER_ELEMENT[precision]
    m = evaluate_serving(
        arch, gemm, attention_rates=attn, batch=B, prompt=sp, output=so, context=context,
        tp=T, pp=P, ep=ep_, n_devices=n_dev, weight_bytes=wbytes, kv_precision=kv_p,
        grouped_kv_reads=grouped_kv_reads, attention_dp=attention_dp,
        speculative_tokens=k_spec, accepted_tokens=tau, draft=drafter,
        moe_dispatch=moe_dispatch, attention_dp_balance=attention_dp_balance,
        first_token_in_decode=first_token_in_decode, **consts)
    score = m.tpot_s if objective == "latency" else -m.decode_tokens_per_s
    fits = np.asarray(m.fits, dtype=bool)
    if tp is None or pp is None:
        if not fits.any():
            best_weights = float(np.min(m.weights_bytes_per_device))
            need = int(np.ceil(arch_bytes(arch, wbytes) / (accel.memory_bytes or 1.0)))
            raise InfeasibleServing(
                f"{arch.label} at {precision} does not fit on {n_dev} x {accel.id} at batch "
                f"{b or 1} and {sp + so} tokens of context under any tp x pp: the weights alone "
                f"need {best_weights / 1e9:.2f} GB per device of "
                f"{accel.memory_bytes / 1e9:.2f} GB at best; at least {need} devices are "
                f"needed for the weights alone")
        i = int(np.argmin(np.where(fits, score, np.inf)))
    else:
        # one layout: the best batch that fits, else the smallest (reported as not fitting)
        i = int(np.argmin(np.where(fits, score, np.inf))) if fits.any() else 0
    b = int(B[i])
    pick = _take(m, i)
    t_sel, p_sel = cands[i // batches.size]
    reasons: list[str] = []
    if not bool(np.asarray(pick.fits)):
        need_bytes = float(np.asarray(pick.memory_bytes_per_device))
        usable = usable_bytes(consts)
        if float(np.asarray(pick.weights_bytes_per_device)) >= usable:
            raise InfeasibleServing(
                f"the weights of {arch.label} at {precision} need "
                f"{float(np.asarray(pick.weights_bytes_per_device)) / 1e9:.2f} GB per device "
                f"with tp={t_sel} pp={p_sel}, more than the {usable / 1e9:.2f} GB usable on "
                f"{accel.id}: not even one token fits; use more devices or a lower precision")
        reasons.append(
            f"memory: {need_bytes / 1e9:.2f} GB per device needed, {usable / 1e9:.2f} GB usable; "
            f"at most {int(np.asarray(pick.max_batch))} sequences of {sp + so} tokens fit")
    replica = t_sel * p_sel
    cycle = float(np.asarray(pick.cycle_s))
    load: dict[str, float | None] = {}
    if requests_per_s is not None:
        per_replica = requests_per_s / (n_dev // replica)
        loaded, wait = ttft_under_load_s(pick.ttft_s, pick.tpot_s, batch=b,
                                         arrival_rate=per_replica, cycle_s=cycle)
        util = per_replica * cycle / b
        load = {"requests_per_s": float(requests_per_s), "utilization": util,
                "queue_wait_s": float(wait), "ttft_loaded_s": float(loaded)}
        if util >= 1.0:
            load["queue_wait_s"] = load["ttft_loaded_s"] = None
            reasons.append(
                f"load: {requests_per_s:g} requests/s is {util:.0%} of the deployment's "
                f"capacity ({requests_per_s / util:.3g} requests/s at batch {b}); the queue "
                f"grows without bound")
    # --- cost and energy of one cycle of the replica ---
    d = cat.defaults
    region_entry = cat.region(region or d.default_region)
    pue_value = d.default_pue if pue is None else pue
    if not 1.0 <= pue_value <= 3.0:
        raise InvalidParameter(f"pue must be in [1, 3], got {pue_value!r}")
    prefill_share = float(np.asarray(pick.batch_prefill_s)) / cycle
    tdp = accel.tdp_w
    energy = power = device_energy = device_power = None
    fp = device_footprint(accel, cat, n_devices=replica, duration_s=cycle,  # one cycle
                          activity=pick.power_activity, pue=pue_value, region=region_entry)
    if tdp is not None:  # without a TDP the energy is unknown, not zero
        energy = float(np.asarray(fp.energy_j))
        device_power = float(np.asarray(fp.device_power_w))
        device_energy = device_power * replica * cycle
        power = float(np.asarray(fp.facility_power_w)) * n_dev / replica
    cost = footprint_cost_usd(fp, accel)
    cost_total = None if cost is None else float(np.asarray(cost))
    basis = ("none: the catalog gives no cloud rate or price for this accelerator"
             if cost is None else
             "cloud rental" if fp.rental_cost_usd is not None else "ownership")
    cost_in = cost_out = None
    if cost_total is not None:
        cost_in = cost_total * prefill_share / max(b * sp, 1)
        cost_out = cost_total * (1.0 - prefill_share) / (b * so)
    at_load = None
    if requests_per_s is not None and load["queue_wait_s"] is not None:
        at_load = _at_load(accel, cat, n_devices=n_dev, batch=b, prompt=sp, output=so,
                           requests_per_s=requests_per_s, utilization=load["utilization"] or 0.0,
                           activity=float(np.asarray(pick.power_activity)),
                           prefill_share=prefill_share, region=region_entry, pue=pue_value)
    ctx = float(sp + so / 2.0) if context is None else float(context)
    return ServingPlan(
        model=arch, accelerator=accel, precision=precision, kv_precision=kv_p, n_devices=n_dev,
        tp=t_sel, pp=p_sel, dp=n_dev // replica, ep=ep_, batch=b, prompt=sp, output=so,
        context=ctx, metrics=pick, cost_usd_per_input_token=cost_in,
        cost_usd_per_output_token=cost_out, price_basis=basis, power_w=power,
        energy_j_per_token=None if energy is None else energy / (b * so),
        device_energy_j_per_token=None if device_energy is None else device_energy / (b * so),
        device_power_w=device_power,
        energy_j_per_request=None if energy is None else energy / b,
        reasons=tuple(reasons), calibrated=gemm.calibrated, grouped_kv_reads=grouped_kv_reads,
        attention_dp=attention_dp, moe_dispatch=moe_dispatch,
        attention_dp_balance=attention_dp_balance,
        first_token_in_decode=first_token_in_decode, request_overhead_s=overhead,
        host_time_per_sequence_s=host,
        speculative_tokens=k_spec, accepted_tokens=tau,
        draft=draft_name(drafter), at_load=at_load, **load,
    )


def check_moe_dispatch(value: Any) -> str:
    """``value`` if it names a way to dispatch routed tokens (:data:`MOE_DISPATCH`), else an
    :class:`InvalidParameter` naming the choices."""
    if value not in MOE_DISPATCH:
        raise InvalidParameter(
            f"moe_dispatch must be one of {', '.join(MOE_DISPATCH)}, got {value!r}")
    return str(value)


def draft_name(drafter: Architecture | str) -> str:
    """How a plan or search result names its drafter: ``module``, ``ngram`` or the draft
    model's id."""
    return drafter if isinstance(drafter, str) else drafter.id


def draft_for(arch: Architecture, draft: str | Architecture | None, speculative_tokens: int,
              cat: Catalog) -> Architecture | str:
    """The checked drafter of a speculative plan: ``"module"``, ``"ngram"`` or a draft
    model of ``arch``'s vocabulary (a draft proposes tokens the target must verify, so both
    use one tokenizer)."""
    if draft is None:
        return "module"
    if speculative_tokens == 0:
        raise InvalidParameter(f"draft={draft!r} needs speculative_tokens >= 1, got 0")
    if isinstance(draft, str) and draft in ("module", "ngram"):
        return draft
    model = cat.model(draft) if isinstance(draft, str) else draft
    if model.vocab_size != arch.vocab_size:
        raise InvalidParameter(
            f"draft model {model.id} has a vocabulary of {model.vocab_size} tokens, "
            f"{arch.label} {arch.vocab_size}: a draft must share the target's tokenizer")
    return model


def speculative_acceptance(speculative_tokens: Any, accepted_tokens: Any = None,
                           acceptance_rate: Any = None) -> tuple[int, float]:
    """Checked drafted tokens per step ``k`` and mean tokens emitted per step ``tau``: given,
    or from a per-token acceptance rate :math:`\\alpha` as
    :math:`(1 - \\alpha^{k+1})/(1 - \\alpha)` (Leviathan et al. 2023, arXiv:2211.17192,
    Eq. 1)."""
    k = _check_int("speculative_tokens", speculative_tokens, minimum=0)
    if k > 16:
        raise InvalidParameter(f"speculative_tokens must be in [0, 16], got {k}")
    if accepted_tokens is not None and acceptance_rate is not None:
        raise InvalidParameter("give accepted_tokens or acceptance_rate, not both")
    if k == 0:
        if (acceptance_rate is not None
                or (accepted_tokens is not None and accepted_tokens != 1)):
            raise InvalidParameter(
                "accepted_tokens and acceptance_rate need speculative_tokens >= 1, got 0")
        return 0, 1.0
    if acceptance_rate is not None:
        a = float(acceptance_rate)
        if not 0.0 <= a < 1.0:
            raise InvalidParameter(f"acceptance_rate must be in [0, 1), got {acceptance_rate!r}")
        return k, (1.0 - a ** (k + 1)) / (1.0 - a)
    if accepted_tokens is None:
        raise InvalidParameter(
            f"speculative_tokens={k} needs accepted_tokens (mean tokens per step, 1 to {k + 1}) "
            f"or acceptance_rate (per drafted token, in [0, 1))")
    t = float(accepted_tokens)
    if not 1.0 <= t <= k + 1:
        raise InvalidParameter(
            f"accepted_tokens must be in [1, {k + 1}] with speculative_tokens={k}, "
            f"got {accepted_tokens!r}")
    return k, t


def load_footprint(accel: Accelerator, cat: Catalog, *, n_devices: ArrayLike,
                   activity: ArrayLike, batch: ArrayLike, utilization: ArrayLike, pue: float,
                   region: Region) -> tuple[Footprint, FloatArray]:
    """One second of a deployment at an offered load (vectorized), and the share of the time
    a request is in each replica: a replica of ``batch`` slots draws its serving power
    (``activity``) while one is (:func:`~scalewall.infer.queueing.busy_fraction`) and idle
    power otherwise; devices are paid for all the time."""
    u = np.minimum(np.asarray(utilization, dtype=float), 1.0)
    busy = busy_fraction(batch, u * np.asarray(batch, dtype=float))
    return device_footprint(accel, cat, n_devices=n_devices, duration_s=1.0,
                            activity=busy * np.asarray(activity), pue=pue, region=region), busy


def device_footprint(accel: Accelerator, cat: Catalog, *, n_devices: ArrayLike,
                     duration_s: ArrayLike, activity: ArrayLike, pue: float,
                     region: Region) -> Footprint:
    """:func:`~scalewall.footprint.run_footprint` of ``n_devices`` of ``accel`` for
    ``duration_s`` at ``activity``, with the catalog's power, price and ownership constants."""
    d = cat.defaults
    return run_footprint(
        n_devices=n_devices, duration_s=duration_s, activity=activity,
        tdp_w=accel.tdp_w or 0.0, idle_w=accel.idle_power_w(d.idle_fraction_of_tdp),
        host_fraction_of_tdp=d.host_power_fraction_of_tdp, pue=pue,
        grid_g_per_j=region.grid_g_per_j, electricity_usd_per_j=region.electricity_usd_per_j,
        cloud_usd_per_hour=accel.cloud_usd_per_hour, price_usd=accel.price_usd,
        capex_overhead_factor=d.capex_overhead_factor,
        hardware_lifetime_s=d.hardware_lifetime_s)


def priced(accel: Accelerator) -> bool:
    """Whether the catalog can cost ``accel``: a cloud rate, or a price and a TDP (ownership
    pays the electricity too; without a TDP it is unknown, not cheap)."""
    return accel.cloud_usd_per_hour is not None or (
        accel.price_usd is not None and accel.tdp_w is not None)


def footprint_cost_usd(fp: Footprint, accel: Accelerator) -> Any:
    """The cost a plan reports from ``fp``: cloud rental where the catalog has a rate, else
    ownership (amortised price plus electricity) where it has a price and a TDP; else None."""
    return fp.cost_usd if priced(accel) else None


def _at_load(accel: Accelerator, cat: Catalog, *, n_devices: int, batch: int, prompt: int,
             output: int, requests_per_s: float, utilization: float, activity: float,
             prefill_share: float, region: Region, pue: float) -> dict[str, float | None]:
    """Cost and energy per token of the deployment at an offered load below its capacity.

    The devices are paid for whether busy or not, so a rented deployment's cost per token is
    the full-load figure over the utilisation (an owned one's also pays the power it draws). A
    replica draws its serving power while any request is in it
    (:func:`~scalewall.infer.queueing.busy_fraction` of the time; the running batch is then
    smaller, which a memory-bound step barely notices) and idle power otherwise.
    """
    fp, busy = load_footprint(accel, cat, n_devices=n_devices, activity=activity, batch=batch,
                              utilization=utilization, pue=pue, region=region)
    out: dict[str, float | None] = {
        "busy_fraction": float(busy),
        "cost_usd_per_input_token": None, "cost_usd_per_output_token": None,
        "energy_j_per_token": None, "energy_j_per_request": None, "device_power_w": None}
    cost = footprint_cost_usd(fp, accel)  # per second
    if accel.tdp_w is not None:
        out["energy_j_per_request"] = float(fp.energy_j) / requests_per_s
        out["energy_j_per_token"] = float(fp.energy_j) / (requests_per_s * output)
        out["device_power_w"] = float(fp.device_power_w)
    if cost is not None:
        out["cost_usd_per_input_token"] = float(cost) * prefill_share / (
            requests_per_s * max(prompt, 1))
        out["cost_usd_per_output_token"] = float(cost) * (1.0 - prefill_share) / (
            requests_per_s * output)
    return out


def arch_bytes(arch: Architecture, weight_bytes: float) -> float:
    """All weights of ``arch`` at ``weight_bytes`` per parameter [B]."""
    return float(n_params(arch)) * weight_bytes


def _take(m: ServingMetrics, i: int) -> ServingMetrics:
    """Candidate ``i`` of a metrics object evaluated over a 1-D candidate axis."""

    def pick(x: Any) -> Any:
        if isinstance(x, StepTime):
            return StepTime(**{f.name: pick(getattr(x, f.name)) for f in fields(x)})
        a = np.asarray(x)
        return a.reshape(-1)[i] if a.ndim else a

    return ServingMetrics(**{f.name: (getattr(m, f.name) if f.name == "capacity_bytes"
                                      else pick(getattr(m, f.name))) for f in fields(m)})
