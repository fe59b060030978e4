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
