"""Parameter counts, FLOP per token and KV-cache bytes from a model's shape.

All functions take an :class:`~scalewall.arch.model.Architecture`; the sequence length may be a
scalar or an array and broadcasts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from scalewall._types import ArrayLike, FloatArray, as_float
from scalewall.arch.model import Architecture
from scalewall.units import BYTES_PER_ELEMENT

__all__ = [
    "ParamBreakdown",
    "attended_tokens",
    "attention_flop_per_token",
    "cached_tokens",
    "expert_load_factor",
    "kv_cache_bytes_per_token",
    "model_flop_per_token",
    "n_active_params",
    "n_matmul_params",
    "n_params",
    "param_breakdown",
    "prompt_attended_tokens",
    "ssm_state_bytes_per_sequence",
]


@dataclass(frozen=True)
class ParamBreakdown:
    """Parameters by part of the model (counts, not bytes)."""

    embedding: int  # token (+ learned position) embeddings
    output_head: int  # untied LM head, 0 when tied
    attention: int  # attention (or MLA, or SSM mixer) weights and biases, all layers
    mlp_dense: int  # dense MLPs (all layers of a dense model, leading layers of an MoE)
    mlp_experts: int  # routed experts, all of them
    mlp_experts_active: int  # routed experts used by one token
    mlp_shared: int  # shared (always-on) experts and routers
    norms: int

    @property
    def total(self) -> int:
        return (
            self.embedding + self.output_head + self.attention + self.mlp_dense
            + self.mlp_experts + self.mlp_shared + self.norms
        )

    @property
    def active(self) -> int:
        return self.total - self.mlp_experts + self.mlp_experts_active


def _mlp_params(arch: Architecture, ffn: int) -> int:
    """One MLP: 2·h·f (GELU) or 3·h·f (SwiGLU), plus biases."""
    h = arch.hidden_size
    n_mat = 3 if arch.mlp == "swiglu" else 2
    bias = (ffn * (n_mat - 1) + h) if arch.bias else 0
    return n_mat * h * ffn + bias


def _attention_params_per_layer(arch: Architecture) -> int:
    """q, k, v and output projections: h·(a·d) + 2·h·(a_kv·d) + (a·d)·h, or MLA's low-rank form."""
    h, a = arch.hidden_size, arch.n_heads
    if arch.is_mla:
        qk_dim = arch.qk_nope_head_dim + arch.qk_rope_head_dim
        if arch.q_lora_rank:
            q = h * arch.q_lora_rank + arch.q_lora_rank + arch.q_lora_rank * a * qk_dim
        else:
            q = h * a * qk_dim
        kv = (
            h * (arch.kv_lora_rank + arch.qk_rope_head_dim)
            + arch.kv_lora_rank
            + arch.kv_lora_rank * a * (arch.qk_nope_head_dim + arch.v_head_dim)
        )
        return q + kv + a * arch.v_head_dim * h
    d, kv_heads = arch.d_head, arch.kv_heads
    q_dim, kv_dim = a * d, kv_heads * d
    weights = h * q_dim + 2 * h * kv_dim + q_dim * h
    if arch.position == "relative":
        # Transformer-XL relative attention projects the relative encodings per layer
        # (W_{k,R}, h x a·d); this is what makes Gopher 280B and Chinchilla 70B add up.
        weights += h * q_dim
    biases = 0
    if arch.bias:
        biases = q_dim + 2 * kv_dim + h
    elif arch.qkv_bias:
        biases = q_dim + 2 * kv_dim
    return weights + biases


def _ssm_params_per_layer(arch: Architecture) -> int:
    """A Mamba-2 mixer (Dao & Gu 2024, arXiv 2405.21060) with one group."""
    h, n = arch.hidden_size, arch.ssm_state_size
    d_inner = arch.ssm_expand * h
    n_heads = d_inner // arch.ssm_head_dim
    in_proj = h * (2 * d_inner + 2 * n + n_heads)
    conv = (d_inner + 2 * n) * (arch.ssm_conv_kernel + 1)
    return in_proj + conv + 3 * n_heads + d_inner + d_inner * h


