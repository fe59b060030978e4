"""Memory per device of a training step: weights, gradients, optimizer, activations, logits.

Every layout argument may be an array (a layout search passes all candidates at once); the
result has the broadcast shape. Categorical options (precision, recipe, flash attention,
dropout) are scalars.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from scalewall._types import ArrayLike, FloatArray, as_float, maximum, minimum, where
from scalewall.arch.counts import param_breakdown
from scalewall.arch.model import Architecture
from scalewall.hardware import PlannerDefaults
from scalewall.train.layout import stage_layers

__all__ = [
    "LOGITS_BYTES_PER_ELEMENT",
    "MemoryBreakdown",
    "activation_bytes_per_layer",
    "training_memory",
]

#: Bytes per logit element alive at the loss (per micro-batch, per vocabulary shard): the bf16
#: logits (2), their fp32 copy for a stable softmax (4), the fp32 log-probabilities saved for
#: backward (4) and the bf16 gradient written back (2). "b·s·V in two precisions: often the
#: largest single tensor" (DESIGN.md); on one H200 this reproduces the measured peaks of a GPT
#: 124M (16 sequences of 1,024) and 1.3B (4 of 2,048) within 1% (shared/validation/README.md).
LOGITS_BYTES_PER_ELEMENT = 12.0
#: Most parameters ZeRO-3 keeps gathered at once (DeepSpeed config reference,
#: ``stage3_max_live_parameters``, default 1e9).
_ZERO3_MAX_LIVE_PARAMS = 1e9


@dataclass(frozen=True)
class MemoryBreakdown:
    """Bytes per device on the stage with the highest peak; arrays broadcast over layouts."""

    weights_bytes: FloatArray
    gradients_bytes: FloatArray
    optimizer_bytes: FloatArray
    activations_bytes: FloatArray
    logits_bytes: FloatArray
    peak_allocated_bytes: FloatArray  # what torch.cuda.max_memory_allocated would report
    overhead_bytes: FloatArray  # CUDA context, communication buffers, allocator slack
    total_bytes: FloatArray  # peak_allocated + overhead: what must fit
    capacity_bytes: float
    feasible: Any  # bool array

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            out[f.name] = np.asarray(value).tolist()
        return out


def activation_bytes_per_layer(
    arch: Architecture, *, tokens: ArrayLike, context: ArrayLike, tp: ArrayLike, sp: ArrayLike,
    recompute: ArrayLike, flash_attention: bool, dropout: bool, precision: str = "bf16",
    recipe: str = "megatron",
) -> FloatArray:
    """Activation bytes one transformer layer keeps for backward, per micro-batch, per device.

    Parameters
    ----------
    tokens : [tokens] tokens on this device in one micro-batch, ``b·s/cp``.
    context : [tokens] keys each query attends to (the sequence length ``s``).
    tp : tensor-parallel degree.
    sp : 1 where sequence parallelism shards the norms and dropouts over ``tp``.
    recompute : 0 none, 1 selective (core attention recomputed), 2 full (layer input kept).

    Notes
    -----
    Generalises Korthikanti et al. 2022, eq. 1-5: a GPT layer keeps
    :math:`sbh(34 + 5as/h)` bytes, of which :math:`10sbh` are replicated over tensor-parallel
    ranks unless sequence parallelism shards them; selective recomputation removes the
    :math:`5as^2b` attention term, full recomputation keeps only the :math:`2sbh` input. Here
    each saved tensor is counted from the shapes, so grouped-query attention, SwiGLU, MoE,
    MLA, dropout and flash attention change the count where they change the tensors.

    References
    ----------
    .. [1] V. Korthikanti et al., "Reducing Activation Recomputation in Large Transformer
       Models", MLSys 2023, arXiv:2205.05198.

    Examples
    --------
    >>> from scalewall.catalog import load_catalog
    >>> gpt = load_catalog().model("gpt-3-175b").replace(vocab_size=51200)
    >>> s, h, a = 2048, 12288, 96
    >>> got = activation_bytes_per_layer(gpt, tokens=s, context=s, tp=1, sp=0, recompute=0,
    ...                                  flash_attention=False, dropout=True)
    >>> float(got / (s * h * (34 + 5 * a * s / h)))  # eq. 1 of [1], b = 1
    1.0
    """
    T = as_float(tokens)
    ctx = as_float(context)
    t = as_float(tp)
    sp_ = as_float(sp) > 0
    rc = as_float(recompute)
    h, a = float(arch.hidden_size), float(arch.n_heads)
    e = 2.0  # bf16/fp16 activations
    lin = 1.0 if precision == "fp8" else e  # fp8 recipes keep fp8 copies of GEMM inputs
    norm_in = 4.0 if recipe == "pytorch" else e  # autocast keeps the residual stream in fp32
    mask = 1.0 if dropout else 0.0

    # --- attention mixer ---
    if arch.is_mla:
        qk = arch.qk_nope_head_dim + arch.qk_rope_head_dim
        qkv_sharded = e * a * (2 * qk + arch.v_head_dim)
        proj_in = lin * a * arch.v_head_dim
        # the compressed query and key-value latents are per-token vectors, not h-wide
        latent = e * (arch.q_lora_rank + arch.kv_lora_rank + arch.qk_rope_head_dim)
    else:
        d = float(arch.d_head)
        qkv_sharded = e * (a + 2.0 * arch.kv_heads) * d
        proj_in = lin * a * d
        latent = 0.0
    attn_sharded = qkv_sharded + proj_in  # per token, divided by tp
    attn_replicated = norm_in + lin + mask  # per h: norm input, QKV input, dropout mask
    if flash_attention:
        scores = 0.0 * ctx
    else:  # softmax output (2), and with dropout its mask (1) and output (2): 5as/h of [1]
        scores = (2.0 + 3.0 * mask) * a * ctx
    # --- MLP (dense, or routed experts plus shared ones) ---
    mats = 3.0 if arch.mlp == "swiglu" else 2.0  # saved f-wide tensors per token

    def mlp_per_token(ffn: float) -> float:
        return (mats - 1.0) * e * ffn + lin * ffn

    if arch.is_moe:
        k, shared = float(arch.n_active_experts), float(arch.n_shared_experts)
        ffn = float(arch.expert_ffn_size)
        mlp_sharded = (k + shared) * mlp_per_token(ffn) + 2.0 * e * k * h  # + dispatch buffers
        moe_frac = arch.n_moe_layers / arch.n_layers
        mlp_sharded = moe_frac * mlp_sharded + (1 - moe_frac) * mlp_per_token(arch.ffn_size)
    else:
        mlp_sharded = mlp_per_token(float(arch.ffn_size))
    mlp_replicated = (0.0 if arch.parallel_block else norm_in + lin) + mask
    if arch.n_ssm_layers:
        d_inner, n_state = arch.ssm_expand * h, arch.ssm_state_size
        ssm_sharded = e * (3.0 * (2.0 * d_inner + 2.0 * n_state) + d_inner)
        frac = arch.n_ssm_layers / arch.n_layers
        attn_sharded = (1 - frac) * attn_sharded + frac * ssm_sharded
        scores = (1 - frac) * scores

    replicated = h * (attn_replicated + mlp_replicated) + latent
    sharded = h * 0 + attn_sharded + mlp_sharded
    per_token_full = where(sp_, replicated / t, replicated) + sharded / t
    # selective recomputation and flash attention both drop the s^2 term
    keep_scores = where(rc >= 1, 0.0, scores / t)
    none_or_selective = T * (per_token_full + keep_scores)
    full = T * where(sp_, norm_in * h / t, norm_in * h)
    out: FloatArray = where(rc == 2, full, none_or_selective)
    return out


def training_memory(
    arch: Architecture, defaults: PlannerDefaults, *, capacity_bytes: float, seq_len: ArrayLike,
    tp: ArrayLike = 1, pp: ArrayLike = 1, dp: ArrayLike = 1, cp: ArrayLike = 1,
    ep: ArrayLike = 1, sp: ArrayLike = 0, vpp: ArrayLike = 1, micro_batch: ArrayLike = 1,
    n_microbatches: ArrayLike = 1, recompute: ArrayLike = 0, zero: ArrayLike = 1,
    flash_attention: bool = True, dropout: bool = False, precision: str = "bf16",
    recipe: str = "megatron",
) -> MemoryBreakdown:
    """Peak memory per device of one training step.

    Returns
    -------
    MemoryBreakdown
        On the pipeline stage whose peak is highest: the first stage holds ``min(pp, m)``
        micro-batches of activations (1F1B), the last the logits.

    Notes
    -----
    Model state per parameter (Rajbhandari et al. 2020): ``megatron`` keeps bf16 weights (2
    bytes), fp32 gradients (4) and fp32 master weights with two Adam moments (12): 18 bytes;
    ``pytorch`` keeps fp32 weights (4), fp32 gradients (4, allocated during backward) and two
    moments (8), plus bf16 copies of the weights (2) cached by autocast. ZeRO stage 1 shards the
    optimizer state over the data-parallel group (``dp·cp``; ``dp·cp/ep`` for experts), stage 2
    also the gradients, stage 3 also the weights. Interleaving adds
    :math:`(1 + (p-1)/(pv))` to the first stage's activations (Korthikanti et al. 2022).

    References
    ----------
    .. [1] S. Rajbhandari et al., "ZeRO: Memory Optimizations Toward Training Trillion
       Parameter Models", SC 2020, arXiv:1910.02054.
    .. [2] V. Korthikanti et al. 2022, arXiv:2205.05198.
    """
    tp_, pp_, dp_, cp_, ep_ = (as_float(x) for x in (tp, pp, dp, cp, ep))
    vpp_, m = as_float(vpp), as_float(n_microbatches)
    zero_ = as_float(zero)
    rc_all = as_float(recompute)
    s = as_float(seq_len)
    L = float(arch.n_layers)
    p = param_breakdown(arch)
    first_layers, mid_layers, last_layers = stage_layers(arch.n_pipeline_layers, pp_)
    per_layer = (p.attention + p.mlp_dense + p.mlp_shared + p.norms) / L / tp_
    experts_per_layer = p.mlp_experts / L / (ep_ * tp_)
    vocab_shard = arch.vocab_size * arch.hidden_size / tp_
    body = mid_layers * per_layer  # model state of the largest stage
    experts = mid_layers * experts_per_layer
    first_extra = p.embedding / tp_ + where(pp_ == 1, p.output_head / tp_, 0.0)
    last_extra = where(pp_ == 1, first_extra, vocab_shard)  # a head (or a tied copy)

    if recipe == "pytorch":
        w_b, g_b, o_b, cache_b = 4.0, 4.0, 8.0, 2.0
    else:
        w_b, g_b, o_b, cache_b = 2.0, 4.0, 12.0, 0.0
    if precision == "fp8":
        cache_b += 1.0  # fp8 copies of the weights for the GEMMs

    shard_dense = dp_ * cp_
    shard_expert = maximum(dp_ * cp_ / ep_, 1.0)

    def state(n_dense: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
        def sharded(nbytes: float, stage: int) -> FloatArray:
            out: FloatArray = where(
                zero_ >= stage,
                nbytes * (n_dense / shard_dense + experts / shard_expert),
                nbytes * (n_dense + experts),
            )
            return out

        weights = sharded(w_b, 3)
        grads = sharded(g_b, 2)
        optim = sharded(o_b, 1)
        # autocast caches bf16 copies of the weights it holds; ZeRO-3 holds only a shard
        cache = where(zero_ >= 3, 0.0, cache_b * (n_dense + experts))
        return weights, grads, optim, cache

    tokens = micro_batch * s / cp_
    act_layer = activation_bytes_per_layer(
        arch, tokens=tokens, context=s, tp=tp_, sp=sp, recompute=recompute,
        flash_attention=flash_attention, dropout=dropout, precision=precision, recipe=recipe,
    )
    # full recomputation rebuilds one layer's activations at a time during backward
    if (rc_all == 2) if type(rc_all) is not np.ndarray else np.any(rc_all == 2):
        one_layer = activation_bytes_per_layer(
            arch, tokens=tokens, context=s, tp=tp_, sp=sp, recompute=0,
            flash_attention=flash_attention, dropout=dropout, precision=precision,
            recipe=recipe,
        )
        transient = where(rc_all == 2, one_layer, 0.0)
    else:
        transient = 0.0 * act_layer
    interleave = where(vpp_ > 1, 1.0 + (pp_ - 1.0) / (pp_ * vpp_), 1.0)
    in_flight = minimum(pp_, maximum(m, 1.0))
    acts_first = first_layers * in_flight * interleave * act_layer + transient
    acts_last = last_layers * act_layer + transient
    logits = micro_batch * s / cp_ * arch.vocab_size / tp_ * LOGITS_BYTES_PER_ELEMENT
    # ZeRO-3 gathers weights module by module with prefetch: two layers' worth, capped by
    # DeepSpeed's stage3_max_live_parameters (default 1e9 parameters)
    live = minimum(2.0 * (per_layer + experts_per_layer), _ZERO3_MAX_LIVE_PARAMS)
    gathered = where(zero_ >= 3, 2.0 * live, 0.0)

    def stage_peak(n_dense: FloatArray, acts: FloatArray, logit: FloatArray) -> tuple[
            FloatArray, ...]:
        weights, grads, optim, cache = state(n_dense)
        weights = weights + gathered
        if recipe == "pytorch":
            # gradients are set to None between steps: the peak is either the start of
            # backward (activations, logits, weight copies) or its end (all gradients)
            peak = weights + optim + maximum(acts + logit + cache, grads)
        else:
            peak = weights + grads + optim + cache + acts + logit
        return weights, grads, optim, acts, logit, peak

    first = stage_peak(body + first_extra, acts_first,
                       where(pp_ == 1, logits, 0.0))
    last = stage_peak(body + last_extra, acts_last, logits)
    use_first = first[-1] >= last[-1]
    weights, grads, optim, acts, logit, peak = (
        where(use_first, f, la) for f, la in zip(first, last, strict=True)
    )
    overhead = defaults.framework_reserved_bytes + defaults.fragmentation_fraction * peak
    total = peak + overhead
    return MemoryBreakdown(
        weights_bytes=weights,
        gradients_bytes=grads,
        optimizer_bytes=optim,
        activations_bytes=acts,
        logits_bytes=logit,
        peak_allocated_bytes=peak,
        overhead_bytes=overhead,
        total_bytes=total,
        capacity_bytes=capacity_bytes,
        feasible=total <= capacity_bytes,
    )
