"""Time of one prefill and one decode step of a serving replica, and its memory.

Every shape argument (batch, context, prompt, tensor and pipeline degree) may be an array;
results broadcast. The physics is the training planner's, applied to inference: each matrix
multiply is timed by its shape on the device (:func:`scalewall.kernels.matmul_time_s`, which
takes the larger of its compute and its bytes over bandwidth, plus a launch), attention by the
KV-cache bytes it reads or the FLOP it does, collectives by the link they cross
(:mod:`scalewall.comm`).

Decode is one token per sequence: the GEMMs run at M = batch and are bound by reading the
weights until the batch makes them compute-bound; attention reads the whole KV cache of every
sequence. Prefill runs the GEMMs at M = prompt tokens (compute-bound) and a fused causal
attention kernel. Tensor parallelism splits both and adds two all-reduces per layer; pipeline
parallelism splits the layers into stages that micro-batches flow through.

References
----------
.. [1] R. Pope et al., "Efficiently Scaling Transformer Inference", MLSys 2023,
   arXiv:2211.05102 (decode bound by weight and KV-cache reads; prefill compute-bound).
.. [2] W. Kwon et al., "Efficient Memory Management for Large Language Model Serving with
   PagedAttention", SOSP 2023, arXiv:2309.06180 (KV cache as the batch limit).
.. [3] T. Dao, "FlashAttention-2", 2023, arXiv:2307.08691 (fused causal attention).
.. [4] T. Dao, A. Gu, "Transformers are SSMs" (Mamba-2), ICML 2024, arXiv:2405.21060.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from scalewall._types import ArrayLike, BoolArray, BoolLike, FloatArray, where
from scalewall.arch.counts import (
    attended_tokens,
    cached_tokens,
    expert_load_factor,
    kv_cache_bytes_per_token,
    param_breakdown,
    prompt_attended_tokens,
)
from scalewall.arch.gemms import GemmGroup, layer_gemm_groups
from scalewall.arch.model import Architecture
from scalewall.comm import (
    all_reduce_time_s,
    all_to_all_time_s,
    group_bandwidth_bytes_per_s,
    p2p_time_s,
)
from scalewall.kernels import (
    DeviceRates,
    matmul_time_s,
    split_k_matmul_time_s,
    stream_time_s,
)
from scalewall.units import BYTES_PER_ELEMENT

__all__ = [
    "ACTIVATION_BYTES",
    "StepTime",
    "decode_step",
    "draft_token_s",
    "kv_bytes_per_sequence_per_device",
    "prefill",
    "weight_bytes_per_device",
]

#: Activations, and the messages tensor parallelism exchanges, stay in 16-bit (bf16/fp16)
#: under every weight precision here (W8A8 engines dequantise GEMM outputs to 16-bit).
ACTIVATION_BYTES = 2.0
# Memory-bound kernels per layer of a fused serving engine besides the GEMMs and attention:
# input norm, rotary embedding + KV-cache write, residual add, post-attention norm, gated
# activation, residual add (TensorRT-LLM / vLLM fuse each of these into one kernel). Each pays
# the device's per-kernel cost (`kernel_launch_s`), which a CUDA graph does not remove: it
# removes the CPU's launch overhead, not the GPU's per-kernel fill and drain.
_ELEMENTWISE_KERNELS_PER_LAYER = 6


@dataclass(frozen=True)
class StepTime:
    """One step [s] by where the time goes (one replica; arrays broadcast over candidates)."""

    gemm_s: FloatArray  # matrix multiplies, weights read or FLOP done
    attention_s: FloatArray  # attention: KV-cache reads (decode) or fused kernel (prefill)
    elementwise_s: FloatArray  # norms, rotary, activation, residuals, SSM state update
    comm_s: FloatArray  # tensor/expert-parallel collectives and pipeline hops
    step_s: FloatArray  # latency of the step for one sequence
    tokens: FloatArray  # tokens the step processes (all micro-batches)
    flop: FloatArray  # model FLOP of the step
    attention_flop: FloatArray | float = 0.0  # of the attention kernels, one device, per step
    attention_bytes: FloatArray | float = 0.0  # they move: KV cache (decode), Q, K, V, O (prefill)
    head_s: FloatArray | float = 0.0  # the output head's GEMM, inside gemm_s and step_s

    def to_dict(self) -> dict[str, Any]:
        return {f.name: np.asarray(getattr(self, f.name)).tolist() for f in fields(self)}


def weight_bytes_per_device(
    arch: Architecture, *, weight_bytes: float, tp: ArrayLike = 1, pp: ArrayLike = 1,
    attention_dp: BoolLike = False,
) -> FloatArray:
    """Bytes of weights one device holds [B]: all parameters (every expert) over ``tp * pp``;
    with ``attention_dp`` every device of the tensor-parallel group keeps a whole copy of the
    attention weights.

    Norms and the embedding table are small or gathered; they are split like the rest, which
    Megatron-style vocabulary-parallel embeddings do.
    """
    p = param_breakdown(arch)
    tp_, pp_ = np.asarray(tp, dtype=float), np.asarray(pp, dtype=float)
    out: FloatArray = float(p.total) * weight_bytes / (tp_ * pp_)
    copies = float(p.attention) * weight_bytes * (1.0 - 1.0 / tp_) / pp_
    return out + where(attention_dp, copies, 0.0 * copies)


def _kv_split(arch: Architecture, tp: FloatArray, attention_dp: BoolLike = False) -> FloatArray:
    """How many ways tensor parallelism splits the KV cache: by KV head, at most a_kv ways;
    MLA's latent cache is shared by all heads and is replicated. Under attention data
    parallelism each device keeps only its own sequences' cache: ``tp`` ways, nothing copied."""
    tp_ = np.asarray(tp, dtype=float)
    heads = np.ones_like(tp_) if arch.is_mla else np.minimum(tp_, float(arch.kv_heads))
    return where(attention_dp, tp_ * 1.0, heads)


