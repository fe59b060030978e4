"""Microbenchmarks of one device: GEMM rate over shapes and precisions, copy bandwidth, and
(with more than one GPU) collective bandwidth. Results are stored as runs of kind ``gemm``,
``bandwidth`` and ``collective``; ``scalewall calibrate`` fits the planner to the GEMMs.

Timing: a few warm-up calls, then ``repeats`` timed loops of enough calls to last
``min_time_s`` each, the device synchronized before and after every loop; the figure is the
median loop's time per call. Operands are allocated once, so small problems run from cache,
as they do inside a model.
"""

from __future__ import annotations

import functools
import math
import multiprocessing as mp
import os
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from typing import Any

from scalewall.measure._common import MeasureUnavailable, import_torch
from scalewall.measure.device import describe_device
from scalewall.measure.registry import Registry

__all__ = [
    "collective_bandwidth",
    "copy_bandwidth",
    "default_gemm_shapes",
    "gemm_profile",
    "resolve_device",
    "time_call_s",
]

#: torch dtype name per precision; ``fp32`` disables TF32 tensor cores, ``tf32`` enables them.
_DTYPES = {"fp32": "float32", "tf32": "float32", "bf16": "bfloat16", "fp16": "float16"}


def default_gemm_shapes(*, tiny: bool = False) -> list[tuple[int, int, int]]:
    """GEMM shapes ``(m, n, k)`` that pin down the planner's three calibrated parameters.

    Large squares fix the matmul efficiency, skinny ``m`` (decode-like: one to a few hundred
    rows against an 8192 x 8192 weight) the memory bandwidth, small squares the per-kernel
    overhead; a tall and a flat shape check the tile and wave model in between. ``tiny`` is
    a CPU-sized version for dry runs.
    """
    if tiny:
        return [(s, s, s) for s in (32, 64, 128, 256)] + [(1, 512, 512), (4, 512, 512),
                                                           (512, 128, 128)]
    squares = [(s, s, s) for s in (256, 512, 1024, 2048, 4096, 8192)]
    skinny = [(m, 8192, 8192) for m in (1, 8, 32, 128, 256)]
    other = [(16384, 2048, 2048), (4096, 4096, 1024), (2048, 8192, 2048), (8192, 1024, 8192)]
    return squares + skinny + other


def resolve_device(torch: Any, device: str | None) -> Any:
    """``torch.device`` for ``device``, default CUDA where available."""
    dev = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise MeasureUnavailable(f"device {device!r} asked for, but CUDA is not available")
    return dev


def _synchronizer(torch: Any, dev: Any) -> Callable[[], None]:
    if dev.type == "cuda":
        return lambda: torch.cuda.synchronize(dev)
    return lambda: None


def time_call_s(fn: Callable[[], Any], sync: Callable[[], None], *, min_time_s: float = 0.05,
                repeats: int = 5, warmup: int = 3) -> float:
    """Median time of one call of ``fn`` [s] (see the module docstring)."""
    for _ in range(warmup):
        fn()
    sync()
    t0 = time.perf_counter()
    fn()
    sync()
    estimate = max(time.perf_counter() - t0, 1e-7)
    iters = max(1, min(100_000, math.ceil(min_time_s / estimate)))
    samples = []
    for _ in range(repeats):
        sync()
        t0 = time.perf_counter()
        for _ in range(iters):
            fn()
        sync()
        samples.append((time.perf_counter() - t0) / iters)
    return statistics.median(samples)


