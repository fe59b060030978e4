"""The matrix multiplies of one average transformer layer, by shape.

Training (:mod:`scalewall.train.step`) and serving (:mod:`scalewall.infer.step`) time the same
list: each entry is a weight matrix ``[k, n]`` that the layer's tokens multiply, with the side
that tensor parallelism splits.
"""

from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple, TypeAlias

from scalewall.arch.model import Architecture

__all__ = ["GemmGroup", "GemmShape", "layer_gemm_groups", "layer_gemm_names"]

#: (k, n, split): a ``[k, n]`` weight; split "n" column-parallel, "k" row-parallel, "" neither.
GemmShape: TypeAlias = tuple[float, float, str]


class GemmGroup(NamedTuple):
    """Weight matrices that occur in the same share of layers, with their role."""

    share: float  # of the layers it occurs in
    tokens_per_token: float  # rows each of the layer's tokens contributes (k for routed experts)
    shapes: list[GemmShape]
    role: str  # attention, ssm, experts, router, shared, mlp (output_head in training)


@lru_cache(maxsize=256)
def layer_gemm_groups(arch: Architecture, *, routed_experts: bool = True) -> list[GemmGroup]:
    """GEMMs of the average layer, grouped by the share of layers they occur in.

    Attention (or MLA's low-rank projections, or an SSM mixer's in/out projections), the MLP
    (2 matrices for GELU, 3 for SwiGLU with gate and up fused), and for MoE layers the router,
    shared experts and, with ``routed_experts``, the routed experts under balanced routing
    (each token's ``k`` experts: ``k`` times the tokens through one expert's shapes).
    """
    h, a = float(arch.hidden_size), float(arch.n_heads)
    if arch.is_mla:
        qk = arch.qk_nope_head_dim + arch.qk_rope_head_dim
        attn: list[GemmShape] = [
            (h, float(arch.q_lora_rank + arch.kv_lora_rank + arch.qk_rope_head_dim), ""),
            (float(arch.q_lora_rank or h), a * qk, "n"),
            (float(arch.kv_lora_rank), a * (arch.qk_nope_head_dim + arch.v_head_dim), "n"),
            (a * arch.v_head_dim, h, "k"),
        ]
    else:
        d = float(arch.d_head)
        attn = [(h, (a + 2.0 * arch.kv_heads) * d, "n"), (a * d, h, "k")]
    up = 2.0 if arch.mlp == "swiglu" else 1.0

    def mlp(ffn: float) -> list[GemmShape]:
        return [(h, up * ffn, "n"), (ffn, h, "k")]

    L = float(arch.n_layers)
    groups: list[GemmGroup] = [GemmGroup(arch.n_attention_layers / L, 1.0, attn, "attention")]
    if arch.n_ssm_layers:
        d_in = float(arch.ssm_expand * arch.hidden_size)
        heads = d_in / arch.ssm_head_dim
        groups.append(GemmGroup(arch.n_ssm_layers / L, 1.0,
                                [(h, 2.0 * d_in + 2.0 * arch.ssm_state_size + heads, "n"),
                                 (d_in, h, "k")], "ssm"))
    if arch.is_moe:
        moe = arch.n_moe_layers / L
        ffn = float(arch.expert_ffn_size)
        if routed_experts:
            groups.append(GemmGroup(moe, float(arch.n_active_experts), mlp(ffn), "experts"))
        groups.append(GemmGroup(moe, 1.0, [(h, float(arch.n_experts), "")], "router"))
        if arch.n_shared_experts:
            groups.append(GemmGroup(moe, 1.0, mlp(ffn * arch.n_shared_experts), "shared"))
        if arch.n_dense_layers:
            groups.append(GemmGroup(arch.n_dense_layers / L, 1.0, mlp(float(arch.ffn_size)),
                                    "mlp"))
    else:
        groups.append(GemmGroup(1.0, 1.0, mlp(float(arch.ffn_size)), "mlp"))
    return groups


def layer_gemm_names(arch: Architecture) -> list[list[str]]:
    """Names of the shapes :func:`layer_gemm_groups` (``routed_experts=False``) returns, group
    by group, in its order (the per-operator tables label their rows with them)."""
    attn = (["q_kv_down", "q_up", "kv_up", "o_proj"] if arch.is_mla
            else ["qkv_proj", "o_proj"])
    mlp = ["mlp_up", "mlp_down"]
    names = [attn]
    if arch.n_ssm_layers:
        names.append(["ssm_in_proj", "ssm_out_proj"])
    if arch.is_moe:
        names.append(["router"])
        if arch.n_shared_experts:
            names.append(["shared_up", "shared_down"])
        if arch.n_dense_layers:
            names.append(mlp)
    else:
        names.append(mlp)
    return names
