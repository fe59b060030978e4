"""``scalewall infer``: parse, call :mod:`scalewall.infer`, print. It computes nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from scalewall._cli_common import err_console as _err
from scalewall._cli_common import fail as _fail
from scalewall._cli_common import print_json as _json
from scalewall._errors import InvalidParameter, PlannerError

__all__ = ["register"]

_out = Console(width=180)


def _per_million(x: float | None) -> str:
    return "-" if x is None else f"{x * 1e6:.3f}"


def _row(d: dict[str, Any]) -> list[str]:
    mem = d["memory"]
    return [
        d["hardware"], f"{d['tp']}x{d['pp']}x{d['dp']}", str(d["batch"]),
        "yes" if d["feasible"] else "NO",
        f"{d['ttft_s'] * 1e3:.1f}", f"{d['tpot_s'] * 1e3:.2f}", f"{d['itl_s'] * 1e3:.2f}",
        f"{d['tokens_per_s_per_device']:.0f}", f"{d['tokens_per_s_per_user']:.0f}",
        f"{mem['max_batch']:.0f}", f"{mem['max_context']:.0f}",
        _per_million(d["cost_usd_per_input_token"]), _per_million(d["cost_usd_per_output_token"]),
        "-" if d["device_power_w"] is None else f"{d['device_power_w']:.0f}",
        "-" if d["energy_j_per_token"] is None else f"{d['energy_j_per_token']:.2f}",
        "-" if d["energy_j_per_request"] is None else f"{d['energy_j_per_request'] / 3600:.3f}",
    ]


_COLUMNS = ["hardware", "tp x pp x dp", "batch", "feasible", "TTFT ms", "TPOT ms", "ITL ms",
            "tok/s/device", "tok/s/user", "max batch", "max context", "$/M in", "$/M out",
            "W/device", "J/token", "Wh/request"]


def infer(
    model: Annotated[str, typer.Option(help="Catalog model.")] = "llama-3.1-70b",
    hardware: Annotated[str, typer.Option(help="Catalog accelerator, or 'all' for a "
                        "comparison table.")] = "h200-sxm",
    devices: Annotated[int, typer.Option(min=1, help="Devices in the deployment.")] = 8,
    batch: Annotated[int, typer.Option(min=1, help="Concurrent sequences per replica.")] = 64,
    prompt: Annotated[int, typer.Option(min=0, help="Prompt tokens per request.")] = 2048,
    output: Annotated[int, typer.Option(min=1, help="Output tokens per request.")] = 256,
    precision: Annotated[str, typer.Option(help="Weight precision: bf16, fp16, fp8, int8, "
                         "int4 (W4A16), fp4 (NVFP4) or mxfp4 (OCP MX), W4A4 on chips "
                         "with that rate.")] = "bf16",
    kv_precision: Annotated[str | None, typer.Option(help="KV-cache precision (default "
                            "8-bit with 8- or 4-bit (fp4) weights, else 16-bit).")] = None,
    tp: Annotated[int | None, typer.Option(min=1, help="Tensor-parallel degree.")] = None,
    pp: Annotated[int | None, typer.Option(min=1, help="Pipeline-parallel degree.")] = None,
    ep: Annotated[int, typer.Option(min=1, help="Expert-parallel degree (mixture-of-experts "
                  "models): experts split over this many devices; tokens exchanged under "
                  "--attention-dp or ep > tp (see --moe-dispatch), else summed by the "
                  "all-reduce.")] = 1,
    attention_dp: Annotated[bool, typer.Option(
        "--attention-dp", help="Attention data-parallel across each replica's tp devices "
        "(SGLang --enable-dp-attention, TensorRT-LLM enable_attention_dp): each device attends "
        "its own sequences, no KV head or MLA latent held twice.")] = False,
    attention_dp_balance: Annotated[bool, typer.Option(
        "--attention-dp-balance", help="With --attention-dp: every rank's prompts are "
        "prefilled in the same forward passes (TensorRT-LLM attention_dp_config "
        "enable_balance); without, each rank prefills in passes of its own that the others "
        "wait for.")] = False,
    moe_dispatch: Annotated[str, typer.Option(
        help="How routed tokens reach experts on ranks that do not hold them: all-to-all "
        "(DeepEP, NVLink all-to-all) or all-gather (every rank takes the group's tokens, "
        "attention data parallelism only).")] = "all-to-all",
    first_token_in_decode: Annotated[bool, typer.Option(
        "--first-token-in-decode", help="The engine prefills all but the prompt's last token "
        "and a decode step emits the first token (LMDeploy TurboMind up to v0.1).")] = False,
    grouped_kv: Annotated[bool, typer.Option("--grouped-kv/--per-head-kv", help="Decode "
                          "attention reads each key/value head once per query group (kernels "
                          "since 2024), or once per query head (2023 kernels).")] = True,
    request_overhead_ms: Annotated[float | None, typer.Option(
        min=0.0, max=10000.0, help="Serving-engine host time per prefill [ms] (scheduling, "
        "input preparation, first-token sampling); default the catalog's 0.9, 0 for kernels "
        "alone.")] = None,
    host_us_per_sequence: Annotated[float | None, typer.Option(
        min=0.0, max=10000.0, help="Serving-engine host time per running sequence per decode "
        "step [us] (scheduling, sampling), overlapped with the devices': a step takes the "
        "larger; default the catalog's 29.4, 0 for kernels alone.")] = None,
    speculative_tokens: Annotated[int, typer.Option(
        min=0, max=16, help="Tokens drafted per decode step by a one-layer draft module "
        "(DeepSeek-V3 multi-token prediction, EAGLE) and verified in one step; 0: plain "
        "decoding. Needs --accepted-tokens or --acceptance-rate.")] = 0,
    accepted_tokens: Annotated[float | None, typer.Option(
        help="Mean tokens emitted per speculative step (1 to --speculative-tokens + 1), as "
        "engines report the acceptance length.")] = None,
    acceptance_rate: Annotated[float | None, typer.Option(
        help="Probability that a drafted token is accepted, in [0, 1): the tokens per step "
        "follow (1 - a^(k+1)) / (1 - a) (Leviathan et al. 2023).")] = None,
    draft: Annotated[str | None, typer.Option(
        help="What drafts the speculative tokens: module (default: a one-layer draft module, "
        "multi-token prediction or EAGLE), ngram (prompt lookup, free), or a catalog model "
        "of the same vocabulary (a separate draft model, e.g. llama-3.2-1b).")] = None,
    search: Annotated[bool, typer.Option("--search", help="Find the cheapest configuration "
                      "meeting --ttft and --tpot at --rps.")] = False,
    ttft: Annotated[float, typer.Option(help="TTFT target [ms] for --search.")] = 2000.0,
    tpot: Annotated[float, typer.Option(help="Time per output token target [ms] for "
                    "--search.")] = 100.0,
    rps: Annotated[float | None, typer.Option(
        min=1e-9, max=1e9, help="Offered load [requests/s]: with --search the "
        "traffic to serve (default 1); otherwise adds the utilization and the time to first "
        "token at that load, queueing included.")] = None,
    objective: Annotated[str, typer.Option(help="--search objective: cost or energy.")]
    = "cost",
    hybrid: Annotated[int | None, typer.Option(
        min=0, max=1024, help="Compare --model with a state-space hybrid of its width and "
        "size (one attention layer in N, the rest Mamba-2; 0: no attention) on the fewest "
        "--hardware devices that hold the weights, at contexts of 256-128k tokens: cache per "
        "sequence, batch that fits, tokens/s and $/M tokens.")] = None,
    catalog: Annotated[list[Path] | None, typer.Option("--catalog", help="Extra catalog "
                       "TOML file (repeatable).")] = None,
    ops: Annotated[bool, typer.Option("--ops", help="Add the roofline of each matrix "
                   "multiply of a decode step and of a prefill (FLOP, bytes, FLOP/B against "
                   "the ridge, bound, time), and the rest of each step.")] = False,
    calibration: Annotated[str | None, typer.Option("--calibration", help="Plan with a "
                           "calibration stored by `scalewall calibrate` (one --hardware).")]
    = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Plan serving: TTFT, time per output token, tokens/s, memory, $/M tokens, J/token."""
    from scalewall.catalog import get_catalog
    from scalewall.infer.plan import check_moe_dispatch, plan_serving
    from scalewall.infer.search import search_serving

    try:
        check_moe_dispatch(moe_dispatch)
        if (speculative_tokens or accepted_tokens is not None or acceptance_rate is not None
                or draft is not None) and hybrid is not None:
            raise InvalidParameter("--hybrid compares plain decoding: use "
                                   "--speculative-tokens without --hybrid")
        if ops and (search or hybrid is not None):
            raise InvalidParameter("--ops describes one planned deployment: use it without "
                                   "--search and --hybrid")
        cat = get_catalog(catalog or [])
        if hybrid is not None:
            _compare_hybrid(model, hardware, hybrid, precision, cat, as_json)
            return
        if search:
            names = None if hardware == "all" else [hardware]
            result = search_serving(
                model, hardware=names, requests_per_s=rps or 1.0, prompt=prompt, output=output,
                ttft_s=ttft / 1e3, tpot_s=tpot / 1e3, objective=objective, catalog=cat,
                speculative_tokens=speculative_tokens, accepted_tokens=accepted_tokens,
                acceptance_rate=acceptance_rate, draft=draft,
                attention_dp_balance=attention_dp_balance)
            if as_json:
                _json(result.to_dict())
            else:
                _print_search(result.to_dict())
            if not result.feasible:
                _err.print(f"[red]Infeasible[/red]: {result.reason}", highlight=False,
                           soft_wrap=True)
                raise typer.Exit(1)
            return
        rates = None
        if calibration is not None:
            from scalewall.infer.plan import compute_precision
            from scalewall.measure.calibrate import load_calibration

            rates = load_calibration(
                calibration, hardware=hardware,
                precision=compute_precision(cat.accelerator(hardware), precision), catalog=cat)
        names = sorted(cat.accelerators) if hardware == "all" else [hardware]
        plans: list[dict[str, Any]] = []
        skipped: dict[str, str] = {}
        for name in names:
            try:
                plan = plan_serving(
                    model, name, n_devices=devices, batch=batch, prompt=prompt, output=output,
                    precision=precision, kv_precision=kv_precision, tp=tp, pp=pp, rates=rates,
                    ep=ep, attention_dp=attention_dp, grouped_kv_reads=grouped_kv, catalog=cat,
                    attention_dp_balance=attention_dp_balance, moe_dispatch=moe_dispatch,
                    first_token_in_decode=first_token_in_decode,
                    request_overhead_s=None if request_overhead_ms is None
                    else request_overhead_ms / 1e3, requests_per_s=rps,
                    host_time_per_sequence_s=None if host_us_per_sequence is None
                    else host_us_per_sequence / 1e6, speculative_tokens=speculative_tokens,
                    accepted_tokens=accepted_tokens, acceptance_rate=acceptance_rate,
                    draft=draft)
            except PlannerError as exc:
                if hardware != "all":
                    raise
                skipped[name] = f"{type(exc).__name__}: {exc}"
                continue
            plans.append(plan.to_dict())
        if ops:
            if hardware == "all":
                raise InvalidParameter("--ops describes one deployment: name it with "
                                       "--hardware")
            from scalewall.infer.operators import plan_operators

            plans[0]["operators"] = plan_operators(plan, cat, rates)
    except PlannerError as exc:
        _fail(exc)
    if as_json:
        _json(plans[0] if hardware != "all" else {"plans": plans, "skipped": skipped})
        return
    table = Table(title=f"Serving {model}: {devices} devices, batch {batch}, "
                  f"{prompt}+{output} tokens, {precision}", title_justify="left")
    for c in _COLUMNS:
        table.add_column(c, justify="left" if c == "hardware" else "right")
    for d in plans:
        table.add_row(*_row(d))
    _out.print(table)
    for d in plans:
        for reason in d["reasons"]:
            _out.print(f"{d['hardware']}: {reason}", highlight=False)
        if d["host_bound"]:
            _out.print(f"{d['hardware']}: host-bound decode: the engine's host work "
                       f"({d['decode_host_s'] * 1e3:.3g} ms per step for "
                       f"{d['host_time_per_sequence_s'] * 1e6:.3g} us per sequence) outlasts "
                       f"the devices' ({d['decode_step']['step_s'] * 1e3:.3g} ms)",
                       highlight=False, soft_wrap=True)
        if d["speculative_tokens"]:
            _out.print(f"{d['hardware']}: speculative decoding: {d['speculative_tokens']} "
                       f"tokens drafted per step by {d['draft']}, "
                       f"{d['accepted_tokens']:.3g} emitted per step "
                       f"of {d['decode_step']['step_s'] * 1e3:.3g} ms verification plus the "
                       f"drafts (TPOT is the step over the tokens it emits)"
                       + ("; checked against TensorRT-LLM's multi-token prediction"
                          if d["draft"] == "module" else
                          "; this drafter is not checked against a measurement"),
                       highlight=False, soft_wrap=True)
    for d in plans:
        load = d["load"]
        if load is not None and load["ttft_s"] is not None:
            cost = ("" if load["cost_usd_per_output_token"] is None else
                    f", ${_per_million(load['cost_usd_per_output_token'])}/M output tokens")
            energy = ("" if load["energy_j_per_token"] is None else
                      f", {load['energy_j_per_token']:.2f} J/token")
            _out.print(f"{d['hardware']} at {load['requests_per_s']:g} requests/s: "
                       f"{load['utilization']:.0%} of capacity, queue wait "
                       f"{load['queue_wait_s'] * 1e3:.1f} ms, time to first token "
                       f"{load['ttft_s'] * 1e3:.1f} ms{cost}{energy} (the table's cost and "
                       f"energy are at full load)", highlight=False, soft_wrap=True)
    if ops:
        _print_operators(plans[0]["operators"])
    if len(plans) == 1:  # with --hardware all, one line per chip would bury the table
        _out.print(plans[0]["evidence"]["note"], style="dim", highlight=False, soft_wrap=True)
    for name, why in skipped.items():
        _out.print(f"skipped {name}: {why}", highlight=False, soft_wrap=True)


