"""An :class:`Architecture` from a Hugging Face ``config.json`` (read locally, never fetched)."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from scalewall._errors import CatalogFileError, InvalidParameter
from scalewall.arch.model import Architecture

__all__ = ["SUPPORTED_MODEL_TYPES", "from_hf_config"]


class _Reader:
    """Typed access to a config dict; every failure names the key and the file."""

    def __init__(self, config: Mapping[str, Any], origin: str) -> None:
        self.config, self.origin = config, origin

    def integer(self, *keys: str, default: int | None = None) -> int:
        for key in keys:
            value = self.config.get(key)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise CatalogFileError(
                    f"{self.origin}: {key} must be a positive integer, got {value!r}"
                )
            return value
        if default is not None:
            return default
        raise CatalogFileError(f"{self.origin}: missing required key {' or '.join(keys)!r}")

    def optional_integer(self, *keys: str) -> int | None:
        return self.integer(*keys, default=0) or None

    def boolean(self, key: str, default: bool) -> bool:
        value = self.config.get(key, default)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise CatalogFileError(f"{self.origin}: {key} must be true or false, got {value!r}")
        return value


def _llama_like(r: _Reader, **extra: Any) -> dict[str, Any]:
    fields: dict[str, Any] = dict(
        n_layers=r.integer("num_hidden_layers"),
        hidden_size=r.integer("hidden_size"),
        n_heads=r.integer("num_attention_heads"),
        n_kv_heads=r.integer("num_key_value_heads", default=r.integer("num_attention_heads")),
        head_dim=r.optional_integer("head_dim"),
        ffn_size=r.integer("intermediate_size"),
        vocab_size=r.integer("vocab_size"),
        tied_embeddings=r.boolean("tie_word_embeddings", False),
        max_seq_len=r.integer("max_position_embeddings", default=2048),
        mlp="swiglu",
        norm="rmsnorm",
        position="rope",
    )
    fields.update(extra)
    return fields


def _mistral(r: _Reader) -> dict[str, Any]:
    return _llama_like(r, sliding_window=r.optional_integer("sliding_window"))


def _mixtral(r: _Reader) -> dict[str, Any]:
    return _llama_like(
        r,
        sliding_window=r.optional_integer("sliding_window"),
        n_experts=r.integer("num_local_experts"),
        n_active_experts=r.integer("num_experts_per_tok"),
    )


def _qwen2(r: _Reader) -> dict[str, Any]:
    return _llama_like(r, qkv_bias=True)


def _gpt2(r: _Reader) -> dict[str, Any]:
    h = r.integer("n_embd")
    return dict(
        n_layers=r.integer("n_layer"),
        hidden_size=h,
        n_heads=r.integer("n_head"),
        ffn_size=r.integer("n_inner", default=4 * h),
        vocab_size=r.integer("vocab_size"),
        max_seq_len=r.integer("n_positions", default=1024),
        tied_embeddings=r.boolean("tie_word_embeddings", True),
        mlp="gelu",
        norm="layernorm",
        position="learned",
        bias=True,
    )


def _gpt_neox(r: _Reader) -> dict[str, Any]:
    return dict(
        n_layers=r.integer("num_hidden_layers"),
        hidden_size=r.integer("hidden_size"),
        n_heads=r.integer("num_attention_heads"),
        ffn_size=r.integer("intermediate_size"),
        vocab_size=r.integer("vocab_size"),
        max_seq_len=r.integer("max_position_embeddings", default=2048),
        tied_embeddings=r.boolean("tie_word_embeddings", False),
        parallel_block=r.boolean("use_parallel_residual", True),
        mlp="gelu",
        norm="layernorm",
        position="rope",
        bias=True,
    )


def _falcon(r: _Reader) -> dict[str, Any]:
    h = r.integer("hidden_size")
    n_heads = r.integer("num_attention_heads", "n_head")
    if r.boolean("new_decoder_architecture", False):
        kv = r.integer("num_kv_heads", "n_head_kv", default=n_heads)
    else:
        kv = 1 if r.boolean("multi_query", True) else n_heads
    return dict(
        n_layers=r.integer("num_hidden_layers", "n_layer"),
        hidden_size=h,
        n_heads=n_heads,
        n_kv_heads=kv,
        ffn_size=r.integer("ffn_hidden_size", default=4 * h),
        vocab_size=r.integer("vocab_size"),
        max_seq_len=r.integer("max_position_embeddings", default=2048),
        tied_embeddings=r.boolean("tie_word_embeddings", True),
        parallel_block=r.boolean("parallel_attn", True),
        bias=r.boolean("bias", False),
        mlp="gelu",
        norm="layernorm",
        position="alibi" if r.boolean("alibi", False) else "rope",
    )


def _deepseek_v3(r: _Reader) -> dict[str, Any]:
    return _llama_like(
        r,
        n_kv_heads=r.integer("num_attention_heads"),
        n_experts=r.integer("n_routed_experts"),
        n_active_experts=r.integer("num_experts_per_tok"),
        n_shared_experts=r.integer("n_shared_experts", default=0) if r.config.get(
            "n_shared_experts") else 0,
        moe_ffn_size=r.integer("moe_intermediate_size"),
        n_dense_layers=int(r.config.get("first_k_dense_replace") or 0),
        n_expert_groups=int(r.config.get("n_group") or 0),
        topk_groups=int(r.config.get("topk_group") or 0),
        q_lora_rank=int(r.config.get("q_lora_rank") or 0),
        kv_lora_rank=r.integer("kv_lora_rank"),
        qk_nope_head_dim=r.integer("qk_nope_head_dim"),
        qk_rope_head_dim=r.integer("qk_rope_head_dim"),
        v_head_dim=r.integer("v_head_dim"),
    )


def _llama4(r: _Reader) -> dict[str, Any]:
    """Llama 4's text model (``llama4_text``, or the ``text_config`` of ``llama4``): MoE in
    every ``interleave_moe_layer_step``-th layer with one shared expert, and chunked local
    attention in the layers with RoPE (``no_rope_layers`` 1); the NoPE layers (0) attend the
    whole context."""
    text = r.config.get("text_config")
    if r.config.get("model_type") == "llama4":
        if not isinstance(text, Mapping):
            raise CatalogFileError(f"{r.origin}: a llama4 config needs its text_config")
        r = _Reader(text, f"{r.origin} text_config")
    n_layers = r.integer("num_hidden_layers")
    experts = int(r.config.get("num_local_experts") or 0)
    step = int(r.config.get("interleave_moe_layer_step") or 0)
    active = int(r.config.get("num_experts_per_tok") or 0)
    moe = experts > 0 and active > 0 and step > 0
    fields = _llama_like(r, ffn_size=r.integer("intermediate_size_mlp", "intermediate_size"))
    if moe:
        fields.update(n_experts=experts, n_active_experts=active, n_shared_experts=1,
                      moe_ffn_size=r.integer("intermediate_size"),
                      n_dense_layers=n_layers - n_layers // step)
    chunk = r.optional_integer("attention_chunk_size")
    rope = r.config.get("no_rope_layers") or []
    if chunk and chunk < fields["max_seq_len"]:
        nope = [i for i, flag in enumerate(rope) if flag == 0]
        every = nope[1] - nope[0] if len(nope) > 1 else 0
        if nope and nope != list(range(nope[0], n_layers, every or n_layers)):
            raise CatalogFileError(f"{r.origin}: no_rope_layers must mark every n-th layer "
                                   f"global to be modelled, got {rope!r}")
        fields.update(attention_chunk_size=chunk, global_attention_every=every or (
            n_layers if nope else 0))
    return fields


def _gpt_oss(r: _Reader) -> dict[str, Any]:
    """OpenAI gpt-oss: MoE in every layer, attention biases, and sliding-window attention in
    the layers ``layer_types`` marks ``sliding_attention`` (every other one)."""
    n_layers = r.integer("num_hidden_layers")
    fields = _llama_like(
        r, qkv_bias=r.boolean("attention_bias", True),
        n_experts=r.integer("num_local_experts", "num_experts"),
        n_active_experts=r.integer("num_experts_per_tok", "experts_per_token"),
        moe_ffn_size=r.integer("intermediate_size"))
    window = r.optional_integer("sliding_window")
    kinds = r.config.get("layer_types") or []
    if window:
        full = [i for i, kind in enumerate(kinds) if kind == "full_attention"]
        every = full[1] - full[0] if len(full) > 1 else 0
        if full and full != list(range(full[0], n_layers, every or n_layers)):
            raise CatalogFileError(f"{r.origin}: layer_types must mark every n-th layer "
                                   f"full_attention to be modelled, got {kinds!r}")
        fields.update(sliding_window=window,
                      global_attention_every=every or (n_layers if full else 0))
    return fields


_FAMILIES: dict[str, Callable[[_Reader], dict[str, Any]]] = {
    "gpt_oss": _gpt_oss,
    "llama4": _llama4,
    "llama4_text": _llama4,
    "llama": _llama_like,
    "mistral": _mistral,
    "mixtral": _mixtral,
    "qwen2": _qwen2,
    "olmo2": _llama_like,
    "gpt2": _gpt2,
    "gpt_neox": _gpt_neox,
    "falcon": _falcon,
    "RefinedWeb": _falcon,
    "RefinedWebModel": _falcon,
    "deepseek_v3": _deepseek_v3,
    "deepseek_v2": _deepseek_v3,
}
SUPPORTED_MODEL_TYPES: tuple[str, ...] = tuple(_FAMILIES)


def from_hf_config(
    source: str | Path | Mapping[str, Any], *, name: str | None = None
) -> Architecture:
    """Read a Hugging Face ``config.json`` (a file, a folder holding one, or a parsed dict).

    Supported ``model_type`` values: Llama, Llama 4, gpt-oss, Mistral, Mixtral, Qwen2, OLMo 2,
    GPT-2, GPT-NeoX, Falcon and DeepSeek-V2/V3. The file is parsed as JSON only; nothing is
    executed.

    Raises
    ------
    CatalogFileError
        The file is missing, is not JSON, lacks a key or has an unsupported ``model_type``.
    """
    if isinstance(source, Mapping):
        config, origin = source, "config"
    else:
        path = Path(source)
        if path.is_dir():
            path = path / "config.json"
        origin = str(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise CatalogFileError(f"{origin}: cannot read config.json ({exc.strerror})") from None
        try:
            config = json.loads(text)
        except json.JSONDecodeError as exc:
            raise CatalogFileError(
                f"{origin}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
            ) from None
        if not isinstance(config, dict):
            raise CatalogFileError(f"{origin}: expected a JSON object at the top level")
    model_type = config.get("model_type")
    family = _FAMILIES.get(str(model_type))
    if family is None:
        raise CatalogFileError(
            f"{origin}: model_type {model_type!r} is not supported; supported: "
            f"{', '.join(SUPPORTED_MODEL_TYPES)}"
        )
    fields = family(_Reader(config, origin))
    label = name or str(config.get("_name_or_path") or model_type)
    try:
        return Architecture(id=label.lower(), name=label, family=str(model_type), **fields)
    except InvalidParameter as exc:
        raise CatalogFileError(f"{origin}: {exc}") from None
