"""The per-GEMM roofline table of a decode step and a prefill (scalewall.infer.operators)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from scalewall.catalog import get_catalog
from scalewall.cli import app
from scalewall.infer.operators import gemm_operators, operator_table
from scalewall.infer.plan import serving_rates
from scalewall.infer.step import decode_step, prefill


@pytest.mark.parametrize("model, tp", [("llama-3.1-70b", 4), ("mixtral-8x7b", 2),
                                       ("deepseek-v3", 8)])
def test_rows_add_up_to_the_step(model: str, tp: int) -> None:
    """The GEMM rows times their count per layer, over the layers, plus the output head, are
    the step's matrix-multiply time, and every part's share of the step sums to one (dense,
    MoE, and MLA with shared experts and dense layers)."""
    cat = get_catalog()
    arch = cat.model(model)
    rates, attn = serving_rates(cat.accelerator("h200-sxm"), cat, precision="fp8")
    dec = decode_step(arch, rates, batch=32, context=3000, weight_bytes=1.0,
                      kv_precision="fp8", tp=tp)
    pre = prefill(arch, rates, batch=1, prompt=3000, weight_bytes=1.0, tp=tp,
                  attention_rates=attn)
    for step, tokens in ((dec, 32.0), (pre, 3000.0)):
        t = operator_table(arch, rates, step, tokens=tokens, tp=tp, weight_bytes=1.0)
        shares = [r["step_share"] for r in t["gemms"]] + [r["step_share"] for r in t["rest"]]
        assert sum(shares) == pytest.approx(1.0, rel=1e-9)
        head = next(r for r in t["rest"] if r["name"] == "output_head")
        assert 0.0 < head["time_s"] < 0.05 * t["step_s"]


@pytest.mark.parametrize("model", ["qwen3-235b-a22b", "deepseek-v3"])
def test_rows_add_up_under_attention_data_parallelism(model: str) -> None:
    """With attention data-parallel over TP 8 the attention projections run unsplit on the
    device's own sequences (32 / 8 = 4 in decode, the whole prompt in a prefill of one) and
    the rows still add up to the step; the plan's own table agrees (--ops)."""
    cat = get_catalog()
    arch = cat.model(model)
    rates, attn = serving_rates(cat.accelerator("h200-sxm"), cat, precision="fp8")
    dec = decode_step(arch, rates, batch=32, context=3000, weight_bytes=1.0,
                      kv_precision="fp8", tp=8, attention_dp=True)
    pre = prefill(arch, rates, batch=1, prompt=3000, weight_bytes=1.0, tp=8,
                  attention_rates=attn, attention_dp=True)
    for step, tokens, own in ((dec, 32.0, 4.0), (pre, 3000.0, 3000.0)):
        t = operator_table(arch, rates, step, tokens=tokens, tp=8, weight_bytes=1.0,
                           attn_tokens=own)
        shares = [r["step_share"] for r in t["gemms"]] + [r["step_share"] for r in t["rest"]]
        assert sum(shares) == pytest.approx(1.0, rel=1e-9)
        first = t["gemms"][0]
        assert first["m"] == own and first["k"] == arch.hidden_size  # unsplit, own tokens
    r = CliRunner().invoke(app, ["infer", "--model", model, "--hardware", "h200-sxm",
                                 "--devices", "8", "--tp", "8", "--ep", "8", "--attention-dp",
                                 "--precision", "fp8", "--ops", "--json"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    assert d["attention_dp"] is True and d["ep"] == 8
    shares = [g["step_share"] for g in d["operators"]["decode"]["gemms"]]
    shares += [g["step_share"] for g in d["operators"]["decode"]["rest"]]
    assert sum(shares) == pytest.approx(1.0, rel=1e-9)


def test_speculative_plan_rows_are_the_verification_step() -> None:
    """A speculative plan's decode table is its verification step: 8 sequences of 4 query
    tokens (3 drafts and the next) run the GEMMs at M = 32, and the rows add up to the step."""
    r = CliRunner().invoke(app, ["infer", "--model", "llama-3.1-70b", "--hardware", "h100-sxm",
                                 "--devices", "4", "--tp", "4", "--batch", "8",
                                 "--precision", "fp8", "--speculative-tokens", "3",
                                 "--acceptance-rate", "0.7", "--ops", "--json"])
    assert r.exit_code == 0, r.output
    t = json.loads(r.stdout)["operators"]["decode"]
    assert t["gemms"][0]["m"] == 32
    shares = [g["step_share"] for g in t["gemms"]] + [g["step_share"] for g in t["rest"]]
    assert sum(shares) == pytest.approx(1.0, rel=1e-9)


def test_decode_is_under_the_memory_roof_and_prefill_under_the_compute_roof() -> None:
    """Llama 3.1 70B on one H100 in bf16: at one token a projection reads each 2-byte weight
    for 2 FLOP, an intensity of 1 FLOP/B, far below the ridge (228 FLOP/B: 0.69 of 989
    TFLOP/s sustained over 0.89 of 3.35 TB/s), so its time is its weight bytes over the
    bandwidth; at 2,048 tokens the same matrix is compute-bound."""
    cat = get_catalog()
    arch = cat.model("llama-3.1-70b")
    rates, _ = serving_rates(cat.accelerator("h100-sxm"), cat, precision="bf16")
    one = {g.name: g for g in gemm_operators(arch, rates, tokens=1, weight_bytes=2.0)}
    many = {g.name: g for g in gemm_operators(arch, rates, tokens=2048, weight_bytes=2.0)}
    up = one["mlp_up"]
    assert (up.k, up.n) == (8192, 2 * 28672)
    assert up.intensity == pytest.approx(1.0, rel=0.01) and up.bound == "memory"
    weights = up.k * up.n * 2.0
    assert up.time_s == pytest.approx(weights / (3.35e12 * 0.89), rel=0.05)
    assert many["mlp_up"].bound == "compute" and many["mlp_up"].intensity > 1000
    t = operator_table(arch, rates, decode_step(arch, rates, batch=1, context=1,
                                                weight_bytes=2.0, kv_precision="bf16"),
                       tokens=1, weight_bytes=2.0)
    assert t["ridge_flop_per_byte"] == pytest.approx(989.4e12 * 0.686 / 2.98e12, rel=0.01)


def test_cli_ops_in_json_and_one_deployment_only() -> None:
    runner = CliRunner()
    res = runner.invoke(app, ["infer", "--model", "llama-3.1-8b", "--hardware", "h100-sxm",
                              "--devices", "1", "--batch", "8", "--ops", "--json"])
    assert res.exit_code == 0, res.output
    d = json.loads(res.output)
    names = [r["name"] for r in d["operators"]["decode"]["gemms"]]
    assert names == ["qkv_proj", "o_proj", "mlp_up", "mlp_down"]
    assert d["operators"]["decode"]["step_s"] == pytest.approx(d["tpot_s"], rel=1e-9)
    res = runner.invoke(app, ["infer", "--hardware", "all", "--ops"])
    assert res.exit_code == 1 and "--ops describes one deployment" in res.output
    for extra in (["--search"], ["--hybrid", "8"]):
        res = runner.invoke(app, ["infer", "--ops", *extra])
        assert res.exit_code == 1 and "without --search and --hybrid" in res.output, extra



def test_decode_attention_intensity_is_the_query_group() -> None:
    """Decode attention does 2 FLOP per query head per cached element: with 2-byte keys and
    values, 1 FLOP/B for multi-head attention (Llama 2 7B), the group size of 8 for Llama 3.1
    70B's grouped queries when the kernel reads each KV head once per group, and back to 1 when
    it reads it once per query head (the 2023 kernels)."""
    cat = get_catalog()
    rates, _ = serving_rates(cat.accelerator("h100-sxm"), cat, precision="bf16")

    def intensity(model: str, grouped: bool) -> float:
        arch = cat.model(model)
        step = decode_step(arch, rates, batch=16, context=4096, weight_bytes=2.0,
                           kv_precision="bf16", tp=8, grouped_kv_reads=grouped)
        t = operator_table(arch, rates, step, tokens=16, tp=8, weight_bytes=2.0)
        return float(t["attention"]["intensity"])

    assert intensity("llama-2-7b", True) == pytest.approx(1.0, rel=1e-6)
    assert intensity("llama-3.1-70b", True) == pytest.approx(8.0, rel=1e-6)
    assert intensity("llama-3.1-70b", False) == pytest.approx(1.0, rel=1e-6)