def kv_bytes_per_sequence_per_device(
    arch: Architecture, *, context: ArrayLike, kv_precision: str, tp: ArrayLike = 1,
    pp: ArrayLike = 1, attention_dp: BoolLike = False,
) -> FloatArray:
    """KV cache plus SSM state of one sequence on one device [B].

    Notes
    -----
    :math:`2 L_{attn} a_{kv} d \\, s \\, b_e / (\\min(t, a_{kv})\\, p)` for the attention layers
    (a local layer's window or chunk caps :math:`s`, :func:`~scalewall.arch.counts.cached_tokens`)
    plus the fixed-size state of the SSM layers over :math:`t p`.
    """
    return _kv_bytes(arch, cached_tokens(arch, context), kv_precision=kv_precision, tp=tp,
                     pp=pp, attention_dp=attention_dp)


def _kv_bytes(arch: Architecture, tokens: ArrayLike, *, kv_precision: str, tp: ArrayLike,
              pp: ArrayLike, attention_dp: BoolLike) -> FloatArray:
    """KV bytes of ``tokens`` tokens per attention layer (already averaged over the layers)
    plus the SSM state, on one device [B]."""
    s = np.asarray(tokens, dtype=float)
    tp_, pp_ = np.asarray(tp, dtype=float), np.asarray(pp, dtype=float)
    per_token = kv_cache_bytes_per_token(arch, precision=kv_precision)
    state = _ssm_state_bytes(arch, kv_precision)
    out: FloatArray = s * per_token / (_kv_split(arch, tp_, attention_dp) * pp_) + (
        state / (tp_ * pp_))
    return out


def _ssm_state_bytes(arch: Architecture, precision: str) -> float:
    from scalewall.arch.counts import ssm_state_bytes_per_sequence

    return ssm_state_bytes_per_sequence(arch, precision=precision) if arch.n_ssm_layers else 0.0