def _print_operators(tables: dict[str, Any]) -> None:
    for phase, t in tables.items():
        table = Table(title=f"{phase}: {t['step_s'] * 1e3:.3g} ms per step, one device; ridge "
                      f"{t['ridge_flop_per_byte']:.0f} FLOP/B", title_justify="left")
        for col in ("operator", "per layer", "M", "N", "K", "GFLOP", "MB", "FLOP/B", "bound",
                    "us", "% of step"):
            table.add_column(col, justify="left" if col in ("operator", "bound") else "right")
        for r in t["gemms"]:
            table.add_row(r["name"], f"{r['per_layer']:.3g}", f"{r['m']:.0f}", f"{r['n']:.0f}",
                          f"{r['k']:.0f}", f"{r['flop'] / 1e9:.3g}", f"{r['bytes'] / 1e6:.3g}",
                          f"{r['intensity']:.3g}", r["bound"], f"{r['time_s'] * 1e6:.3g}",
                          f"{r['step_share']:.1%}")
        a = t["attention"]
        for r in t["rest"]:
            if r["name"] == "attention" and a["intensity"] is not None:
                table.add_row("attention", "", "", "", "", f"{a['flop'] / 1e9:.3g}",
                              f"{a['bytes'] / 1e6:.3g}", f"{a['intensity']:.3g}", "",
                              f"{a['time_s'] * 1e6:.3g}", f"{r['step_share']:.1%}")
                continue
            table.add_row(r["name"], "", "", "", "", "", "", "", "", "",
                          f"{r['step_share']:.1%}")
        _out.print(table)


