"""The serving queue's closed form (Cosmetatos M/D/c) against a discrete-event simulation.

``scalewall.infer.queueing.queue_wait_s`` approximates the mean wait for one of a replica's
``batch`` slots; ``simulated_wait_s`` runs the same queue (Poisson arrivals, fixed service
time, first come first served). Prints the two and their ratio for 1-128 slots at 50-95%
load; last line, one JSON object with the worst relative error at loads of 85% and more, where
the wait matters to a TTFT target, and over all loads.
"""

from __future__ import annotations

import argparse
import json

from scalewall.infer.queueing import queue_wait_s, simulated_wait_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="fewer simulated requests (CI)")
    args = parser.parse_args()
    n = 20_000 if args.smoke else 200_000
    print(f"{'slots':>5} {'load':>5} {'simulated s':>12} {'closed form s':>14} {'error':>7}")
    worst_high = worst_all = 0.0
    for c in (1, 2, 4, 8, 32, 128):
        for rho in (0.5, 0.7, 0.85, 0.95):
            sim = simulated_wait_s(c, rho * c, 1.0, n_requests=n)
            approx = float(queue_wait_s(c, rho * c, 1.0))
            err = approx / sim - 1.0 if sim > 1e-3 else 0.0  # below 0.1% of a cycle: noise
            print(f"{c:>5} {rho:>5.2f} {sim:>12.4f} {approx:>14.4f} {err:>+7.1%}")
            worst_all = max(worst_all, abs(err))
            if rho >= 0.85:
                worst_high = max(worst_high, abs(err))
    print(json.dumps({"worst_abs_error_load_ge_0.85": round(worst_high, 4),
                      "worst_abs_error_all": round(worst_all, 4), "requests_simulated": n}))


if __name__ == "__main__":
    main()