def _gemms_s(T: FloatArray, shapes: list[tuple[float, float, str]], tp: FloatArray,
             rates: DeviceRates, weight_bytes: float, groups: ArrayLike = 1.0) -> FloatArray:
    """GEMMs ``[T, k] x [k, n]`` split by tensor parallelism (``split`` names the dimension
    cut), each at its fastest split-K (:func:`~scalewall.kernels.split_k_matmul_time_s`) and
    as ``groups`` of them in one launch, in one call [s], shape ``(len(shapes), *candidates)``."""
    cand = np.broadcast_shapes(np.shape(T), np.shape(tp))
    tp_ = np.broadcast_to(np.asarray(tp, dtype=float), cand)
    kk = np.stack([k / tp_ if split == "k" else k + 0.0 * tp_ for k, _, split in shapes])
    nn = np.stack([n / tp_ if split == "n" else n + 0.0 * tp_ for _, n, split in shapes])
    return split_k_matmul_time_s(T, nn, kk, rates, operand_bytes=weight_bytes, groups=groups)


def _weighted_gemms_s(T: FloatArray, groups: list[GemmGroup], tp: FloatArray,
                      rates: DeviceRates, weight_bytes: float) -> FloatArray:
    """Time of ``groups``' GEMMs at ``T`` tokens, each group weighted by its share of the
    average layer, in one :func:`_gemms_s` call [s]."""
    shapes = [(g.share, shape) for g in groups for shape in g.shapes]
    each = _gemms_s(T, [x[1] for x in shapes], tp, rates, weight_bytes)
    share = np.array([x[0] for x in shapes]).reshape((-1,) + (1,) * (each.ndim - 1))
    out: FloatArray = (share * each).sum(axis=0)
    return out


