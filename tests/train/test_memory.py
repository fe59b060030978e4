from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose

from scalewall.arch import Architecture
from scalewall.catalog import load_catalog
from scalewall.train.memory import activation_bytes_per_layer, training_memory
from scalewall.units import GIB
from tests.conftest import reference_cases


def _gpt(L: int, h: int, a: int, V: int = 51200, s: int = 2048) -> Architecture:
    return Architecture(n_layers=L, hidden_size=h, n_heads=a, ffn_size=4 * h, vocab_size=V,
                        position="learned", bias=True, tied_embeddings=True, max_seq_len=s)


@pytest.mark.parametrize("case", reference_cases("korthikanti_activations.toml"))
def test_activation_equations_of_korthikanti(case):
    L, h, a, s, t = case["layers"], case["hidden"], case["heads"], case["seq"], case["tp"]
    arch = _gpt(L, h, a)
    sbh = s * h

    def act(**kw):
        return float(activation_bytes_per_layer(arch, tokens=s, context=s, flash_attention=False,
                                                dropout=True, **kw))

    assert_allclose(act(tp=1, sp=0, recompute=0), sbh * (34 + 5 * a * s / h))  # eq. 1
    assert_allclose(act(tp=t, sp=0, recompute=0), sbh * (10 + 24 / t + 5 * a * s / (h * t)))
    assert_allclose(act(tp=t, sp=1, recompute=0), sbh * (34 / t + 5 * a * s / (h * t)))
    assert_allclose(act(tp=t, sp=1, recompute=1), sbh * 34 / t)
    assert_allclose(act(tp=t, sp=1, recompute=2), 2 * sbh / t)


# Measured on one H200 (shared/validation/README.md): torch.cuda.max_memory_allocated of a
# GPT-style decoder, fp32 weights + AdamW under bf16 autocast, SDPA, no dropout. The
# tolerance is 3%: the model knows allocator rounding only approximately.
H200_PEAKS = [
    (12, 768, 12, 1024, 16, 16.051),
    (24, 2048, 16, 2048, 4, 35.429),
]


@pytest.mark.parametrize(("L", "h", "a", "s", "b", "gib"), H200_PEAKS)
def test_single_gpu_peak_memory_matches_h200_measurement(L, h, a, s, b, gib):
    cat = load_catalog()
    arch = _gpt(L, h, a, V=50304, s=s)
    mem = training_memory(arch, cat.defaults, capacity_bytes=141e9, seq_len=s, micro_batch=b,
                          recipe="pytorch")
    assert float(mem.peak_allocated_bytes) / GIB == pytest.approx(gib, rel=0.03)


def test_zero_stages_shard_model_state():
    cat = load_catalog()
    arch = cat.model("llama-2-7b")
    kw = dict(capacity_bytes=80 * GIB, seq_len=4096, dp=8, recipe="megatron")
    z = [training_memory(arch, cat.defaults, zero=k, **kw) for k in range(4)]
    assert float(z[1].optimizer_bytes) == pytest.approx(float(z[0].optimizer_bytes) / 8)
    assert float(z[2].gradients_bytes) == pytest.approx(float(z[1].gradients_bytes) / 8)
    assert float(z[3].weights_bytes) < float(z[2].weights_bytes) / 4
    # 18 bytes per parameter unsharded (Rajbhandari et al. 2020, mixed-precision Adam + fp32
    # gradient buffer)
    state = float(z[0].weights_bytes + z[0].gradients_bytes + z[0].optimizer_bytes)
    assert state == pytest.approx(18 * 6.738e9, rel=0.001)


def test_vectorized_layouts_match_single_calls():
    cat = load_catalog()
    arch = cat.model("llama-3.1-70b")
    tp = np.array([1.0, 2.0, 4.0, 8.0])
    vec = training_memory(arch, cat.defaults, capacity_bytes=80 * GIB, seq_len=8192, tp=tp,
                          pp=4, dp=8, recompute=np.array([0, 1, 2, 2]))
    for i, t in enumerate(tp):
        one = training_memory(arch, cat.defaults, capacity_bytes=80 * GIB, seq_len=8192, tp=t,
                              pp=4, dp=8, recompute=[0, 1, 2, 2][i])
        assert float(vec.total_bytes[i]) == pytest.approx(float(one.total_bytes))
    assert vec.feasible.dtype == bool


def test_mla_latents_are_kept_per_token():
    # the compressed query/key-value latents (DeepSeek-AI 2024, eq. 1 and 6) are
    # q_lora_rank + kv_lora_rank + rope-dim values per token in bf16, not h-wide tensors
    arch = load_catalog().model("deepseek-v3")
    wider = arch.replace(kv_lora_rank=arch.kv_lora_rank + 1000)

    def per_token(a: Architecture) -> float:
        return float(activation_bytes_per_layer(a, tokens=1.0, context=4096.0, tp=1.0, sp=0.0,
                                                recompute=1.0, flash_attention=True,
                                                dropout=False, precision="fp8"))

    assert per_token(wider) - per_token(arch) == pytest.approx(2 * 1000)
    # one layer of one 4096-token sequence: about 2 GB, far from the 126 GB an h-wide
    # latent would imply
    assert 1e9 < per_token(arch) * 4096 < 3e9
