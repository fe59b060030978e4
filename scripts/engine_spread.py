"""How far apart serving engines measure on the same deployment, in the shipped InferenceX rows.

A planner that does not know the engine predicts one figure per deployment (chip, precision,
layout, lengths, concurrency). Where two engines ran the same deployment, no single figure can
be closer to both than :math:`(hi - lo)/(hi + lo)` (the figure between them that errs equally
on each). This prints that bound's median and mean over every such deployment: the part of the
decode error an engine-agnostic model cannot remove.

    python scripts/engine_spread.py
"""

from __future__ import annotations

import csv
import statistics
from collections import defaultdict
from pathlib import Path

CSV = Path(__file__).resolve().parents[1] / "src/scalewall/catalog/validation/infer.csv"


def main() -> None:
    runs: dict[tuple[str, ...], dict[str, float]] = defaultdict(dict)
    for row in csv.DictReader(CSV.open()):
        parts = row["id"].split("-")
        if parts[0] != "ix":  # ix-<chip>-<engine>-<model>-<precision>-<layout...>-c<conc>
            continue
        deployment = (parts[1], *parts[3:])
        runs[deployment][parts[2]] = float(row["value"])
    bounds = []
    for engines in runs.values():
        if len(engines) >= 2:
            lo, hi = min(engines.values()), max(engines.values())
            bounds.append((hi - lo) / (hi + lo))
    print(f"{len(bounds)} deployments run by two engines: the best single prediction errs by "
          f"{statistics.median(bounds):.1%} (median), {statistics.mean(bounds):.1%} (mean)")


if __name__ == "__main__":
    main()