def routed_experts(arch: Architecture, tokens: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Experts ``tokens`` touch in one MoE layer, :math:`E(1 - (1 - k/E)^T)` in expectation
    (each token picks ``k`` of ``E``), and the tokens each of them runs, :math:`Tk/E_{touched}`."""
    T = np.asarray(tokens, dtype=float)
    E, top = float(arch.n_experts), float(arch.n_active_experts)
    touched: FloatArray = E * (1.0 - (1.0 - top / E) ** T)
    return touched, T * top / touched


def _layer_gemm_s(arch: Architecture, T: FloatArray, tp: FloatArray, rates: DeviceRates,
                  weight_bytes: float, attn_tokens: ArrayLike = 0.0,
                  ep: ArrayLike = 1.0, attention_dp: BoolLike = False) -> FloatArray:
    """GEMM time of the average layer for ``T`` tokens on one device [s]; where
    ``attention_dp`` (attention data parallelism, per candidate) the attention projections run
    unsplit on ``attn_tokens``, the device's own sequences' tokens.

    Routed experts: with ``T`` tokens each choosing ``k`` of ``E`` experts, the expected number
    of distinct experts touched is :math:`E(1 - (1 - k/E)^T)`; each is read once and runs
    :math:`Tk/E_{touched}` tokens (all experts stay resident). The touched experts' up (and
    down) projections run as one grouped GEMM, one launch whose tiles share the waves, as the
    fused MoE kernels of serving engines do (vLLM's and SGLang's ``fused_moe``, TensorRT-LLM's
    MoE plugin; MegaBlocks, Gale et al. 2023, arXiv:2211.15841), not one kernel per expert.
    Under expert parallelism the busiest rank runs
    :func:`~scalewall.arch.counts.expert_load_factor` times the mean tokens (a skewed router),
    and sets the pace.
    """
    all_groups = layer_gemm_groups(arch, routed_experts=False)
    adp = np.asarray(attention_dp, dtype=bool)
    out: FloatArray = np.zeros(np.broadcast_shapes(np.shape(T), np.shape(tp), adp.shape))
    if adp.any():
        attention = [g for g in all_groups if g.role == "attention"]
        all_groups = [g for g in all_groups if g.role != "attention"]
        # attention data-parallel: the device's own sequences, every head, unsplit
        own = _weighted_gemms_s(np.asarray(attn_tokens, dtype=float), attention,
                                np.ones_like(np.asarray(tp, dtype=float)), rates, weight_bytes)
        # both layouts among the candidates: the split projections for the others
        split = own if adp.all() else _weighted_gemms_s(T, attention, tp, rates, weight_bytes)
        out = out + np.where(adp, own, split)
    out = out + _weighted_gemms_s(T, all_groups, tp, rates, weight_bytes)
    if arch.is_moe:
        touched, m = routed_experts(arch, T)  # (candidates,)
        h, f = float(arch.hidden_size), float(arch.expert_ffn_size)
        up = 2.0 if arch.mlp == "swiglu" else 1.0
        busiest = m * expert_load_factor(arch, ep)
        experts = _gemms_s(busiest, [(h, up * f, "n"), (f, h, "k")], tp, rates,
                           weight_bytes, groups=touched).sum(axis=0)
        out = out + arch.n_moe_layers / arch.n_layers * experts
    return out


def _layer_flop_per_token(arch: Architecture) -> float:
    """Matrix-multiply FLOP per token of the average layer (active experts only)."""
    p = param_breakdown(arch)
    linear = p.attention + p.mlp_dense + p.mlp_experts_active + p.mlp_shared
    return 2.0 * linear / arch.n_layers


def _elementwise_bytes(arch: Architecture, tokens: FloatArray, own: FloatArray,
                       tp: FloatArray, ep: FloatArray, sent: BoolLike) -> FloatArray:
    r"""Bytes the memory-bound kernels of one layer move on one device, for ``tokens`` tokens
    in the replica's step of which the device holds ``own`` whole (all of them with tensor-
    parallel attention; its own sequences' under attention data parallelism).

    The norms and residual adds run on the tokens a device holds whole; the gated activation
    and the rotary embedding on its share of the split dimension. A mixture-of-experts layer
    also moves its routed tokens: the permute reads each token and writes its copies for the
    device's experts grouped by expert, and the finalize reads them back and writes the
    token's weighted sum (TensorRT-LLM's ``expandInputRowsKernel`` and
    ``finalizeMoeRoutingKernel``; vLLM's ``fused_moe`` gathers the copies inside its first GEMM
    and sums them in ``moe_sum``). Where every rank holds every token of the replica (tensor-
    parallel attention, or attention data parallelism with the tokens gathered; see
    :func:`_tp_comm_s`), each rank does this for every token and its ``k/ep`` local copies,
    :math:`(2 + 2k/e)\,h` 16-bit values per token; where the tokens are ``sent`` to their
    experts by all-to-all, each rank permutes its own tokens into all ``k`` copies and
    finalizes them, :math:`(2 + 2k)\,h` per own token.
    """
    h = float(arch.hidden_size)
    f = float(arch.expert_ffn_size * (arch.n_active_experts + arch.n_shared_experts)
              if arch.is_moe else arch.ffn_size)
    act = (3.0 if arch.mlp == "swiglu" else 2.0) * f * ACTIVATION_BYTES  # read 2f (1f), write f
    rope = 2.0 * (arch.n_heads + arch.kv_heads) * arch.d_head * ACTIVATION_BYTES
    norms_residuals = 10.0 * h * ACTIVATION_BYTES  # 2 norms (r+w), 2 residual adds (2r+w)
    out: FloatArray = own * norms_residuals + tokens * (act + rope) / tp
    if arch.is_moe:
        k = float(arch.n_active_experts)
        routed = np.where(sent, own * (2.0 + 2.0 * k), tokens * (2.0 + 2.0 * k / ep))
        out = out + arch.n_moe_layers / arch.n_layers * routed * h * ACTIVATION_BYTES
    return out


def _ssm_update_bytes(arch: Architecture, state_precision: str) -> float:
    """Bytes one sequence's SSM state moves per decode token, averaged over layers: read and
    write of the state (Mamba-2 recurrent step)."""
    if not arch.n_ssm_layers:
        return 0.0
    return 2.0 * _ssm_state_bytes(arch, state_precision) / arch.n_layers


def _sends_tokens(tp: FloatArray, ep: FloatArray, attention_dp: BoolLike,
                  moe_dispatch: str) -> BoolArray:
    """Whether a mixture-of-experts layer sends the routed tokens to their experts by
    all-to-all (see :func:`_tp_comm_s`), per candidate."""
    apart = (ep > 1) & ((ep > tp) | np.asarray(attention_dp, dtype=bool))
    out: BoolArray = apart & ((moe_dispatch == "all-to-all") | (ep > tp))
    return out


def _tp_comm_s(arch: Architecture, T: FloatArray, tp: FloatArray, ep: FloatArray,
               rates: DeviceRates, attention_dp: BoolLike = False,
               sent: BoolLike = False) -> FloatArray:
    """Collectives of the average layer: two all-reduces of :math:`T h` activations (one
    with a parallel block). Under attention data parallelism the attention's all-reduce goes
    (each device finishes its own sequences' attention); the MLP gathers the group's tokens and
    scatters the sums back (an all-gather and a reduce-scatter, as much traffic as the
    all-reduce).

    Expert parallelism inside a tensor-parallel group (``ep <= tp``, attention split by head)
    moves no routed tokens: every rank holds every token after the attention's all-reduce,
    runs its own experts on the ones routed to them, and the reduction sums the ranks' shares,
    as the dense MLP's does (TensorRT-LLM's min-latency DeepSeek-R1: local reduction and
    one-shot all-reduce, tech blog 1; SGLang's and vLLM's expert parallelism without
    data-parallel attention). When the ranks hold different tokens, under attention data
    parallelism or with ``ep > tp``, the routed tokens travel to their experts by two
    all-to-alls (dispatch and combine) in place of the MLP's collective (``sent``, from
    :func:`_sends_tokens`; ``moe_dispatch`` ``"all-to-all"``: DeepEP, TensorRT-LLM's NVLink
    all-to-all), or, under attention data parallelism, the experts take the gathered tokens as
    the dense MLP does (``"all-gather"``:
    TensorRT-LLM's attention-DP MoE up to 2025 without multi-node NVLink or DeepEP, its
    ``alltoall_method_type`` ``NotEnabled``; SGLang's ``--enable-dp-attention`` without a
    DeepEP backend; vLLM's ``allgather_reducescatter``)."""
    h = float(arch.hidden_size)
    bw = group_bandwidth_bytes_per_s(tp, 1.0, rates)
    one = all_reduce_time_s(T * h * ACTIVATION_BYTES, tp, bw, rates)
    n_coll = 1.0 if arch.parallel_block else where(attention_dp, 1.0, 2.0)
    out: FloatArray = n_coll * one
    if arch.is_moe:
        moe = arch.n_moe_layers / arch.n_layers
        # the busiest rank receives the most tokens
        a2a = all_to_all_time_s(T * arch.n_active_experts * h * ACTIVATION_BYTES / ep
                                * expert_load_factor(arch, ep), ep,
                                group_bandwidth_bytes_per_s(ep, 1.0, rates), rates)
        out = out + moe * np.where(sent, 2.0 * a2a - one, 0.0)
    return out


def _hop_s(T: FloatArray, arch: Architecture, tp: FloatArray, pp: FloatArray,
           rates: DeviceRates) -> FloatArray:
    """Pipeline send of ``T`` tokens' activations between consecutive stages [s]."""
    bw = group_bandwidth_bytes_per_s(2.0, tp, rates)
    with np.errstate(divide="ignore"):  # a chip with no link: only ever pp = 1 there
        send = p2p_time_s(T * arch.hidden_size * ACTIVATION_BYTES / tp, bw, rates)
    out: FloatArray = np.where(pp > 1, send, 0.0)
    return out


def decode_step(
    arch: Architecture, rates: DeviceRates, *, batch: ArrayLike, context: ArrayLike,
    weight_bytes: float, kv_precision: str, tp: ArrayLike = 1, pp: ArrayLike = 1,
    ep: ArrayLike = 1, grouped_kv_reads: bool = True, attention_dp: BoolLike = False,
    query_tokens: ArrayLike = 1, moe_dispatch: str = "all-to-all",
) -> StepTime:
    """One decode step of a replica: every one of ``batch`` sequences emits one token (or
    has ``query_tokens`` verified at once, under speculative decoding).

    Parameters
    ----------
    arch : Architecture
    rates : achievable rates of the device at the compute precision.
    batch : [sequences] in flight on the replica (continuous batching concurrency).
    context : [tokens] already in each sequence's KV cache.
    weight_bytes : [B/parameter] of the stored weights (2 bf16, 1 fp8/int8, 0.5 int4).
    kv_precision : precision of the KV cache (and SSM state).
    tp, pp, ep : tensor, pipeline and expert parallel degrees of the replica.
    grouped_kv_reads : the decode attention kernel reads each key/value head once for its
        whole group of query heads (TensorRT-LLM's XQA from v0.8, FlashInfer, vLLM's and
        FlashAttention-3's packed GQA). False: one thread block per query head streams its
        group's keys and values again, as TensorRT-LLM's masked multi-head attention did
        before XQA ("2.4x more Llama-70B throughput", NVIDIA, Jan 2024), so grouped-query
        attention saves cache memory but not cache reads.
    attention_dp : attention runs data-parallel across the tensor-parallel group (SGLang's
        ``--enable-dp-attention``, TensorRT-LLM's ``enable_attention_dp``): each device attends
        its own share of the sequences with every head and a whole copy of the attention
        weights, so no KV head (or MLA latent) is held twice; the MLP or experts stay split.
        The busiest device, with :math:`\\lceil b/t \\rceil` sequences, sets the pace.
    moe_dispatch : how a mixture-of-experts layer reaches experts on ranks that do not hold
        the token (attention data parallelism, ``ep > tp``): ``"all-to-all"`` sends each token's
        copies to its experts' ranks; ``"all-gather"`` (attention data parallelism only) gives
        every rank every token, as :func:`_tp_comm_s` describes.
    query_tokens : tokens of each sequence in the step: 1 for plain decoding, :math:`k + 1`
        when a speculative step verifies ``k`` drafted tokens and the one after them. The
        GEMMs, routed experts, collectives and memory-bound kernels run on that many times the
        tokens and attention does that many times the FLOP, but each sequence's cache is read
        once for all its query tokens (the multi-token decode kernels of TensorRT-LLM's XQA
        and FlashInfer).

    Returns
    -------
    StepTime; ``step_s`` is the time per output token of each sequence [s].

    Notes
    -----
    The batch flows through the ``pp`` stages as :math:`m = \\min(b, p)` micro-batches, so a
    sequence's token passes every layer once per step:

    .. math:: t = L\\,[t_{gemm}(b/m) + t_{attn} + t_{elem} + t_{tp}] + p\\,t_{hop}

    with :math:`t_{gemm}` from :func:`~scalewall.kernels.matmul_time_s` at
    :math:`M = b/m` and the weight precision's bytes, and attention the larger of the KV bytes
    over bandwidth and :math:`4 a d s` FLOP per token over the attention rate [1]_.
    """
    b = np.asarray(batch, dtype=float)
    s = np.asarray(context, dtype=float)
    q = np.asarray(query_tokens, dtype=float)
    tp_, pp_, ep_ = (np.asarray(x, dtype=float) for x in (tp, pp, ep))
    L = float(arch.n_layers)
    m = np.minimum(b, pp_)
    mb = b / m  # sequences per micro-batch
    # attention: each device's own sequences, all heads, under attention data parallelism
    seqs = where(attention_dp, np.ceil(mb / tp_), mb)
    att_tp = where(attention_dp, np.ones_like(tp_), tp_)
    gemm = _layer_gemm_s(arch, mb * q, tp_, rates, weight_bytes, ep=ep_, attn_tokens=seqs * q,
                         attention_dp=attention_dp)
    # attention over the cache, per layer and micro-batch: the keys and values each new token
    # attends to (a local layer: its window or chunk)
    ctx = attended_tokens(arch, s)
    kv_layer = _kv_bytes(arch, ctx, kv_precision=kv_precision, tp=att_tp, pp=1.0,
                         attention_dp=False)
    kv_layer = kv_layer - _ssm_state_bytes(arch, kv_precision) / att_tp
    kv_layer = kv_layer / max(arch.n_attention_layers, 1) * (arch.n_attention_layers / L)
    if not grouped_kv_reads and not arch.is_mla:
        # query heads on a device per key/value head it holds
        kv_layer = kv_layer * np.minimum(float(arch.n_heads / arch.kv_heads),
                                         float(arch.n_heads) / att_tp)
    a = float(arch.n_heads)
    if arch.is_mla:
        # decode attends in the latent space: W_UK is absorbed into the query and W_UV into
        # the output (DeepSeek-AI 2024, arXiv:2405.04434, Sec. 2.1.3; FlashMLA), so each head
        # scores the cached [c_kv; k_rope] (r_kv + d_rope wide) and sums c_kv (r_kv wide)
        qk = float(arch.kv_lora_rank + arch.qk_rope_head_dim)
        v = float(arch.kv_lora_rank)
    else:
        qk = v = float(arch.d_head)
    attn_flop = arch.n_attention_layers / L * 2.0 * ctx * a * (qk + v) / att_tp
    attn = np.maximum(stream_time_s(seqs * kv_layer, rates),
                      seqs * q * attn_flop / rates.attention_flop_per_s)
    attn = attn + rates.kernel_launch_s * arch.n_attention_layers / L
    sent = _sends_tokens(tp_, ep_, attention_dp, moe_dispatch)
    elem_bytes = (_elementwise_bytes(arch, mb * q, seqs * q, tp_, ep_, sent)
                  + mb * q * _ssm_update_bytes(arch, kv_precision) / tp_)
    elem = stream_time_s(elem_bytes, rates) + _ELEMENTWISE_KERNELS_PER_LAYER * (
        rates.kernel_launch_s)
    comm = _tp_comm_s(arch, mb * q, tp_, ep_, rates, attention_dp, sent)
    h, V = float(arch.hidden_size), float(arch.vocab_size)
    head = matmul_time_s(mb * q, V / tp_, h, rates, operand_bytes=weight_bytes)
    hops = pp_ * _hop_s(mb * q, arch, tp_, pp_, rates)
    layer = gemm + attn + elem + comm
    step = L * layer + head + hops
    flop = b * q * (L * _layer_flop_per_token(arch) + 2.0 * V * h
                    + L * attn_flop * att_tp) * np.ones_like(step)
    return StepTime(
        gemm_s=L * gemm + head, attention_s=L * attn, elementwise_s=L * elem,
        comm_s=L * comm + hops, step_s=step, tokens=b * q * np.ones_like(step), flop=flop,
        attention_flop=L * seqs * q * attn_flop * np.ones_like(step),
        attention_bytes=L * seqs * kv_layer * np.ones_like(step),
        head_s=head * np.ones_like(step),
    )


def draft_token_s(step: StepTime, arch: Architecture) -> FloatArray:
    """Time to draft one token per sequence with a one-layer draft module [s]: the average
    layer of the target at the same batch, plus the output head it shares with the target.

    This is the speculative decoding of DeepSeek-V3's multi-token prediction modules (one
    transformer block each, sharing the embedding and output head; DeepSeek-AI 2024,
    arXiv:2412.19437, Sec. 2.2) and of EAGLE's one-layer draft head (Li et al. 2024,
    arXiv:2401.15077), run autoregressively, one module call per drafted token. ``step`` is
    the target's plain decode step (one query token) at the batch and context in question.
    """
    head = np.asarray(step.head_s)
    out: FloatArray = (np.asarray(step.step_s) - head) / arch.n_layers + head
    return out


def prefill(
    arch: Architecture, rates: DeviceRates, *, batch: ArrayLike, prompt: ArrayLike,
    weight_bytes: float, tp: ArrayLike = 1, pp: ArrayLike = 1, ep: ArrayLike = 1,
    attention_rates: DeviceRates | None = None, attention_dp: BoolLike = False,
    passes: ArrayLike = 1, moe_dispatch: str = "all-to-all", spread: ArrayLike | None = None,
) -> StepTime:
    """Prefill of ``batch`` prompts of ``prompt`` tokens (``passes`` times over, as forward
    passes streamed back to back); ``step_s`` is when the last one's first token is out [s]
    (for ``batch`` = 1, the time to first token). Under attention data parallelism the
    prompts of a pass are spread over ``spread`` ranks (default ``tp``, all of them; 1 when
    each rank prefills in its own forward pass while the others wait, see
    :func:`~scalewall.infer.plan.evaluate_serving`).

    Notes
    -----
    GEMMs run at :math:`M = b s / m` tokens per micro-batch; a fused causal attention kernel
    does half of :math:`4 a d s` FLOP per token per layer at the device's attention rate
    (FlashAttention-2 [3]_; 16-bit even when the weights are 8-bit); only the last token of each
    prompt goes through the output head. With ``pp`` stages, :math:`m = \\min(b, p)`
    micro-batches per pass and :math:`n` passes following each other through the pipeline,
    the prefill takes :math:`(n m + p - 1)\\,t_{stage}`: the pipeline fills once. Under
    attention data parallelism (see :func:`decode_step`) a device attends whole prompts,
    :math:`\\lceil b/(m t) \\rceil` of them: one prompt alone runs its attention on one device.
    """
    b = np.asarray(batch, dtype=float)
    s = np.asarray(prompt, dtype=float)
    n = np.asarray(passes, dtype=float)
    tp_, pp_, ep_ = (np.asarray(x, dtype=float) for x in (tp, pp, ep))
    att_rates = attention_rates or rates
    L = float(arch.n_layers)
    m = np.minimum(b, pp_)
    T = b * s / m  # tokens per micro-batch
    ranks = tp_ if spread is None else np.asarray(spread, dtype=float)
    T_att = where(attention_dp, s * np.ceil(b / m / ranks), T)  # on the busiest device
    att_tp = where(attention_dp, np.ones_like(tp_), tp_)
    gemm = _layer_gemm_s(arch, T, tp_, rates, weight_bytes, ep=ep_, attn_tokens=T_att,
                         attention_dp=attention_dp)
    a = float(arch.n_heads)
    qk = float(arch.qk_nope_head_dim + arch.qk_rope_head_dim) if arch.is_mla else arch.d_head
    v = float(arch.v_head_dim) if arch.is_mla else float(arch.d_head)
    # causal: token i attends to i of the s tokens, half the square on average (a local layer:
    # within its window or chunk)
    attended = prompt_attended_tokens(arch, s)
    attn_flop = arch.n_attention_layers / L * 2.0 * attended * a * (qk + v) / att_tp
    ssm_flop = arch.n_ssm_layers / L * 6.0 * arch.ssm_expand * arch.hidden_size * (
        arch.ssm_state_size) / tp_
    attn = (T_att * attn_flop + T * ssm_flop) / att_rates.attention_flop_per_s + (
        rates.kernel_launch_s)
    sent = _sends_tokens(tp_, ep_, attention_dp, moe_dispatch)
    elem = stream_time_s(_elementwise_bytes(arch, T, T_att, tp_, ep_, sent), rates) + (
        _ELEMENTWISE_KERNELS_PER_LAYER * rates.kernel_launch_s)
    comm = _tp_comm_s(arch, T, tp_, ep_, rates, attention_dp, sent)
    h, V = float(arch.hidden_size), float(arch.vocab_size)
    head = matmul_time_s(b / m, V / tp_, h, rates, operand_bytes=weight_bytes)
    stage = (L * (gemm + attn + elem + comm) + head) / pp_
    hops = pp_ * _hop_s(T, arch, tp_, pp_, rates)
    step = (n * m + pp_ - 1.0) * stage + hops
    scale = (n * m + pp_ - 1.0) / pp_
    flop = n * b * (s * (L * _layer_flop_per_token(arch) + L * attn_flop * att_tp)
                    + 2.0 * V * h)
    # a fused kernel reads Q, K, V once and writes O (tiles re-read from on-chip memory)
    qkvo = (arch.n_attention_layers / L * (a + arch.kv_heads) * (qk + v) / att_tp
            * ACTIVATION_BYTES)
    return StepTime(
        gemm_s=scale * (L * gemm + head), attention_s=scale * L * attn,
        elementwise_s=scale * L * elem, comm_s=scale * L * comm + hops, step_s=step,
        tokens=n * b * s * np.ones_like(step), flop=flop * np.ones_like(step),
        attention_flop=scale * L * T_att * attn_flop * np.ones_like(step),
        attention_bytes=scale * L * T_att * qkvo * np.ones_like(step),
        head_s=scale * head * np.ones_like(step),
    )


def element_bytes(precision: str) -> float:
    """Bytes per element of a precision (one lookup, for callers outside this module)."""
    return BYTES_PER_ELEMENT[precision]
