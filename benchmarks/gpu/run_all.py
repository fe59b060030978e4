"""Measure this GPU in one go, calibrate the planner on it, and print measured against predicted.

1. a GEMM profile (bf16, the calibration grid) and the copy bandwidth;
2. ``scalewall calibrate`` on the GEMM profile alone;
3. a short GPT-style training run at two sizes (124M at micro-batch 16 x 1024 tokens, 1.3B at
   4 x 2048), each without and with full recomputation, under the probe; the same steps
   without the probe give its overhead;
4. Llama-3-8B-shaped decode steps (batch 1 and 32 at 1,024 tokens of context, replayed from a
   CUDA graph) and a 2,048-token prefill;
5. every run stored in a registry, then predicted by the planner with the catalog's rates and
   with the calibration, printed beside the measurement with the errors, and written to a
   JSON summary (``--out``) whose figures go into the README's accuracy section.

The issue's targets (one H200, calibrated on the GEMM profile alone): training step time
within 15% and peak memory within 10%, decode TPOT within 10%, probe overhead under 1%.

``--dry-run`` runs the same code on tiny shapes on the CPU (or a small GPU) in seconds: it
checks the script, not the hardware, and its errors mean nothing. The last line printed is
one JSON object of the headline figures.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from models import GPT, Llama, build, gpt_arch, llama_arch

from scalewall.arch import model_flop_per_token
from scalewall.measure import Probe, calibrate_from_registry, compare_run, open_registry
from scalewall.measure.bench import (
    copy_bandwidth,
    default_gemm_shapes,
    gemm_profile,
    store_profile,
)
from scalewall.measure.device import match_accelerator

# (name, layers, hidden, heads, seq_len, micro_batch): the validation set's H200 rows
TRAIN_SIZES = [("gpt-124m", 12, 768, 12, 1024, 16), ("gpt-1.3b", 24, 2048, 16, 2048, 4)]
TRAIN_TINY = [("gpt-tiny-a", 2, 64, 4, 32, 4), ("gpt-tiny-b", 2, 128, 4, 64, 2)]
# Llama-3-8B shape: 32 layers, 4096 hidden, 32 heads, 8 KV heads, 14336 FFN, 128256 vocab
LLAMA = dict(layers=32, hidden=4096, heads=32, kv_heads=8, ffn=14336, vocab=128256)
LLAMA_TINY = dict(layers=2, hidden=64, heads=4, kv_heads=2, ffn=128, vocab=256)
DECODE = [(1, 1024), (32, 1024)]  # (batch, context)
DECODE_TINY = [(1, 16), (4, 16)]
PREFILL, PREFILL_TINY = 2048, 32

TARGETS = {"train_step_s": 0.15, "train_peak_memory_bytes": 0.10, "decode_step_s": 0.10}


def _sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def _free(dev: torch.device) -> None:
    gc.collect()
    if dev.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(dev)


def train_run(reg: Any, dev: torch.device, hardware: str, size: tuple[Any, ...], *,
              recompute: bool, steps: int, warmup: int) -> dict[str, Any]:
    name, layers, hidden, heads, seq, mb = size
    arch = gpt_arch(layers, hidden, heads, seq, vocab=256 if "tiny" in name else 50304)
    torch.manual_seed(0)
    model = GPT(arch, recompute=recompute).to(dev)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, fused=dev.type == "cuda")
    x = torch.randint(0, arch.vocab_size, (mb, seq), device=dev)  # (b, s)
    y = torch.roll(x, -1, dims=1)

    def step() -> None:
        with torch.autocast(dev.type, dtype=torch.bfloat16):
            loss = model(x, y)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    for _ in range(warmup):
        step()
    def bare_loop_s() -> float:
        """The same steps without the probe, synchronized once at each end."""
        _sync(dev)
        t0 = time.perf_counter()
        for _ in range(steps):
            step()
        _sync(dev)
        return (time.perf_counter() - t0) / steps

    bare_before = bare_loop_s()
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats(dev)
    probe = Probe(arch=arch, seq_len=seq, hardware=hardware, device=str(dev),
                  warmup_steps=1, on_notice=lambda m: print(f"  note: {m}"))
    t0 = time.perf_counter()
    with probe:
        for _ in range(steps + 1):
            with probe.step(n_tokens=mb * seq):
                step()
    _sync(dev)
    probed_loop_s = time.perf_counter() - t0
    # bare loops before and after the probed one, so drift (clocks, heat) cancels
    bare_step_s = 0.5 * (bare_before + bare_loop_s())
    recipe = "pytorch"  # fp32 weights and AdamW state under bf16 autocast
    config = {"micro_batch": mb, "global_batch": mb, "recompute": "full" if recompute
              else "none", "recipe": recipe, "precision": "bf16", "flash_attention": True,
              "dropout": False, "size": name}
    run_id = probe.save(reg, kind="train", name=f"{name} {config['recompute']}", config=config)
    s = probe.summary()
    probed_step_s = probed_loop_s / (steps + 1)
    return {"run_id": run_id, "name": name, "recompute": config["recompute"],
            "summary": s.to_dict(), "bare_step_s": bare_step_s,
            "probe_overhead": probed_step_s / bare_step_s - 1.0,
            "probe_overhead_median_step": s.step_s / bare_step_s - 1.0}


def decode_runs(reg: Any, dev: torch.device, hardware: str, *, tiny: bool, steps: int
                ) -> list[dict[str, Any]]:
    spec = LLAMA_TINY if tiny else LLAMA
    max_ctx = max(c for _, c in (DECODE_TINY if tiny else DECODE)) + 1
    prefill = PREFILL_TINY if tiny else PREFILL
    arch = llama_arch(spec["layers"], spec["hidden"], spec["heads"], spec["kv_heads"],
                      spec["ffn"], spec["vocab"], max_seq=8192 if not tiny else 128)
    torch.manual_seed(0)
    model = build(lambda: Llama(arch), dev, torch.bfloat16).eval()
    out = []
    notice = lambda m: print(f"  note: {m}")  # noqa: E731
    with torch.inference_mode():
        for batch, context in DECODE_TINY if tiny else DECODE:
            cache = model.new_cache(batch, max_ctx)
            idx = torch.zeros(batch, 1, dtype=torch.long, device=dev)

            def run_step(idx: torch.Tensor = idx, cache: torch.Tensor = cache,
                         context: int = context) -> torch.Tensor:
                return model(idx, cache, context)  # the token at position `context`

            replay = run_step
            if dev.type == "cuda":
                side = torch.cuda.Stream()
                side.wait_stream(torch.cuda.current_stream())
                with torch.cuda.stream(side):
                    for _ in range(3):
                        run_step()
                torch.cuda.current_stream().wait_stream(side)
                graph = torch.cuda.CUDAGraph()
                with torch.cuda.graph(graph):
                    run_step()
                replay = graph.replay  # type: ignore[assignment]
            for _ in range(3):
                replay()
            probe = Probe(arch=arch, seq_len=context, training=False, hardware=hardware,
                          device=str(dev), warmup_steps=2, on_notice=notice)
            with probe:
                for _ in range(steps + 2):
                    with probe.step(n_tokens=batch):
                        replay()
            config = {"phase": "decode", "batch": batch, "context": context,
                      "precision": "bf16", "cuda_graph": dev.type == "cuda"}
            run_id = probe.save(reg, kind="infer", name=f"decode b{batch} c{context}",
                                config=config)
            out.append({"run_id": run_id, "name": f"decode b{batch} c{context}",
                        "summary": probe.summary().to_dict()})
            del cache
            _free(dev)
        cache = model.new_cache(1, prefill)
        idx = torch.randint(0, arch.vocab_size, (1, prefill), device=dev)
        probe = Probe(arch=arch, seq_len=prefill,
                      flop_per_token=float(model_flop_per_token(arch, prefill, training=False)),
                      training=False, hardware=hardware, device=str(dev), warmup_steps=2,
                      on_notice=notice)
        with probe:
            for _ in range(max(3, steps // 4) + 2):
                with probe.step(n_tokens=prefill):
                    model(idx, cache, 0)
        run_id = probe.save(reg, kind="infer", name=f"prefill {prefill}",
                            config={"phase": "prefill", "batch": 1, "prompt": prefill,
                                    "precision": "bf16"})
        out.append({"run_id": run_id, "name": f"prefill {prefill}",
                    "summary": probe.summary().to_dict()})
    return out


def _metric(result: dict[str, Any], metric: str) -> dict[str, Any]:
    return next(r for r in result["metrics"] if r["metric"] == metric)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dry-run", action="store_true", help="tiny shapes, any device")
    parser.add_argument("--out", type=Path, default=Path("gpu_summary.json"))
    parser.add_argument("--registry", type=Path, default=None,
                        help="registry file (default: a new one beside --out)")
    parser.add_argument("--hardware", default=None,
                        help="catalog accelerator (default: matched from the GPU name; "
                        "h200-sxm in a dry run on a CPU)")
    parser.add_argument("--steps", type=int, default=None, help="measured steps per run")
    parser.add_argument("--calibration", default=None, help="name of the calibration")
    parser.add_argument("--skip-decode", action="store_true")
    args = parser.parse_args()

    t_start = time.perf_counter()
    tiny = args.dry_run
    dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if not tiny and dev.type != "cuda":
        raise SystemExit("no CUDA GPU: run with --dry-run to check the script on the CPU")
    if tiny:
        torch.set_num_threads(1)
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu"
    hardware = args.hardware or match_accelerator(name) or ("h200-sxm" if tiny else None)
    if hardware is None:
        raise SystemExit(f"device {name!r} matches no catalog accelerator: pass --hardware")
    steps = args.steps or (4 if tiny else 20)
    today = dt.date.today().isoformat()
    calibration = args.calibration or f"run-all-{hardware}-{today}"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    reg_path = args.registry or args.out.with_suffix(".registry.db")
    print(f"device {name} -> {hardware}; registry {reg_path}; "
          f"{'DRY RUN (tiny shapes: errors are meaningless)' if tiny else ''}")

    with open_registry(reg_path) as reg:
        # 1. GEMM profile and copy bandwidth
        samples, device = gemm_profile(
            shapes=default_gemm_shapes(tiny=tiny), precisions=("bf16",), device=str(dev),
            min_time_s=0.005 if tiny else 0.05, repeats=2 if tiny else 5)
        gemm_run = store_profile(reg, kind="gemm", hardware=hardware, device=device,
                                 samples=samples, name="run_all")
        bw = copy_bandwidth(n_bytes=2**24 if tiny else 2**31, device=str(dev),
                            min_time_s=0.005 if tiny else 0.05)
        store_profile(reg, kind="bandwidth", hardware=hardware, device=device,
                      summary={k: v for k, v in bw.items() if k != "device"}, name="run_all")
        print(f"GEMM profile: {len(samples)} shapes, best "
              f"{max(s['flop_per_s'] for s in samples) / 1e12:.1f} TFLOP/s; copy "
              f"{bw['bandwidth_bytes_per_s'] / 1e12:.3f} TB/s")
        # 2. calibrate on the GEMM profile alone
        fit = calibrate_from_registry(calibration, registry=reg, hardware=hardware,
                                      runs=[gemm_run])
        print(f"calibration {calibration}: matmul efficiency {fit.matmul_efficiency:.3f}, "
              f"bandwidth efficiency {fit.memory_bandwidth_efficiency:.3f}, kernel overhead "
              f"{fit.kernel_launch_s * 1e6:.2f} us, GEMM rms error {fit.rms_relative_error:.1%}"
              f" (catalog rates: {fit.uncalibrated_rms_relative_error:.1%})")
        # 3. training runs
        train = []
        for size in TRAIN_TINY if tiny else TRAIN_SIZES:
            for recompute in (False, True):
                r = train_run(reg, dev, hardware, size, recompute=recompute, steps=steps,
                              warmup=2 if tiny else 3)
                print(f"train {r['name']} recompute={r['recompute']}: step "
                      f"{r['summary']['step_s'] * 1e3:.1f} ms, MFU "
                      f"{r['summary']['mfu'] or 0:.3f}, probe overhead "
                      f"{r['probe_overhead']:+.2%}")
                train.append(r)
                _free(dev)  # the model and optimizer went with train_run's frame
        # 4. decode and prefill
        infer = [] if args.skip_decode else decode_runs(reg, dev, hardware, tiny=tiny,
                                                        steps=steps * 5)
        _free(dev)
        # 5. predicted against measured
        rows = []
        print(f"\n{'run':<28}{'metric':<20}{'measured':>12}{'catalog':>12}{'error':>9}"
              f"{'calibrated':>12}{'error':>9}")
        for r in train + infer:
            plain = compare_run(r["run_id"], registry=reg)
            cal = compare_run(r["run_id"], registry=reg, calibration=calibration)
            label = r["name"] + (f" {r['recompute']}" if "recompute" in r else "")
            for metric in ("step_s", "peak_memory_bytes", "mfu", "energy_j_per_token"):
                p, c = _metric(plain, metric), _metric(cal, metric)
                if p["measured"] is None and p["predicted"] is None:
                    continue
                row = {"run": label, "kind": plain["run"]["kind"], "metric": metric,
                       "measured": p["measured"], "predicted_catalog": p["predicted"],
                       "error_catalog": p["error"], "predicted_calibrated": c["predicted"],
                       "error_calibrated": c["error"]}
                rows.append(row)

                def fmt(x: Any, err: bool = False) -> str:
                    return "-" if x is None else (f"{x:+.1%}" if err else f"{x:.4g}")

                print(f"{label:<28}{metric:<20}{fmt(p['measured']):>12}"
                      f"{fmt(p['predicted']):>12}{fmt(p['error'], True):>9}"
                      f"{fmt(c['predicted']):>12}{fmt(c['error'], True):>9}")

    def worst(kind: str, metric: str, only: str = "") -> float | None:
        errs = [abs(r["error_calibrated"]) for r in rows if r["kind"] == kind
                and r["metric"] == metric and r["error_calibrated"] is not None
                and only in r["run"]]
        return max(errs) if errs else None

    checks = {
        "train_step_s": worst("train", "step_s"),
        "train_peak_memory_bytes": worst("train", "peak_memory_bytes"),
        "decode_step_s": worst("infer", "step_s", "decode"),
    }
    passed = {k: (v is not None and v <= TARGETS[k]) for k, v in checks.items()}
    overheads = [r["probe_overhead"] for r in train]
    energy = [r["summary"]["energy_j_per_token"] for r in train + infer]
    summary = {
        "date": today, "device": name, "hardware": hardware, "dry_run": tiny,
        "torch": torch.__version__, "cuda": torch.version.cuda,
        "calibration": {"name": calibration, **fit.to_dict()},
        "copy_bandwidth_bytes_per_s": bw["bandwidth_bytes_per_s"],
        "gemm": samples, "train": train, "infer": infer, "rows": rows,
        "worst_calibrated_error": checks, "targets": TARGETS, "passed": passed,
        "probe_overhead_max": max(overheads) if overheads else None,
        "probe_overhead_median": statistics.median(overheads) if overheads else None,
        "energy_j_per_token": energy, "duration_s": time.perf_counter() - t_start,
    }
    args.out.write_text(json.dumps(summary, indent=2, default=str))
    print("\nworst calibrated errors: " + ", ".join(
        f"{k} {'-' if v is None else f'{v:.1%}'} (target {TARGETS[k]:.0%}: "
        f"{'ok' if passed[k] else 'MISSED'})" for k, v in checks.items()))
    print(f"summary written to {args.out}")
    print(json.dumps({"dry_run": tiny, "hardware": hardware, **{
        f"worst_{k}": v for k, v in checks.items()}, "passed": passed,
        "probe_overhead_max": summary["probe_overhead_max"],
        "matmul_efficiency": fit.matmul_efficiency,
        "memory_bandwidth_efficiency": fit.memory_bandwidth_efficiency,
        "kernel_launch_s": fit.kernel_launch_s,
        "energy_j_per_token_measured": any(e is not None for e in energy),
        "duration_s": summary["duration_s"]}))


if __name__ == "__main__":
    main()