@lru_cache(maxsize=256)
def param_breakdown(arch: Architecture) -> ParamBreakdown:
    """Parameters of each part of the model.

    Notes
    -----
    Attention :math:`h(ad) + 2h(a_{kv}d) + (ad)h`; MLP :math:`2hf` (GELU) or :math:`3hf`
    (SwiGLU); embeddings :math:`Vh` plus an untied output head :math:`Vh`; MoE multiplies the
    MLP by the number of experts (DESIGN.md, "The models").

    Examples
    --------
    >>> from scalewall.arch.model import Architecture
    >>> gpt3 = Architecture(n_layers=96, hidden_size=12288, n_heads=96, ffn_size=49152,
    ...                     vocab_size=50257, position="learned", bias=True,
    ...                     tied_embeddings=True, max_seq_len=2048)
    >>> round(param_breakdown(gpt3).total / 1e9, 1)  # Brown et al. 2020: 175.0B
    174.6
    """
    h, V = arch.hidden_size, arch.vocab_size
    embedding = V * h + (arch.max_seq_len * h if arch.position == "learned" else 0)
    output_head = 0 if arch.tied_embeddings else V * h
    attention = arch.n_attention_layers * _attention_params_per_layer(arch)
    attention += arch.n_ssm_layers * _ssm_params_per_layer(arch)
    norm_size = 2 * h if arch.norm == "layernorm" else h
    norms_per_layer = 1 if arch.parallel_block else 2
    # (MLA's q/kv low-rank norms are counted with the attention weights)
    norms = (arch.n_layers * norms_per_layer + 1) * norm_size
    if arch.is_moe:
        expert = _mlp_params(arch, arch.expert_ffn_size)
        n_moe = arch.n_moe_layers
        mlp_dense = arch.n_dense_layers * _mlp_params(arch, arch.ffn_size)
        mlp_experts = n_moe * arch.n_experts * expert
        mlp_active = n_moe * arch.n_active_experts * expert
        mlp_shared = n_moe * (arch.n_shared_experts * expert + h * arch.n_experts)
    else:
        mlp_dense = arch.n_layers * _mlp_params(arch, arch.ffn_size)
        mlp_experts = mlp_active = mlp_shared = 0
    return ParamBreakdown(
        embedding=embedding,
        output_head=output_head,
        attention=attention,
        mlp_dense=mlp_dense,
        mlp_experts=mlp_experts,
        mlp_experts_active=mlp_active,
        mlp_shared=mlp_shared,
        norms=norms,
    )


def n_params(arch: Architecture) -> int:
    """Total parameters, embeddings included."""
    return param_breakdown(arch).total


def n_active_params(arch: Architecture) -> int:
    """Parameters used for one token (all of a dense model; the active experts of an MoE)."""
    return param_breakdown(arch).active


def n_matmul_params(arch: Architecture, *, active: bool = True) -> int:
    """Parameters that take part in a matrix multiply per token.

    All linear weights plus the output projection :math:`Vh` (computed even when tied to the
    input embedding); the embedding lookup, norms and biases do no matrix work. Six times this
    is the dense part of training FLOP per token (Narayanan et al. 2021, eq. 3).
    """
    p = param_breakdown(arch)
    norm_and_bias = p.norms
    linear = (p.active if active else p.total) - p.embedding - p.output_head - norm_and_bias
    return linear + arch.vocab_size * arch.hidden_size


def _local_share(arch: Architecture) -> float:
    """Share of the attention layers that attend locally (a sliding window or a chunk)."""
    if not (arch.sliding_window or arch.attention_chunk_size):
        return 0.0
    n = arch.global_attention_every
    return 1.0 - 1.0 / n if n else 1.0


