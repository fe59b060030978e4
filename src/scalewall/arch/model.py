"""The shape of a transformer (dense, GQA/MQA, MoE, MLA, SSM/hybrid) as a frozen record."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal

from scalewall._errors import InvalidParameter

__all__ = ["Architecture", "Provenance"]

MlpKind = Literal["gelu", "swiglu"]
MLP_KINDS: tuple[str, ...] = ("gelu", "swiglu")
POSITIONS: tuple[str, ...] = ("learned", "rope", "alibi", "relative", "none")
NORMS: tuple[str, ...] = ("layernorm", "rmsnorm")


@dataclass(frozen=True)
class Provenance:
    """Where a catalog entry's figures come from."""

    source_url: str = ""
    source_title: str = ""
    retrieved: str = ""
    note: str = ""


@dataclass(frozen=True)
class Architecture:
    """A decoder-only language model's shape.

    Counts are plain integers; nothing here is derived. Derived quantities (parameter counts,
    FLOP per token, KV bytes) are functions in :mod:`scalewall.arch.counts`.
    """

    n_layers: int
    hidden_size: int
    n_heads: int
    ffn_size: int
    vocab_size: int
    n_kv_heads: int | None = None
    head_dim: int | None = None
    mlp: str = "gelu"
    tied_embeddings: bool = False
    position: str = "rope"
    norm: str = "layernorm"
    bias: bool = False
    qkv_bias: bool = False
    parallel_block: bool = False
    max_seq_len: int = 2048
    train_seq_len: int | None = None
    train_tokens: float | None = None
    # mixture of experts
    n_experts: int = 0
    n_active_experts: int = 0
    n_shared_experts: int = 0
    moe_ffn_size: int | None = None
    n_dense_layers: int = 0
    # group-limited routing (DeepSeek-V2/V3): experts in n_expert_groups groups (one per node),
    # each token routed within at most topk_groups of them
    n_expert_groups: int = 0
    topk_groups: int = 0
    # router skew: coefficient of variation of the tokens each routed expert receives (0:
    # balanced); under expert parallelism the busiest rank sets the pace
    expert_load_cv: float = 0.0
    # multi-head latent attention (DeepSeek-V2/V3)
    q_lora_rank: int = 0
    kv_lora_rank: int = 0
    qk_nope_head_dim: int = 0
    qk_rope_head_dim: int = 0
    v_head_dim: int = 0
    # state-space (Mamba-2 style) layers replacing attention in `n_ssm_layers` layers
    n_ssm_layers: int = 0
    ssm_state_size: int = 128
    ssm_expand: int = 2
    ssm_conv_kernel: int = 4
    ssm_head_dim: int = 64
    sliding_window: int | None = None
    # chunked local attention (Llama 4): a local layer attends only within its aligned chunk of
    # this many tokens; with `global_attention_every` n, every n-th attention layer attends the
    # whole context (Llama 4's NoPE layers: n = 4); 0 leaves every layer local
    attention_chunk_size: int | None = None
    global_attention_every: int = 0
    # multi-token-prediction modules (DeepSeek-V3: 1): trained and pipelined like a layer,
    # but outside the published parameter count
    n_mtp_layers: int = 0
    # dropout in pre-training (GPT-2/GPT-3-era, Megatron and OPT recipes used 0.1; current
    # recipes, Llama, PaLM, BLOOM, use none)
    dropout: bool = False
    # identity
    id: str = ""
    name: str = ""
    family: str = ""
    published_params: float | None = None
    published_active_params: float | None = None
    aliases: tuple[str, ...] = ()
    provenance: Provenance = field(default_factory=Provenance)

    def __post_init__(self) -> None:
        for name in ("n_layers", "hidden_size", "n_heads", "ffn_size", "vocab_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise InvalidParameter(
                    f"model {self.id or '(custom)'}: {name} must be a positive integer, "
                    f"got {value!r}"
                )
        if self.mlp not in MLP_KINDS:
            raise InvalidParameter(
                f"model {self.id or '(custom)'}: mlp must be one of {MLP_KINDS}, got {self.mlp!r}"
            )
        if self.norm not in NORMS:
            raise InvalidParameter(
                f"model {self.id or '(custom)'}: norm must be one of {NORMS}, got {self.norm!r}"
            )
        if self.position not in POSITIONS:
            raise InvalidParameter(
                f"model {self.id or '(custom)'}: position must be one of {POSITIONS}, "
                f"got {self.position!r}"
            )
        kv = self.kv_heads
        if kv <= 0 or self.n_heads % kv:
            raise InvalidParameter(
                f"model {self.id or '(custom)'}: n_kv_heads must divide n_heads={self.n_heads}, "
                f"got {kv}"
            )
        if self.n_experts and not 0 < self.n_active_experts <= self.n_experts:
            raise InvalidParameter(
                f"model {self.id or '(custom)'}: n_active_experts must be in 1..n_experts="
                f"{self.n_experts}, got {self.n_active_experts}"
            )
        for name in ("sliding_window", "attention_chunk_size"):
            span = getattr(self, name)
            if span is not None and (not isinstance(span, int) or span <= 0):
                raise InvalidParameter(
                    f"model {self.id or '(custom)'}: {name} must be a positive integer or "
                    f"absent, got {span!r}")
        if self.sliding_window and self.attention_chunk_size:
            raise InvalidParameter(
                f"model {self.id or '(custom)'}: give sliding_window or attention_chunk_size, "
                f"not both")
        if self.global_attention_every < 0 or (
                self.global_attention_every and not (self.sliding_window
                                                     or self.attention_chunk_size)):
            raise InvalidParameter(
                f"model {self.id or '(custom)'}: global_attention_every must be >= 0 and needs "
                f"a sliding_window or attention_chunk_size, got {self.global_attention_every!r}")
        cv = self.expert_load_cv
        if isinstance(cv, bool) or not isinstance(cv, int | float) or not 0.0 <= cv <= 10.0:
            raise InvalidParameter(
                f"model {self.id or '(custom)'}: expert_load_cv must be in [0, 10], got "
                f"{self.expert_load_cv!r}")
        if not 0 <= self.n_ssm_layers <= self.n_layers:
            raise InvalidParameter(
                f"model {self.id or '(custom)'}: n_ssm_layers must be in 0..n_layers="
                f"{self.n_layers}, got {self.n_ssm_layers}"
            )

    # --- plain accessors (defaults resolved; no physics) ---
    @property
    def kv_heads(self) -> int:
        return self.n_kv_heads if self.n_kv_heads is not None else self.n_heads

    @property
    def d_head(self) -> int:
        return self.head_dim if self.head_dim is not None else self.hidden_size // self.n_heads

    @property
    def is_moe(self) -> bool:
        return self.n_experts > 0

    @property
    def is_mla(self) -> bool:
        return self.kv_lora_rank > 0

    @property
    def n_attention_layers(self) -> int:
        return self.n_layers - self.n_ssm_layers

    def check_expert_parallel(self, ep: int) -> None:
        """Raise :class:`~scalewall._errors.InvalidLayout` unless ``ep`` experts-ways is a
        split this model allows: 1, or a divisor of its experts (training and serving)."""
        from scalewall._errors import InvalidLayout

        if ep > 1 and not self.is_moe:
            raise InvalidLayout(f"ep={ep} needs a mixture-of-experts model; {self.label} is dense")
        if ep > 1 and self.n_experts % ep:
            raise InvalidLayout(f"ep={ep} must divide the experts ({self.n_experts})")

    @property
    def n_moe_layers(self) -> int:
        return self.n_layers - self.n_dense_layers if self.is_moe else 0

    @property
    def expert_ffn_size(self) -> int:
        return self.moe_ffn_size if self.moe_ffn_size is not None else self.ffn_size

    @property
    def n_pipeline_layers(self) -> int:
        """Layers a pipeline splits into stages (transformer layers plus MTP modules)."""
        return self.n_layers + self.n_mtp_layers

    @property
    def seq_len(self) -> int:
        """Default training sequence length: as pre-trained, else the maximum context."""
        return self.train_seq_len or self.max_seq_len

    @property
    def label(self) -> str:
        return self.name or self.id or "custom model"

    def replace(self, **changes: Any) -> Architecture:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)
