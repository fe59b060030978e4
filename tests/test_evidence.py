"""Every plan quotes the shipped validation for its accelerator (scalewall.evidence)."""

from __future__ import annotations

import json

from scalewall.evidence import (
    EVIDENCE_FILE,
    compute_evidence,
    evidence_for,
)
from scalewall.infer import plan_serving
from scalewall.train.plan import plan_training


def test_evidence_file_matches_a_fresh_validation() -> None:
    """Stale after a model or row change until `python scripts/write_evidence.py` runs."""
    assert json.loads(EVIDENCE_FILE.read_text()) == compute_evidence()


def test_a_validated_chip_quotes_its_rows_and_an_unvalidated_one_says_it_is_a_guess() -> None:
    h100 = evidence_for("h100-sxm", "serving")
    assert {"decode", "prefill", "serving power"} <= set(h100["groups"])
    assert h100["groups"]["decode"]["n"] >= 30
    n_decode = h100["groups"]["decode"]["n"]
    assert f"decode {n_decode} rows" in h100["note"] and "median |error|" in h100["note"]
    tpu = evidence_for("tpu-v5e", "serving")
    assert tpu["groups"] == {} and "the model's alone" in tpu["note"]
    a100 = evidence_for("a100-sxm4-80gb", "training")
    assert set(a100["groups"]) == {"throughput", "whole-run"}
    assert "decode" not in a100["note"]


def test_plans_carry_their_evidence() -> None:
    serve = plan_serving("llama-3-8b", "inferentia2", n_devices=2, batch=1, prompt=128,
                         output=16).to_dict()
    assert serve["evidence"]["groups"]["prefill"]["n"] == 17
    train = plan_training("llama-3-8b", "tpu-v5p", n_devices=64, n_tokens=1e9).to_dict()
    assert "is in the validation set" in train["evidence"]["note"]


def test_evidence_is_split_by_kind_of_model_and_counts_optimistic_predictions() -> None:
    """Dense and mixture-of-experts rows are quoted apart; 'optimistic' means a prediction
    faster, cheaper or smaller than measured: a lower time, a higher rate."""
    from scalewall.validate import read_shipped_rows, validate_rows

    rows = read_shipped_rows()
    result = validate_rows(rows)
    h100 = [(r, res) for r, res in zip(rows, result.rows, strict=True)
            if r.get("hardware", "").strip() in ("h100-sxm", "h100") and res["error"] is not None]
    moe_models = {"llama-4-scout", "llama-4-maverick", "qwen3-235b-a22b", "mixtral-8x7b"}
    for kind, pick in (("dense", lambda r: r["model"] not in moe_models),
                       ("moe", lambda r: r["model"] in moe_models)):
        ttft = [res["error"] for r, res in h100 if pick(r) and res["metric"] == "ttft_s"]
        rates = [res["error"] for r, res in h100
                 if pick(r) and res["metric"] == "decode_tokens_per_s"]
        tpot = [res["error"] for r, res in h100 if pick(r) and res["metric"] == "tpot_s"]
        got = evidence_for("h100-sxm", "serving", moe=kind == "moe")
        assert got["kind"] == kind
        assert got["groups"]["prefill"]["n"] == len(ttft)
        assert got["groups"]["prefill"]["optimistic"] == sum(e < 0 for e in ttft)
        assert got["groups"]["decode"]["n"] == len(rates) + len(tpot)
        assert got["groups"]["decode"]["optimistic"] == (sum(e > 0 for e in rates)
                                                         + sum(e < 0 for e in tpot))
    assert "for mixture-of-experts models" in evidence_for("h100-sxm", "serving", moe=True)["note"]
    # no MoE training row on H100: the plan says it is a guess and quotes the dense rows
    guess = evidence_for("h100-sxm", "training", moe=True)
    assert guess["groups"] == {} and "the model's alone" in guess["note"]
    assert "for dense models there: throughput" in guess["note"]


def test_a_moe_plan_quotes_the_moe_rows() -> None:
    plan = plan_serving("llama-4-scout", "h100-sxm", n_devices=4, batch=8, prompt=128,
                        output=16, precision="fp8").to_dict()
    assert plan["evidence"]["kind"] == "moe"
    assert "mixture-of-experts" in plan["evidence"]["note"]
