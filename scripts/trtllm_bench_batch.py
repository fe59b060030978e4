"""Set the ``batch`` and ``requests`` columns of the TensorRT-LLM v1.0 throughput rows
(``trtllm10-*`` in ``catalog/validation/infer.csv``) to what that benchmark ran.

``requests``: the page's table of ``$num_requests`` per ISL/OSL (``docs/source/performance/
perf-overview.md``, "Preparing a Dataset"). ``batch``: the maximum batch ``trtllm-bench`` sets
when none is given (``tensorrt_llm/bench/build/tuning.py``, ``calc_engine_setting`` and
``finetune_setting``): the requests of ``ISL + OSL`` tokens that 95% of the memory left after
the weights holds at the checkpoint's KV precision, counting at least ``tp`` KV heads, capped
at 4,096 and rounded up (to 32 below 256, at least 64; to 128 below 1,024; else to 256). The
device memory is the catalog's. The planner then admits as many of them as fit (see
``offline_tokens_per_s`` in ``scalewall.infer.validate``).

Usage: python scripts/trtllm_bench_batch.py   (rewrites the two columns of those rows)
"""

from __future__ import annotations

import csv
import io
import math

from scalewall.arch.counts import param_breakdown
from scalewall.catalog import CATALOG_DIR, get_catalog

CSV = CATALOG_DIR / "validation" / "infer.csv"
REQUESTS = {(128, 128): 30000, (128, 2048): 3000, (128, 4096): 1500, (1000, 2000): 1500,
            (2048, 128): 3000, (2048, 2048): 1500, (5000, 500): 1500, (1000, 1000): 3000,
            (500, 2000): 3000, (20000, 2000): 1000}
BYTES = {"fp4": 0.5, "fp8": 1.0}  # the checkpoints' weights; their KV caches are FP8


def max_batch(model: str, hardware: str, precision: str, tp: int, pp: int, isl: int,
              osl: int) -> int:
    cat = get_catalog()
    arch = cat.model(model)
    gib = float(1024**3)
    head = arch.head_dim or arch.hidden_size // arch.n_heads
    kv_heads = max(tp, arch.n_kv_heads or arch.n_heads)
    per_token = 2 * arch.n_layers * kv_heads * head * 1.0 / gib  # FP8 cache
    weights = param_breakdown(arch).total * BYTES.get(precision, 2.0) / gib
    memory = cat.accelerator(hardware).memory_bytes * tp * pp / gib
    requests = (memory - weights) * 0.95 / (per_token * (isl + osl))
    raw = min(requests, 4096) / pp
    if raw < 256:
        return max(64, 32 * math.ceil(raw / 32))
    if raw < 1024:
        return 128 * math.ceil(raw / 128)
    return 256 * math.ceil(raw / 256)


def main() -> None:
    rows = list(csv.reader(io.StringIO(CSV.read_text())))
    head = rows[0]
    col = {name: i for i, name in enumerate(head)}
    n = 0
    for r in rows[1:]:
        if not r[col["id"]].startswith("trtllm10-"):
            continue
        isl, osl = int(r[col["prompt"]]), int(r[col["output"]])
        tp, pp = int(r[col["tp"]]), int(r[col["pp"]] or 1)
        r[col["batch"]] = str(max_batch(r[col["model"]], r[col["hardware"]],
                                        r[col["precision"]], tp, pp, isl, osl))
        r[col["requests"]] = str(REQUESTS[(isl, osl)])
        n += 1
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    CSV.write_text(out.getvalue())
    print(f"{CSV}: batch and requests set on {n} rows")


if __name__ == "__main__":
    main()
