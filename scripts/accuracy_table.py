"""Print the README's accuracy table (markdown) from `scalewall validate` on the shipped sets.

Usage: python scripts/accuracy_table.py
"""

from __future__ import annotations

import statistics

from scalewall.validate import read_shipped_rows, validate_rows

# the issue targets: median absolute error per metric group
TARGETS = {
    "model_tflops_per_device": 0.10, "hardware_tflops_per_device": 0.10, "mfu": 0.10,
    "step_s": 0.10, "tokens_per_s": 0.10, "device_hours": 0.15, "days": 0.15,
    "energy_mwh": 0.15, "co2_t": 0.15, "peak_memory_gib": 0.10, "tpot_s": 0.10,
    "decode_tokens_per_s": 0.10, "ttft_s": 0.15, "energy_j_per_token": 0.15,
}

# the issues' pooled groups
GROUPS = {
    "throughput": ("model_tflops_per_device", "hardware_tflops_per_device", "mfu", "step_s",
                   "tokens_per_s"),
    "whole-run": ("device_hours", "days", "energy_mwh", "co2_t"),
    "peak memory": ("peak_memory_gib",),
    "decode": ("tpot_s", "decode_tokens_per_s"),
    "prefill": ("ttft_s",),
}


def main() -> None:
    result = validate_rows(read_shipped_rows())
    print("| metric | rows | median abs. error | target | worst row | worst error |")
    print("| --- | ---: | ---: | ---: | --- | ---: |")
    for metric, s in result.summary.items():
        if not s["n"]:
            continue
        rows = [r for r in result.rows if r["metric"] == metric and r["error"] is not None]
        worst = max(rows, key=lambda r: abs(r["error"]))
        target = TARGETS.get(metric)
        print(f"| {metric} | {s['n']} | {s['median_abs_error']:.1%} | "
              f"{'' if target is None else f'{target:.0%}'} | {worst['id']} | "
              f"{worst['error']:+.0%} |")
    print()
    for group, metrics in GROUPS.items():
        errors = sorted(abs(r["error"]) for r in result.rows
                        if r["metric"] in metrics and r["error"] is not None)
        if errors:
            print(f"{group}: {statistics.median(errors):.1%} median over {len(errors)} rows")
    unpredicted = [r for r in result.rows if r["error"] is None]
    print(f"\n{len(result.rows)} rows; {len(unpredicted)} not predicted "
          f"({', '.join(sorted({r['id'] for r in unpredicted}))}).")


if __name__ == "__main__":
    main()