_HYBRID_CONTEXTS = [256.0, 1024.0, 4096.0, 16384.0, 32768.0, 65536.0, 131072.0]


def _compare_hybrid(model: str, hardware: str, every: int, precision: str, cat: Any,
                    as_json: bool) -> None:
    """``--hybrid N``: the model against its hybrid on one replica, over contexts."""
    from scalewall.infer.ssm import compare_state_space, hybrid_of

    if hardware == "all":
        raise InvalidParameter("--hybrid compares on one accelerator: name it with --hardware")
    base = cat.model(model)
    c = compare_state_space(base, hardware, context=np.array(_HYBRID_CONTEXTS),
                            hybrid=hybrid_of(base, attention_every=every),
                            precision=precision, catalog=cat)
    d = c.to_dict()
    if as_json:
        _json(d)
        return
    kind = "pure state-space" if every == 0 else f"hybrid, 1 attention layer in {every}"
    where_run = ("one " + hardware if d["n_devices"] == 1
                 else f"{d['n_devices']} x {hardware} (tensor parallel)")
    table = Table(title=f"{model} ({d['transformer_params'] / 1e9:.1f}B) against its {kind} "
                  f"({d['hybrid_params'] / 1e9:.1f}B) on {where_run}, {precision}",
                  title_justify="left")
    for col in ("context", "MB/seq T", "MB/seq H", "max batch T", "max batch H",
                "tok/s T", "tok/s H", "$/M out T", "$/M out H", "H/T tok/s"):
        table.add_column(col, justify="right")
    t_cost, h_cost = d["transformer_usd_per_million_tokens"], d["hybrid_usd_per_million_tokens"]
    def cell(x: float | None, fmt: str) -> str:
        return "-" if x is None else format(x, fmt)

    for i, s in enumerate(d["context"]):
        table.add_row(
            f"{s:,.0f}", f"{d['transformer_bytes_per_sequence'][i] / 1e6:,.0f}",
            f"{d['hybrid_bytes_per_sequence'][i] / 1e6:,.0f}",
            f"{d['transformer_max_batch'][i]:.0f}", f"{d['hybrid_max_batch'][i]:.0f}",
            f"{d['transformer_tokens_per_s_per_device'][i]:,.0f}",
            f"{d['hybrid_tokens_per_s_per_device'][i]:,.0f}",
            cell(None if t_cost is None else t_cost[i], ".3f"),
            cell(None if h_cost is None else h_cost[i], ".3f"),
            cell(d["throughput_ratio"][i], ".2f"))
    _out.print(table)
    ratio = d["throughput_ratio"][-1]
    where = ("the hybrid never decodes faster per device at these contexts"
             if d["cheaper_from"] is None else
             f"the hybrid costs less per output token from {d['cheaper_from']:,.0f} tokens of "
             f"context" + ("" if ratio is None else
                           f" ({1 / ratio:.2f}x the transformer's cost at "
                           f"{d['context'][-1]:,.0f})"))
    _out.print(f"T: transformer, H: hybrid; MB per sequence over the replica, tokens/s and $ "
               f"per device; each at the most sequences that fit (up to 1,024; 0: not one "
               f"sequence fits); {where}.", highlight=False, soft_wrap=True)


def _print_search(d: dict[str, Any]) -> None:
    best = d["best"]
    if not best:  # the caller prints why nothing met the targets
        return
    table = Table(title=f"Best serving configuration ({d['objective']}, "
                  f"{d['n_candidates']} candidates)", title_justify="left", show_header=False)
    table.add_column("field")
    table.add_column("value")
    for key, value in best.items():
        table.add_row(key, f"{value:.4g}" if isinstance(value, float) else str(value))
    _out.print(table)


def register(app: typer.Typer) -> None:
    """Add the ``infer`` command to the ``scalewall`` app."""
    app.command(name="infer")(infer)
