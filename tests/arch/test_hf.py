from __future__ import annotations

import json
from pathlib import Path

import pytest

from scalewall._errors import CatalogFileError
from scalewall.arch import from_hf_config, n_params

# Abbreviated config.json files as published on the Hugging Face hub.
LLAMA_3_8B = {
    "model_type": "llama", "hidden_size": 4096, "intermediate_size": 14336,
    "num_attention_heads": 32, "num_hidden_layers": 32, "num_key_value_heads": 8,
    "vocab_size": 128256, "max_position_embeddings": 8192, "tie_word_embeddings": False,
}
GPT2 = {"model_type": "gpt2", "n_embd": 768, "n_head": 12, "n_layer": 12, "n_positions": 1024,
        "vocab_size": 50257}
MIXTRAL = {
    "model_type": "mixtral", "hidden_size": 4096, "intermediate_size": 14336,
    "num_attention_heads": 32, "num_hidden_layers": 32, "num_key_value_heads": 8,
    "vocab_size": 32000, "num_local_experts": 8, "num_experts_per_tok": 2,
    "max_position_embeddings": 32768,
}
# openai/gpt-oss-120b (sliding-window and full attention alternate)
GPT_OSS_120B = {
    "model_type": "gpt_oss", "num_hidden_layers": 36, "hidden_size": 2880,
    "num_attention_heads": 64, "num_key_value_heads": 8, "head_dim": 64,
    "intermediate_size": 2880, "vocab_size": 201088, "num_local_experts": 128,
    "num_experts_per_tok": 4, "sliding_window": 128, "attention_bias": True,
    "max_position_embeddings": 131072, "tie_word_embeddings": False,
    "layer_types": ["sliding_attention", "full_attention"] * 18}
# meta-llama/Llama-4-Maverick-17B-128E-Instruct: the text_config of its multimodal config
# (NoPE, global-attention layers every fourth: no_rope_layers 0 at layers 3, 7, ...)
LLAMA_4_MAVERICK = {"model_type": "llama4", "text_config": {
    "model_type": "llama4_text", "num_hidden_layers": 48, "hidden_size": 5120,
    "num_attention_heads": 40, "num_key_value_heads": 8, "head_dim": 128,
    "intermediate_size": 8192, "intermediate_size_mlp": 16384, "vocab_size": 202048,
    "num_local_experts": 128, "num_experts_per_tok": 1, "interleave_moe_layer_step": 2,
    "attention_chunk_size": 8192, "max_position_embeddings": 1048576,
    "no_rope_layers": [0 if (i + 1) % 4 == 0 else 1 for i in range(48)],
    "tie_word_embeddings": False}}


@pytest.mark.parametrize(
    ("config", "published"),
    [(LLAMA_3_8B, 8.03e9), (GPT2, 124.4e6), (MIXTRAL, 46.7e9), (LLAMA_4_MAVERICK, 400e9),
     (GPT_OSS_120B, 116.8e9)],
)
def test_hf_configs_give_published_counts(tmp_path: Path, config, published):
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    assert n_params(from_hf_config(tmp_path)) == pytest.approx(published, rel=0.01)


def test_malformed_json_names_file_and_position(tmp_path: Path):
    path = tmp_path / "config.json"
    path.write_text('{"model_type": "llama",')
    with pytest.raises(CatalogFileError, match=r"config.json: not valid JSON \(line 1"):
        from_hf_config(path)


def test_missing_key_and_unknown_type(tmp_path: Path):
    with pytest.raises(CatalogFileError, match="missing required key 'hidden_size'"):
        from_hf_config({"model_type": "llama", "num_hidden_layers": 2})
    with pytest.raises(CatalogFileError, match="model_type 'bert' is not supported"):
        from_hf_config({"model_type": "bert"})


def test_llama_4_reads_its_experts_and_chunked_attention():
    """Llama 4 Maverick from its config: MoE in every other layer (24 dense), 17B active
    (Meta's figure), chunked attention in the RoPE layers and every fourth layer global."""
    from scalewall.arch import n_active_params

    arch = from_hf_config(LLAMA_4_MAVERICK)
    assert n_active_params(arch) == pytest.approx(17e9, rel=0.02)
    assert (arch.n_dense_layers, arch.n_experts, arch.n_shared_experts) == (24, 128, 1)
    assert (arch.attention_chunk_size, arch.global_attention_every) == (8192, 4)
    odd = {**LLAMA_4_MAVERICK["text_config"], "no_rope_layers": [1, 0, 0] + [1] * 45}
    with pytest.raises(CatalogFileError, match="no_rope_layers must mark every n-th layer"):
        from_hf_config({**odd, "model_type": "llama4_text"})


def test_gpt_oss_alternates_sliding_and_full_attention():
    arch = from_hf_config(GPT_OSS_120B)
    assert (arch.sliding_window, arch.global_attention_every) == (128, 2)
    assert (arch.n_experts, arch.n_active_experts, arch.qkv_bias) == (128, 4, True)
