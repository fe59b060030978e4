"""Layout-search speed: candidate layouts per second, and a full search with start-up.

Prints a table and, as its last line, a JSON object with ``layouts_per_s`` (valid candidate
layouts evaluated per second on one core: memory for all, step time for those that fit),
``enumerated_per_s``, ``search_s`` (wall time of ``scalewall train --search --json`` for Llama
3.1 405B on 16,384 H100 with a 16M-token batch, Python start-up included; target under 2 s),
``published_rank_share`` (share of feasible layouts at or above the best one with Llama 3's
published degrees TP8 CP1 PP16 DP128) and ``calculon_speedup``.

``calculon_speedup`` compares with Calculon's exhaustive search (Turing 530B on 5,128
A100-80GB, global batch 2,520) when a checkout of Calculon is named by ``CALCULON_PATH``; it
is null otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from scalewall.catalog import get_catalog
from scalewall.kernels import device_rates
from scalewall.train.layout import Layout
from scalewall.train.search import SearchResult, search_layouts


def _calculon(path: str | None) -> dict[str, object] | None:
    """Calculon's exhaustive search on its README case (Turing 530B on 5,128 A100-80GB, batch
    up to 2,520) against scalewall's search of the same case, batch rounded as Calculon does."""
    if not path:
        return None
    cat = get_catalog()
    a100 = cat.accelerator("a100-sxm4-80gb")
    from scalewall.arch import Architecture

    # calculon/models/turing-530B.json: 105 blocks, hidden 20480, 128 heads of 160, ffn 81920
    turing = Architecture(n_layers=105, hidden_size=20480, n_heads=128, head_dim=160,
                          ffn_size=81920, vocab_size=51200, position="learned", bias=True,
                          tied_embeddings=True, max_seq_len=2048, name="Turing 530B")
    start = time.perf_counter()
    ours = search_layouts(turing, a100, device_rates(a100, cat.defaults), cat.defaults,
                          n_devices=5128, seq_len=2048, global_batch=2520, base=Layout(),
                          recipe="megatron", round_batch=True)
    ours_s = time.perf_counter() - start
    out = "/tmp/calculon-opt.json"
    cmd = [sys.executable, os.path.join(path, "bin", "calculon"), "llm-optimal-execution",
           os.path.join(path, "models", "turing-530B.json"), "5128", "2520", "float16",
           os.path.join(path, "systems", "a100_80g.json"), out, "-m"]
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=path, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": path})
    theirs_s = time.perf_counter() - start
    if done.returncode != 0:
        return {"error": done.stderr[-500:]}
    with open(out) as fh:
        best = next(iter(json.load(fh).values()))
    ex = best["execution"]
    theirs = {k: ex[k] for k in ("tensor_par", "pipeline_par", "data_par", "batch_size",
                                 "microbatch_size", "activation_recompute",
                                 "weight_offload", "optimizer_offload")}
    theirs["sample_rate"] = best["stats"].get("sample_rate")
    mine = ours.row(0)
    return {"scalewall_s": ours_s, "calculon_s": theirs_s, "speedup": theirs_s / ours_s,
            "scalewall_best": {k: mine[k] for k in ("tp", "pp", "dp", "micro_batch",
                                                      "global_batch", "recompute", "zero")}
            | {"sample_rate": mine["global_batch"] / mine["step_s"]},
            "calculon_best": theirs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="fewer repetitions (CI)")
    args = parser.parse_args()
    repeats = 2 if args.smoke else 7
    cat = get_catalog()
    h100 = cat.accelerator("h100-sxm")
    arch = cat.model("llama-3.1-405b")
    rates = device_rates(h100, cat.defaults)

    def run() -> SearchResult:
        return search_layouts(arch, h100, rates, cat.defaults, n_devices=16384, seq_len=8192,
                              global_batch=2048, base=Layout(), recipe="auto")

    run()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - start)
    best_s = min(times)
    layouts_per_s = result.n_valid / best_s
    enumerated_per_s = result.n_enumerated / best_s
    rank = result.rank_of(dict(tp=8, cp=1, pp=16, dp=128))
    cmd = [sys.executable, "-m", "scalewall.cli", "train", "--search", "--json",
           "--global-batch", "2048"]
    wall = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        wall.append(time.perf_counter() - start)
    search_s = min(wall)
    calc = _calculon(os.environ.get("CALCULON_PATH"))
    print(f"{'case':58s} {'value':>14s}")
    print(f"{'Llama 3.1 405B, 16,384 H100, 16M tokens: layouts enumerated':58s} "
          f"{result.n_enumerated:>14,}")
    print(f"{'  valid (memory evaluated)':58s} {result.n_valid:>14,}")
    print(f"{'  fit in memory (step time evaluated)':58s} {len(result):>14,}")
    print(f"{'search time in-process':58s} {best_s * 1e3:>11.1f} ms")
    print(f"{'valid layouts per second (one core)':58s} {layouts_per_s:>14,.0f}")
    print(f"{'scalewall train --search --json (with start-up)':58s} {search_s:>12.2f} s")
    if rank:
        print(f"{'published layout TP8 CP1 PP16 DP128: rank':58s} {rank[0]:>14,} "
              f"({rank[1]:.1%})")
    if calc:
        print("Calculon comparison (Turing 530B on 5,128 A100-80GB, batch <= 2,520):")
        print(json.dumps(calc, indent=1, default=float))
    else:
        print("Calculon comparison skipped: set CALCULON_PATH to a Calculon checkout")
    print(json.dumps({
        "layouts_per_s": round(layouts_per_s), "enumerated_per_s": round(enumerated_per_s),
        "search_s": round(search_s, 3), "search_inprocess_s": round(best_s, 4),
        "published_rank_share": None if rank is None else round(rank[1], 4),
        "calculon_speedup": None if not calc or "speedup" not in calc else calc["speedup"],
    }))


if __name__ == "__main__":
    main()
