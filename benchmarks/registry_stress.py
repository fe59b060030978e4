"""Concurrent writers against the run registry, with one writer killed mid-transaction.

``--procs`` processes each record ``--writes`` runs (one transaction each: a run and two
steps) into one fresh SQLite registry, while another process opens a large write
transaction and is killed with SIGKILL before committing. Then every committed run must be
there, complete, and SQLite's integrity and foreign-key checks must pass.

Prints a table and, as its last line, a JSON object with ``writes`` (runs committed),
``lost`` (committed runs missing or incomplete: must be 0), ``consistent`` (must be true),
``writes_per_s`` and ``duration_s``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from scalewall.measure.stress import stress_registry


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="4 processes x 100 writes (CI)")
    parser.add_argument("--procs", type=int, default=16)
    parser.add_argument("--writes", type=int, default=2000)
    parser.add_argument("--no-kill", action="store_true", help="no writer killed")
    args = parser.parse_args()
    procs, writes = (4, 100) if args.smoke else (args.procs, args.writes)
    with tempfile.TemporaryDirectory() as tmp:
        result = stress_registry(Path(tmp) / "registry.db", n_procs=procs, n_writes=writes,
                                 kill=not args.no_kill)
    print(f"{'processes':>24} {procs}")
    print(f"{'writes per process':>24} {writes}")
    print(f"{'writer killed mid-write':>24} {result['killed']}")
    print(f"{'runs committed':>24} {result['writes']}")
    print(f"{'lost':>24} {result['lost']}")
    print(f"{'consistent':>24} {result['consistent']}")
    print(f"{'writes/s':>24} {result['writes_per_s']:.0f}")
    print(json.dumps({k: result[k] for k in ("writes", "lost", "consistent", "killed",
                                             "n_procs", "writes_per_s", "duration_s")}))
    if result["lost"] or not result["consistent"]:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
