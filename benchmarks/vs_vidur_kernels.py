"""The kernel model against Vidur's measured operator profiles (DGX A100 and DGX H100).

Every projection GEMM (QKV, output, MLP up and down) of seven open models at 1-4,096 tokens
and tensor-parallel degrees 1-8, and NCCL all-reduces of 2 KB-58 MB over 2, 4 and 8 GPUs,
timed by Vidur (Agrawal et al., MLSys 2024) and extracted to ``tests/reference/`` by
``scripts/extract_vidur_profiles.py``. Prints the signed median error and median absolute
error by GPU, operator and token range; last line, one JSON object of the headline figures.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))


def _line(label: str, err: np.ndarray) -> str:
    return (f"{label:<44} {len(err):>5} {np.median(err):>+8.1%} "
            f"{np.median(np.abs(err)):>8.1%} {np.percentile(np.abs(err), 90):>8.1%}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="same work (it is fast); for CI")
    parser.parse_args()
    from tests.reference.vidur import all_reduce_comparison, gemm_comparison

    t0 = time.perf_counter()
    gemms = gemm_comparison()
    reduces = all_reduce_comparison()
    elapsed = time.perf_counter() - t0
    print(f"{'set':<44} {'n':>5} {'median':>8} {'|median|':>8} {'p90 |e|':>8}")
    figures: dict[str, float] = {}
    for hw in ("h100-sxm", "a100-sxm4-80gb"):
        sub = gemms.where(hardware=hw)
        print(_line(f"GEMM {hw}", sub.error))
        figures[f"gemm_{hw.split('-')[0]}_median_abs_error"] = round(
            float(np.median(np.abs(sub.error))), 4)
        m = np.array([float(r["m"]) for r in sub.rows])
        for lo, hi in ((1, 64), (128, 512), (1024, 4096)):
            print(_line(f"  tokens {lo}-{hi}", sub.error[(m >= lo) & (m <= hi)]))
        for op in ("attn_pre_proj", "attn_post_proj", "mlp_up_proj", "mlp_down_proj"):
            print(_line(f"  {op}", sub.where(op=op).error))
    for hw in ("h100-sxm", "a100-sxm4-80gb"):
        for n in ("2", "4", "8"):
            sub = reduces.where(hardware=hw, devices=n)
            print(_line(f"all-reduce {hw} x{n}", sub.error))
            figures[f"all_reduce_{hw.split('-')[0]}_x{n}_median_error"] = round(
                float(np.median(sub.error)), 4)
    n_total = len(gemms.rows) + len(reduces.rows)
    print(f"{n_total} kernels predicted in {elapsed * 1e3:.0f} ms")
    figures["kernels"] = n_total
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
