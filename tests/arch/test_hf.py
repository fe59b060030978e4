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


@pytest.mark.parametrize(
    ("config", "published"),
    [(LLAMA_3_8B, 8.03e9), (GPT2, 124.4e6), (MIXTRAL, 46.7e9)],
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
