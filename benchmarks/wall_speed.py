"""How fast the wall Monte Carlo runs: draws x years evaluated per second on one core.

Prints a table, then as its last line one JSON object: ``seconds`` (best of the repeats, for
the whole projection: sampling, five constraints, binding counts, quantiles), ``draws``,
``years`` and ``draw_years_per_s``. ``--smoke`` runs 20,000 draws once (CI).

Run it on one core: ``OMP_NUM_THREADS=1 taskset -c 0 python benchmarks/wall_speed.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import time

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

from scalewall.wall import load_scenario, project  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="one small run (CI)")
    parser.add_argument("--draws", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    draws = 20_000 if args.smoke else args.draws
    repeats = 1 if args.smoke else args.repeats
    years = list(range(2024, 2041))
    scenario = load_scenario("baseline")
    project(scenario, years=years, n_draws=1_000)  # warm-up: imports, first allocations
    times = []
    result = None
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = project(scenario, years=years, n_draws=draws, seed=0)
        times.append(time.perf_counter() - t0)
    assert result is not None
    best = min(times)
    d = result.year_dict(2030)
    print(f"{'draws':>10} {'years':>6} {'best s':>8} {'all runs s':>24} {'2030 median':>12}")
    print(f"{draws:>10,} {len(years):>6} {best:>8.3f} "
          f"{' '.join(f'{t:.3f}' for t in times):>24} {d['feasible_flop']['median']:>12.2e}")
    print(json.dumps({"seconds": round(best, 4), "draws": draws, "years": len(years),
                      "draw_years_per_s": round(draws * len(years) / best)}))


if __name__ == "__main__":
    main()
