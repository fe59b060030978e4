"""The planner's mixture-of-experts GEMMs against a measured fused MoE kernel (H200, bf16).

vLLM's ``fused_moe`` (Triton) for Gemma 4's expert shape (128 experts of 704, hidden 2,816,
8 per token), timed at 1-4,096 tokens in vLLM PR #44818 (``tests/reference/``). The planner
times the layer's routed experts as it does in a serving step
(:func:`scalewall.infer.step._layer_gemm_s`): the experts the tokens touch,
:math:`E(1 - (1 - k/E)^T)`, each read once, as one grouped GEMM per projection at the dense
tile rate. Prints measured and predicted time per token count and the error by range; last
line, one JSON object.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

REFERENCE = os.path.join(os.path.dirname(__file__), "..", "tests", "reference",
                         "vllm_fused_moe_h200.csv")
E, N, K, TOP = 128, 704, 2816, 8


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="same work (it is fast); for CI")
    parser.parse_args()
    from scalewall.catalog import get_catalog
    from scalewall.infer.plan import serving_rates
    from scalewall.infer.step import routed_experts
    from scalewall.kernels import split_k_matmul_time_s

    with open(REFERENCE) as f:
        rows = list(csv.DictReader(line for line in f if not line.startswith("#")))
    cat = get_catalog()
    rates, _ = serving_rates(cat.accelerator("h200-sxm"), cat, precision="bf16")
    tokens = np.array([float(r["m"]) for r in rows])
    measured = np.array([float(r["tuned_us"]) for r in rows]) * 1e-6
    # the routing of a serving step; only the expert count and top-k matter to it
    routing = cat.model("qwen3-30b-a3b").replace(n_experts=E, n_active_experts=TOP)
    touched, per_expert = routed_experts(routing, tokens)
    up = split_k_matmul_time_s(per_expert, 2.0 * N, K, rates, operand_bytes=2.0, groups=touched)
    down = split_k_matmul_time_s(per_expert, K, N, rates, operand_bytes=2.0, groups=touched)
    predicted = up + down
    error = predicted / measured - 1.0
    flop = 2.0 * tokens * TOP * 3.0 * N * K
    print(f"{'tokens':>7} {'experts':>8} {'measured us':>12} {'predicted us':>13} {'error':>7} "
          f"{'measured TFLOP/s':>17}")
    for t, e, m, p, err, fl in zip(tokens, touched, measured, predicted, error, flop,
                                   strict=True):
        print(f"{t:>7.0f} {e:>8.1f} {m * 1e6:>12.1f} {p * 1e6:>13.1f} {err:>+7.0%} "
              f"{fl / m / 1e12:>17.0f}")
    figures: dict[str, float] = {}
    for lo, hi in ((1, 8), (16, 512), (1024, 4096)):
        sel = (tokens >= lo) & (tokens <= hi)
        med = float(np.median(error[sel]))
        print(f"tokens {lo}-{hi}: median error {med:+.1%} over {int(sel.sum())} points")
        figures[f"median_error_{lo}_{hi}"] = round(med, 4)
    print(json.dumps({"benchmark": "vs_fused_moe", **figures}))


if __name__ == "__main__":
    main()