def cached_tokens(arch: Architecture, context: ArrayLike) -> FloatArray:
    """Tokens one sequence of ``context`` tokens holds in the KV cache, averaged over the
    attention layers: all of them in a global layer, at most the window (Mistral) or the
    current chunk (Llama 4's chunked attention) in a local one."""
    s = np.asarray(context, dtype=float)
    span = arch.sliding_window or arch.attention_chunk_size
    if not span:
        return s
    share = _local_share(arch)
    out: FloatArray = share * np.minimum(s, float(span)) + (1.0 - share) * s
    return out


def attended_tokens(arch: Architecture, context: ArrayLike) -> FloatArray:
    """Cached tokens a new token attends to after ``context`` tokens, averaged over the
    attention layers: all in a global layer, the window in a sliding one, and in a chunked one
    those of its own chunk so far, :math:`s \\bmod C`."""
    s = np.asarray(context, dtype=float)
    share = _local_share(arch)
    if arch.sliding_window:
        local = np.minimum(s, float(arch.sliding_window))
    elif arch.attention_chunk_size:
        local = np.mod(s, float(arch.attention_chunk_size))
    else:
        return s
    out: FloatArray = share * local + (1.0 - share) * s
    return out


def prompt_attended_tokens(arch: Architecture, prompt: ArrayLike) -> FloatArray:
    """Mean over a prompt's tokens of the tokens each attends to (causal), averaged over the
    attention layers: :math:`S/2` in a global layer, half the window in a sliding one, and in
    a chunked one the mean over aligned chunks of :math:`C`, :math:`(\\lfloor S/C \\rfloor
    C^2 + r^2) / (2S)` with :math:`r = S \\bmod C`."""
    s = np.asarray(prompt, dtype=float)
    share = _local_share(arch)
    if arch.sliding_window:
        local = 0.5 * np.minimum(s, float(arch.sliding_window))
    elif arch.attention_chunk_size:
        c = float(arch.attention_chunk_size)
        r = np.mod(s, c)
        with np.errstate(invalid="ignore", divide="ignore"):
            local = np.where(s > 0, (np.floor(s / c) * c * c + r * r) / (2.0 * s), 0.0)
    else:
        return 0.5 * s
    out: FloatArray = share * local + (1.0 - share) * 0.5 * s
    return out


@lru_cache(maxsize=64)
def _expected_max_of_normals(n: int) -> float:
    """:math:`E[\\max_{i \\le n} Z_i]` of ``n`` independent standard normal variables."""
    if n <= 1:
        return 0.0
    x = np.linspace(-10.0, 10.0, 20001)
    cdf = 0.5 * (1.0 + np.array([math.erf(v / math.sqrt(2.0)) for v in x]))
    pdf = np.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)
    return float(np.trapezoid(x * n * pdf * cdf ** (n - 1), x))


def expert_load_factor(arch: Architecture, ep: ArrayLike) -> FloatArray:
    """Routed tokens on the busiest of ``ep`` expert-parallel ranks over the mean.

    Each rank holds :math:`E/e` experts; with a per-expert load of coefficient of variation
    :math:`c` (``expert_load_cv``, the router's skew), a rank's load varies by
    :math:`c\\sqrt{e/E}` and the busiest of :math:`e` ranks carries
    :math:`1 + c\\sqrt{e/E}\\,\\mathbb{E}[\\max_{i \\le e} Z_i]` times the mean (normal order
    statistics). 1 for a balanced router, one rank, or a dense model.
    """
    e = np.asarray(ep, dtype=float)
    if not (arch.is_moe and arch.expert_load_cv):
        return np.ones_like(e)
    g = np.vectorize(lambda n: _expected_max_of_normals(int(n)))(e) if e.ndim else np.asarray(
        _expected_max_of_normals(int(e)))
    out: FloatArray = 1.0 + arch.expert_load_cv * np.sqrt(e / arch.n_experts) * g
    return out