def gemm_profile(
    *, shapes: Sequence[tuple[int, int, int]] | None = None,
    precisions: Sequence[str] = ("bf16",), device: str | None = None,
    min_time_s: float = 0.05, repeats: int = 5,
    on_sample: Callable[[dict[str, Any]], None] | None = None,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Time ``[m, k] x [k, n]`` GEMMs for every shape and precision.

    Returns
    -------
    samples : list of ``{m, n, k, precision, duration_s, flop_per_s}``, duration in [s] and
        rate in [FLOP/s] (:math:`2mnk / t`).
    device : description of the device measured.
    """
    torch = import_torch()
    dev = resolve_device(torch, device)
    sync = _synchronizer(torch, dev)
    for p in precisions:
        if p not in _DTYPES:
            raise MeasureUnavailable(
                f"precision {p!r} cannot be benchmarked; choose from {', '.join(_DTYPES)}")
    out: list[dict[str, Any]] = []
    tf32 = torch.backends.cuda.matmul.allow_tf32
    try:
        for precision in precisions:
            torch.backends.cuda.matmul.allow_tf32 = precision == "tf32"
            dtype = getattr(torch, _DTYPES[precision])
            for m, n, k in shapes or default_gemm_shapes(tiny=dev.type != "cuda"):
                a = torch.randn(m, k, device=dev, dtype=dtype)  # (m, k)
                b = torch.randn(k, n, device=dev, dtype=dtype)  # (k, n)
                c = torch.empty(m, n, device=dev, dtype=dtype)  # (m, n)
                t = time_call_s(functools.partial(torch.matmul, a, b, out=c), sync,
                                min_time_s=min_time_s, repeats=repeats)
                sample = {"m": m, "n": n, "k": k, "precision": precision, "duration_s": t,
                          "flop_per_s": 2.0 * m * n * k / t}
                out.append(sample)
                if on_sample is not None:
                    on_sample(sample)
                del a, b, c
    finally:
        torch.backends.cuda.matmul.allow_tf32 = tf32
    return out, describe_device(torch, dev)


def copy_bandwidth(*, n_bytes: float = 2**30, device: str | None = None,
                   min_time_s: float = 0.05, repeats: int = 5) -> dict[str, Any]:
    """Device-memory copy bandwidth, counting bytes read plus bytes written [B/s].

    ``dst.copy_(src)`` of ``n_bytes`` moves ``2 n_bytes`` through memory. Use a size well
    above the last-level cache (default 1 GiB; an H200's L2 is 50 MB).
    """
    torch = import_torch()
    dev = resolve_device(torch, device)
    n = int(n_bytes) // 4
    src = torch.ones(n, device=dev, dtype=torch.float32)
    dst = torch.empty_like(src)
    t = time_call_s(lambda: dst.copy_(src), _synchronizer(torch, dev), min_time_s=min_time_s,
                    repeats=repeats)
    moved = 2.0 * n * 4
    return {"n_bytes": float(n * 4), "duration_s": t, "bandwidth_bytes_per_s": moved / t,
            "device": describe_device(torch, dev)}


def _collective_worker(rank: int, world: int, init_file: str, sizes: Sequence[float],
                       min_time_s: float, repeats: int, queue: Any) -> None:
    torch = import_torch()
    dist = torch.distributed
    torch.cuda.set_device(rank)
    dist.init_process_group("nccl", init_method=f"file://{init_file}", rank=rank,
                            world_size=world)
    try:
        rows = []
        for size in sizes:
            x = torch.ones(int(size) // 2, device=f"cuda:{rank}", dtype=torch.bfloat16)

            def sync() -> None:
                torch.cuda.synchronize(rank)
                dist.barrier()

            t = time_call_s(functools.partial(dist.all_reduce, x), sync,
                            min_time_s=min_time_s, repeats=repeats)
            n_bytes = float(x.numel() * 2)
            rows.append({"op": "all_reduce", "n_bytes": n_bytes, "duration_s": t,
                         # ring all-reduce moves 2(n-1)/n of the buffer over each link
                         "bus_bandwidth_bytes_per_s": 2.0 * (world - 1) / world * n_bytes / t})
        if rank == 0:
            queue.put(rows)
    finally:
        dist.destroy_process_group()


def collective_bandwidth(*, sizes: Sequence[float] = (2**20, 2**24, 2**28, 2**30),
                         n_gpus: int | None = None, min_time_s: float = 0.05,
                         repeats: int = 5) -> dict[str, Any]:
    """All-reduce bus bandwidth over ``n_gpus`` local GPUs (NCCL), per buffer size.

    Raises
    ------
    MeasureUnavailable
        Fewer than two CUDA GPUs.
    """
    torch = import_torch()
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    world = n_gpus or count
    if count < 2 or world < 2 or world > count:
        raise MeasureUnavailable(
            f"a collective benchmark needs at least 2 CUDA GPUs; this machine has {count}"
            + (f" (asked for {n_gpus})" if n_gpus else ""))
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    with tempfile.TemporaryDirectory() as tmp:
        init_file = os.path.join(tmp, "rendezvous")
        procs = [ctx.Process(target=_collective_worker,
                             args=(r, world, init_file, list(sizes), min_time_s, repeats,
                                   queue)) for r in range(world)]
        for p in procs:
            p.start()
        rows = queue.get(timeout=600)
        for p in procs:
            p.join()
    return {"n_gpus": world, "samples": rows,
            "device": describe_device(torch, torch.device("cuda:0"))}


def store_profile(registry: Registry, *, kind: str, hardware: str | None,
                  device: dict[str, Any], samples: Sequence[dict[str, Any]] = (),
                  summary: dict[str, Any] | None = None, name: str = "") -> int:
    """Store a microbenchmark as a run; its id."""
    gemm = [s for s in samples if kind == "gemm"]
    if gemm and summary is None:
        best = max(gemm, key=lambda s: s["flop_per_s"])
        summary = {"n_samples": len(gemm), "best_flop_per_s": best["flop_per_s"],
                   "best_shape": [best["m"], best["n"], best["k"]],
                   "precisions": sorted({s["precision"] for s in gemm})}
    return registry.add_run(kind=kind, name=name, hardware=hardware,
                            device=str(device.get("name")), config={"device": device},
                            summary=summary or {}, gemm_samples=gemm)
