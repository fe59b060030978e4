"""Extract the kernel reference set from a checkout of microsoft/vidur.

Vidur (Agrawal et al., MLSys 2024, arXiv:2405.05465) publishes per-operator GPU times it
measured with CUDA events on DGX A100 (80 GB) and DGX H100 nodes: the four projection GEMMs of
a decoder layer for many models, token counts and tensor-parallel degrees
(``data/profiling/compute/{a100,h100}/<model>/mlp.csv``), and NCCL all-reduce times by message
size and group (``data/profiling/network/{a100,h100}_dgx/all_reduce.csv``). This script keeps
the median of each measurement at token counts that are powers of two (and at about twenty
message sizes per group) and writes ``tests/reference/vidur_gemm.csv`` and
``tests/reference/vidur_all_reduce.csv``, with the per-device GEMM shape already split by
tensor parallelism. Usage::

    python scripts/extract_vidur_profiles.py /path/to/vidur [commit]
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "tests" / "reference"
GPUS = {"a100": "a100-sxm4-80gb", "h100": "h100-sxm"}
TOKENS = {2**i for i in range(13)}


def _gemm_shapes(row: dict[str, str]) -> dict[str, tuple[float, float, float]]:
    """(n, k, split) of each projection before tensor parallelism; split names the dimension
    tensor parallelism cuts (Megatron: column-parallel QKV and up, row-parallel O and down)."""
    a, akv = float(row["n_head"]), float(row["n_kv_head"])
    h, f = float(row["n_embd"]), float(row["n_expanded_embd"])
    d = h / a
    up = 2.0 if row["use_gated_mlp"] == "True" else 1.0
    return {"attn_pre_proj": ((a + 2 * akv) * d, h, 0.0), "attn_post_proj": (h, a * d, 1.0),
            "mlp_up_proj": (up * f, h, 0.0), "mlp_down_proj": (h, f, 1.0)}


def main(root: Path, commit: str) -> None:
    gemm_rows: list[list[object]] = []
    for path in sorted(root.glob("data/profiling/compute/*/*/*/mlp.csv")):
        gpu = path.parts[-4]
        if gpu not in GPUS:
            continue
        model = f"{path.parts[-3]}/{path.parts[-2]}"
        seen: set[tuple[int, int]] = set()
        for row in csv.DictReader(path.open()):
            t, tp = int(row["num_tokens"]), int(row["num_tensor_parallel_workers"])
            if t not in TOKENS or (t, tp) in seen:
                continue
            seen.add((t, tp))
            for op, (n, k, row_parallel) in _gemm_shapes(row).items():
                n_dev, k_dev = (n, k / tp) if row_parallel else (n / tp, k)
                us = float(row[f"time_stats.{op}.median"]) * 1e3
                gemm_rows.append([GPUS[gpu], model, op, tp, t, int(n_dev), int(k_dev),
                                  round(us, 3)])
    with (OUT / "vidur_gemm.csv").open("w", newline="") as fh:
        fh.write(f"# microsoft/vidur {commit}, data/profiling/compute/*/mlp.csv: median of "
                 "CUDA-event times, bf16, per device (m = tokens, [m, k] x [k, n])\n")
        w = csv.writer(fh)
        w.writerow(["hardware", "model", "op", "tp", "m", "n", "k", "median_us"])
        w.writerows(gemm_rows)

    ar_rows: list[list[object]] = []
    for gpu in GPUS:
        path = root / f"data/profiling/network/{gpu}_dgx/all_reduce.csv"
        by_group: dict[int, list[tuple[int, float]]] = {}
        for row in csv.DictReader(path.open()):
            n = int(row["num_workers"])
            if row["rank"] != "0" or n > 8 or row["devices_per_node"] != str(n):
                continue  # one node, every device in the group
            by_group.setdefault(n, []).append(
                (int(row["size"]), float(row["time_stats.all_reduce.median"]) * 1e3))
        for n, points in sorted(by_group.items()):
            points.sort()
            step = max(1, len(points) // 20)
            for size, us in points[::step]:
                ar_rows.append([GPUS[gpu], n, size, round(us, 3)])
    with (OUT / "vidur_all_reduce.csv").open("w", newline="") as fh:
        fh.write(f"# microsoft/vidur {commit}, data/profiling/network/{{a100,h100}}_dgx/"
                 "all_reduce.csv: median NCCL all-reduce time of `bytes` over `devices` GPUs "
                 "of one DGX node\n")
        w = csv.writer(fh)
        w.writerow(["hardware", "devices", "bytes", "median_us"])
        w.writerows(ar_rows)
    print(f"{len(gemm_rows)} GEMMs, {len(ar_rows)} all-reduces")


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2] if len(sys.argv) > 2 else "unknown commit")