def attention_flop_per_token(arch: Architecture, seq_len: ArrayLike) -> FloatArray | float:
    """Forward FLOP per token of the attention scores and their product with the values.

    Notes
    -----
    Per attention layer :math:`2 s (a d_{qk}) + 2 s (a d_v)`, i.e. :math:`4 s h` for a standard
    model, with the causal mask left unhalved as PaLM counts it (Chowdhery et al. 2022,
    App. B: 12·L·H·Q·T for training). A local layer's window or chunk caps :math:`s`
    (:func:`cached_tokens`). SSM layers add their state update (about :math:`6 d_{inner} N` per
    token forward, Dao & Gu 2024).
    """
    s = as_float(seq_len)
    if arch.sliding_window or arch.attention_chunk_size:
        s = cached_tokens(arch, s)
    a = arch.n_heads
    if arch.is_mla:
        qk, v = arch.qk_nope_head_dim + arch.qk_rope_head_dim, arch.v_head_dim
    else:
        qk = v = arch.d_head
    attn = arch.n_attention_layers * 2.0 * s * a * (qk + v)
    ssm = arch.n_ssm_layers * 6.0 * arch.ssm_expand * arch.hidden_size * arch.ssm_state_size
    out = attn + ssm
    return float(out) if np.ndim(out) == 0 else out


def model_flop_per_token(
    arch: Architecture, seq_len: ArrayLike, *, training: bool = True
) -> FloatArray | float:
    """Model FLOP per token: :math:`6 N_{mm} + 12 L s h` for training, a third for inference.

    Parameters
    ----------
    arch : Architecture
    seq_len : [tokens] scalar or array
    training : forward + backward (factor 3) when true, forward only when false.

    Returns
    -------
    FLOP per token [FLOP]. Recomputation is not counted (that is hardware FLOP).

    Notes
    -----
    For GPT-3 175B at s = 2048 this equals Megatron's per-step count
    :math:`72 B s L h^2 (1 + s/6h + V/12hL)` divided by :math:`Bs` (Narayanan et al. 2021, eq. 3).

    References
    ----------
    .. [1] D. Narayanan et al., "Efficient Large-Scale Language Model Training on GPU Clusters
       Using Megatron-LM", SC 2021, arXiv:2104.04473.
    .. [2] A. Chowdhery et al., "PaLM: Scaling Language Modeling with Pathways", 2022,
       arXiv:2204.02311, Appendix B.
    """
    factor = 3.0 if training else 1.0
    dense = 2.0 * n_matmul_params(arch, active=True)
    out = factor * (dense + attention_flop_per_token(arch, seq_len))
    return float(out) if np.ndim(out) == 0 else out


def kv_cache_bytes_per_token(arch: Architecture, *, precision: str = "bf16") -> float:
    """Bytes of KV cache per token of context: :math:`2 L a_{kv} d` elements.

    MLA caches the compressed latent and the rotary key, :math:`L (r_{kv} + d_{rope})`
    elements (DeepSeek-AI 2024, arXiv 2405.04434). SSM layers keep no per-token cache.
    """
    element = BYTES_PER_ELEMENT[precision]
    if arch.is_mla:
        per_layer = arch.kv_lora_rank + arch.qk_rope_head_dim
    else:
        per_layer = 2 * arch.kv_heads * arch.d_head
    return float(arch.n_attention_layers * per_layer * element)


def ssm_state_bytes_per_sequence(arch: Architecture, *, precision: str = "bf16") -> float:
    """Fixed-size recurrent state of the SSM layers per sequence (state plus conv window)."""
    d_inner = arch.ssm_expand * arch.hidden_size
    state = d_inner * arch.ssm_state_size + (d_inner + 2 * arch.ssm_state_size) * (
        arch.ssm_conv_kernel - 1
    )
    return float(arch.n_ssm_layers * state * BYTES_PER_ELEMENT[precision])
