"""Time of one training step: GEMMs by shape, memory-bound kernels, collectives, bubble.

Every layout argument may be an array; the result has the broadcast shape. The model is
per operation (no single fudge factor): each matrix multiply's time comes from its shape on
the device (:func:`scalewall.kernels.matmul_time_s`), each elementwise kernel's from its bytes,
each collective's from the link it crosses (:mod:`scalewall.comm`), then the pipeline
schedule puts them together.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from scalewall._types import ArrayLike, FloatArray, as_float, maximum, minimum, where
from scalewall.arch.counts import (
    attention_flop_per_token,
    cached_tokens,
    model_flop_per_token,
    param_breakdown,
)
from scalewall.arch.gemms import GemmGroup, layer_gemm_groups
from scalewall.arch.model import Architecture
from scalewall.comm import (
    all_gather_time_s,
    all_reduce_time_s,
    all_to_all_time_s,
    group_bandwidth_bytes_per_s,
    p2p_time_s,
    reduce_scatter_time_s,
)
from scalewall.kernels import DeviceRates, matmul_time_s, stream_time_s
from scalewall.train.layout import stage_layers

__all__ = ["StepBreakdown", "training_step"]


@dataclass(frozen=True)
class StepBreakdown:
    """One training step [s] by where the time goes, and the rates that follow."""

    gemm_s: FloatArray  # matrix multiplies on the critical path (recomputation included)
    attention_s: FloatArray  # attention score/value kernels
    elementwise_s: FloatArray  # norms, activations, residuals, softmax, loss
    tp_comm_s: FloatArray  # tensor-parallel collectives (not overlapped)
    cp_comm_s: FloatArray  # context-parallel exchange not hidden behind attention
    ep_comm_s: FloatArray  # expert all-to-all
    pp_comm_s: FloatArray  # pipeline sends
    bubble_s: FloatArray  # pipeline fill and drain
    dp_comm_s: FloatArray  # data-parallel gradient sync not hidden behind backward
    optimizer_s: FloatArray  # optimizer update and weight casts
    step_s: FloatArray
    tokens_per_step: FloatArray
    model_flop_per_step: FloatArray
    hardware_flop_per_step: FloatArray
    tokens_per_s: FloatArray
    model_flop_per_s_per_device: FloatArray
    hardware_flop_per_s_per_device: FloatArray
    mfu: FloatArray
    hfu: FloatArray

    def to_dict(self) -> dict[str, Any]:
        return {f.name: np.asarray(getattr(self, f.name)).tolist() for f in fields(self)}


def _like(value: FloatArray, ref: FloatArray) -> FloatArray:
    """``value`` broadcast to the shape of ``ref`` (a scalar stays a scalar)."""
    return value * np.ones_like(ref) if isinstance(ref, np.ndarray) else value


def _layer_gemms(arch: Architecture, T: FloatArray, t: FloatArray, rates: DeviceRates
                 ) -> tuple[FloatArray, ...]:
    """Forward and backward GEMM time of one average layer, and of the output head, on one
    device [s]: (layer forward, layer backward, head forward, head backward).

    GEMM shapes depend only on the tokens per micro-batch and the tensor-parallel degree, so
    a layout search evaluates each distinct pair once and gathers the result.
    """
    return _per_distinct(lambda T_, t_: _layer_gemms_direct(arch, T_, t_, rates), T, t)


def _per_distinct(fn: Any, T: FloatArray, t: FloatArray) -> tuple[FloatArray, ...]:
    """Apply ``fn(T, t) -> tuple`` once per distinct (T, t) pair of a long 1-d search axis."""
    if np.ndim(T) == 0 and np.ndim(t) == 0:
        out: tuple[FloatArray, ...] = fn(float(T), float(t))
        return out
    T_b, t_b = np.broadcast_arrays(as_float(T), as_float(t))
    if T_b.ndim != 1 or T_b.size <= 64:
        out = fn(T_b, t_b)
        return out
    key = T_b * 65536.0 + t_b  # tensor-parallel degrees stay far below 65536
    _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    return tuple(part[inverse] for part in fn(T_b[first], t_b[first]))


def _stack(values: Any, shape: tuple[int, ...]) -> FloatArray:
    """Values (scalars or arrays of ``shape``) stacked on a new leading axis."""
    if not shape:
        return np.array(values, dtype=float)
    return np.stack([np.broadcast_to(np.asarray(v, dtype=float), shape) for v in values])


def _layer_gemms_direct(arch: Architecture, T: FloatArray | float, t: FloatArray | float,
                        rates: DeviceRates) -> tuple[FloatArray, ...]:
    """All of the layer's GEMMs and the output head's, stacked on a leading axis and timed in
    one call per direction (forward, data gradient, weight gradient)."""
    shape = () if not (isinstance(T, np.ndarray) or isinstance(t, np.ndarray)) else (
        np.broadcast_shapes(np.shape(T), np.shape(t)))
    ms, ks, ns, ws = [], [], [], []
    # the output head [h, V/t], column-parallel over the vocabulary, goes last
    head = (float(arch.hidden_size), float(arch.vocab_size), "n")
    for group in [*layer_gemm_groups(arch), GemmGroup(0.0, 1.0, [head], "output_head")]:
        for k, n, split in group.shapes:
            ms.append(T * group.tokens_per_token)
            ks.append(k / t if split == "k" else k + 0.0 * t)
            ns.append(n / t if split == "n" else n + 0.0 * t)
            ws.append(group.share)
    if not shape:  # one plan: plain lists, one array per operand
        g = len(ms)
        t1 = matmul_time_s(np.array(ms + ms + ks), np.array(ns + ks + ns),
                           np.array(ks + ns + ms), rates)
        f1, b1 = t1[:g], t1[g:2 * g] + t1[2 * g:]
        w1 = np.array(ws[:-1])
        return w1 @ f1[:-1], w1 @ b1[:-1], f1[-1], b1[-1]
    M, K, N = (_stack(xs, shape) for xs in (ms, ks, ns))  # (gemms, *layouts)
    w = np.asarray(ws).reshape((-1,) + (1,) * len(shape))
    g = M.shape[0]
    # forward [M,K]x[K,N], data gradient [M,N]x[N,K], weight gradient [K,M]x[M,N]: one call
    t = matmul_time_s(np.concatenate([M, M, K]), np.concatenate([N, K, N]),
                      np.concatenate([K, N, M]), rates)
    f, b = t[:g], t[g:2 * g] + t[2 * g:]
    return (w[:-1] * f[:-1]).sum(axis=0), (w[:-1] * b[:-1]).sum(axis=0), f[-1], b[-1]


def _elementwise_bytes_per_token(arch: Architecture, t: FloatArray, sp: FloatArray,
                                 recipe: str, dropout: bool) -> FloatArray:
    """Forward bytes per token one layer's memory-bound kernels move on one device.

    ``megatron``: fused layernorm, bias-activation and bias-dropout-add kernels, bf16
    (read + write of each tensor once); ``pytorch``: eager kernels under autocast, with norms
    and residual adds in fp32 and casts to bf16 before each GEMM.
    """
    h, f = float(arch.hidden_size), float(arch.expert_ffn_size if arch.is_moe else arch.ffn_size)
    if arch.is_moe:
        f = f * (arch.n_active_experts + arch.n_shared_experts)
    act = (6.0 if arch.mlp == "swiglu" else 4.0) * f  # read (1 or 2)·f, write f, bf16
    rope = 4.0 * (arch.n_heads + arch.kv_heads) * arch.d_head if arch.position == "rope" else 0.0
    if recipe == "pytorch":
        # 2 fp32 norms (r4+w4), 2 casts (r4+w2), 2 residual adds (r4+r2+w4), attention output
        # transpose (r2+w2)
        replicated = 16.0 * h + 12.0 * h + 20.0 * h + 4.0 * h
    else:
        # 2 norms (r2+w2), 2 bias-dropout-adds (r2+r2+w2, + a 1-byte mask with dropout)
        replicated = 8.0 * h + (12.0 + (2.0 if dropout else 0.0)) * h
    out: FloatArray = where(sp > 0, replicated / t, replicated) + (act + rope) / t
    return out


def training_step(
    arch: Architecture, rates: DeviceRates, *, seq_len: ArrayLike, global_batch: ArrayLike,
    tp: ArrayLike = 1, pp: ArrayLike = 1, dp: ArrayLike = 1, cp: ArrayLike = 1,
    ep: ArrayLike = 1, sp: ArrayLike = 0, vpp: ArrayLike = 1, micro_batch: ArrayLike = 1,
    recompute: ArrayLike = 0, zero: ArrayLike = 1, flash_attention: bool = True,
    dropout: bool = False, recipe: str = "megatron", overlap_grad_reduce: bool = True,
    prefetch_params: bool = True, overlap_moe_comm: bool = False,
    peak_bf16_flop_per_s: float | None = None,
    precision: str = "bf16",
) -> StepBreakdown:
    """Time of one optimizer step and its breakdown.

    Parameters
    ----------
    arch : Architecture
    rates : achievable device rates at the training precision.
    seq_len : [tokens]; global_batch, micro_batch : [sequences].
    tp, pp, dp, cp, ep, vpp : parallel degrees; sp : 1 with sequence parallelism.
    recompute : 0 none, 1 selective, 2 full. zero : ZeRO stage (0-3).
    peak_bf16_flop_per_s : denominator of MFU/HFU [FLOP/s]; default the rates' peak.

    Notes
    -----
    Per micro-batch, a pipeline stage runs its layers forward (each GEMM, the attention
    kernel, the memory-bound kernels and two tensor-parallel collectives of :math:`bsh` bytes)
    and backward (twice the GEMMs, 2.5 times the attention, plus the forward again under full
    recomputation). The step is :math:`(m + (p-1)/v)` times the slowest stage's micro-batch
    time (1F1B; Narayanan et al. 2021, Sec. 2.2), plus pipeline sends, the part of the
    data-parallel gradient reduction not hidden behind the last backward passes, and the
    optimizer update, which streams its state through memory. MFU counts model FLOP only
    (:func:`scalewall.arch.model_flop_per_token`); HFU adds recomputation.

    References
    ----------
    .. [1] D. Narayanan et al. 2021, arXiv:2104.04473, eq. 1-3.
    .. [2] V. Korthikanti et al. 2022, arXiv:2205.05198, Sec. 5.
    """
    tp_, pp_, dp_, cp_, ep_ = (as_float(x) for x in (tp, pp, dp, cp, ep))
    vpp_, sp_ = as_float(vpp), as_float(sp)
    rc, zero_ = as_float(recompute), as_float(zero)
    s, gb = as_float(seq_len), as_float(global_batch)
    b = as_float(micro_batch)
    m = maximum(gb // (b * dp_), 1.0)  # micro-batches per pipeline
    L = float(arch.n_layers)
    h, V, e = float(arch.hidden_size), float(arch.vocab_size), 2.0
    T = b * s / cp_  # tokens per device per micro-batch

    # --- one layer, one micro-batch ---
    gemm_f, gemm_b, head_f, head_b = _layer_gemms(arch, T, tp_, rates)
    ctx = cached_tokens(arch, s)  # keys per query, averaged over the layers (window, chunk)
    # forward attention FLOP per token (the function applies any local window itself)
    attn_flop_token = as_float(attention_flop_per_token(arch, s))
    attn_flop_fwd = attn_flop_token / L * T / tp_  # per layer
    if flash_attention:
        # fused kernel; the causal mask lets it skip half of the score blocks
        attn_f = 0.5 * attn_flop_fwd / rates.attention_flop_per_s
        attn_b = 2.5 * attn_f  # five GEMM-like products backward against two forward
    else:
        d = float(arch.d_head)
        heads = b * arch.n_heads / tp_
        # scores Q K^T [s, d] x [d, ctx] and output P V [s, ctx] x [ctx, d], per head: forward,
        # data and weight gradients of both in one call
        q = s / cp_
        shape = np.shape(T)
        m_, n_, k_ = (_stack(xs, shape) for xs in (
            (q, q, d, q, q, ctx), (ctx, d, ctx, d, ctx, d), (d, ctx, q, ctx, d, q)))
        t6 = matmul_time_s(m_, n_, k_, rates, batch=heads)
        qk_f, qk_b = t6[0], t6[1] + t6[2]
        av_f, av_b = t6[3], t6[4] + t6[5]
        # scale-mask-softmax (r2+w2) and dropout (w1 mask + w2) over the score matrix;
        # backward reads probabilities and gradient and writes the gradient (r2+r2+w2, and
        # r1+r2+w2 for dropout)
        scores = heads * (s / cp_) * ctx
        softmax_f = stream_time_s(scores * (4.0 + (3.0 if dropout else 0.0)), rates)
        softmax_b = stream_time_s(scores * (6.0 + (5.0 if dropout else 0.0)), rates)
        attn_f = qk_f + av_f + softmax_f + rates.kernel_launch_s * (2.0 if dropout else 1.0)
        attn_b = qk_b + av_b + softmax_b + rates.kernel_launch_s * (2.0 if dropout else 1.0)
    # each memory-bound kernel also pays a launch: about 6 per layer forward when fused
    # (megatron), 14 eager (pytorch); backward twice as many
    n_kernels = 6.0 if recipe == "megatron" else 14.0
    elem_f = stream_time_s(T * _elementwise_bytes_per_token(arch, tp_, sp_, recipe, dropout),
                           rates) + n_kernels * rates.kernel_launch_s
    elem_b = 2.0 * elem_f

    # tensor-parallel collectives: 2 per layer forward (1 with a parallel block), same backward
    n_tp_coll = 1.0 if arch.parallel_block else 2.0
    tp_bw = group_bandwidth_bytes_per_s(tp_, 1.0, rates)
    tp_one = all_reduce_time_s(T * h * e, tp_, tp_bw, rates)
    tp_f = n_tp_coll * tp_one
    # with sequence parallelism the backward pass gathers each sharded GEMM input again for
    # the weight gradient (Korthikanti et al. 2022, Sec. 4.2.2): one all-gather, half an
    # all-reduce's traffic, per collective pair
    tp_b = tp_f * where(sp_ > 0, 1.5, 1.0)
    # context parallelism: ring exchange of K and V, hidden behind the attention kernel
    kv_bytes = T * 2.0 * arch.kv_heads * arch.d_head * e / minimum(tp_, arch.kv_heads)
    cp_bw = group_bandwidth_bytes_per_s(cp_, tp_, rates)
    cp_f_raw = where(cp_ > 1, (cp_ - 1.0) * kv_bytes / cp_bw, 0.0)
    cp_f = maximum(cp_f_raw - attn_f, 0.0)
    cp_b = maximum(2.0 * cp_f_raw - attn_b, 0.0)
    # expert parallelism: dispatch and combine all-to-alls of T*k tokens
    if arch.is_moe:
        moe_frac = arch.n_moe_layers / L
        ep_bw = group_bandwidth_bytes_per_s(ep_, tp_ * cp_, rates)
        crosses_nodes = ep_ * tp_ * cp_ > rates.scale_up_domain
        # copies of a token that cross the link: one per expert, or with group-limited
        # routing one per node reached, fanned out over the scale-up fabric (DeepSeek-AI
        # 2024, Sec. 3.2.2)
        k = float(arch.n_active_experts)
        copies = where(crosses_nodes & (arch.topk_groups > 0),
                          min(k, float(arch.topk_groups or k)), k)
        # dispatch in fp8 under fp8 training, combine in bf16 (DeepSeek-AI 2024, Sec. 3.3)
        dispatch_bytes = 1.0 if precision == "fp8" else e
        a2a = (all_to_all_time_s(T * copies * h * dispatch_bytes / tp_, ep_, ep_bw, rates)
               + all_to_all_time_s(T * copies * h * e / tp_, ep_, ep_bw, rates))
        ep_f = moe_frac * a2a
        if overlap_moe_comm:
            # overlapped with another micro-batch's compute (DeepSeek-AI 2024, DualPipe):
            # only what exceeds the MLP's GEMM time shows
            ep_f = maximum(ep_f - gemm_f / 2.0, 0.0)
    else:
        ep_f = 0.0 * T

    recompute_f = where(rc == 2, gemm_f + attn_f + elem_f + tp_f + ep_f + cp_f,
                           where(rc == 1, attn_f, 0.0))
    layer_f = gemm_f + attn_f + elem_f + tp_f + cp_f + ep_f
    layer_b = gemm_b + attn_b + elem_b + tp_b + cp_b + ep_f + recompute_f

    # --- a stage: its layers, plus the output head and loss on the last one ---
    _, mid_layers, last_layers = stage_layers(arch.n_pipeline_layers, pp_)
    loss_bytes = T * V / tp_ * (16.0 if recipe == "megatron" else 40.0)
    loss_s = stream_time_s(loss_bytes, rates)
    # the slowest stage sets the pace: a middle stage, or the last with the output head
    last_f = last_layers * layer_f + head_f + 0.25 * loss_s
    last_b = last_layers * layer_b + head_b + 0.75 * loss_s
    mid_f, mid_b = mid_layers * layer_f, mid_layers * layer_b
    last_slower = (last_f + last_b) >= (mid_f + mid_b)
    stage_f = where(last_slower, last_f, mid_f)
    stage_b = where(last_slower, last_b, mid_b)
    micro_s = stage_f + stage_b

    compute_path = m * micro_s
    bubble = (pp_ - 1.0) / vpp_ * micro_s
    pp_bw = group_bandwidth_bytes_per_s(2.0, tp_ * cp_ * dp_, rates)
    pp_one = p2p_time_s(T * h * e / tp_, pp_bw, rates)
    pp_comm = where(pp_ > 1, 2.0 * (m * vpp_ + pp_ - 1.0) * pp_one, 0.0)

    # --- data-parallel gradient sync and the optimizer ---
    p = param_breakdown(arch)
    dense_local = ((p.total - p.mlp_experts) / tp_ / pp_)
    expert_local = p.mlp_experts / (ep_ * tp_ * pp_)
    # gradients are reduced in fp32 by both recipes: Megatron-LM forces fp32 accumulation and
    # all-reduce under bf16 (arguments.py: "bfloat16 requires gradient accumulation and
    # all-reduce to be done in fp32"); PyTorch DDP/FSDP reduce the fp32 gradients of fp32 weights
    grad_bytes = 4.0
    dp_group = dp_ * cp_
    dp_bw = group_bandwidth_bytes_per_s(dp_group, tp_, rates)
    ep_group = maximum(dp_group / ep_, 1.0)
    ep_dp_bw = group_bandwidth_bytes_per_s(ep_group, tp_ * ep_, rates)

    def dp_sync(n_params: FloatArray, group: FloatArray, bw: FloatArray) -> FloatArray:
        """ZeRO-0: all-reduce of fp32 gradients. ZeRO-1/2 (distributed optimizer):
        reduce-scatter of the gradients, all-gather of the updated bf16 weights. ZeRO-3 also
        gathers the bf16 weights again for every micro-batch's forward and backward."""
        ag = all_gather_time_s(n_params * 2.0, group, bw, rates)
        if np.ndim(zero_) == 0:  # one plan: only its ZeRO stage's collectives
            if zero_ == 0:
                return all_reduce_time_s(n_params * grad_bytes, group, bw, rates)
            if zero_ >= 3:
                return reduce_scatter_time_s(n_params * 2.0, group, bw, rates) + 2.0 * m * ag
            return reduce_scatter_time_s(n_params * grad_bytes, group, bw, rates) + ag
        rs = reduce_scatter_time_s(n_params * grad_bytes, group, bw, rates)
        # ZeRO-3 (DeepSpeed) reduces gradients in the training precision (its default
        # communication_data_type), 2 bytes
        rs3 = reduce_scatter_time_s(n_params * 2.0, group, bw, rates)
        out: FloatArray = where(
            zero_ == 0, all_reduce_time_s(n_params * grad_bytes, group, bw, rates),
            where(zero_ >= 3, rs3 + 2.0 * m * ag, rs + ag),
        )
        return out

    dp_s = dp_sync(dense_local, dp_group, dp_bw)
    if arch.is_moe:
        dp_s = dp_s + dp_sync(expert_local, ep_group, ep_dp_bw)
    # ZeRO-3 with prefetch gathers each layer's weights during the previous layer's compute,
    # so its traffic hides behind the whole step; otherwise only the last backward passes
    # hide the gradient sync, when it overlaps backward at all
    grad_window = stage_b * pp_ if overlap_grad_reduce else 0.0 * stage_b
    window = where(zero_ >= 3, m * micro_s if prefetch_params else grad_window, grad_window)
    dp_exposed = maximum(dp_s - window, 0.0)
    local = dense_local + expert_local
    shard = where(zero_ >= 1, dp_group, 1.0)
    # Adam: read master, grad, 2 moments; write master, moments, bf16 copy (megatron: 30 B);
    # pytorch: 28 B plus casting the fp32 weights to bf16 and bf16 gradients to fp32 (12 B)
    opt_bytes = local / shard * (30.0 if recipe == "megatron" else 28.0)
    cast_bytes = local * (12.0 if recipe == "pytorch" else 0.0)
    optimizer = stream_time_s(opt_bytes + cast_bytes, rates)

    step = compute_path + bubble + pp_comm + dp_exposed + optimizer
    n_dev = tp_ * pp_ * dp_ * cp_
    tokens = gb * s
    flop_per_token = as_float(model_flop_per_token(arch, s))
    model_flop = flop_per_token * tokens
    fwd_layers_flop = (flop_per_token / 3.0 - 2.0 * V * h) * tokens
    attn_fwd_total = attn_flop_token * tokens
    hw_flop = model_flop + where(rc == 2, fwd_layers_flop, where(rc == 1, attn_fwd_total,
                                                                        0.0))
    peak = peak_bf16_flop_per_s or rates.peak_flop_per_s

    per_step = m * where(last_slower, last_layers, mid_layers)
    return StepBreakdown(
        gemm_s=per_step * (gemm_f + gemm_b + where(rc == 2, gemm_f, 0.0))
        + m * (head_f + head_b),
        attention_s=per_step * (attn_f + attn_b + where(rc >= 1, attn_f, 0.0)),
        elementwise_s=per_step * (elem_f + elem_b + where(rc == 2, elem_f, 0.0))
        + m * loss_s,
        tp_comm_s=per_step * (tp_f + tp_b + where(rc == 2, tp_f, 0.0)),
        cp_comm_s=per_step * (cp_f + cp_b),
        ep_comm_s=per_step * ep_f * where(rc == 2, 3.0, 2.0),
        pp_comm_s=pp_comm,
        bubble_s=bubble,
        dp_comm_s=dp_exposed,
        optimizer_s=optimizer,
        step_s=step,
        tokens_per_step=_like(tokens, step),
        model_flop_per_step=_like(model_flop, step),
        hardware_flop_per_step=_like(hw_flop, step),
        tokens_per_s=tokens / step,
        model_flop_per_s_per_device=model_flop / step / n_dev,
        hardware_flop_per_s_per_device=hw_flop / step / n_dev,
        mfu=model_flop / step / n_dev / peak,
        hfu=hw_flop / step / n_dev / peak,
    )
