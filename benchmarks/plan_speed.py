"""How long one plan takes: the whole `scalewall train --json` command, and in-process.

Prints a table and, as its last line, a JSON object: ``cli_s`` (median wall time of the
command, Python start-up included; target under 1 s), ``plan_ms`` (one plan with a given
layout, in-process) and ``search_ms`` (one plan whose layout is searched).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

from scalewall.api import plan_training
from scalewall.catalog import get_catalog
from scalewall.train.layout import Layout


def _median_s(fn: object, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="few repetitions (CI)")
    args = parser.parse_args()
    repeats = 2 if args.smoke else 7
    cmd = [sys.executable, "-m", "scalewall.cli", "train", "--json"]
    cli_s = _median_s(lambda: subprocess.run(cmd, check=True, capture_output=True), repeats)
    cat = get_catalog()
    layout = Layout(tp=8, pp=16, dp=64, micro_batch=1, recompute="full")
    plan_s = _median_s(lambda: plan_training(
        "llama-3.1-405b", "h100-sxm", n_devices=8192, global_batch=2048, layout=layout,
        catalog=cat), repeats * 10)
    from scalewall.train import plan as plan_module

    def searched() -> object:
        plan_module._SEARCHES.clear()  # time the search itself, not the memo of it
        return plan_training("llama-3.1-405b", "h100-sxm", n_devices=16384, catalog=cat)

    search_s = _median_s(searched, repeats)
    print(f"{'what':40s} {'time':>12s}")
    print(f"{'scalewall train --json (with start-up)':40s} {cli_s:>10.3f} s")
    print(f"{'one plan, layout given (in-process)':40s} {plan_s * 1e3:>9.3f} ms")
    print(f"{'one plan, layout searched':40s} {search_s * 1e3:>9.1f} ms")
    print(json.dumps({"cli_s": round(cli_s, 4), "plan_ms": round(plan_s * 1e3, 4),
                      "search_ms": round(search_s * 1e3, 2)}))


if __name__ == "__main__":
    main()
