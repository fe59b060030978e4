from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose

from scalewall.arch import (
    Architecture,
    kv_cache_bytes_per_token,
    model_flop_per_token,
    n_active_params,
    n_params,
)
from scalewall.catalog import load_catalog
from tests.conftest import reference_cases


@pytest.fixture(scope="module")
def cat():
    return load_catalog()


@pytest.mark.parametrize("case", reference_cases("megatron_flops.toml"))
def test_training_flop_matches_megatron_eq3(case):
    L, h, a, V, s = case["layers"], case["hidden"], case["heads"], 51200, 2048
    arch = Architecture(n_layers=L, hidden_size=h, n_heads=a, ffn_size=4 * h, vocab_size=V,
                        position="learned", bias=True, tied_embeddings=True, max_seq_len=s)
    per_iteration = 72 * s * L * h**2 * (1 + s / (6 * h) + V / (12 * h * L))  # B = 1
    # biases and norms add a few parts in 10^4 that eq. 3 leaves out
    assert_allclose(model_flop_per_token(arch, s) * s, per_iteration, rtol=2e-3)


def test_mixtral_active_parameters(cat):
    """Mistral AI 2024: 46.7B total, 12.9B active per token."""
    m = cat.model("mixtral-8x7b")
    assert n_params(m) == pytest.approx(46.7e9, rel=0.005)
    assert n_active_params(m) == pytest.approx(12.9e9, rel=0.005)


def test_deepseek_v3_total_and_active(cat):
    """DeepSeek-AI 2024: 671B total, 37B activated (the count of the embedding table in the
    activated figure is not stated; within 2%)."""
    m = cat.model("deepseek-v3")
    assert n_params(m) == pytest.approx(671e9, rel=0.005)
    assert n_active_params(m) == pytest.approx(37e9, rel=0.02)


def test_kv_cache_llama_3_70b_gqa(cat):
    """80 layers x 2 (K,V) x 8 kv heads x 128 x 2 bytes = 327,680 bytes per token."""
    assert kv_cache_bytes_per_token(cat.model("llama-3.1-70b")) == 327_680


def test_kv_cache_mla_is_compressed(cat):
    """DeepSeek-V3 caches (512 + 64) elements per layer: 61 x 576 x 2 bytes."""
    assert kv_cache_bytes_per_token(cat.model("deepseek-v3")) == 61 * 576 * 2


def test_scalar_and_array_agree(cat):
    m = cat.model("llama-3.1-8b")
    seqs = np.array([1024.0, 4096.0, 8192.0])
    arr = model_flop_per_token(m, seqs)
    for s, value in zip(seqs, arr, strict=True):
        assert model_flop_per_token(m, float(s)) == pytest.approx(value)


def test_ssm_layers_replace_attention_cache():
    dense = Architecture(n_layers=24, hidden_size=2048, n_heads=16, ffn_size=8192,
                         vocab_size=32000)
    hybrid = dense.replace(n_ssm_layers=18)
    assert kv_cache_bytes_per_token(hybrid) == pytest.approx(
        kv_cache_bytes_per_token(dense) * 6 / 24)


@pytest.mark.parametrize(
    ("changes", "message"),
    [({"n_layers": 0}, "n_layers must be a positive integer"),
     ({"n_kv_heads": 5}, "n_kv_heads must divide n_heads=16"),
     ({"mlp": "relu2"}, "mlp must be one of"),
     ({"attention_chunk_size": 8192, "sliding_window": 4096},
      "give sliding_window or attention_chunk_size, not both"),
     ({"global_attention_every": 4}, "global_attention_every must be >= 0 and needs"),
     ({"attention_chunk_size": -1}, "attention_chunk_size must be a positive integer"),
     ({"expert_load_cv": -0.5}, "expert_load_cv must be in")],
)
def test_bad_shapes_are_named(changes, message):
    base = dict(n_layers=2, hidden_size=256, n_heads=16, ffn_size=1024, vocab_size=1000)
    with pytest.raises(ValueError, match=message):
        Architecture(**{**base, **changes})


def test_chunked_local_attention_of_llama_4(cat):
    """Llama 4: three layers in four attend within aligned 8,192-token chunks, the fourth the
    whole context. At 20,000 tokens the cache holds 0.75 x 8,192 + 0.25 x 20,000 tokens per
    layer; the next token attends 0.75 x (20,000 mod 8,192) + 0.25 x 20,000; a 20,000-token
    prompt's tokens attend on average 0.75 x (2 x 8,192^2 + 3,616^2) / 40,000 + 0.25 x 10,000."""
    from scalewall.arch.counts import attended_tokens, cached_tokens, prompt_attended_tokens

    scout = cat.model("llama-4-scout")
    assert float(cached_tokens(scout, 20_000)) == pytest.approx(0.75 * 8192 + 0.25 * 20_000)
    assert float(attended_tokens(scout, 20_000)) == pytest.approx(0.75 * 3616 + 0.25 * 20_000)
    mean = 0.75 * (2 * 8192**2 + 3616**2) / 40_000 + 0.25 * 10_000
    assert float(prompt_attended_tokens(scout, 20_000)) == pytest.approx(mean)
    # within one chunk every layer sees the whole context
    assert_allclose(cached_tokens(scout, [100.0, 8000.0]), [100.0, 8000.0])
    assert_allclose(prompt_attended_tokens(scout, [1000.0]), [500.0])
    # training FLOP count the chunk, not the context, in the local layers
    full = scout.replace(attention_chunk_size=None, global_attention_every=0)
    ratio = (model_flop_per_token(scout, 32_768) - model_flop_per_token(scout, 0)) / (
        model_flop_per_token(full, 32_768) - model_flop_per_token(full, 0))
    assert ratio == pytest.approx((0.75 * 8192 + 0.25 * 32_768) / 32_768)
    # a model without local attention is untouched
    dense = cat.model("llama-3.1-8b")
    assert float(attended_tokens(dense, 5000)) == float(cached_tokens(dense, 5000)) == 5000.0


def test_busiest_expert_parallel_rank(cat):
    """DeepSeek-V3's router skew (per-expert coefficient of variation 1.36, from TensorRT-LLM's
    per-rank statistics at 32 ranks: standard deviation 0.48 of the mean over 8 experts each):
    the busiest of 8 ranks holding 32 experts each carries 1 + 1.36 sqrt(8/256) E[max of 8
    normals] = 1.34 times the mean tokens; one rank, a balanced router or a dense model, 1."""
    from scalewall.arch.counts import expert_load_factor

    v3 = cat.model("deepseek-v3")
    assert float(expert_load_factor(v3, 8)) == pytest.approx(1 + 1.36 * (8 / 256) ** 0.5 * 1.4236,
                                                             rel=1e-4)
    assert_allclose(expert_load_factor(v3, [1.0, 32.0]), [1.0, 1 + 1.36 * 0.125**0.5 * 2.0697],
                    rtol=1e-4)
    assert float(expert_load_factor(v3.replace(expert_load_cv=0.0), 8)) == 1.0
    assert float(expert_load_factor(cat.model("llama-3.1-8b"), 8)) == 1.0
