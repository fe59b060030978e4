"""Print the README's accuracy table (markdown) from `scalewall validate` on the shipped sets.

Usage: python scripts/accuracy_table.py
"""

from __future__ import annotations

from scalewall.validate import GROUPS, read_shipped_rows, validate_rows


def main() -> None:
    result = validate_rows(read_shipped_rows())
    print("| metric | rows | median abs. error | target | worst row | worst error |")
    print("| --- | ---: | ---: | ---: | --- | ---: |")
    for metric, s in result.summary.items():
        if not s["n"]:
            continue
        rows = [r for r in result.rows if r["metric"] == metric and r["error"] is not None]
        worst = max(rows, key=lambda r: abs(r["error"]))
        target = next((t for metrics, t in GROUPS.values() if metric in metrics), None)
        print(f"| {metric} | {s['n']} | {s['median_abs_error']:.1%} | "
              f"{'' if target is None else f'{target:.0%}'} | {worst['id']} | "
              f"{worst['error']:+.0%} |")
    print()
    for group, g in result.groups.items():
        print(f"{group}: {g['median_abs_error']:.2%} median over {g['n']} rows "
              f"(target {g['target']:.0%}{'' if g['met'] else ', not met'})")
    unpredicted = [r for r in result.rows if r["error"] is None]
    print(f"\n{len(result.rows)} rows; {len(unpredicted)} not predicted "
          f"({', '.join(sorted({r['id'] for r in unpredicted}))}).")


if __name__ == "__main__":
    main()
