"""Speed of `scalewall laws fit`: one fit of 250 runs with 100 bootstrap resamples.

The issue's target: under 30 s on the CI machine (2 cores). Runs are drawn from the Besiroglu et
al. 2024 law with 1% log-normal noise on a grid of sizes and token counts. Prints a table, then
one JSON line. ``--smoke`` fits 50 runs with 5 resamples.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from scalewall.laws import Runs, fit_law


def synthetic_runs(n_runs: int, seed: int = 0) -> Runs:
    rng = np.random.default_rng(seed)
    n = 10 ** rng.uniform(7.5, 10.5, n_runs)
    d = 10 ** rng.uniform(9.0, 11.5, n_runs)
    loss = 1.8172 + 482.01 / n**0.3478 + 2085.43 / d**0.3658
    return Runs(n, d, loss * np.exp(rng.normal(0.0, 0.01, n_runs)), "synthetic")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="a quick run for CI")
    args = parser.parse_args()
    n_runs, n_boot = (50, 5) if args.smoke else (250, 100)
    runs = synthetic_runs(n_runs)
    started = time.perf_counter()
    result = fit_law(runs, n_bootstrap=n_boot)
    fit_s = time.perf_counter() - started
    print(f"{'runs':>6} {'bootstraps':>10} {'seconds':>8}  E       A       B       alpha  beta")
    p = result.params
    print(f"{n_runs:>6} {n_boot:>10} {fit_s:>8.2f}  {p['E']:.4f} {p['A']:7.1f} {p['B']:7.1f} "
          f"{p['alpha']:.4f} {p['beta']:.4f}")
    print(json.dumps({"n_runs": n_runs, "n_bootstrap": n_boot, "fit_s": round(fit_s, 3),
                      "under_30_s": fit_s < 30.0}))


if __name__ == "__main__":
    main()
